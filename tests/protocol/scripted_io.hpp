// A scripted driver for the engine's algorithms (src/protocol/algorithm.hpp): no socket, no
// TLS library, no clock. A script lists what the algorithm must ask for, in order, and what
// the "network" answers; run() fails the test at the first action that does not match.
//
// run_with_fault() replays the script up to one step and answers that step with a fault
// instead: a network error, an expired timer, or (for a read) a malformed message. Together
// with for_every_fault() it checks that an algorithm ends every such run with a clear error
// and leaves nothing half-done (the idea of Boost.MySQL's check_network_errors).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/algorithm.hpp"
#include "scripted_bytes.hpp"

namespace pgtls::test {

// The driver-owned state an algorithm works on.
struct TestWire {
    protocol::MessageReader in;
    std::string out;
    protocol::SessionState session;
    protocol::Wire wire{in, out, session};
};

class ScriptedIo {
public:
    using Kind = protocol::Action::Kind;
    enum class Fault { network_error, timeout, malformed };

    struct Step {
        Kind expect = Kind::done;
        std::string bytes;           // write: exact bytes expected; read: bytes answered
        std::string host;            // open_socket: the target's host (or hostaddr)
        std::string address;         // open_socket: the address answered
        protocol::TlsStart tls_how = protocol::TlsStart::none;  // start_tls
        protocol::TlsUp tls_up;      // start_tls: what the handshake yields
        bool any_bytes = false;      // write: accept whatever is written
        std::optional<Error> error;  // answer the action with io_error carrying this instead
        bool times_out = false;      // answer the action with timeout instead
    };

    // The algorithm must send exactly `bytes` (Wire::out followed by the action's tail).
    ScriptedIo& expect_write(std::string bytes) { return add(make(Kind::write, std::move(bytes))); }
    // The algorithm must write something (content checked elsewhere).
    ScriptedIo& expect_any_write() {
        Step s = make(Kind::write);
        s.any_bytes = true;
        return add(std::move(s));
    }
    // Answers the next read with `bytes`.
    ScriptedIo& feed(std::string bytes) { return add(make(Kind::read, std::move(bytes))); }
    ScriptedIo& expect_open(std::string host, std::string address = "127.0.0.1") {
        Step s = make(Kind::open_socket);
        s.host = std::move(host);
        s.address = std::move(address);
        return add(std::move(s));
    }
    ScriptedIo& expect_tls(protocol::TlsStart how, protocol::TlsUp up = default_tls_up()) {
        Step s = make(Kind::start_tls);
        s.tls_how = how;
        s.tls_up = std::move(up);
        return add(std::move(s));
    }
    ScriptedIo& expect_close() { return add(make(Kind::close)); }
    // The algorithm must ask for `k`; the "network" answers it with io_error carrying `e` (EOF,
    // a reset, a failed handshake or connect) and the script goes on.
    ScriptedIo& fail(Kind k, Error e) {
        Step s = make(k);
        s.error = std::move(e);
        return add(std::move(s));
    }
    // The algorithm must ask to open a socket to `host`; the connect fails with `e`.
    ScriptedIo& fail_open(std::string host, Error e) {
        fail(Kind::open_socket, std::move(e));
        steps_.back().host = std::move(host);
        return *this;
    }
    // The algorithm must ask for `k`; its timer expires first and the script goes on.
    ScriptedIo& time_out(Kind k) {
        Step s = make(k);
        s.times_out = true;
        return add(std::move(s));
    }
    ScriptedIo& expect_cancel() { return add(make(Kind::cancel)); }

    std::size_t steps() const noexcept { return steps_.size(); }
    const Step& step(std::size_t i) const { return steps_.at(i); }

    // Runs `algo` through the whole script; the action after the last step must be done.
    protocol::Action run(protocol::Algorithm& algo, TestWire& w) const { return drive(algo, w, steps_.size(), nullptr); }

    // Runs the script but answers step `at` with `fault`. Returns the final action, which must
    // be done (anything else fails the test): an algorithm that keeps asking after a fault
    // it cannot recover from would hang a real driver.
    protocol::Action run_with_fault(protocol::Algorithm& algo, TestWire& w, std::size_t at, Fault fault) const {
        return drive(algo, w, at, &fault);
    }

    static protocol::TlsUp default_tls_up() {
        protocol::TlsUp up;
        up.info.protocol = "TLSv1.3";
        up.info.cipher = "TLS_AES_256_GCM_SHA384";
        up.info.alpn = "postgresql";
        return up;
    }

    // A message no backend sends: a length below 4 is refused by MessageReader.
    static std::string malformed_message() { return std::string("Z\0\0\0\1", 5); }

private:
    static Step make(Kind k, std::string bytes = {}) {
        Step s;
        s.expect = k;
        s.bytes = std::move(bytes);
        return s;
    }
    ScriptedIo& add(Step s) {
        steps_.push_back(std::move(s));
        return *this;
    }

    static const char* name(Kind k) {
        switch (k) {
            case Kind::write: return "write";
            case Kind::write_draining: return "write_draining";
            case Kind::read: return "read";
            case Kind::open_socket: return "open_socket";
            case Kind::start_tls: return "start_tls";
            case Kind::close: return "close";
            case Kind::cancel: return "cancel";
            case Kind::done: return "done";
        }
        return "?";
    }

