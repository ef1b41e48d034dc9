// The blocking executor: one loop that runs any protocol algorithm to completion over the
// client's channel (or a cancel request's side channel), waiting on the socket with deadlines. The protocol is decided by the
// algorithm (src/protocol/); this file only performs the actions it returns.
#include <algorithm>
#include <memory>
#include <new>
#include <utility>

#include "client/client_impl.hpp"
#include "client/session_setup.hpp"
#include "protocol/sent_buffer.hpp"
#include "client/trace_run.hpp"

namespace pgtls {

namespace {

using transport::Clock;
using transport::Deadline;

Deadline earlier(Deadline a, Deadline b) {
    if (!a) return b;
    if (!b) return a;
    return std::min(*a, *b);
}

// Thrown from the consume callback of a draining write to stop it: the algorithm ended the
// operation while its request was still being sent.
struct StopDrainingWrite {};

// The Error `held` keeps alive (a ServerError stays one, unsliced), for an event to point to
// after the handler that caught it has ended.
const Error& held_error(const std::exception_ptr& held, const Error& caught) {
    try {
        std::rethrow_exception(held);
    } catch (const Error& e) {
        return e;
    } catch (...) {
    }
    return caught;
}

// action = algo.resume(event), with the new Action built in place of the old one: an Action
// is about 150 bytes and a query resumes its algorithm several times, so the move-assignment
// shows in W2's instruction count. If resume throws, `action` is left default-constructed.
void next_action(protocol::Action& action, protocol::Algorithm& algo, const protocol::Event& event) {
    std::destroy_at(&action);
    try {
        ::new (static_cast<void*>(&action)) protocol::Action(algo.resume(event));
    } catch (...) {
        ::new (static_cast<void*>(&action)) protocol::Action();
        throw;
    }
}

}  // namespace

void client::ClientCore::read_reply(Link& l, Deadline d) {
    if (l.reply_pending) {
        l.reply_pending = false;
        // poll() cannot see bytes the TLS library has already decrypted.
        if (!l.channel.has_buffered()) transport::wait_fd(l.channel.fd(), false, d, "waiting for the server");
    }
    l.channel.read_some(l.reader, d);
}

protocol::Action client::ClientCore::run(protocol::Algorithm& algo, Link& l, Deadline limit) {
    transport::Channel& channel = l.channel;
    protocol::MessageReader& reader = l.reader;
    std::string& out = l.out;
    Deadline timer;
    // A failed or timed-out action leaves the socket in an unknown state (a partial record,
    // a half-done handshake): a later close action then aborts instead of closing politely.
    bool faulted = false;
    std::exception_ptr failure;    // holds the Error an io_error / cancel_done event points to

