/// \file
/// pgtls — a blocking PostgreSQL connection with timeouts.
#pragma once

#include "pgtls/version.hpp"

#include <array>
#include <chrono>
#include <span>
#include <cstdint>
#include <functional>
#include <map>
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

// The connection's state, defined inside the library (src/client/): opaque here and not
// exported.
namespace pgtls::client {
struct ClientCore;
}

PGTLS_API_BEGIN
namespace pgtls {

class TypeCache;  ///< type_loader.hpp
class Client;

/// Queue many statements before reading any result (libpq pipeline mode): each add() queues
/// Parse/Bind/Describe/Execute, sync() marks a sync point, run() sends everything in large
/// writes and reads every result in order. An error aborts the rest of its sync group,
/// exactly as the server does; every query's outcome is reported. A query of the first sync
/// group parses the unnamed statement (as libpq); one after a sync() parses a statement of a
/// name unique to the connection and closes it after its Execute (a failed one's is closed
/// once the pipeline ended): behind a transaction pooler a group after the first may run on
/// another server connection than the groups before it, and PgBouncer may even split one
/// group there once it has answered the Syncs before it (pgbouncer#759) — a Bind of the
/// unnamed statement would then run another client's statement; a name of its own fails with
/// 26000 instead of returning wrong data. DEALLOCATE and DISCARD keep the unnamed statement.
class Pipeline {
public:
    /// An empty pipeline on `client`, which must outlive it; nothing is sent before run().
    explicit Pipeline(Client& client) : client_(client) {}
    /// Returns the query's index in run()'s result vector.
    std::size_t add(std::string_view sql, const std::vector<Param>& params = {},
                    ResultFormat format = ResultFormat::text);
    /// The same with any contiguous parameters (no vector needed).
    std::size_t add_params(std::string_view sql, std::span<const Param> params,
                           ResultFormat format = ResultFormat::text);
    /// add() with each argument bound through to_param(); returns the query's index.
    template <typename... Args>
    std::size_t add_exec(std::string_view sql, const Args&... args) {
        const std::array<Param, sizeof...(Args)> params{to_param(args)...};
        return add_params(sql, params);
    }
    /// Ends a sync group: an error aborts the rest of its group, not the next one.
    void sync();
    std::size_t size() const noexcept { return queued_; }  ///< Queries queued so far.
    /// Sends and collects everything (adds a final sync when needed). The pipeline is empty after.
    std::vector<PipelineResult> run();

private:
    friend class Client;
    Client& client_;
    std::string buffer_;
    std::size_t queued_ = 0;
    std::vector<std::size_t> sync_after_;  ///< number of queries before each sync point
    std::vector<std::string> names_;       ///< per query, the statement it parses ("" unnamed)
    std::vector<std::string> texts_;       ///< per query, its SQL when traced with trace_query_text
};

/// COPY FROM STDIN in progress: write data, then finish() (or abort()). While it is open every
/// other statement on its Client is Error(usage), nothing sent.
class CopyIn {
public:
    /// Takes over the COPY; the moved-from writer throws Error(usage) from every call.
    CopyIn(CopyIn&&) noexcept;
    CopyIn& operator=(CopyIn&&) = delete;
    ~CopyIn();  ///< aborts if neither finish() nor abort() was called
    /// Buffers and sends data in large CopyData messages.
    void write(std::string_view data);
    /// Ends the COPY; returns the number of rows the server copied. Throws ServerError.
    std::uint64_t finish();
    /// CopyFail with this reason; the server reports an error which abort() swallows.
    void abort(std::string_view reason = "aborted by the client");

private:
    friend class Client;
    template <typename T>
    friend class CopyRowWriter;
    explicit CopyIn(Client& c) : client_(&c) {}
    void flush();
    // Sends `message` as one CopyData message without copying it, after what write() buffered:
    // its first 5 bytes are left for the message header (filled in here), the data follows.
    void write_framed(char* message, std::size_t size);
    void end() noexcept;  // done: the client accepts statements again
    Client& owner() const;  // Error(usage) when moved from
    Client* client_;
    std::string buffer_;
    bool done_ = false;
};

/// User callbacks (notice handler, stream rows, COPY out data, password callback) may throw
/// anything: the client stops calling them for the rest of the request, reads the rest of the
/// reply up to ReadyForQuery (at most 5 s and 16 MiB, otherwise it closes the connection), and
/// rethrows the callback's exception unchanged to the caller of the request. A callback must
/// not use its own Client: such a call throws Error(usage) ("another command is already in
/// progress") before sending anything.
///
/// A moved-from Client throws Error(usage) from every call but connect(), which makes it a new
/// connection; a never-connected one throws Error(usage) ("connection is closed").
class Client {
public:
    Client();
    /// Connect at once; throws pgtls::Error on failure.
    explicit Client(const Config& config);
    /// Connect at once to a libpq connection string or URI; throws pgtls::Error on failure.
    explicit Client(const std::string& conninfo);
    /// Connect at once with resolved settings; throws pgtls::Error on failure.
    explicit Client(Settings settings);
    ~Client();  ///< close()s the connection if open.
    /// Takes over the connection; the source then throws Error(usage) until connect()ed again.
    Client(Client&&) noexcept;
    /// Drops this connection and takes over the source's.
    Client& operator=(Client&&) noexcept;

