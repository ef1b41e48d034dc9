// The non-blocking driver: runs the engine's algorithms (src/protocol/algorithm.hpp) over one
// non-blocking connection for an event loop the application owns. It never waits: advance()
// performs as much of the current action as the socket allows and tells the loop what to wait
// for (interest(), deadline()). The blocking Client runs the same algorithms with a loop that
// waits; the protocol is defined once, in the algorithms.
//
// One algorithm runs at a time. A cancel action runs a side algorithm (the cancel request) on
// its own socket at the same time, so the loop may have two sockets to watch.
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "protocol/algorithm.hpp"
#include "client/trace_run.hpp"
#include "transport/channel.hpp"
#include "transport/socket.hpp"

namespace pgtls::async {

using Clock = std::chrono::steady_clock;

// A socket the loop must watch, and for what.
// `epoch` changes whenever the socket behind a descriptor number changes (closed, another
// one opened, perhaps with the same number): a loop that registered the fd must register
// the new socket afresh.
struct Interest {
    int fd = -1;
    bool read = false;
    bool write = false;
    std::uint64_t epoch = 0;
};

// What a driver needs from the connection it serves, besides the socket.
struct DriverSetup {
    // The TCP options of a socket an open_socket action opens (null: the defaults). Asked at
    // each open: the connection's settings are set after its driver is made.
    std::function<transport::SocketOptions()> socket_options;
    // The TLS context for start_tls actions; null when TLS is not configured (a start_tls is
    // then an Error(config)).
    std::function<tls::Context*()> tls_context;
    // Makes the side algorithm a cancel action runs (null: cancel actions fail). The side
    // algorithm gets its own wire; it opens its own socket.
    std::function<std::unique_ptr<protocol::Algorithm>(protocol::Wire)> make_cancel;
    // Tracing (client/trace_run.hpp): the TraceRun of an algorithm that starts, null without a
    // tracer (or without this hook), reading into `in` and sending from `out` (the driver's
    // wire); and the name of the TLS backend a connect used.
    std::function<std::unique_ptr<trace::TraceRun>(const protocol::Algorithm&, const protocol::MessageReader& in,
                                                   const std::string& out)>
        begin_trace;
    std::function<std::string_view()> tls_backend;
};

class Driver {
public:
    using Completion = std::function<void(const protocol::Action& done)>;

    Driver(transport::Channel& channel, protocol::Wire wire, DriverSetup setup);
    ~Driver();
    Driver(const Driver&) = delete;
    Driver& operator=(const Driver&) = delete;

    // Starts `algo` (which must outlive its completion) and advances it as far as it goes.
    // `done` runs exactly once, from start() or a later advance(), with the final action; the
    // driver is idle by then, so `done` may start the next algorithm or destroy the driver.
    void start(protocol::Algorithm& algo, Completion done, Clock::time_point now = Clock::now());
    bool busy() const noexcept { return algo_ != nullptr; }

    // Performs what the sockets allow, delivers an expired timer, and returns when the
    // current action would block (or the algorithm finished). Call it when a watched socket
    // is ready or the deadline has passed; spurious calls are harmless.
    void advance(Clock::time_point now = Clock::now());

    // The sockets to watch (the connection's, and a cancel request's while one runs).
    std::array<Interest, 2> interest() const noexcept { return {main_interest_, side_interest()}; }
    // When advance() must be called even if no socket becomes ready.
    std::optional<Clock::time_point> deadline() const noexcept;

    // The application cancels the running algorithm: delivered as Event::cancel_requested at
    // its next read (see algorithm.hpp) when it is cancellable(); otherwise it is abandoned with
    // `error`. Nothing when idle. Called from a user callback the algorithm is running (a row
    // or COPY data callback, the notice handler), it only records the request: advance()
    // carries it out once the algorithm returned (an algorithm is never resumed from inside
    // itself).
    void request_cancel(std::exception_ptr error, Clock::time_point now = Clock::now());

    // The running algorithm, its action a read, was handed more to send (PipelineRequest::
    // append): resumes it with Event::more; the next advance() writes what that asks.
    // Nothing when its action is not a read.
    void more(Clock::time_point now);

    // Ends the running algorithm at once with `error` (the connection is retired): for
    // destroying a connection with an operation in flight. Runs its completion.
    void abandon(std::exception_ptr error);

    // Back-pressure: while paused, read actions read nothing from the connection's socket (and
    // do not watch it), so a server sending faster than the application consumes blocks on
    // TCP flow control. Writes and a cancel request's side socket are unaffected; a timeout
    // or a cancel resumes reading, as the operation is ending and must drain.
    void pause_reading(bool paused) noexcept { paused_ = paused; }
    bool reading_paused() const noexcept { return paused_; }

private:
    // One step of the current action; false when it would block.
    bool step(Clock::time_point now);
    void resume(const protocol::Event& e, Clock::time_point now);
    void apply_timer(const protocol::Timer& t, Clock::time_point now);
    bool step_write(Clock::time_point now, bool draining);
    // write_draining: feeds what the server sent to the algorithm; true when that ended the
    // write (action_ is then the algorithm's next). A read error throws, unless !read_errors
    // (after a failed write, whose error is the one to report).
    bool drain_input(Clock::time_point now, bool read_errors = true);
    bool step_read(Clock::time_point now);
    bool step_open(Clock::time_point now);
    bool step_tls(Clock::time_point now);
    bool step_cancel(Clock::time_point now);
    void fail_action(const Error& e, Clock::time_point now);
    void finish();
    Interest side_interest() const noexcept;

    transport::Channel& channel_;
    protocol::Wire wire_;
    DriverSetup setup_;

    protocol::Algorithm* algo_ = nullptr;
    std::unique_ptr<trace::TraceRun> trace_;  // the running algorithm's, when traced
    Completion done_;
    protocol::Action action_;
    std::optional<Clock::time_point> deadline_;
    bool cancel_pending_ = false;  // request_cancel(): delivered at the next read action
    // request_cancel() of an algorithm that is not cancellable(), from inside it: abandoned with
    // this error once it returned.
    std::exception_ptr abandon_pending_;
    int in_algorithm_ = 0;  // resume() or consume_input() of the algorithm is running
    bool paused_ = false;          // pause_reading()
    Interest main_interest_;
    std::uint64_t epoch_;  // of the channel's current socket (see Interest)
    void new_socket() noexcept;

    // write: how much of Wire::out and of each tail view has gone out.
    std::size_t out_sent_ = 0;
    std::array<std::size_t, 2> tail_sent_{};
    // open_socket: the connect in progress.
    std::unique_ptr<transport::SocketOpener> opener_;
    std::size_t opener_attempts_ = 0;  // the attempt main_interest_ reports
    // cancel: the side connection and its algorithm.
    struct Side;
    std::unique_ptr<Side> side_;
};

}  // namespace pgtls::async
