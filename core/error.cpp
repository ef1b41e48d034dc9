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
}

ServerError::ServerError(ServerErrorFields fields, ErrorKind kind, const std::string& context)
    : Error(kind, context + server_error_text(fields)), fields_(std::move(fields)) {
    set_connection_lost(kind == ErrorKind::server && ends_session(fields_));
}

}  // namespace pgtls
