/// \file
/// pgtls — a non-blocking PostgreSQL connection for any event loop (epoll, libuv, Qt, Asio).
///
/// The connection never blocks; its only thread is a short-lived one that resolves a host name
/// (the system resolver blocks), whose answer the loop waits for on a watched descriptor. The
/// loop asks it what to wait for —
/// watches(): up to two sockets (the connection's, and a cancel request's while one runs), each
/// with the readiness wanted and an epoch that changes when the socket behind the number
/// changes — and deadline(): when to call advance() even if no socket became ready. The loop
/// calls advance() on readiness or at the deadline; spurious calls are harmless.
///
/// Operations (connect, query, execute, prepare, describe and close statements, stream,
/// pipeline, COPY — whole or streamed through an AsyncCopyIn —, transactions through an
/// AsyncTransaction, notifications, close) are queued and run one after another in order;
/// they start at the next advance() (after queueing, deadline() is already past), so the
/// application's code — completion callbacks, a password callback, a notice handler — runs
/// only from advance() (and from the destructor),
/// never from the call that queued the operation. Each completes through its callback with an
/// exception_ptr (null on success: a pgtls::Error, ServerError, or what a user callback threw)
/// and its result. A callback may queue further operations; it must not destroy the
/// connection from inside advance() of another thread (use from one thread at a time).
///
/// cancel(id) cancels one operation: a queued one completes with Error(usage, cause usage,
/// "operation cancelled"); a running query sends a real CancelRequest and completes with the
/// server's answer (ServerError 57014, or its result if it finished first) — the connection
/// stays usable; a running connect or close is abandoned and the connection closed.
///
/// Destroying the connection completes every operation still queued or running with an error
/// before it returns; no callback runs afterwards.
///
/// A callback that throws: its exception propagates out of advance() to the loop; the
/// connection and the other operations are unaffected (the next advance() delivers the rest).
/// During destruction a callback's exception is discarded.
#pragma once

#include "pgtls/version.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgtls/config.hpp"
#include "pgtls/error.hpp"
#include "pgtls/result.hpp"
#include "pgtls/session.hpp"
#include "pgtls/types.hpp"

// The connection's state, defined inside the library (src/client/async/): opaque here and not
// exported.
namespace pgtls::client {
struct AsyncCore;
struct AsyncCopyInLink;
struct AsyncTransactionLink;
}

PGTLS_API_BEGIN
namespace pgtls {

/// A socket an event loop must watch for a non-blocking connection.
struct AsyncWatch {
    int fd = -1;        ///< -1: nothing to watch in this slot
    bool read = false;  ///< wait for readability
    bool write = false; ///< wait for writability
    /// Changes whenever the socket behind `fd` changes (closed, another opened — maybe with the
    /// same number): a loop that registered the descriptor registers it afresh.
    std::uint64_t epoch = 0;
};

/// One query of an asynchronous pipeline (extended protocol); `sync_after` ends a sync group.
struct PipelineQuery {
    std::string sql;                           ///< one statement
    std::vector<Param> params;                 ///< its parameters ($1, $2, ...)
    ResultFormat format = ResultFormat::text;  ///< format of its result columns
    bool sync_after = false;                   ///< a Sync follows it: its sync group ends here
};

class AsyncConnection;

/// A COPY ... FROM STDIN in progress on an AsyncConnection (AsyncConnection::open_copy_in):
/// the application writes the data as it produces it, then finish()es or abort()s. Its
/// operations are queued on the connection like any other and complete through their callbacks
/// from advance(); while the COPY is open they run before every other queued operation, which
/// waits for the COPY to end.
///
/// Back-pressure: write() completes once its data went out to the socket, so a producer that
/// waits for each write before the next holds at most one chunk in memory.
/// An error the server reports mid-COPY (bad data) ends the COPY: the operation that meets it
/// completes with that ServerError (the connection stays usable), and every later operation of
/// the writer with the same error. Destroying a writer whose COPY is still open aborts it.
/// Operations on a writer whose connection was destroyed throw Error(usage).
class AsyncCopyIn {
public:
    using OpId = std::uint64_t;  ///< As AsyncConnection::OpId: cancel() takes it.
    /// Completion without a value, as AsyncConnection::Done.
    using Done = std::function<void(std::exception_ptr)>;
    /// Completion with a value, as AsyncConnection::Callback.
    template <class T>
    using Callback = std::function<void(std::exception_ptr, T)>;