    // Null without a tracer: each hook below is then one test of a null pointer.
    const std::unique_ptr<trace::TraceRun> trace = trace::begin(settings, info, algo, reader, out);
    protocol::Action action = algo.resume(protocol::Event::start());
    if (trace) trace->after(action);
    while (true) {
        switch (action.timer.kind) {
            case protocol::Timer::Kind::keep: break;
            case protocol::Timer::Kind::set: timer = Clock::now() + action.timer.after; break;
            case protocol::Timer::Kind::clear: timer.reset(); break;
        }
        const Deadline d = earlier(timer, limit);
        protocol::Event event;
        bool written = false;  // a write with read_after completed: the event is its read's
        try {
            switch (action.kind) {
                case protocol::Action::Kind::done:
                    if (action.connection == protocol::Action::Connection::retired) channel.abort();
                    return action;
                case protocol::Action::Kind::write:
                    try {
                        channel.write_all(out, d);
                        for (std::string_view part : action.tail)
                            if (!part.empty()) channel.write_all(part, d);
                    } catch (...) {
                        protocol::clear_sent(out);
                        throw;
                    }
                    protocol::clear_sent(out);
                    l.reply_pending = true;
                    // Traced runs take the two steps: the tracer counts a read's bytes from
                    // the read action on.
                    if (action.read_after && !trace) {
                        written = true;
                        read_reply(l, d);
                        event = protocol::Event::of(protocol::Event::Kind::read);
                        event.write_done = true;
                        break;
                    }
                    event = protocol::Event::of(protocol::Event::Kind::written);
                    break;
                case protocol::Action::Kind::write_draining: {
                    std::optional<protocol::Action> stopped;
                    const std::function<void()> consume = [&] {
                        if (auto a = algo.consume_input()) {
                            stopped = std::move(a);
                            throw StopDrainingWrite{};
                        }
                    };
                    try {
                        // What the server sent before this write (an error about data sent
                        // earlier) is taken in first: a write that never blocks reads nothing.
                        if (channel.read_available(reader)) consume();
                        channel.write_all_draining(out, reader, d, consume);
                        for (std::string_view part : action.tail)
                            if (!part.empty()) channel.write_all_draining(part, reader, d, consume);
                    } catch (const StopDrainingWrite&) {
                    } catch (...) {
                        protocol::clear_sent(out);
                        throw;
                    }
                    protocol::clear_sent(out);
                    if (stopped) {
                        // The request went out only in part, if at all: the algorithm retires
                        // the connection in the action it returned.
                        faulted = true;
                        action = std::move(*stopped);
                        continue;
                    }
                    l.reply_pending = true;
                    event = protocol::Event::of(protocol::Event::Kind::written);
                    break;
                }
                case protocol::Action::Kind::read:
                    read_reply(l, d);
                    event = protocol::Event::of(protocol::Event::Kind::read);
                    break;
                case protocol::Action::Kind::open_socket: {
                    channel.abort();
                    faulted = false;
                    l.reply_pending = false;
                    const transport::SocketOptions so =
                        l.session ? socket_options(settings) : transport::SocketOptions{settings.keepalives, 0, 0, 0, 0};
                    if (l.session) attempt_timing = AttemptTiming{Clock::now(), 0, 0};
                    auto sock = transport::open_socket(*action.target, so, d);
                    if (l.session)
                        attempt_timing.tcp_ms =
                            std::chrono::duration<double, std::milli>(Clock::now() - attempt_timing.started).count();
                    channel = transport::Channel(sock.fd);
                    l.address = std::move(sock.address);
                    event = protocol::Event::of(protocol::Event::Kind::socket_open);
                    event.address = l.address;
                    break;
                }
                case protocol::Action::Kind::start_tls: {
                    const auto t_tls = Clock::now();
                    if (action.tls.how == protocol::TlsStart::gss) {
                        channel.start_gss({std::string(action.tls.gss_service), std::string(action.tls.gss_host),
                                           action.tls.gss_delegation},
                                          d);
                    } else {
                        ensure_tls();
                        tls::SessionParams params;
                        params.sni = std::string(action.tls.sni);
                        channel.start_tls(*tls->context, params, d);
                    }
                    if (l.session)
                        attempt_timing.tls_ms = std::chrono::duration<double, std::milli>(Clock::now() - t_tls).count();
                    l.tls_up = protocol::TlsUp::of(*channel.tls_session());
                    event = protocol::Event::of(protocol::Event::Kind::tls_up);
                    event.tls = &l.tls_up;
                    break;
                }
                case protocol::Action::Kind::close:
                    if (faulted)
                        channel.abort();
                    else
                        channel.close();
                    event = protocol::Event::of(protocol::Event::Kind::closed);
                    break;
                case protocol::Action::Kind::cancel:
                    // The cancel request runs on its own connection; its failure is reported to
                    // the algorithm, which decides what becomes of this one.
                    if (!l.session) throw Error(ErrorKind::usage, ErrorCause::usage, "a cancel request cannot cancel");
                    event = protocol::Event::of(protocol::Event::Kind::cancel_done);
                    try {
                        cancel_request(d);
                    } catch (const Error& e) {
                        failure = std::current_exception();
                        event.error = &held_error(failure, e);
                    }
                    break;
            }
        } catch (const Error& e) {
            if (action.kind == protocol::Action::Kind::done) throw;
            faulted = true;
            if (e.kind() == ErrorKind::timeout) {
                event = protocol::Event::of(protocol::Event::Kind::timeout);
            } else {
                failure = std::current_exception();
                event = protocol::Event::failed(held_error(failure, e));
            }
            event.write_done = written;
        }
        if (trace) trace->before(event);
        next_action(action, algo, event);
        if (trace) trace->after(action, tls && tls->backend ? tls->backend->name() : std::string_view{});
    }
}

}  // namespace pgtls
