// Builders for backend messages in tests.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/frontend.hpp"

namespace pgtls::test {

inline std::string msg(char type, std::string_view body) {
    std::string out(1, type);
    protocol::put_int32(out, static_cast<std::int32_t>(body.size() + 4));
    out.append(body);
    return out;
}
inline std::string i32(std::int32_t v) {
    std::string s;
    protocol::put_int32(s, v);
    return s;
}
inline std::string i16(std::int16_t v) {
    std::string s;
    protocol::put_int16(s, v);
    return s;
}
inline std::string cstr(std::string_view s) { return std::string(s) + '\0'; }

inline std::string auth_ok() { return msg('R', i32(0)); }
inline std::string ready(char status = 'I') { return msg('Z', std::string(1, status)); }
inline std::string param_status(std::string_view k, std::string_view v) { return msg('S', cstr(k) + cstr(v)); }
inline std::string key_data(std::int32_t pid, std::int32_t secret) { return msg('K', i32(pid) + i32(secret)); }
// NegotiateProtocolVersion: the newest minor version the server supports, then the options
// it does not know.
inline std::string negotiate_version(std::int32_t version, std::int32_t count, const std::vector<std::string>& options = {}) {
    std::string body = i32(version) + i32(count);
    for (const auto& o : options) body += cstr(o);
    return msg('v', body);
}
inline std::string row_description(const std::vector<std::pair<std::string, std::uint32_t>>& cols) {
    std::string b = i16(static_cast<std::int16_t>(cols.size()));
    for (const auto& [name, oid] : cols) b += cstr(name) + i32(0) + i16(0) + i32(static_cast<std::int32_t>(oid)) + i16(-1) + i32(-1) + i16(0);
    return msg('T', b);
}
inline std::string data_row(const std::vector<const char*>& fields) {
    std::string b = i16(static_cast<std::int16_t>(fields.size()));
    for (const char* f : fields) {
        if (!f) {
            b += i32(-1);
        } else {
            b += i32(static_cast<std::int32_t>(std::string_view(f).size())) + f;
        }
    }
    return msg('D', b);
}
inline std::string command_complete(std::string_view tag) { return msg('C', cstr(tag)); }
inline std::string error_response(std::string_view sqlstate, std::string_view message) {
    return msg('E', std::string("SERROR") + '\0' + "VERROR" + '\0' + "C" + cstr(sqlstate) + "M" + cstr(message) + '\0');
}

inline std::span<const std::uint8_t> bytes(const std::string& s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace pgtls::test
