// A request on an established session and its reply, sans I/O: the one shape every
// query-side operation shares (simple and extended queries, describe/prepare, closing
// statements, pipelines, COPY). The concrete operation encodes its request and handles the
// messages of its reply; this base decides everything around them, once for all of them:
//  - one timer (the query timeout) bounds the request's write and its reply;
//  - a timeout while the reply is awaited sends a cancel request (Action::cancel) and drains
//    the reply to ReadyForQuery within a grace period, keeping the connection; when the server
//    does not stop in time the connection is retired (OnTimeout::close retires it at once);
//  - a write that fails part-way retires the connection (a partial message would be read as
//    the start of the next); when the server hung up after an ErrorResponse (a FATAL such as
//    57P01), that error is reported, as libpq does;
//  - a lost connection during the reply reports the server's ErrorResponse already read;
//  - after a user callback threw (SessionState::callback_error), the rest of the reply is
//    drained within callback_drain_time and callback_drain_bytes, or the connection is retired;
//  - a malformed or misplaced message (the operation throws Error) retires the connection.
// Bytes the operation appends to Wire::out while handling a message (CopyFail) are sent
// before the reply is read on.
#pragma once

#include <chrono>
#include <cstddef>
#include <exception>
#include <optional>
#include <utility>

#include "protocol/algorithm.hpp"
#include "protocol/message_reader.hpp"
#include "pgtls/error.hpp"

namespace pgtls::protocol {

struct RequestOptions {
    enum class OnTimeout : std::uint8_t { cancel, close };
    std::chrono::milliseconds timeout{0};  // the query timeout; 0: none
    OnTimeout on_timeout = OnTimeout::cancel;
    // The time this request has, when less than `timeout` (a call's earlier requests used the
    // rest); `timeout` still names the limit in errors and sizes the cancel's grace period.
    std::optional<std::chrono::milliseconds> remaining;
};

class Request : public Algorithm {
public:
    static constexpr std::chrono::seconds callback_drain_time{5};
    static constexpr std::size_t callback_drain_bytes = 16 * 1024 * 1024;

    Action resume(const Event& event) final;
    std::optional<Action> consume_input() final;
    // Event::cancel_requested while the reply is awaited sends a cancel request and drains the
    // reply: the server's answer (57014, or the result if it finished first) ends the request
    // with the connection kept.
    bool cancellable() const noexcept final { return true; }

protected:
    Request(Wire wire, RequestOptions options) : wire_(wire), options_(options) {}

    // Waiting for the reply with nothing unusual under way (no cancel, timeout or callback
    // drain): the state in which a PipelineRequest takes more queries.
    bool awaiting_reply() const noexcept {
        return state_ == State::reading && !callback_drain_ && !timed_out_ && !cancel_asked_;
    }
    // process_as(op) asks op.take_more() once the messages at hand are handled: true when the
    // operation appended more to send to Wire::out while it waited for its reply (a
    // PipelineRequest's append); that is then written, the reply read meanwhile.
    bool take_more() noexcept { return false; }

    // Appends the request to Wire::out; returns the action that sends it (write with a tail,
    // or write_draining). The base sets its timer.
    virtual Action send() = 0;
    // One message of the reply. Returns true once the reply has ended (its last ReadyForQuery
    // for a request that expects one). Throws Error for a message that cannot be.
    virtual bool on_message(const BackendMessage& m) = 0;
    // The ErrorResponse the reply carried (the first), or null.
    virtual const ServerError* server_error() const noexcept = 0;
    // False while nothing of the reply is awaited once the request has been written (the
    // data of a COPY FROM STDIN): the operation then ends when the write completes.
    virtual bool reply_expected() const noexcept { return true; }
    // The outcome once the reply has ended: by default the server's error, if any, with the
    // connection kept; otherwise success.
    virtual Action finished() {
        if (const ServerError* e = server_error()) [[unlikely]] return failed_with(*e);
        return Action::success();
    }
    // The server's error as the outcome, the connection kept.
    static Action failed_with(const ServerError& e);

    // Handles what Wire::in holds, then asks for more or ends. An operation may override it as
    // `return process_as(*this);` from a final class: its on_message is then called directly
    // (inlined) for each message instead of through the vtable (the hot path of a query's reply).
    virtual Action process() { return process_as(*this); }
    template <class Op>
    Action process_as(Op& op);

