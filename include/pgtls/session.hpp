/// \file
/// pgtls — what a session reports, shared by the blocking and the event-loop APIs: transaction
/// status, notices and notifications, the connection's negotiated parameters, prepared
/// statements and pipeline outcomes. The protocol engine depends on these, not on Client.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pgtls/error.hpp"
#include "pgtls/result.hpp"
#include "pgtls/types.hpp"

PGTLS_API_BEGIN
namespace pgtls {

/// The server's transaction state after the last command (ReadyForQuery): idle, in a
/// transaction block, in a failed block (only ROLLBACK is accepted), or unknown (not connected,
/// or a query in flight).
enum class TransactionStatus { idle, in_transaction, failed, unknown /* not connected / mid-query */ };
/// "idle", "in_transaction", "failed" or "unknown" (a static string).
const char* to_string(TransactionStatus) noexcept;

/// A NoticeResponse (or a pgtls warning, with severity "WARNING" and sqlstate empty).
struct Notice {
    ServerErrorFields fields;  ///< Every field the server sent.
};

/// A NOTIFY received on a channel this session LISTENs to.
struct Notification {
    std::int32_t backend_pid = 0;  ///< The notifying session's backend process id.
    std::string channel;           ///< The channel name.
    std::string payload;           ///< The payload ("" when none was given).
};

/// What a connection negotiated, for logs and `pgtls ping`.
struct ConnectionInfo {
    std::string host;                  ///< as given (name, address or socket dir)
    std::string address;               ///< address actually connected to
    std::uint16_t port = 0;            ///< TCP port (the socket's number for Unix sockets)
    bool ssl = false;                  ///< true when the session runs over TLS
    std::string encryption;            ///< "tls", "gss" (GSSAPI encryption, gssencmode) or "plaintext"
    std::string negotiation;           ///< "postgres" (SSLRequest) or "direct"; empty without TLS
    std::string backend;               ///< TLS backend name
    std::string backend_version;       ///< library version string
    std::string tls_version;           ///< e.g. "TLSv1.3"; empty without TLS
    std::string cipher;                ///< the cipher suite's name as the backend reports it
    std::string alpn;                  ///< the negotiated ALPN protocol ("postgresql") or empty
    std::string server_cert_subject;   ///< the server certificate's subject DN
    std::string server_cert_issuer;    ///< the server certificate's issuer DN
    bool client_cert_sent = false;     ///< a client certificate was presented
    std::string auth_method;           ///< "trust", "password", "md5", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS",
                                       ///< "gss"; "... (incomplete: ...)" when the server ended SCRAM or
                                       ///< GSSAPI before the client had authenticated it
    bool channel_binding = false;      ///< SCRAM-SHA-256-PLUS bound the session to the TLS channel
    std::int32_t backend_pid = 0;      ///< the server process (for cancel requests, pg_stat_activity)
    std::string server_version;        ///< the server_version parameter, e.g. "18.1"
    std::string protocol_version;      ///< negotiated: "3.0" or "3.2"
    /// How long each phase of the connect took, in milliseconds.
    struct Timings {
        /// @{
        /// Socket connect; TLS (or GSSAPI) handshake; authentication through ReadyForQuery;
        /// the whole connect.
        double tcp_connect_ms = 0, tls_handshake_ms = 0, authentication_ms = 0, total_ms = 0;
        /// @}
    } timings;  ///< phase durations of the connect
};

using Params = std::vector<Param>;  ///< A statement's bound parameters, in order ($1, $2, ...).

/// The format the server sends result columns in; both decode to the same C++ values.
enum class ResultFormat : std::int16_t { text = 0, binary = 1 };

/// A server-side prepared statement (named), with what Describe reported.
struct PreparedStatement {
    std::string name;                        ///< the statement's name on the server
    std::vector<std::uint32_t> param_types;  ///< as the server resolved them
    std::vector<Column> columns;             ///< empty for statements without rows
};

/// How a transaction begins (Transaction, AsyncConnection::begin): BEGIN with these modes.
struct TransactionOptions {
    /// The isolation level; server_default: the session's default_transaction_isolation.
    enum class Isolation : std::uint8_t { server_default, read_committed, repeatable_read, serializable };
    Isolation isolation = Isolation::server_default;  ///< ISOLATION LEVEL ...
    bool read_only = false;   ///< READ ONLY (otherwise the session's default access mode)
    /// DEFERRABLE: with serializable and read_only, waits for a snapshot that cannot fail.
    bool deferrable = false;
};

/// Outcome of one query of a pipeline.
struct PipelineResult {
    /// ok: `result` holds the rows; error: `error` holds the exception; skipped: aborted by
    /// an earlier error in its sync group, never run.
    enum class Status { ok, error, skipped /* aborted by an earlier error in its sync group */ };
    Status status = Status::ok;       ///< the query's outcome
    Result result;                    ///< when ok
    std::optional<ServerError> error; ///< when error
};

}  // namespace pgtls
PGTLS_API_END
