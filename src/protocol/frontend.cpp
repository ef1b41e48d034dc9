#include "protocol/frontend.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

#include "pgtls/error.hpp"

namespace pgtls::protocol {

void check_message_length(const char* what, std::uint64_t body) {
    // body + 4 cannot wrap: no buffer in memory is within 4 bytes of 2^64.
    if (body > max_message_length - 4)
        throw Error(ErrorKind::usage, std::string(what) + " message of " + std::to_string(body + 4) +
                                          " bytes exceeds the protocol's limit of " +
                                          std::to_string(max_message_length) +
                                          " bytes (the most the server accepts in one message)");
}

void check_parameter_count(std::uint64_t count) {
    if (count > max_parameters)
        throw Error(ErrorKind::usage, "query has " + std::to_string(count) + " parameters; the protocol allows at most " +
                                          std::to_string(max_parameters));
}

void put_int16(std::string& out, std::int16_t v) {
    const auto u = static_cast<std::uint16_t>(v);
    const char b[2] = {char(u >> 8), char(u)};
    out.append(b, 2);
}

void put_int32(std::string& out, std::int32_t v) {
    const auto u = static_cast<std::uint32_t>(v);
    const char b[4] = {char(u >> 24), char(u >> 16), char(u >> 8), char(u)};
    out.append(b, 4);
}

namespace {
void check_cstring(std::string_view s) {
    if (s.find('\0') != std::string_view::npos)
        throw Error(ErrorKind::usage, "string sent to the server contains a NUL byte");
}
}  // namespace

void put_cstring(std::string& out, std::string_view s) {
    check_cstring(s);
    out.append(s);
    out.push_back('\0');
}

void finish_message(std::string& out, std::size_t length_pos) {
    const auto len = static_cast<std::uint32_t>(out.size() - length_pos);
    out[length_pos] = char(len >> 24);
    out[length_pos + 1] = char(len >> 16);
    out[length_pos + 2] = char(len >> 8);
    out[length_pos + 3] = char(len);
}

namespace {
std::size_t begin(std::string& out, char type) {
    out.push_back(type);
    const std::size_t pos = out.size();
    out.append(4, '\0');
    return pos;
}
}  // namespace

void ssl_request(std::string& out) {
    put_int32(out, 8);
    put_int32(out, ssl_request_code);
}

void gssenc_request(std::string& out) {
    put_int32(out, 8);
    put_int32(out, gssenc_request_code);
}

void startup_message(std::string& out, const std::vector<std::pair<std::string, std::string>>& params,
                     std::int32_t version) {
    std::uint64_t body = 4 + 1;  // protocol version, final NUL
    for (const auto& [k, v] : params) body += std::uint64_t{k.size()} + 1 + v.size() + 1;
    if (body > max_startup_length)
        throw Error(ErrorKind::usage, "StartupMessage of " + std::to_string(body + 4) + " bytes exceeds the server's limit of " +
                                          std::to_string(max_startup_length + 4) +
                                          " bytes (MAX_STARTUP_PACKET_LENGTH): shorten options, application_name or the "
                                          "runtime parameters");
    for (const auto& [k, v] : params) {
        check_cstring(k);
        check_cstring(v);
    }
    const std::size_t pos = out.size();
    out.append(4, '\0');
    put_int32(out, version);
    for (const auto& [k, v] : params) {
        put_cstring(out, k);
        put_cstring(out, v);
    }
    out.push_back('\0');
    finish_message(out, pos);
}

void cancel_request(std::string& out, std::int32_t pid, std::span<const std::uint8_t> key) {
    const std::size_t pos = out.size();
    out.append(4, '\0');
    put_int32(out, cancel_request_code);
    put_int32(out, pid);
    out.append(reinterpret_cast<const char*>(key.data()), key.size());
    finish_message(out, pos);
}

void password_message(std::string& out, std::string_view password) {
    check_message_length("PasswordMessage", std::uint64_t{password.size()} + 1);
    check_cstring(password);
    const auto pos = begin(out, 'p');
    put_cstring(out, password);
    finish_message(out, pos);
}

void sasl_initial_response(std::string& out, std::string_view mechanism, std::string_view data) {
    check_message_length("SASLInitialResponse", std::uint64_t{mechanism.size()} + 1 + 4 + data.size());
    check_cstring(mechanism);
    const auto pos = begin(out, 'p');
    put_cstring(out, mechanism);
    put_int32(out, static_cast<std::int32_t>(data.size()));
    out.append(data);
    finish_message(out, pos);
}

void sasl_response(std::string& out, std::string_view data) {
    check_message_length("SASLResponse", data.size());
    const auto pos = begin(out, 'p');
    out.append(data);
    finish_message(out, pos);
}

void query(std::string& out, std::string_view sql) {
    check_message_length("Query", std::uint64_t{sql.size()} + 1);
    check_cstring(sql);
    const auto pos = begin(out, 'Q');
    put_cstring(out, sql);
    finish_message(out, pos);
}

void query_header(std::string& out, std::string_view sql) {
    check_message_length("Query", std::uint64_t{sql.size()} + 1);
    check_cstring(sql);
    const auto pos = begin(out, 'Q');
    const std::uint64_t len = 4 + std::uint64_t{sql.size()} + 1;
    out[pos] = char(len >> 24);
    out[pos + 1] = char(len >> 16);
    out[pos + 2] = char(len >> 8);
    out[pos + 3] = char(len);
}

namespace {
// The hot messages of the extended protocol are sized first and written in one pass (one
// resize of the output for a whole query, no per-field append with its capacity check):
// they are most of a pipelined query's client cost.
class Writer {
public:
    explicit Writer(char* p) noexcept : p_(p) {}
    void begin(char type, std::size_t body) noexcept {
        *p_++ = type;
        i32(static_cast<std::int32_t>(body + 4));
    }
    void u8(char c) noexcept { *p_++ = c; }
    // Big-endian; one byte-swapped store where the compiler has one (GCC does not merge the
    // four byte stores itself here, and a query writes about fifteen of these).
    void i16(std::int16_t v) noexcept {
        auto u = static_cast<std::uint16_t>(v);
#if defined(__GNUC__)
        if constexpr (std::endian::native == std::endian::little) u = __builtin_bswap16(u);
        std::memcpy(p_, &u, 2);
#else
        p_[0] = char(u >> 8);
        p_[1] = char(u);
#endif
        p_ += 2;
    }
    void i32(std::int32_t v) noexcept {
        auto u = static_cast<std::uint32_t>(v);
#if defined(__GNUC__)
        if constexpr (std::endian::native == std::endian::little) u = __builtin_bswap32(u);
        std::memcpy(p_, &u, 4);
#else
        p_[0] = char(u >> 24);
        p_[1] = char(u >> 16);
        p_[2] = char(u >> 8);
        p_[3] = char(u);
#endif
        p_ += 4;
    }
    void bytes(const char* d, std::size_t n) noexcept {
        if (n) std::memcpy(p_, d, n);
        p_ += n;
    }
    void cstring(std::string_view s) noexcept {
        bytes(s.data(), s.size());
        *p_++ = '\0';
    }

private:
    char* p_;
};

// Room for n more bytes at the end of out.
char* grow(std::string& out, std::size_t n) {
    const std::size_t old = out.size();
    out.resize(old + n);
    return out.data() + old;
}

// Parse's body: statement, sql, parameter count and type OIDs. Checked for the protocol's limits.
std::size_t parse_body(std::string_view statement, std::string_view sql, std::uint64_t n_types) {
    check_parameter_count(n_types);
    const std::uint64_t body = std::uint64_t{statement.size()} + 1 + sql.size() + 1 + 2 + 4 * n_types;
    check_message_length("Parse", body);
    return static_cast<std::size_t>(body);
}

void write_parse(Writer& w, std::size_t body, std::string_view statement, std::string_view sql,
                 std::span<const std::uint32_t> types) {
    w.begin('P', body);
    w.cstring(statement);
    w.cstring(sql);
    w.i16(static_cast<std::int16_t>(types.size()));
    for (auto t : types) w.i32(static_cast<std::int32_t>(t));
}

// Bind parameters come as BindParam (bind()) or straight from the caller's pgtls::Param
// (extended_query(): no intermediate copy).
const char* param_data(const BindParam& p) noexcept { return p.data; }
std::size_t param_size(const BindParam& p) noexcept { return p.data ? static_cast<std::size_t>(p.size) : 0; }
std::int16_t param_format(const BindParam& p) noexcept { return p.format; }
const char* param_data(const Param& p) noexcept { return p.value ? p.value->data() : nullptr; }
std::size_t param_size(const Param& p) noexcept { return p.value ? p.value->size() : 0; }
std::int16_t param_format(const Param& p) noexcept { return p.format; }

template <typename P>
bool any_binary(std::span<const P> params) {
    for (const auto& p : params)
        if (param_format(p) != 0) return true;
    return false;
}

// Bind's body, checked for the protocol's limits (which also keep each value's Int32 length
// from wrapping: no value of a message that fits is near 2 GiB).
template <typename P>
std::size_t bind_body(std::string_view portal, std::string_view statement, std::span<const P> params,
                      std::span<const std::int16_t> result_formats) {
    check_parameter_count(params.size());
    if (result_formats.size() > max_parameters)
        throw Error(ErrorKind::usage, std::to_string(result_formats.size()) +
                                          " result format codes; the protocol allows at most " +
                                          std::to_string(max_parameters));
    std::uint64_t body = std::uint64_t{portal.size()} + 1 + statement.size() + 1 + 2 + 2 + 2 + 2 * result_formats.size();
    // Each value counted at most as the limit: the sum of 65,535 of them cannot wrap, and a
    // value over the limit (or a BindParam of negative size) still fails the check.
    for (const auto& p : params) body += 4 + std::min<std::uint64_t>(param_size(p), max_message_length);
    if (any_binary(params)) body += 2 * std::uint64_t{params.size()};
    check_message_length("Bind", body);
    return static_cast<std::size_t>(body);
}

template <typename P>
void write_bind(Writer& w, std::size_t body, std::string_view portal, std::string_view statement,
                std::span<const P> params, std::span<const std::int16_t> result_formats) {
    w.begin('B', body);
    w.cstring(portal);
    w.cstring(statement);
    if (any_binary(params)) {
        w.i16(static_cast<std::int16_t>(params.size()));
        for (const auto& p : params) w.i16(param_format(p));
    } else {
        w.i16(0);
    }
    w.i16(static_cast<std::int16_t>(params.size()));
    for (const auto& p : params) {
        if (const char* d = param_data(p)) {
            w.i32(static_cast<std::int32_t>(param_size(p)));
            w.bytes(d, param_size(p));
        } else {
            w.i32(-1);
        }
    }
    w.i16(static_cast<std::int16_t>(result_formats.size()));
    for (auto f : result_formats) w.i16(f);
}

void write_describe(Writer& w, char kind, std::string_view name) {
    w.begin('D', 1 + name.size() + 1);
    w.u8(kind);
    w.cstring(name);
}

void write_execute(Writer& w, std::string_view portal, std::int32_t max_rows) {
    w.begin('E', portal.size() + 1 + 4);
    w.cstring(portal);
    w.i32(max_rows);
}
}  // namespace

void parse(std::string& out, std::string_view statement, std::string_view sql,
           std::span<const std::uint32_t> param_types) {
    const std::size_t body = parse_body(statement, sql, param_types.size());
    check_cstring(statement);
    check_cstring(sql);
    Writer w(grow(out, 1 + 4 + body));
    write_parse(w, body, statement, sql, param_types);
}

void bind(std::string& out, std::string_view portal, std::string_view statement,
          std::span<const BindParam> params, std::span<const std::int16_t> result_formats) {
    check_cstring(portal);
    check_cstring(statement);
    const std::size_t body = bind_body(portal, statement, params, result_formats);
    Writer w(grow(out, 1 + 4 + body));
    write_bind(w, body, portal, statement, params, result_formats);
}

void describe(std::string& out, char kind, std::string_view name) {
    check_message_length("Describe", std::uint64_t{name.size()} + 2);
    check_cstring(name);
    Writer w(grow(out, 1 + 4 + 1 + name.size() + 1));
    write_describe(w, kind, name);
}

void execute(std::string& out, std::string_view portal, std::int32_t max_rows) {
    check_message_length("Execute", std::uint64_t{portal.size()} + 5);
    check_cstring(portal);
    Writer w(grow(out, 1 + 4 + portal.size() + 1 + 4));
    write_execute(w, portal, max_rows);
}

void extended_query(std::string& out, const ExtendedQuery& q) {
    // Parse: statement, sql, parameter type OIDs (from the parameters themselves).
    const std::size_t parse_len = q.parse ? parse_body(q.statement, q.sql, q.params.size()) : 0;
    const std::size_t bind_len = bind_body({}, q.statement, q.params, q.result_formats);
    check_cstring(q.statement);
    if (q.parse) check_cstring(q.sql);
    using Describe = ExtendedQuery::Describe;
    const std::size_t describe_len = q.describe == Describe::none        ? 0
                                     : q.describe == Describe::portal    ? 5 + 1 + 1  // 'D', length, 'P', "" NUL
                                                                         : 5 + 1 + q.statement.size() + 1;
    constexpr std::size_t execute_len = 5 + 1 + 4;  // 'E', length, "" NUL, row limit
    const std::size_t total = (q.parse ? 5 + parse_len : 0) + describe_len + 5 + bind_len + execute_len;
    Writer w(grow(out, total));
    if (q.parse) {
        w.begin('P', parse_len);
        w.cstring(q.statement);
        w.cstring(q.sql);
        w.i16(static_cast<std::int16_t>(q.params.size()));
        for (const auto& p : q.params) w.i32(static_cast<std::int32_t>(p.type_oid));
    }
    if (q.describe == Describe::statement) write_describe(w, 'S', q.statement);
    write_bind(w, bind_len, {}, q.statement, q.params, q.result_formats);
    if (q.describe == Describe::portal) write_describe(w, 'P', {});
    write_execute(w, {}, 0);
}

void close(std::string& out, char kind, std::string_view name) {
    check_message_length("Close", std::uint64_t{name.size()} + 2);
    check_cstring(name);
    const auto pos = begin(out, 'C');
    out.push_back(kind);
    put_cstring(out, name);
    finish_message(out, pos);
}

void sync(std::string& out) { out.append("S\0\0\0\4", 5); }
void flush(std::string& out) { out.append("H\0\0\0\4", 5); }
void terminate(std::string& out) { out.append("X\0\0\0\4", 5); }

void copy_data(std::string& out, std::string_view data) {
    check_message_length("CopyData", data.size());
    const auto pos = begin(out, 'd');
    out.append(data);
    finish_message(out, pos);
}

void frame_copy_data(char* message, std::size_t size) {
    check_message_length("CopyData", size - 5);
    const auto len = static_cast<std::uint32_t>(size - 1);
    message[0] = 'd';
    message[1] = char(len >> 24);
    message[2] = char(len >> 16);
    message[3] = char(len >> 8);
    message[4] = char(len);
}

void copy_done(std::string& out) { out.append("c\0\0\0\4", 5); }

void copy_fail(std::string& out, std::string_view reason) {
    check_message_length("CopyFail", std::uint64_t{reason.size()} + 1);
    check_cstring(reason);
    const auto pos = begin(out, 'f');
    put_cstring(out, reason);
    finish_message(out, pos);
}

}  // namespace pgtls::protocol