    // Draining the reply after the application's cancel (not a timeout's: no query timeout
    // is set).
    bool draining_after_cancel() const noexcept {
        return state_ == State::draining && cancel_asked_ && !timed_out_ && options_.timeout.count() == 0;
    }
    // Only when draining_after_cancel(): the cancel is spent (a pipeline's query it was sent
    // for has its answer), and the rest of the reply is read as before it — without the
    // cancel's grace period, and a later cancel sends a request of its own.
    void cancel_spent() noexcept {
        state_ = State::reading;
        cancel_asked_ = false;
        timer_ = Timer::clear();
    }
    // After a user callback threw (SessionState::callback_error), the callback's exception taken out of the session by the
    // operation (an implicit pipeline's, for the query it belongs to): the rest of the reply
    // is read as before it, without the drain's time and size limits. Nothing while a cancel
    // or a timeout is under way, or with a query timeout (whose timer the drain replaced).
    void callback_drain_spent() noexcept {
        if (state_ != State::reading || timed_out_ || cancel_asked_ || options_.timeout.count() != 0) return;
        callback_drain_ = false;
        drained_ = 0;
        timer_ = Timer::clear();
    }

    Wire wire_;
    RequestOptions options_;

private:
    enum class State { start, writing, reading, salvaging, cancelling, draining, done };
    // on_message with the callback drain's accounting.
    template <class Op>
    bool take(Op& op, const BackendMessage& m);
    bool take_draining(const BackendMessage& m);  // take() once a callback threw: out of line
    Action reply_ended();                          // the reply's last message was taken
    // Once the reply has ended, a server sends nothing but NoticeResponse, NotificationResponse,
    // ParameterStatus or a FATAL ErrorResponse until the next request: anything else already
    // buffered (a second ReadyForQuery, say) would be taken as the next request's reply. The
    // connection is then retired with Error(protocol); nullopt when only those are buffered.
    std::optional<Action> refuse_stray_after_reply();
    Action failed_in_reply();                      // in a catch (const Error&) block
    Action end(Action a);
    Action retire(std::exception_ptr e);
    Action retire_after_lost(const Error& e);
    Action cancelled_but_stuck(const char* why);
    Action send_cancel();
    Timer next_timer() noexcept { return std::exchange(timer_, Timer::keep()); }

    State state_ = State::start;
    Timer timer_;                   // carried by the next action
    bool reply_ended_ = false;      // seen during a draining write
    bool callback_drain_ = false;   // a user callback threw: the rest of the reply is dropped
    std::size_t drained_ = 0;
    bool timed_out_ = false;        // the query timeout expired; a cancel was sent
    bool cancel_asked_ = false;     // the application cancelled; a cancel was sent
    std::exception_ptr write_error_;  // salvaging: the failed write's error
    std::optional<ServerError> last_error_;  // salvaging: the last ErrorResponse read
};

template <class Op>
inline bool Request::take(Op& op, const BackendMessage& m) {
    if (!callback_drain_ && !wire_.session.callback_error) [[likely]] {
        const bool ended = op.on_message(m);
        if (wire_.session.callback_error) [[unlikely]] {
            callback_drain_ = true;
            timer_ = Timer::set(callback_drain_time);
        }
        return ended;
    }
    return take_draining(m);
}

template <class Op>
Action Request::process_as(Op& op) {
    try {
        while (auto m = wire_.in.next()) {
            const std::size_t unsent = wire_.out.size();
            if (take(op, *m)) {
                if (wire_.in.buffered() != 0) [[unlikely]]
                    if (auto stray = refuse_stray_after_reply()) return std::move(*stray);
                if (timed_out_) [[unlikely]]
                    return reply_ended();
                state_ = State::done;
                return op.finished();  // direct (inlined) for a final Op that keeps the default
            }
            if (wire_.out.size() > unsent) {  // the operation answers the server (CopyFail) first
                state_ = State::writing;
                return Action::write(next_timer());
            }
        }
        if (op.take_more()) [[unlikely]] {
            state_ = State::writing;
            return Action::write_draining(next_timer());
        }
    } catch (const Error&) {
        return failed_in_reply();
    }
    return Action::read(next_timer());
}

}  // namespace pgtls::protocol