    /// A writer of no COPY (what a failed open_copy_in() completes with).
    AsyncCopyIn() noexcept;
    ~AsyncCopyIn();  ///< Aborts the COPY ("COPY abandoned by the client") if it is still open.
    /// Takes over the COPY; the moved-from writer is one of no COPY.
    AsyncCopyIn(AsyncCopyIn&&) noexcept;
    /// Aborts this writer's open COPY, if any, then takes over the source's.
    AsyncCopyIn& operator=(AsyncCopyIn&&) noexcept;
    AsyncCopyIn(const AsyncCopyIn&) = delete;
    AsyncCopyIn& operator=(const AsyncCopyIn&) = delete;

    /// Sends `data` (any part of the COPY text or binary stream) as CopyData messages;
    /// completes once it went out to the socket. Error(usage) when the COPY has ended.
    OpId write(std::string data, Done done);
    /// CopyDone: completes with the number of rows the server copied, or its error.
    OpId finish(Callback<std::uint64_t> done);
    /// CopyFail with `reason`: the server ends the COPY with its 57014 error ("COPY from
    /// stdin failed: <reason>"), the answer abort() expects: it completes with null then, and
    /// the connection is ready for the next operation.
    OpId abort(std::string reason, Done done);
    /// True from open_copy_in()'s completion until finish() or abort() is queued, or the
    /// COPY ended with an error.
    bool is_open() const noexcept;

    /// A writer holding `link` (its connection and COPY, an opaque type of the library):
    /// what open_copy_in() completes with. Applications receive writers, never make them.
    explicit AsyncCopyIn(std::unique_ptr<client::AsyncCopyInLink> link) noexcept;

private:
    std::unique_ptr<client::AsyncCopyInLink> link_;
};

/// A transaction on an AsyncConnection (AsyncConnection::begin), the asynchronous form of the
/// blocking Transaction: commit(), rollback() and savepoints are queued on the connection like
/// any other operation. Destroying a transaction that was neither committed nor rolled back
/// queues a ROLLBACK (when the connection still exists and is healthy), so a transaction whose
/// owner goes away never stays open. Operations after commit() or rollback() complete with
/// Error(usage); on a transaction of no connection (moved from, or whose connection was
/// destroyed) they throw Error(usage).
class AsyncTransaction {
public:
    using OpId = std::uint64_t;  ///< As AsyncConnection::OpId: cancel() takes it.
    /// Completion without a value, as AsyncConnection::Done.
    using Done = std::function<void(std::exception_ptr)>;

    /// A transaction of no connection (what a failed begin() completes with).
    AsyncTransaction() noexcept;
    ~AsyncTransaction();  ///< Queues a ROLLBACK unless finished (see above).
    /// Takes over the transaction; the moved-from one belongs to no connection.
    AsyncTransaction(AsyncTransaction&&) noexcept;
    /// Rolls this transaction back (as the destructor), then takes over the source's.
    AsyncTransaction& operator=(AsyncTransaction&&) noexcept;
    AsyncTransaction(const AsyncTransaction&) = delete;
    AsyncTransaction& operator=(const AsyncTransaction&) = delete;

    /// COMMIT. Error(server) when the server rolled back instead (the transaction had failed).
    OpId commit(Done done);
    /// ROLLBACK.
    OpId rollback(Done done);
    /// SAVEPOINT `name` (quoted as an identifier).
    OpId savepoint(std::string name, Done done);
    /// ROLLBACK TO SAVEPOINT `name`.
    OpId rollback_to(std::string name, Done done);
    /// RELEASE SAVEPOINT `name`.
    OpId release(std::string name, Done done);
    /// True from begin()'s completion until commit() or rollback() is queued.
    bool is_open() const noexcept;

