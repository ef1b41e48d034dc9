#include "client/async/driver.hpp"

#include <algorithm>
#include <atomic>

#include "protocol/sent_buffer.hpp"

namespace pgtls::async {

using protocol::Action;
using protocol::Event;

// A cancel request in flight: its own socket, wire and algorithm, run by a nested driver.
struct Driver::Side {
    transport::Channel channel;
    protocol::MessageReader in{1024};
    std::string out;
    protocol::SessionState session;
    std::unique_ptr<protocol::Algorithm> algo;
    std::unique_ptr<Driver> driver;
    bool finished = false;
    std::exception_ptr error;
};

namespace {
// Process-wide, so epochs of different drivers never coincide either.
std::atomic<std::uint64_t> g_socket_epochs{0};

// Marks a call into the running algorithm (see Driver::request_cancel).
struct Inside {
    int& depth;
    explicit Inside(int& d) : depth(d) { ++depth; }
    ~Inside() { --depth; }
    Inside(const Inside&) = delete;
    Inside& operator=(const Inside&) = delete;
};
}  // namespace

Driver::Driver(transport::Channel& channel, protocol::Wire wire, DriverSetup setup)
    : channel_(channel), wire_(wire), setup_(std::move(setup)), epoch_(++g_socket_epochs) {}

void Driver::new_socket() noexcept { epoch_ = ++g_socket_epochs; }

Driver::~Driver() = default;

void Driver::start(protocol::Algorithm& algo, Completion done, Clock::time_point now) {
    if (algo_) throw Error(ErrorKind::usage, ErrorCause::usage, "another operation is already running on this connection");
    algo_ = &algo;
    done_ = std::move(done);
    trace_ = setup_.begin_trace ? setup_.begin_trace(algo, wire_.in, wire_.out) : nullptr;
    resume(Event::start(), now);
    advance(now);
}

void Driver::apply_timer(const protocol::Timer& t, Clock::time_point now) {
    switch (t.kind) {
        case protocol::Timer::Kind::keep: break;
        case protocol::Timer::Kind::set: deadline_ = now + t.after; break;
        case protocol::Timer::Kind::clear: deadline_.reset(); break;
    }
}

void Driver::resume(const Event& e, Clock::time_point now) {
    if (trace_) trace_->before(e);
    try {
        const Inside inside(in_algorithm_);
        action_ = algo_->resume(e);
    } catch (...) {
        // A broken contract (or an algorithm's bug): the operation ends, the connection with it.
        action_ = Action::failure(std::current_exception(), Action::Connection::retired);
    }
    if (trace_) trace_->after(action_, setup_.tls_backend ? setup_.tls_backend() : std::string_view{});
    apply_timer(action_.timer, now);
    out_sent_ = 0;
    tail_sent_ = {};
    main_interest_ = {};
}

void Driver::fail_action(const Error& e, Clock::time_point now) {
    opener_.reset();
    resume(Event::failed(e), now);
}

void Driver::advance(Clock::time_point now) {
    if (side_ && !side_->finished) side_->driver->advance(now);
    while (algo_) {
        if (abandon_pending_) {  // request_cancel() from inside the algorithm
            abandon(std::exchange(abandon_pending_, nullptr));
            return;
        }
        if (action_.kind == Action::Kind::done) {
            finish();
            return;
        }
        if (deadline_ && now >= *deadline_ && action_.kind != Action::Kind::cancel) {
            opener_.reset();
            deadline_.reset();
            paused_ = false;  // the operation ends or cancels: it must read what remains
            resume(Event::of(Event::Kind::timeout), now);
            continue;
        }
        if (cancel_pending_ && action_.kind == Action::Kind::read) {
            cancel_pending_ = false;
            paused_ = false;
            resume(Event::of(Event::Kind::cancel_requested), now);
            continue;
        }
        if (!step(now)) return;
    }
}

void Driver::more(Clock::time_point now) {
    if (!algo_ || action_.kind != Action::Kind::read) return;
    resume(Event::of(Event::Kind::more), now);
}

void Driver::request_cancel(std::exception_ptr error, Clock::time_point now) {
    if (!algo_) return;
    if (!algo_->cancellable()) {
        if (in_algorithm_ == 0)
            abandon(std::move(error));
        else if (!abandon_pending_)
            abandon_pending_ = std::move(error);
        return;
    }
    cancel_pending_ = true;
    if (in_algorithm_ == 0) advance(now);
}

bool Driver::step(Clock::time_point now) {
    try {
        switch (action_.kind) {
            case Action::Kind::write: return step_write(now, false);
            case Action::Kind::write_draining: return step_write(now, true);
            case Action::Kind::read: return step_read(now);
            case Action::Kind::open_socket: return step_open(now);
            case Action::Kind::start_tls: return step_tls(now);
            case Action::Kind::cancel: return step_cancel(now);
            case Action::Kind::close:
                channel_.abort();
                new_socket();
                resume(Event::of(Event::Kind::closed), now);
                return true;
            case Action::Kind::done: return true;
        }
    } catch (const Error& e) {
        fail_action(e, now);
        return true;
    }
    return true;
}

bool Driver::step_write(Clock::time_point now, bool draining) {
    bool want_read = false;
    auto send_part = [&](std::string_view data, std::size_t& sent) {
        while (sent < data.size()) {
            const std::size_t n = channel_.try_write(data.substr(sent), want_read);
            if (n == 0) return false;
            sent += n;
        }
        return true;
    };
    // Draining, what the server sent is taken in before writing, and again when a write fails:
    // a server that went away (terminated mid-COPY, say) sent its FATAL first, and that is the
    // error to report, not the reset that follows (as the blocking executor does).
    if (draining && drain_input(now)) return true;
    bool complete = false;
    try {
        complete = send_part(wire_.out, out_sent_);
        for (std::size_t i = 0; complete && i < action_.tail.size(); ++i) complete = send_part(action_.tail[i], tail_sent_[i]);
    } catch (const Error&) {
        if (draining && drain_input(now, false)) return true;
        throw;
    }
    if (complete) {
        protocol::clear_sent(wire_.out);
        resume(Event::of(Event::Kind::written), now);
        return true;
    }
    // Take in what the server sends meanwhile, so neither side waits on the other.
    if (draining && drain_input(now)) return true;
    main_interest_ = {channel_.fd(), want_read || draining, !want_read, epoch_};
    return false;
}

bool Driver::drain_input(Clock::time_point now, bool read_errors) {
    try {
        while (channel_.try_read(wire_.in) > 0) {
            std::optional<Action> stop;
            {
                const Inside inside(in_algorithm_);
                stop = algo_->consume_input();
            }
            if (stop) {
                action_ = std::move(*stop);
                apply_timer(action_.timer, now);
                return true;
            }
        }
    } catch (const Error&) {
        if (read_errors) throw;
    }
    return false;
}

bool Driver::step_read(Clock::time_point now) {
    if (paused_) {
        main_interest_ = {};
        return false;
    }
    if (channel_.try_read(wire_.in) > 0) {
        resume(Event::of(Event::Kind::read), now);
        return true;
    }
    main_interest_ = {channel_.fd(), true, false, epoch_};
    return false;
}

bool Driver::step_open(Clock::time_point now) {
    if (!opener_) {
        channel_.abort();
        new_socket();
        if (!action_.target)
            throw Error(ErrorKind::usage, ErrorCause::usage, "open_socket action without a target");
        const transport::SocketOptions options =
            setup_.socket_options ? setup_.socket_options() : transport::SocketOptions{};
        opener_ = std::make_unique<transport::SocketOpener>(*action_.target, options,
                                                            transport::Resolution::background);
        opener_attempts_ = 0;
    }
    if (!opener_->advance()) {
        // Each address of the host is a new socket.
        if (opener_->attempts() != opener_attempts_) {
            opener_attempts_ = opener_->attempts();
            new_socket();
        }
        main_interest_ = {opener_->fd(), opener_->resolving(), !opener_->resolving(), epoch_};
        return false;
    }
    transport::OpenedSocket s = opener_->take();
    if (opener_->attempts() != opener_attempts_) new_socket();  // connected at once
    opener_.reset();
    channel_ = transport::Channel(s.fd);
    Event e = Event::of(Event::Kind::socket_open);
    e.address = s.address;
    resume(e, now);  // the algorithm copies the address before this returns
    return true;
}

bool Driver::step_tls(Clock::time_point now) {
    tls::IoStatus st;
    if (action_.tls.how == protocol::TlsStart::gss) {
        st = channel_.gss_handshake_step(
            {std::string(action_.tls.gss_service), std::string(action_.tls.gss_host), action_.tls.gss_delegation});
    } else {
        tls::Context* ctx = setup_.tls_context ? setup_.tls_context() : nullptr;
        if (!ctx) throw Error(ErrorKind::config, ErrorCause::config, "TLS was requested but no TLS context is configured");
        tls::SessionParams params;
        params.sni = std::string(action_.tls.sni);
        st = channel_.handshake_step(*ctx, params);
    }
    if (st == tls::IoStatus::want_read || st == tls::IoStatus::want_write) {
        main_interest_ = {channel_.fd(), st == tls::IoStatus::want_read, st == tls::IoStatus::want_write, epoch_};
        return false;
    }
    const protocol::TlsUp up = protocol::TlsUp::of(*channel_.tls_session());
    Event e = Event::of(Event::Kind::tls_up);
    e.tls = &up;
    resume(e, now);
    return true;
}

bool Driver::step_cancel(Clock::time_point now) {
    if (!side_) {
        if (!setup_.make_cancel) {
            const Error e(ErrorKind::usage, ErrorCause::usage, "this connection cannot send a cancel request");
            Event ev = Event::of(Event::Kind::cancel_done);
            ev.error = &e;
            resume(ev, now);
            return true;
        }
        side_ = std::make_unique<Side>();
        Side& side = *side_;
        side.algo = setup_.make_cancel(protocol::Wire{side.in, side.out, side.session});
        DriverSetup sub;
        sub.socket_options = setup_.socket_options;
        sub.tls_context = setup_.tls_context;
        sub.begin_trace = setup_.begin_trace;  // the cancel request's own span
        side.driver = std::make_unique<Driver>(side.channel, protocol::Wire{side.in, side.out, side.session}, sub);
        // The side algorithm's own timers bound it; the action's timer bounds it too.
        side.driver->start(*side.algo, [&side](const Action& done) {
            side.finished = true;
            side.error = done.error;
        }, now);
    } else if (!side_->finished) {
        side_->driver->advance(now);
    }
    if (!side_->finished) {
        if (deadline_ && now >= *deadline_) {
            // The grace period ran out while cancelling: report it as a failed cancel.
            side_.reset();
            const Error e(ErrorKind::timeout, ErrorCause::query_timeout_closed, "timeout expired sending the cancel request");
            Event ev = Event::of(Event::Kind::cancel_done);
            ev.error = &e;
            resume(ev, now);
            return true;
        }
        return false;
    }
    std::exception_ptr err = side_->error;
    side_.reset();
    Event ev = Event::of(Event::Kind::cancel_done);
    std::optional<Error> reported;
    if (err) {
        try {
            std::rethrow_exception(err);
        } catch (const Error& e) {
            reported.emplace(e);
        } catch (...) {
            reported.emplace(ErrorKind::connection, "the cancel request failed");
        }
        ev.error = &*reported;
    }
    resume(ev, now);
    return true;
}

Interest Driver::side_interest() const noexcept {
    if (!side_ || side_->finished) return {};
    return side_->driver->interest()[0];
}

std::optional<Clock::time_point> Driver::deadline() const noexcept {
    std::optional<Clock::time_point> d = algo_ ? deadline_ : std::nullopt;
    if (side_ && !side_->finished) {
        if (auto sd = side_->driver->deadline(); sd && (!d || *sd < *d)) d = sd;
    }
    return d;
}

void Driver::finish() {
    // Retired: nothing more goes over this connection.
    if (action_.connection == Action::Connection::retired && channel_.is_open()) {
        channel_.abort();
        new_socket();
    }
    side_.reset();
    opener_.reset();
    deadline_.reset();
    cancel_pending_ = false;
    abandon_pending_ = nullptr;
    main_interest_ = {};
    algo_ = nullptr;
    trace_.reset();
    Completion done = std::move(done_);
    done_ = nullptr;
    const Action final_action = std::move(action_);
    action_ = Action{};
    // Last: `done` may start the next operation or destroy this driver.
    done(final_action);
}

void Driver::abandon(std::exception_ptr error) {
    if (!algo_) return;
    action_ = Action::failure(std::move(error), Action::Connection::retired);
    finish();
}

}  // namespace pgtls::async