    protocol::Action drive(protocol::Algorithm& algo, TestWire& w, std::size_t until, const Fault* fault) const {
        using protocol::Event;
        protocol::Action a = algo.resume(Event::start());
        const Error net_error(ErrorKind::connection, ErrorCause::connection_closed,
                              "server closed the connection unexpectedly (scripted)");
        for (std::size_t i = 0; i < steps_.size(); ++i) {
            if (i == until && !fault) break;
            const Step& s = steps_[i];
            const Kind got = a.kind == Kind::write_draining ? Kind::write : a.kind;
            if (got != s.expect) {
                ADD_FAILURE() << "step " << i << ": expected " << name(s.expect) << ", the algorithm asked for "
                              << name(a.kind);
                return a;
            }
            if (i == until) {
                if (*fault == Fault::malformed && s.expect == Kind::read) {
                    w.in.feed(bytes(malformed_message()));
                    a = algo.resume(Event::of(Event::Kind::read));
                } else if (*fault == Fault::timeout) {
                    a = algo.resume(Event::of(Event::Kind::timeout));
                } else {
                    a = algo.resume(Event::failed(net_error));
                }
                // After a fault only closing the socket or finishing is acceptable: either way
                // the run must come to done without more network traffic.
                for (int guard = 0; a.kind != Kind::done && guard < 1000; ++guard) {
                    if (a.kind == Kind::close) {
                        a = algo.resume(Event::of(Event::Kind::closed));
                    } else if (a.kind == Kind::cancel) {
                        a = algo.resume(Event::of(Event::Kind::cancel_done));
                    } else {
                        // Reads and writes after the fault get the same fault again.
                        a = *fault == Fault::timeout ? algo.resume(Event::of(Event::Kind::timeout))
                                                     : algo.resume(Event::failed(net_error));
                    }
                }
                if (a.kind != Kind::done) ADD_FAILURE() << "step " << i << ": no end after a fault";
                return a;
            }
            if (s.error || s.times_out) {
                if (s.expect == Kind::write) w.out.clear();  // what was not sent is gone with the socket
                if (s.expect == Kind::open_socket && !s.host.empty() && a.target) {
                    EXPECT_EQ(a.target->host.empty() ? a.target->hostaddr : a.target->host, s.host)
                        << "step " << i << ": socket target";
                }
                a = s.error ? algo.resume(Event::failed(*s.error)) : algo.resume(Event::of(Event::Kind::timeout));
                continue;
            }
            switch (s.expect) {
                case Kind::write: {
                    std::string sent = std::move(w.out);
                    w.out.clear();
                    for (std::string_view t : a.tail) sent.append(t);
                    if (!s.any_bytes) {
                        EXPECT_EQ(sent, s.bytes) << "step " << i << ": written bytes";
                    }
                    a = algo.resume(Event::of(Event::Kind::written));
                    break;
                }
                case Kind::read:
                    w.in.feed(bytes(s.bytes));
                    a = algo.resume(Event::of(Event::Kind::read));
                    break;
                case Kind::open_socket: {
                    if (a.target) {
                        const std::string host = a.target->host.empty() ? a.target->hostaddr : a.target->host;
                        EXPECT_EQ(host, s.host) << "step " << i << ": socket target";
                    } else {
                        ADD_FAILURE() << "step " << i << ": open_socket without a target";
                    }
                    Event e = Event::of(Event::Kind::socket_open);
                    e.address = s.address;
                    a = algo.resume(e);
                    break;
                }
                case Kind::start_tls: {
                    EXPECT_EQ(a.tls.how, s.tls_how) << "step " << i << ": TLS start";
                    Event e = Event::of(Event::Kind::tls_up);
                    e.tls = &s.tls_up;
                    a = algo.resume(e);
                    break;
                }
                case Kind::close: a = algo.resume(Event::of(Event::Kind::closed)); break;
                case Kind::cancel: a = algo.resume(Event::of(Event::Kind::cancel_done)); break;
                default: ADD_FAILURE() << "a script step cannot expect " << name(s.expect); return a;
            }
        }
        if (a.kind != Kind::done) ADD_FAILURE() << "script ended; the algorithm still asks for " << name(a.kind);
        return a;
    }

    std::vector<Step> steps_;
};

// Checks that a run ended with a pgtls::Error and hands it to `check`.
template <class F>
void with_error(const protocol::Action& end, F&& check) {
    ASSERT_EQ(end.kind, protocol::Action::Kind::done);
    ASSERT_TRUE(end.error);
    try {
        std::rethrow_exception(end.error);
    } catch (const Error& e) {
        check(e);
    }
}

// Runs `script` once per step and fault (malformed only at reads), each time on a fresh
// algorithm and wire from `make`, and hands each final action to `check`, which asserts the
// error and what became of the connection.
struct FaultRun {
    std::size_t step;
    ScriptedIo::Fault fault;
    protocol::Action end;
};
inline void for_every_fault(const ScriptedIo& script,
                            const std::function<std::unique_ptr<protocol::Algorithm>(TestWire&)>& make,
                            const std::function<void(const FaultRun&, TestWire&)>& check) {
    using F = ScriptedIo::Fault;
    for (std::size_t i = 0; i < script.steps(); ++i) {
        for (F f : {F::network_error, F::timeout, F::malformed}) {
            if (f == F::malformed && script.step(i).expect != protocol::Action::Kind::read) continue;
            TestWire w;
            auto algo = make(w);
            FaultRun r{i, f, script.run_with_fault(*algo, w, i, f)};
            SCOPED_TRACE("fault " + std::to_string(static_cast<int>(f)) + " at step " + std::to_string(i));
            EXPECT_TRUE(r.end.error) << "a fault must end the operation with an error";
            check(r, w);
        }
    }
}

}  // namespace pgtls::test