    /// A transaction holding `link` (its connection and state, an opaque type of the library):
    /// what begin() completes with. Applications receive transactions, never make them.
    explicit AsyncTransaction(std::unique_ptr<client::AsyncTransactionLink> link) noexcept;

private:
    std::unique_ptr<client::AsyncTransactionLink> link_;
};

/// Whether an implicit pipeline takes the queries queued while it is being answered (see
/// AsyncConnection::set_pipeline_overlap()).
enum class PipelineOverlap : std::uint8_t {
    /// On when the server is reached over a network: not through a Unix socket or a loopback
    /// address, where a round trip costs less than the server's wake-ups it adds.
    automatic,
    on,   ///< Always.
    off,  ///< Never: queries queued meanwhile go out as the next pipeline once it ended.
};

/// A non-blocking connection driven by the application's event loop (see the file comment).
class AsyncConnection {
public:
    using Clock = std::chrono::steady_clock;  ///< The clock of deadline() and advance().
    using OpId = std::uint64_t;               ///< Names a queued operation, for cancel().
    /// Completion of an operation with a value: the exception_ptr is null on success, and
    /// the value is meaningful only then. Called from advance(), on the loop's thread.
    template <class T>
    using Callback = std::function<void(std::exception_ptr, T)>;
    /// Completion of an operation without a value: nullptr on success.
    using Done = std::function<void(std::exception_ptr)>;

    AsyncConnection();
    ~AsyncConnection();
    /// Takes over the connection and its queued operations (between advance() calls only).
    AsyncConnection(AsyncConnection&&) noexcept;
    AsyncConnection& operator=(AsyncConnection&&) = delete;
    AsyncConnection(const AsyncConnection&) = delete;
    AsyncConnection& operator=(const AsyncConnection&) = delete;

    // ---- the event loop
    /// The sockets to watch now, and for what (empty slots have fd -1).
    std::array<AsyncWatch, 2> watches() const noexcept;
    /// When advance() must be called even if no socket is ready; nullopt: only on readiness.
    /// When it is due at once (a completion waits for its callback, a queued operation to
    /// start), a time in the past (the clock's epoch), so `deadline <= now` holds for any `now`.
    std::optional<Clock::time_point> deadline() const noexcept;
    /// Does all the work that can be done now without blocking: reads, writes, timers, and
    /// completion callbacks (which may queue more operations). Call it when a watched socket
    /// is ready or deadline() has passed; extra calls are harmless.
    void advance(Clock::time_point now = Clock::now());
    /// True while an operation is queued, running or waiting for its callback. The Close the
    /// library sends of statements an implicit pipeline left on the server (statement cache)
    /// does not count: an operation queued meanwhile starts after it.
    bool busy() const noexcept;

