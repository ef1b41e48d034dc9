#include "core/protocol/frontend.hpp"

#include "pgtls/error.hpp"

namespace pgtls::protocol {

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

void put_cstring(std::string& out, std::string_view s) {
    if (s.find('\0') != std::string_view::npos)
        throw Error(ErrorKind::usage, "string sent to the server contains a NUL byte");
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

void startup_message(std::string& out, const std::vector<std::pair<std::string, std::string>>& params) {
    const std::size_t pos = out.size();
    out.append(4, '\0');
    put_int32(out, protocol_version_3_0);
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
    const auto pos = begin(out, 'p');
    put_cstring(out, password);
    finish_message(out, pos);
}

void sasl_initial_response(std::string& out, std::string_view mechanism, std::string_view data) {
    const auto pos = begin(out, 'p');
    put_cstring(out, mechanism);
    put_int32(out, static_cast<std::int32_t>(data.size()));
    out.append(data);
    finish_message(out, pos);
}

void sasl_response(std::string& out, std::string_view data) {
    const auto pos = begin(out, 'p');
    out.append(data);
    finish_message(out, pos);
}

void query(std::string& out, std::string_view sql) {
    const auto pos = begin(out, 'Q');
    put_cstring(out, sql);
    finish_message(out, pos);
}

void parse(std::string& out, std::string_view statement, std::string_view sql,
           std::span<const std::uint32_t> param_types) {
    const auto pos = begin(out, 'P');
    put_cstring(out, statement);
    put_cstring(out, sql);
    put_int16(out, static_cast<std::int16_t>(param_types.size()));
    for (auto t : param_types) put_int32(out, static_cast<std::int32_t>(t));
    finish_message(out, pos);
}

void bind(std::string& out, std::string_view portal, std::string_view statement,
          std::span<const BindParam> params, std::span<const std::int16_t> result_formats) {
    const auto pos = begin(out, 'B');
    put_cstring(out, portal);
    put_cstring(out, statement);
    bool any_binary = false;
    for (const auto& p : params) any_binary |= p.format != 0;
    if (any_binary) {
        put_int16(out, static_cast<std::int16_t>(params.size()));
        for (const auto& p : params) put_int16(out, p.format);
    } else {
        put_int16(out, 0);
    }
    put_int16(out, static_cast<std::int16_t>(params.size()));
    for (const auto& p : params) {
        if (!p.data) {
            put_int32(out, -1);
        } else {
            put_int32(out, p.size);
            out.append(p.data, static_cast<std::size_t>(p.size));
        }
    }
    put_int16(out, static_cast<std::int16_t>(result_formats.size()));
    for (auto f : result_formats) put_int16(out, f);
    finish_message(out, pos);
}

void describe(std::string& out, char kind, std::string_view name) {
    const auto pos = begin(out, 'D');
    out.push_back(kind);
    put_cstring(out, name);
    finish_message(out, pos);
}

void execute(std::string& out, std::string_view portal, std::int32_t max_rows) {
    const auto pos = begin(out, 'E');
    put_cstring(out, portal);
    put_int32(out, max_rows);
    finish_message(out, pos);
}

void close(std::string& out, char kind, std::string_view name) {
    const auto pos = begin(out, 'C');
    out.push_back(kind);
    put_cstring(out, name);
    finish_message(out, pos);
}

void sync(std::string& out) { out.append("S\0\0\0\4", 5); }
void flush(std::string& out) { out.append("H\0\0\0\4", 5); }
void terminate(std::string& out) { out.append("X\0\0\0\4", 5); }

void copy_data(std::string& out, std::string_view data) {
    const auto pos = begin(out, 'd');
    out.append(data);
    finish_message(out, pos);
}

void copy_done(std::string& out) { out.append("c\0\0\0\4", 5); }

void copy_fail(std::string& out, std::string_view reason) {
    const auto pos = begin(out, 'f');
    put_cstring(out, reason);
    finish_message(out, pos);
}

}  // namespace pgtls::protocol
