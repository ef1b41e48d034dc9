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

namespace pgtls {

enum class TransactionStatus { idle, in_transaction, failed, unknown /* not connected / mid-query */ };
const char* to_string(TransactionStatus) noexcept;

/// A NoticeResponse (or a pgtls warning, with severity "WARNING" and sqlstate empty).
struct Notice {
    ServerErrorFields fields;
};

struct Notification {
    std::int32_t backend_pid = 0;
    std::string channel;
    std::string payload;
};

/// What a connection negotiated, for logs and `pgtls ping`.
struct ConnectionInfo {
    std::string host;                  ///< as given (name, address or socket dir)
    std::string address;               ///< address actually connected to
    std::uint16_t port = 0;
    bool ssl = false;
    std::string encryption;            ///< "tls", "gss" (GSSAPI encryption, gssencmode) or "plaintext"
    std::string negotiation;           ///< "postgres" (SSLRequest) or "direct"; empty without TLS
    std::string backend;               ///< TLS backend name
    std::string backend_version;       ///< library version string
    std::string tls_version;
    std::string cipher;
    std::string alpn;
    std::string server_cert_subject;
    std::string server_cert_issuer;
    bool client_cert_sent = false;
    std::string auth_method;           ///< "trust", "password", "md5", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS",
                                       /// "gss"; "... (incomplete: ...)" when the server ended SCRAM or
                                       /// GSSAPI before the client had authenticated it
    bool channel_binding = false;
    std::int32_t backend_pid = 0;
    std::string server_version;
    std::string protocol_version;      ///< negotiated: "3.0" or "3.2"
    struct Timings {
        double tcp_connect_ms = 0, tls_handshake_ms = 0, authentication_ms = 0, total_ms = 0;
    } timings;
};

using Params = std::vector<Param>;

enum class ResultFormat : std::int16_t { text = 0, binary = 1 };

/// A server-side prepared statement (named), with what Describe reported.
struct PreparedStatement {
    std::string name;
    std::vector<std::uint32_t> param_types;  ///< as the server resolved them
    std::vector<Column> columns;             ///< empty for statements without rows
};

/// Outcome of one query of a pipeline.
struct PipelineResult {
    enum class Status { ok, error, skipped /* aborted by an earlier error in its sync group */ };
    Status status = Status::ok;
    Result result;                    ///< when ok
    std::optional<ServerError> error; ///< when error
};

}  // namespace pgtls