    // ---- operations (queued; see the file comment)
    /// Connects with resolved settings, with the blocking Client's whole connect policy: every
    /// host in turn (or shuffled, load_balance_hosts=random), every sslmode with its
    /// fallbacks, classic or direct negotiation, target_session_attrs, connect_timeout per
    /// host. A password callback runs from advance(). A host name is resolved on a thread of
    /// its own: meanwhile watches() names a descriptor that becomes readable with the answer;
    /// connect_timeout, cancel() and destruction stop waiting for it at once.
    OpId connect(Settings settings, Done done);
    /// Resolves `config` (conninfo, PG* environment) first; a resolve error completes `done`.
    OpId connect(const Config& config, Done done);
    /// Simple query protocol: every statement's result, as Client::query_all().
    OpId query(std::string sql, Callback<std::vector<Result>> done);
    /// Extended-protocol query with parameters. Implicit pipelining: execute() calls queued
    /// back to back (from several coroutines, say) go out together without waiting for each
    /// other's replies, each with its own Sync, so each gets its own result and an error fails
    /// only its own query, as when they run one after another. Up to 256 queries or 1 MiB per
    /// pipeline; not while a query timeout is set (it bounds one query at a time), nor for a
    /// COPY (it runs alone: its CopyInResponse needs an answer). With the
    /// statement cache off, a run of queries with the same SQL and parameter types queued back
    /// to back shares one Parse: the first parses and describes a statement named for this
    /// connection, the others bind it (each takes the described columns in its own result
    /// format), the last closes it (each still with its own Sync); when the first fails
    /// to parse — or is cancelled while the server parses it — the others get its error. Any
    /// other query after a pipeline's first parses a statement of its own name, closed before
    /// its Sync, never the unnamed statement: a transaction pooler that hands the server
    /// connection over in the middle of a pipeline (PgBouncer may, pgbouncer#759) then makes
    /// it fail with 26000 rather than run another client's statement. Queries queued while a
    /// pipeline is being answered join it, or wait for it to end (see set_pipeline_overlap()).
    /// With the statement cache on, a pipelined execute goes through it too: the first of a
    /// statement prepares it inside the pipeline (those queued before that is answered parse
    /// their own), later ones only bind and execute. A cached statement the server lost
    /// (26000) or whose result type changed (0A000) fails the pipelined queries that used it
    /// and is forgotten (the next execute prepares it again); unlike a lone execute, such a
    /// query is not started over, as the queries sent after it have already run.
    OpId execute(std::string sql, std::vector<Param> params, Callback<Result> done,
                 ResultFormat format = ResultFormat::text);
    /// execute() with each argument bound through to_param().
    template <typename... Args>
    OpId execute_args(std::string sql, Callback<Result> done, const Args&... args) {
        return execute(std::move(sql), std::vector<Param>{to_param(args)...}, std::move(done));
    }
    /// Prepares a named statement, as Client::prepare().
    OpId prepare(std::string name, std::string sql, std::vector<std::uint32_t> param_types,
                 Callback<PreparedStatement> done);
    /// Executes a prepared statement, as Client::execute(const PreparedStatement&, ...).
    OpId execute(PreparedStatement statement, std::vector<Param> params, Callback<Result> done,
                 ResultFormat format = ResultFormat::text);
    /// Rows go to `on_row` as they arrive (the Row is valid during the call); completes with
    /// the affected-row count.
    OpId stream(std::string sql, std::vector<Param> params, std::function<void(const Row&)> on_row,
                Callback<std::uint64_t> done, ResultFormat format = ResultFormat::text);
    /// Sends every query before reading any result; a final sync is added when missing. As
    /// pgtls::Pipeline (the same encoding): a query after the first sync parses a statement of
    /// its own name, closed after its Execute (a failed one's before the next operation), so
    /// that behind a transaction pooler it fails with 26000 rather than bind another
    /// client's unnamed statement.
    OpId pipeline(std::vector<PipelineQuery> queries, Callback<std::vector<PipelineResult>> done);
    /// COPY ... TO STDOUT: each chunk to `on_data`; completes with the row count.
    OpId copy_out(std::string sql, std::function<void(std::string_view)> on_data, Callback<std::uint64_t> done);
    /// COPY ... FROM STDIN with `data` (the whole COPY text or binary stream); the row count.
    OpId copy_in(std::string sql, std::string data, Callback<std::uint64_t> done);
    /// COPY ... FROM STDIN streamed: completes, once the server accepted the COPY, with the
    /// writer the data goes through (see AsyncCopyIn); any other statement is Error(usage).
    OpId open_copy_in(std::string sql, Callback<AsyncCopyIn> done);
    /// The parameter types and result columns of the named prepared statement, as
    /// Client::describe_statement() (ServerError 26000 when it does not exist).
    OpId describe_statement(std::string name, Callback<PreparedStatement> done);
    /// BEGIN with `options` (the blocking Transaction's): completes with the transaction, or
    /// Error(usage) when one is already open on the connection (transactions do not nest).
    OpId begin(TransactionOptions options, Callback<AsyncTransaction> done);
    /// The statement cache of execute(sql, ...) and stream(), as Client's (the same logic): an
    /// LRU of `capacity` server-side statements (0, the default, disables it), evicting with a
    /// Close; a statement the server lost (26000, after DISCARD ALL or DEALLOCATE) empties the
    /// cache, and outside a transaction the execute prepares again once; a cached plan whose
    /// result type changed (0A000) is forgotten. Queued like an operation: the capacity changes
    /// when it runs, and the statements it forgets are closed on the server then (one round
    /// trip); `done` gets the outcome (a closed connection: Error(usage), capacity unchanged).
    OpId set_statement_cache_capacity(std::size_t capacity, Done done);
    /// The statement cache's capacity (0: off), as the last set_statement_cache_capacity() that ran set it.
    std::size_t statement_cache_capacity() const noexcept;
    /// Closes (deallocates) the named prepared statement, as Client::close_statement() (no
    /// error when it does not exist).
    OpId close_statement(std::string name, Done done);
    /// The next notification (LISTEN first), or nullopt when `timeout` passed without one.
    OpId wait_notification(std::chrono::milliseconds timeout, Callback<std::optional<Notification>> done);
    /// Terminate and close; queued operations after it fail.
    OpId close(Done done);

    /// Cancels operation `id` (see the file comment); nothing if it already completed or names
    /// no operation (0, a default OpId, names none). A query in an implicit pipeline is
    /// cancelled (CancelRequest, 57014) while the server runs it; one the server has not
    /// reached yet was already sent, and completes with its outcome; each query of a pipeline
    /// can be cancelled in turn. It may be called from a callback of the operation it cancels
    /// (a row callback that has seen enough): the cancel is carried out once that callback
    /// returned, and advance() is then due at once.
    void cancel(OpId id);

