#include "pgtls/error.hpp"

namespace pgtls {

const char* to_string(ErrorKind kind) noexcept {
    switch (kind) {
        case ErrorKind::config: return "configuration";
        case ErrorKind::connection: return "connection";
        case ErrorKind::tls: return "TLS";
        case ErrorKind::authentication: return "authentication";
        case ErrorKind::protocol: return "protocol";
        case ErrorKind::server: return "server";
        case ErrorKind::timeout: return "timeout";
        case ErrorKind::usage: return "usage";
        case ErrorKind::pool: return "pool";
    }
    return "unknown";
}

const char* to_string(ErrorCause cause) noexcept {
    switch (cause) {
        case ErrorCause::unspecified: return "unspecified";
        case ErrorCause::resolve_failed: return "resolve_failed";
        case ErrorCause::connect_failed: return "connect_failed";
        case ErrorCause::connection_closed: return "connection_closed";
        case ErrorCause::ssl_refused: return "ssl_refused";
        case ErrorCause::tls_handshake: return "tls_handshake";
        case ErrorCause::tls_host_name: return "tls_host_name";
        case ErrorCause::tls_alpn: return "tls_alpn";
        case ErrorCause::tls_client_certificate: return "tls_client_certificate";
        case ErrorCause::auth_method_refused: return "auth_method_refused";
        case ErrorCause::auth_failed: return "auth_failed";
        case ErrorCause::protocol_violation: return "protocol_violation";
        case ErrorCause::limit_exceeded: return "limit_exceeded";
        case ErrorCause::server_error: return "server_error";
        case ErrorCause::server_fatal: return "server_fatal";
        case ErrorCause::connect_timeout: return "connect_timeout";
        case ErrorCause::query_timeout: return "query_timeout";
        case ErrorCause::query_timeout_closed: return "query_timeout_closed";
        case ErrorCause::session_attrs_mismatch: return "session_attrs_mismatch";
        case ErrorCause::usage: return "usage";
        case ErrorCause::config: return "config";
        case ErrorCause::pool_exhausted: return "pool_exhausted";
        case ErrorCause::pool_closed: return "pool_closed";
    }
    return "unspecified";
}

const std::vector<ConnectAttempt>& Error::attempts() const noexcept {
    static const std::vector<ConnectAttempt> none;
    return attempts_ ? *attempts_ : none;
}

void Error::set_attempts(std::vector<ConnectAttempt> attempts) {
    attempts_ = std::make_shared<const std::vector<ConnectAttempt>>(std::move(attempts));
}

static std::string server_error_text(const ServerErrorFields& f) {
    std::string s = f.severity.empty() ? std::string("ERROR") : f.severity;
    s += ":  ";
    s += f.message;
    return s;
}

// FATAL and PANIC end the session: the server closes the connection after sending them.
static bool ends_session(const ServerErrorFields& f) {
    const std::string& sev = f.severity_nonlocalized.empty() ? f.severity : f.severity_nonlocalized;
    return sev == "FATAL" || sev == "PANIC";
}

ServerError::ServerError(ServerErrorFields fields, ErrorKind kind)
    : Error(kind, server_error_text(fields)), fields_(std::move(fields)) {
    set_connection_lost(kind == ErrorKind::server && ends_session(fields_));
    set_cause(ends_session(fields_) ? ErrorCause::server_fatal : ErrorCause::server_error);
}

ServerError::ServerError(ServerErrorFields fields, ErrorKind kind, const std::string& context)
    : Error(kind, context + server_error_text(fields)), fields_(std::move(fields)) {
    set_connection_lost(kind == ErrorKind::server && ends_session(fields_));
    set_cause(ends_session(fields_) ? ErrorCause::server_fatal : ErrorCause::server_error);
}

}  // namespace pgtls