    /// (Re)connects: closes an open connection first, then tries each host as libpq does.
    /// Throws Error (kind connection, tls, authentication, config, timeout, ...) or
    /// ServerError; a failed connect's Error::attempts() lists every host tried.
    void connect(const Config& config);
    /// The same with resolved settings.
    void connect(Settings settings);
    /// Terminate politely (Terminate message, TLS close_notify) and close the socket.
    void close() noexcept;
    bool is_open() const noexcept;  ///< True between a successful connect and close().
    /// False after an I/O or protocol error: the connection cannot be used any more.
    bool is_healthy() const noexcept;

    /// Simple query protocol; several statements give several results (the last is returned
    /// by query(), all by query_all()). Throws ServerError on the first failing statement.
    Result query(std::string_view sql);
    /// Every statement's result, in order.
    std::vector<Result> query_all(std::string_view sql);

    /// Extended protocol with the unnamed statement: Parse/Bind/Describe/Execute/Sync.
    Result execute(std::string_view sql, const Params& params = {});
    /// The same with any contiguous parameters (no vector needed).
    Result execute_params(std::string_view sql, std::span<const Param> params,
                          ResultFormat format = ResultFormat::text);
    /// exec(sql, a, b, ...) binds each argument; exec(sql, user) with one plain struct (see
    /// row_mapping.hpp) binds its fields in declaration order.
    template <typename... Args>
    Result exec(std::string_view sql, const Args&... args) {
        if constexpr (sizeof...(Args) == 1 && (row_struct<Args> && ...)) {
            const auto params = detail::params_of(args...);
            return execute_params(sql, params);
        } else {
            const std::array<Param, sizeof...(Args)> params{to_param(args)...};
            return execute_params(sql, params);
        }
    }

    /// Extended protocol with result columns in the given format (binary decodes to the same
    /// C++ values via pgtls::Codec and is cheaper for numbers and timestamps).
    Result execute(std::string_view sql, const Params& params, ResultFormat format);

    /// Named prepared statements.
    PreparedStatement prepare(std::string_view name, std::string_view sql,
                              const std::vector<std::uint32_t>& param_types = {});
    /// Bind/Execute of a statement prepare() returned; throws ServerError as query() does.
    Result execute(const PreparedStatement& statement, const Params& params = {},
                   ResultFormat format = ResultFormat::text);
    /// The parameter types and columns of the named statement (ServerError if it does not exist).
    PreparedStatement describe_statement(std::string_view name);
    /// Closes the named statement on the server (no error if it does not exist).
    void close_statement(std::string_view name);

    /// Cache of server-side statements for execute(sql, ...): an LRU of `capacity` statements
    /// (0, the default, disables it so PgBouncer transaction pooling keeps working). Shrinking
    /// it closes the statements it forgets on the server (one round trip when connected).
    /// FETCH, EXECUTE and CALL are not cached: their columns are those of the cursor,
    /// statement or procedure when they run, which the server does not check (no 0A000).
    void set_statement_cache_capacity(std::size_t capacity);
    std::size_t statement_cache_capacity() const noexcept;  ///< The cache's capacity (0: off).

    /// Streams the rows of a query to `on_row` as they arrive, in constant memory. The Row and
    /// its Fields are views of the connection's receive buffer, not copies: valid only during
    /// the call (copy what you keep, e.g. std::string(field.view()) or field.as<T>()), and the
    /// callback must not use this Client. Returns the command tag's row count.
    std::uint64_t stream(std::string_view sql, const Params& params,
                         const std::function<void(const Row&)>& on_row,
                         ResultFormat format = ResultFormat::text);

    /// stream() with each row as a T (a plain struct or a std::tuple, see row_mapping.hpp): the
    /// columns are checked against T once, at the first row, before it is decoded.
    template <typename T, typename F>
    std::uint64_t stream_as(std::string_view sql, const Params& params, F&& on_value,
                            ResultFormat format = ResultFormat::text) {
        std::optional<RowMapper<T>> mapper;
        return stream(sql, params, [&](const Row& row) {
            if (!mapper) mapper.emplace(row.columns());
            on_value(mapper->map(row));
        }, format);
    }

    /// COPY ... FROM STDIN: returns a writer. COPY ... TO STDOUT: calls on_data per CopyData
    /// chunk and returns the row count. Text, CSV and binary formats alike.
    CopyIn copy_in(std::string_view copy_sql);
    /// COPY ... TO STDOUT (see above); `on_data` must not use this Client.
    std::uint64_t copy_out(std::string_view copy_sql, const std::function<void(std::string_view)>& on_data);

