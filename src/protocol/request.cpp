#include "protocol/request.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include "protocol/backend_messages.hpp"

namespace pgtls::protocol {

namespace {
constexpr const char* kWaitTimeout = "timeout expired while waiting for the server";
constexpr const char* kSendTimeout = "timeout expired while sending data to the server";
}  // namespace

Action Request::end(Action a) {
    state_ = State::done;
    return a;
}

Action Request::retire(std::exception_ptr e) { return end(Action::failure(std::move(e), Action::Connection::retired)); }

Action Request::retire_after_lost(const Error& e) {
    // The server said why before it hung up (a FATAL such as 57P01 from pg_terminate_backend
    // or a shutdown): that is the error to report, as libpq does.
    if (e.kind() == ErrorKind::connection)
        if (const ServerError* why = server_error()) return retire(std::make_exception_ptr(*why));
    return retire(std::make_exception_ptr(e));
}

Action Request::cancelled_but_stuck(const char* why) {
    if (!timed_out_)
        return retire(std::make_exception_ptr(Error(
            ErrorKind::connection, std::string("the query did not stop after a cancel request (") + why +
                                       "); the connection was closed")));
    return retire(std::make_exception_ptr(
        Error(ErrorKind::timeout, ErrorCause::query_timeout_closed,
              "query timed out after " + std::to_string(options_.timeout.count()) +
                  " ms and did not stop after a cancel request (" + why + "); the connection was closed")));
}

// Cancel on the server, then drain to ReadyForQuery so the connection stays usable. The
// cancel's own connect shares the grace period: on an unresponsive network it would otherwise
// wait connect_timeout on top.
Action Request::send_cancel() {
    state_ = State::cancelling;
    const auto grace = std::clamp<std::chrono::milliseconds>(2 * options_.timeout, std::chrono::seconds(2),
                                                             std::chrono::seconds(30));
    return Action::cancel(Timer::set(timed_out_ || options_.timeout.count() > 0 ? grace : std::chrono::seconds(30)));
}

Action Request::failed_with(const ServerError& e) {
    return Action::failure(std::make_exception_ptr(e), Action::Connection::kept);
}


bool Request::take_draining(const BackendMessage& m) {
    if (callback_drain_) {
        drained_ += m.body.size() + 5;
        if (drained_ > callback_drain_bytes)
            throw Error(ErrorKind::connection, "the rest of the reply after a callback's exception is too large to drain");
    }
    const bool ended = on_message(m);
    if (!callback_drain_ && wire_.session.callback_error) {
        callback_drain_ = true;
        timer_ = Timer::set(callback_drain_time);
    }
    return ended;
}

Action Request::reply_ended() {
    if (timed_out_)
        return end(Action::failure(std::make_exception_ptr(Error(ErrorKind::timeout, ErrorCause::query_timeout,
                                                                 "query cancelled after the client-side timeout of " +
                                                                     std::to_string(options_.timeout.count()) + " ms")),
                                   Action::Connection::kept));
    state_ = State::done;
    return finished();
}

std::optional<Action> Request::refuse_stray_after_reply() {
    const std::optional<char> type = wire_.in.first_buffered_type_not_in("NASE");
    if (!type) return std::nullopt;
    return retire(std::make_exception_ptr(
        Error(ErrorKind::protocol, std::string("unexpected ") + backend_message_name(*type) + " message ('" +
                                       std::string(1, *type) + "') from server after the end of its reply")));
}

Action Request::failed_in_reply() {
    if (state_ == State::draining) {
        try {
            throw;
        } catch (const Error& e) {
            return cancelled_but_stuck(e.what());
        }
    }
    return retire(std::current_exception());
}

std::optional<Action> Request::consume_input() {
    if (state_ != State::writing) return std::nullopt;
    try {
        while (!reply_ended_) {
            auto m = wire_.in.next();
            if (!m) break;
            if (take(*this, *m)) reply_ended_ = true;
        }
    } catch (const Error&) {
        return retire(std::current_exception());
    }
    return std::nullopt;
}

Action Request::resume(const Event& event) {
    using K = Event::Kind;
    // The write completed and this is the event of the read that followed it (read_after).
    if (event.write_done && state_ == State::writing) state_ = timed_out_ ? State::draining : State::reading;
    switch (state_) {
        case State::start: {
            if (options_.remaining)
                timer_ = Timer::set(*options_.remaining);
            else
                timer_ = options_.timeout.count() > 0 ? Timer::set(options_.timeout) : Timer::clear();
            Action a = send();
            a.timer = next_timer();
            // After `written` process() would only ask for the reply with the timer kept.
            a.read_after = a.kind == Action::Kind::write && reply_expected();
            state_ = State::writing;
            return a;
        }
        case State::writing:
            switch (event.kind) {
                case K::written:
                    if (reply_ended_ || !reply_expected()) {
                        if (reply_ended_ && wire_.in.buffered() != 0)
                            if (auto stray = refuse_stray_after_reply()) return std::move(*stray);
                        state_ = State::done;
                        return reply_ended_ ? finished() : Action::success();
                    }
                    state_ = timed_out_ ? State::draining : State::reading;
                    return process();
                case K::timeout:
                    if (callback_drain_)
                        return retire(std::make_exception_ptr(Error(
                            ErrorKind::connection, "the rest of the reply after a callback's exception did not arrive in time")));
                    return retire(std::make_exception_ptr(Error(ErrorKind::timeout, kSendTimeout)));
                case K::io_error:
                    if (event.error->kind() == ErrorKind::connection) {
                        // Read what the server sent before it hung up: its FATAL, if any.
                        write_error_ = std::make_exception_ptr(*event.error);
                        state_ = State::salvaging;
                        return Action::read(Timer::set(std::chrono::milliseconds(0)));
                    }
                    return retire(std::make_exception_ptr(*event.error));
                default: break;
            }
            break;
        case State::salvaging:
            if (event.kind == K::cancel_requested) return Action::read();
            if (event.kind == K::read) {
                try {
                    while (auto m = wire_.in.next())
                        if (m->type == 'E') last_error_.emplace(parse_error_fields(m->body));
                    return Action::read();
                } catch (...) {
                }
            }
            // The last ErrorResponse: earlier ones in a pipeline's replies belong to its queries.
            // Else the one the reply carried already (read while writing).
            if (last_error_) return retire(std::make_exception_ptr(*last_error_));
            if (const ServerError* why = server_error()) return retire(std::make_exception_ptr(*why));
            return retire(write_error_);
        case State::reading:
            switch (event.kind) {
                case K::read:
                case K::more: return process();
                case K::timeout:
                    if (callback_drain_)
                        return retire(std::make_exception_ptr(Error(
                            ErrorKind::connection, "the rest of the reply after a callback's exception did not arrive in time")));
                    if (options_.on_timeout == RequestOptions::OnTimeout::close)
                        return retire(std::make_exception_ptr(Error(ErrorKind::timeout, kWaitTimeout)));
                    timed_out_ = true;
                    return send_cancel();
                case K::cancel_requested:
                    cancel_asked_ = true;
                    return send_cancel();
                case K::io_error: return retire_after_lost(*event.error);
                default: break;
            }
            break;
        case State::cancelling:
            switch (event.kind) {
                case K::cancel_done:
                    if (event.error) return cancelled_but_stuck(event.error->what());
                    state_ = State::draining;
                    return process();
                case K::timeout: return cancelled_but_stuck(kWaitTimeout);
                case K::io_error: return cancelled_but_stuck(event.error->what());
                default: break;
            }
            break;
        case State::draining:
            switch (event.kind) {
                case K::read: return process();
                case K::cancel_requested: return Action::read();  // a cancel is already on its way
                case K::more: return Action::read();  // not handed more once a cancel is sent
                case K::timeout: return cancelled_but_stuck(kWaitTimeout);
                case K::io_error: return cancelled_but_stuck(event.error->what());
                default: break;
            }
            break;
        case State::done:
            throw Error(ErrorKind::usage, ErrorCause::usage, "a request was resumed after it finished");
    }
    throw Error(ErrorKind::usage, ErrorCause::usage, "a request was resumed with an event its action cannot produce");
}

}  // namespace pgtls::protocol
