// pgtls — one error type for everything that can go wrong.
#pragma once

#include "pgtls/version.hpp"

#include <stdexcept>
#include <string>

namespace pgtls {

// What went wrong, coarsely: callers branch on this, humans read the message.
enum class ErrorKind {
    config,          // bad connection string, option value, missing/unsafe key file
    connection,      // socket-level failure: resolve, connect, reset, EOF
    tls,             // handshake, certificate verification, host name, ALPN
    authentication,  // auth method refused, wrong password, SCRAM failure, channel binding
    protocol,        // the server broke the wire protocol (malformed or unexpected message)
    server,          // an ErrorResponse from the server (see ServerError)
    timeout,         // a client-side deadline expired
    usage,           // the API was used wrongly (e.g. query on a closed client)
    pool,            // pool exhausted or closed
};

const char* to_string(ErrorKind kind) noexcept;

class Error : public std::runtime_error {
public:
    Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
    ErrorKind kind() const noexcept { return kind_; }
    // True when the connection the failing call ran on did not survive it: a FATAL or PANIC
    // from the server (e.g. 57P01, a backend terminated by the administrator), a reset or EOF,
    // a timeout or protocol error after which the connection was closed. The operation may
    // be retried on a new connection if it is idempotent (see BasicPool::run_retrying).
    // False for errors that leave the connection usable (an SQL error, a cancelled query,
    // misuse) and for a failed connect (there was no connection to lose).
    bool connection_lost() const noexcept { return connection_lost_; }
    // Set by the library when it closes the connection on this error.
    void set_connection_lost(bool lost) noexcept { connection_lost_ = lost; }

private:
    ErrorKind kind_;
    bool connection_lost_ = false;
};

// Every field of a PostgreSQL ErrorResponse / NoticeResponse (protocol "Error and Notice
// Message Fields"). Absent fields are empty strings.
struct ServerErrorFields {
    std::string severity;             // S (localized)
    std::string severity_nonlocalized;  // V
    std::string sqlstate;             // C
    std::string message;              // M
    std::string detail;               // D
    std::string hint;                 // H
    std::string position;             // P
    std::string internal_position;    // p
    std::string internal_query;       // q
    std::string where;                // W
    std::string schema;               // s
    std::string table;                // t
    std::string column;               // c
    std::string data_type;            // d
    std::string constraint;           // n
    std::string file;                 // F
    std::string line;                 // L
    std::string routine;              // R
};

// An ErrorResponse from the server. what() is "SEVERITY:  message" as psql shows it.
class ServerError : public Error {
public:
    // `kind` is server for errors of an established session; authentication or connection
    // for an ErrorResponse received while connecting.
    explicit ServerError(ServerErrorFields fields, ErrorKind kind = ErrorKind::server);
    // Same, with what() prefixed by context (e.g. which server the connection went to).
    ServerError(ServerErrorFields fields, ErrorKind kind, const std::string& context);
    const ServerErrorFields& fields() const noexcept { return fields_; }
    const std::string& sqlstate() const noexcept { return fields_.sqlstate; }

private:
    ServerErrorFields fields_;
};

}  // namespace pgtls
