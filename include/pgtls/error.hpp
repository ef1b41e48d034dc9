/// \file
/// pgtls — one error type for everything that can go wrong.
#pragma once

#include "pgtls/version.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

PGTLS_API_BEGIN
namespace pgtls {

/// What went wrong, coarsely: callers branch on this, humans read the message.
enum class ErrorKind {
    config,          ///< bad connection string, option value, missing/unsafe key file
    connection,      ///< socket-level failure: resolve, connect, reset, EOF
    tls,             ///< handshake, certificate verification, host name, ALPN
    authentication,  ///< auth method refused, wrong password, SCRAM failure, channel binding
    protocol,        ///< the server broke the wire protocol (malformed or unexpected message)
    server,          ///< an ErrorResponse from the server (see ServerError)
    timeout,         ///< a client-side deadline expired
    usage,           ///< the API was used wrongly (e.g. query on a closed client)
    pool,            ///< pool exhausted or closed
};

/// The kind's name for messages, e.g. "connection", "TLS" (a static string).
const char* to_string(ErrorKind kind) noexcept;

/// Why, finely and machine-readably, within a kind: the library's own control decisions
/// (fallbacks, retries, failover, eviction) and an application's branch on this, never on the
/// message text. New causes may be added in later versions; `unspecified` is the default.
enum class ErrorCause : std::uint8_t {
    unspecified,            ///< no finer cause is known
    // connection
    resolve_failed,         ///< the host name did not resolve
    connect_failed,         ///< TCP/Unix connect refused or unreachable
    connection_closed,      ///< EOF or reset from the server
    // tls
    ssl_refused,            ///< the server answered SSLRequest with 'N' and TLS was required
    tls_handshake,          ///< the handshake failed (incl. a chain the backend rejected)
    tls_host_name,          ///< verify-full: the certificate does not name the host
    tls_alpn,               ///< ALPN missing on a direct connection, or another protocol
    tls_client_certificate, ///< sslcertmode=require and no client certificate was sent
    // authentication
    auth_method_refused,    ///< require_auth / channel_binding refused what the server asked
    auth_failed,            ///< the exchange failed (bad proof, bad server signature, ...)
    // protocol
    protocol_violation,     ///< a malformed or unexpected message
    limit_exceeded,         ///< a max_* cap (message size, result bytes/rows, notifications)
    // server
    server_error,           ///< an ErrorResponse that leaves the session usable
    server_fatal,           ///< a FATAL/PANIC: the server ends the session
    // timeout
    connect_timeout,        ///< connect_timeout (or a pool's acquire deadline) expired
    query_timeout,          ///< the query timeout expired; the query was cancelled and drained
    query_timeout_closed,   ///< ... and did not stop after the cancel: the connection was closed
    // connect policy
    session_attrs_mismatch, ///< target_session_attrs refused the server
    // usage / config / pool
    usage,                  ///< the API was used wrongly
    config,                 ///< an invalid or unsupported configuration
    pool_exhausted,         ///< no connection became free before the acquire deadline
    pool_closed,            ///< the pool was closed
};

/// The cause's name, e.g. "connect_failed", "query_timeout" (a static string).
const char* to_string(ErrorCause cause) noexcept;

struct ServerErrorFields;

/// What the server had sent when a TLS handshake failed, as the TLS session's own reads returned
/// it (Error::tls_peer_answer()). A failed `sslnegotiation=direct` handshake whose
/// server sent nothing or no TLS record most likely met a server before PostgreSQL 17.
enum class TlsPeerAnswer : std::uint8_t {
    unknown,  ///< not a failed TLS handshake, or the transport did not look
    nothing,  ///< no byte came back (a server before 17 closes on a ClientHello without a word)
    tls,      ///< a TLS record: the server speaks TLS, whatever went wrong after
    not_tls,  ///< bytes that are no TLS record (e.g. an ErrorResponse)
};

/// One host attempt of a failed connect (libpq reports them as one line each).
struct ConnectAttempt {
    std::string host;        ///< as given (host or hostaddr), or the Unix socket path
    std::string address;     ///< the numeric address connected to; empty if none was reached
    int port = 0;            ///< the TCP port, or the Unix socket's port number
    std::string encryption;  ///< "tls" (classic or direct), "plaintext" or "gss"
    ErrorKind kind = ErrorKind::connection;      ///< what failed, as Error::kind()
    ErrorCause cause = ErrorCause::unspecified;  ///< why, as Error::cause()
    std::string message;     ///< the attempt's own message, without the "connection to" prefix
    std::shared_ptr<const ServerErrorFields> server;  ///< when the server sent an ErrorResponse
};

/// Every error pgtls throws (or hands to a completion handler) is an Error or a ServerError:
/// what() is the human-readable message; kind() and cause() are for programs. Copying is cheap.
class Error : public std::runtime_error {
public:
    /// An error of `kind` with cause unspecified.
    Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
    /// An error of `kind` with a finer `cause`.
    Error(ErrorKind kind, ErrorCause cause, const std::string& message)
        : std::runtime_error(message), kind_(kind), cause_(cause) {}
    ErrorKind kind() const noexcept { return kind_; }     ///< What failed.
    ErrorCause cause() const noexcept { return cause_; }  ///< Why, within kind().
    /// Set by the library when it learns the cause after constructing the error.
    void set_cause(ErrorCause cause) noexcept { cause_ = cause; }
    /// A failed connect: every host attempt, in order (empty for other errors).
    const std::vector<ConnectAttempt>& attempts() const noexcept;
    /// The server's ErrorResponse when the server sent one (a ServerError), else null.
    virtual const ServerErrorFields* server_fields() const noexcept { return nullptr; }
    /// Set by the library on a failed connect; attempts() returns them.
    void set_attempts(std::vector<ConnectAttempt> attempts);
    /// True when the connection the failing call ran on did not survive it: a FATAL or PANIC
    /// from the server (e.g. 57P01, a backend terminated by the administrator), a reset or EOF,
    /// a timeout or protocol error after which the connection was closed. The operation may
    /// be retried on a new connection if it is idempotent (see BasicPool::run_retrying).
    /// False for errors that leave the connection usable (an SQL error, a cancelled query,
    /// misuse) and for a failed connect (there was no connection to lose).
    bool connection_lost() const noexcept { return connection_lost_; }
    /// Set by the library when it closes the connection on this error.
    void set_connection_lost(bool lost) noexcept { connection_lost_ = lost; }
    /// A failed TLS handshake (cause tls_handshake): what the server had sent. Kept by copies,
    /// so an Error rethrown or stored by value still carries it.
    TlsPeerAnswer tls_peer_answer() const noexcept { return tls_peer_answer_; }
    /// Set by the transport when a TLS handshake fails.
    void set_tls_peer_answer(TlsPeerAnswer answer) noexcept { tls_peer_answer_ = answer; }

private:
    ErrorKind kind_;
    ErrorCause cause_ = ErrorCause::unspecified;
    bool connection_lost_ = false;
    TlsPeerAnswer tls_peer_answer_ = TlsPeerAnswer::unknown;
    /// Shared so copying an Error (exception_ptr, rethrow) stays cheap.
    std::shared_ptr<const std::vector<ConnectAttempt>> attempts_;
};

/// Every field of a PostgreSQL ErrorResponse / NoticeResponse (protocol "Error and Notice
/// Message Fields"). Absent fields are empty strings.
struct ServerErrorFields {
    std::string severity;             ///< S (localized)
    std::string severity_nonlocalized;  ///< V
    std::string sqlstate;             ///< C
    std::string message;              ///< M
    std::string detail;               ///< D
    std::string hint;                 ///< H
    std::string position;             ///< P
    std::string internal_position;    ///< p
    std::string internal_query;       ///< q
    std::string where;                ///< W
    std::string schema;               ///< s
    std::string table;                ///< t
    std::string column;               ///< c
    std::string data_type;            ///< d
    std::string constraint;           ///< n
    std::string file;                 ///< F
    std::string line;                 ///< L
    std::string routine;              ///< R
};

/// An ErrorResponse from the server. what() is "SEVERITY:  message" as psql shows it.
class ServerError : public Error {
public:
    /// `kind` is server for errors of an established session; authentication or connection
    /// for an ErrorResponse received while connecting.
    explicit ServerError(ServerErrorFields fields, ErrorKind kind = ErrorKind::server);
    /// Same, with what() prefixed by context (e.g. which server the connection went to).
    ServerError(ServerErrorFields fields, ErrorKind kind, const std::string& context);
    /// Every field the server sent.
    const ServerErrorFields& fields() const noexcept { return fields_; }
    /// The same fields, through the Error interface.
    const ServerErrorFields* server_fields() const noexcept override { return &fields_; }
    /// The five-character SQLSTATE, e.g. "23505" (fields().sqlstate).
    const std::string& sqlstate() const noexcept { return fields_.sqlstate; }

private:
    ServerErrorFields fields_;
};

}  // namespace pgtls
PGTLS_API_END
