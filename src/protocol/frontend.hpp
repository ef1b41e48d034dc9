// Frontend (client -> server) message encoders. Each appends one complete message to `out`.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pgtls/types.hpp"

namespace pgtls::protocol {

inline constexpr std::int32_t protocol_version_3_0 = 196608;  // 3 << 16
inline constexpr std::int32_t protocol_version_3_2 = 196610;  // 3 << 16 | 2 (PostgreSQL 18)
inline constexpr std::int32_t ssl_request_code = 80877103;
inline constexpr std::int32_t cancel_request_code = 80877102;
inline constexpr std::int32_t gssenc_request_code = 80877104;

// The longest message the server reads, its length field included: PostgreSQL's
// PQ_LARGE_MESSAGE_LIMIT (MaxAllocSize - 1 = 1 GiB - 2). A longer one ends the session; one
// over 4 GiB would wrap the 32-bit length and the rest be read as further messages.
inline constexpr std::uint64_t max_message_length = 0x3ffffffe;
// The longest StartupMessage the server reads, after its length field: PostgreSQL's
// MAX_STARTUP_PACKET_LENGTH. A longer one is only logged; the client sees the connection close.
inline constexpr std::uint64_t max_startup_length = 10000;
// Parse and Bind count parameters (and parameter formats) in an Int16 read as unsigned.
inline constexpr std::uint64_t max_parameters = 65535;

// Every encoder below checks its message with these before it appends a byte: a message too
// long for the protocol, or with more than max_parameters parameters, is Error(usage) and
// `out` is left as it was, so nothing partial can reach the wire. Sizes are 64-bit.
// `body`: the message's bytes after its length field; `what`: its name, for the error.
void check_message_length(const char* what, std::uint64_t body);
void check_parameter_count(std::uint64_t count);

void put_int16(std::string& out, std::int16_t v);
void put_int32(std::string& out, std::int32_t v);
void put_cstring(std::string& out, std::string_view s);  // s must not contain NUL

// Patches the length of a message started at `start` (position of the type byte, or of the
// length for untyped startup messages).
void finish_message(std::string& out, std::size_t length_pos);

void ssl_request(std::string& out);
void gssenc_request(std::string& out);
void startup_message(std::string& out, const std::vector<std::pair<std::string, std::string>>& params,
                     std::int32_t version = protocol_version_3_0);
void cancel_request(std::string& out, std::int32_t pid, std::span<const std::uint8_t> key);
void password_message(std::string& out, std::string_view password);  // NUL-terminated
void sasl_initial_response(std::string& out, std::string_view mechanism, std::string_view data);
void sasl_response(std::string& out, std::string_view data);
void query(std::string& out, std::string_view sql);
// The Query message for `sql` without the statement: appends the type and length to `out`;
// the caller sends `sql` and then one NUL byte from its own memory (a large statement is
// never copied into the send buffer).
void query_header(std::string& out, std::string_view sql);
struct BindParam {
    const char* data = nullptr;   // nullptr = NULL
    std::int32_t size = 0;
    std::int16_t format = 0;
};
void parse(std::string& out, std::string_view statement, std::string_view sql,
           std::span<const std::uint32_t> param_types);
void bind(std::string& out, std::string_view portal, std::string_view statement,
          std::span<const BindParam> params, std::span<const std::int16_t> result_formats);
void describe(std::string& out, char kind /* 'S' or 'P' */, std::string_view name);
// One extended-protocol query on the unnamed portal, written with a single resize of `out`
// straight from the caller's parameters: [Parse(statement, sql, each parameter's type_oid)]
// [Describe statement] Bind(statement, params, result_formats) [Describe portal]
// Execute(no row limit). Parse only when `parse` is set. `describe`: the portal's columns
// (in the result formats), the statement's (ParameterDescription and the columns in text
// format, answered also when the Bind then fails), or none (a statement whose columns are
// known is only bound and executed). No Sync.
struct ExtendedQuery {
    enum class Describe : std::uint8_t { none, portal, statement };
    bool parse = true;
    Describe describe = Describe::portal;
    std::string_view statement;
    std::string_view sql;
    std::span<const Param> params;
    std::span<const std::int16_t> result_formats;
};
void extended_query(std::string& out, const ExtendedQuery& q);
void execute(std::string& out, std::string_view portal, std::int32_t max_rows);
void close(std::string& out, char kind, std::string_view name);
void sync(std::string& out);
void flush(std::string& out);
void terminate(std::string& out);
void copy_data(std::string& out, std::string_view data);
// Fills in the header of a CopyData message built in place: `message` is 5 header bytes and
// then `size` - 5 bytes of data. Error(usage) past the protocol's message limit.
void frame_copy_data(char* message, std::size_t size);
void copy_done(std::string& out);
void copy_fail(std::string& out, std::string_view reason);

}  // namespace pgtls::protocol