    /// Per-call client-side timeout for queries (0 = none). On expiry the query is cancelled on
    /// the server and Error(timeout) is thrown; the connection stays usable.
    void set_query_timeout(std::chrono::milliseconds timeout) noexcept;
    std::chrono::milliseconds query_timeout() const noexcept;  ///< The current query timeout.

    /// One round trip (`sql`, by default an empty query) bounded by `timeout` (0: the query
    /// timeout, or none). Unlike a timed-out query, an unanswered ping is not cancelled (a
    /// cancel on a dead network waits for its own connect): the connection is closed at once
    /// and Error(timeout) thrown, so the call does not outlast `timeout`. What a pool's health
    /// check needs. Server and connection errors are thrown as query() throws them.
    void ping(std::chrono::milliseconds timeout, std::string_view sql = ";");

    /// The transaction state after the last command (unknown when not connected, or while a
    /// CopyIn is open: mid-COPY, as libpq's PQTRANS_ACTIVE).
    TransactionStatus transaction_status() const noexcept;
    /// The last value of a ParameterStatus the server reported (server_version, TimeZone,
    /// client_encoding, ...); nullopt when the server never reported `name`.
    std::optional<std::string> parameter_status(const std::string& name) const;
    /// What the connection negotiated (host, TLS, authentication, timings).
    const ConnectionInfo& info() const noexcept;
    /// The resolved settings the connection was made with.
    const Settings& settings() const noexcept;
    /// The socket's file descriptor, -1 when closed; for polling only (do not read or write it).
    int socket() const noexcept;

    /// Ask the server to cancel the running query (new connection, same host and TLS settings).
    /// Safe to call from another thread.
    void cancel();

    /// Called with each NoticeResponse (and pgtls warning) on the calling thread, during the
    /// call that received it; an empty function drops notices (the default).
    void set_notice_handler(std::function<void(const Notice&)> handler);
    /// The handler set by set_notice_handler (empty when none).
    const std::function<void(const Notice&)>& notice_handler() const noexcept;
    /// Notifications received so far (queued during queries), oldest first.
    std::vector<Notification> take_notifications();
    /// True once a LISTEN command completed on this session (its command tag), until
    /// unlisten_all() or a DISCARD ALL. A LISTEN run inside a function or DO block is not seen.
    bool listening() const noexcept;
    /// UNLISTEN * (errors thrown as query() throws them), then drops the queued notifications;
    /// listening() is false afterwards. A pool calls it when a lease that LISTENed is released.
    void unlisten_all();
    /// Wait up to `timeout` for a notification; nullopt on timeout.
    std::optional<Notification> wait_for_notification(std::chrono::milliseconds timeout);

    /// The connection's state inside the library (an opaque type here): what the library's
    /// own pool uses to connect clients through a shared TLS context. nullptr on a moved-from
    /// client.
    client::ClientCore* core() const noexcept { return impl_.get(); }

private:
    friend class Pipeline;
    friend class CopyIn;
    // The connection state; Error(usage) on a moved-from client.
    client::ClientCore& live() const;
    std::unique_ptr<client::ClientCore> impl_;
    friend TypeCache& connection_type_cache(Client&);
    std::shared_ptr<TypeCache> type_cache_;  ///< load_type's, made on first use (type_loader.cpp)
};

/// BEGIN on construction; ROLLBACK on destruction unless commit() was called. Savepoints nest;
/// transactions do not: constructing one on a client already in a transaction is
/// Error(usage) (use savepoint() / rollback_to() / release() of the open one).
class Transaction {
public:
    /// Runs `begin_sql` (e.g. "BEGIN ISOLATION LEVEL SERIALIZABLE") on `client`, which must
    /// outlive the transaction. Error(usage) when a transaction is already open.
    explicit Transaction(Client& client, std::string_view begin_sql = "BEGIN");
    /// BEGIN with the isolation level and access mode of `options` (see TransactionOptions).
    Transaction(Client& client, const TransactionOptions& options);
    ~Transaction();  ///< ROLLBACK unless finished (errors swallowed; skipped if the connection broke).
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    /// COMMIT. Error(server) when the server rolled back instead (the transaction had failed);
    /// Error(usage) when already finished.
    void commit();
    /// ROLLBACK; Error(usage) when already finished.
    void rollback();
    /// SAVEPOINT name / ROLLBACK TO SAVEPOINT name / RELEASE SAVEPOINT name.
    void savepoint(std::string_view name);
    /// ROLLBACK TO SAVEPOINT `name` (quoted as an identifier).
    void rollback_to(std::string_view name);
    /// RELEASE SAVEPOINT `name` (quoted as an identifier).
    void release(std::string_view name);
    Client& client() noexcept { return client_; }  ///< The client the transaction runs on.

private:
    Client& client_;
    bool open_ = true;
};

}  // namespace pgtls
PGTLS_API_END
