#include "auth/auth_messages.hpp"

#include "pgtls/error.hpp"

namespace pgtls::auth {
namespace {

void append_int32(std::string& out, std::uint32_t v) {
    out += char(v >> 24);
    out += char(v >> 16);
    out += char(v >> 8);
    out += char(v);
}

void begin(std::string& out, std::size_t payload) {
    if (payload > 0x3fffffff) throw Error(ErrorKind::usage, "authentication message too large");
    out += 'p';
    append_int32(out, static_cast<std::uint32_t>(payload + 4));
}

std::string hex(const crypto::Bytes& b) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string s;
    for (auto v : b) {
        s += digits[v >> 4];
        s += digits[v & 15];
    }
    return s;
}

}  // namespace

void append_password_message(std::string& out, std::string_view password) {
    begin(out, password.size() + 1);
    out.append(password);
    out += '\0';
}

void append_sasl_initial_response(std::string& out, std::string_view mechanism, std::string_view data) {
    begin(out, mechanism.size() + 1 + 4 + data.size());
    out.append(mechanism);
    out += '\0';
    append_int32(out, static_cast<std::uint32_t>(data.size()));
    out.append(data);
}

void append_sasl_response(std::string& out, std::string_view data) {
    begin(out, data.size());
    out.append(data);
}

std::string md5_password(const crypto::Provider& crypto, std::string_view password, std::string_view user,
                         const std::array<std::uint8_t, 4>& salt) {
    std::string inner(password);
    inner.append(user);
    crypto::Bytes d1 = crypto.digest(crypto::Hash::md5, crypto::as_bytes(inner));
    crypto::secure_zero(inner.data(), inner.size());
    std::string outer = hex(d1);
    crypto::secure_zero(d1.data(), d1.size());
    outer.append(reinterpret_cast<const char*>(salt.data()), salt.size());
    crypto::Bytes d2 = crypto.digest(crypto::Hash::md5, crypto::as_bytes(outer));
    crypto::secure_zero(outer.data(), outer.size());
    return "md5" + hex(d2);
}

}  // namespace pgtls::auth