    // ---- state
    bool is_open() const noexcept;  ///< True between a completed connect and close.
    /// The connection's socket (-1 when none), e.g. to probe an idle connection for data or
    /// EOF; watches() says what to wait for.
    int socket() const noexcept;
    /// False after an I/O or protocol error: the connection cannot be used any more.
    bool is_healthy() const noexcept;
    const ConnectionInfo& info() const noexcept;  ///< What the connection negotiated.
    /// The transaction state after the last completed command (unknown when not connected, or
    /// while an AsyncCopyIn's COPY is open: mid-COPY, as libpq's PQTRANS_ACTIVE).
    TransactionStatus transaction_status() const noexcept;
    /// The last value the server reported for ParameterStatus `name`; nullopt if never.
    std::optional<std::string> parameter_status(std::string_view name) const;
    /// Notifications received while other operations ran, oldest first (cleared).
    std::vector<Notification> take_notifications();
    /// Bounds each later query like Client::set_query_timeout: cancel, drain, keep the
    /// connection; 0 = none.
    void set_query_timeout(std::chrono::milliseconds timeout) noexcept;
    /// The query timeout set_query_timeout() last set (0: none).
    std::chrono::milliseconds query_timeout() const noexcept;
    /// Overlapping pipelines. With them on, queries queued while an implicit pipeline is being
    /// answered join it once they are as many as its unanswered queries: written at once while
    /// the server still works on the earlier ones, answered in order after them, each with its
    /// own Sync and outcome as before — so the server does not wait a round trip for the
    /// client between one write and the next. Up to 512 queries per pipeline; a query that
    /// cannot be encoded waits for the pipeline to end. Off, they go out as the next pipeline
    /// once every reply of the running one arrived. The default, automatic, is on for a server
    /// over a network and off for a Unix socket or a loopback address (measured on a 2-vCPU
    /// machine: across 0.25–0.5 ms each way it adds 40–59 % to the queries per second of 64
    /// callers on one connection; over loopback it is bimodal from run to run — 0.62–0.90×
    /// an explicit pipeline's throughput, against 0.68–0.84× without —, with client and
    /// server pinned to separate CPUs too: what flips is the server's CPU per query, 6.6
    /// against 8.7 µs). Takes effect at once.
    void set_pipeline_overlap(PipelineOverlap overlap) noexcept;
    PipelineOverlap pipeline_overlap() const noexcept;  ///< As set (automatic by default).
    /// Called from advance() with each NoticeResponse; empty: notices are dropped.
    void set_notice_handler(std::function<void(const Notice&)> handler);
    /// The notice handler set_notice_handler() last set (empty: none).
    const std::function<void(const Notice&)>& notice_handler() const noexcept;

    /// Back-pressure for stream() (and every other operation): while paused the connection
    /// reads nothing more from its socket and does not watch it for reading, so a server that
    /// sends faster than the application consumes waits on TCP flow control. Rows already
    /// received (at most one read, a few dozen KiB) are still delivered. resume_reading()
    /// makes advance() due at once. A query timeout or cancel() resumes reading: the operation
    /// is ending and must read what remains. Call them from anywhere on the loop's thread,
    /// an on_row callback included.
    void pause_reading() noexcept;   ///< Stops reading (see above).
    void resume_reading() noexcept;  ///< Reads again (see above).
    bool reading_paused() const noexcept;  ///< True between pause_reading() and resume_reading().

    /// How much implicit pipelining happened on this connection (since it was created).
    struct Stats {
        std::uint64_t pipelines = 0;          ///< implicit pipelines sent
        std::uint64_t pipelined_queries = 0;  ///< queries sent in them
        /// Writes that added queries to a pipeline being answered (see set_pipeline_overlap()).
        std::uint64_t pipeline_appends = 0;
    };
    Stats stats() const noexcept;  ///< The counters so far.

    /// The connection's state inside the library (an opaque type here): what the library's
    /// own pool uses to connect through a shared TLS context.
    client::AsyncCore* core() const noexcept { return state_.get(); }

private:
    std::unique_ptr<client::AsyncCore> state_;
};

}  // namespace pgtls
PGTLS_API_END
