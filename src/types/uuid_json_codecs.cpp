// uuid (text and 16-byte binary) and json/jsonb.
#include "pgtls/error.hpp"
#include "pgtls/types.hpp"

namespace pgtls {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

Uuid Uuid::parse(std::string_view text) {
    std::string_view s = text;
    const bool braces = !s.empty() && s.front() == '{';
    if (braces) {
        if (s.size() < 2 || s.back() != '}') detail::conversion_error(detail::quoted(text) + " is not a valid uuid");
        s = s.substr(1, s.size() - 2);
    }
    Uuid u;
    std::size_t digits = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        // uuid_in: a hyphen may follow any group of four digits (not first, not last).
        if (s[i] == '-' && digits > 0 && digits % 4 == 0 && digits < 32 && i + 1 < s.size() && s[i + 1] != '-') continue;
        const int v = hex_value(s[i]);
        if (v < 0 || digits >= 32) detail::conversion_error(detail::quoted(text) + " is not a valid uuid");
        u.bytes[digits / 2] = static_cast<std::uint8_t>(digits % 2 == 0 ? v << 4 : u.bytes[digits / 2] | v);
        ++digits;
    }
    if (digits != 32) detail::conversion_error(detail::quoted(text) + " is not a valid uuid");
    return u;
}

std::string Uuid::str() const {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    for (std::size_t i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
        out.push_back(hex[bytes[i] >> 4]);
        out.push_back(hex[bytes[i] & 15]);
    }
    return out;
}

Uuid Codec<Uuid>::decode(std::string_view b, std::uint32_t type_oid, bool binary) {
    if (type_oid == oid::uuid && binary) {
        if (b.size() != 16) detail::conversion_error("uuid value must be 16 bytes, got " + std::to_string(b.size()));
        Uuid u;
        for (std::size_t i = 0; i < 16; ++i) u.bytes[i] = static_cast<std::uint8_t>(b[i]);
        return u;
    }
    switch (type_oid) {
        case oid::uuid:
        case oid::text:
        case oid::varchar:
        case oid::bpchar:
        case oid::unknown:
        case oid::unspecified: return Uuid::parse(detail::text_view(b, type_oid, binary));
        default:
            detail::conversion_error((binary ? "binary " : "") + detail::type_name(type_oid) + " value is not a uuid");
    }
}

Json Codec<Json>::decode(std::string_view b, std::uint32_t type_oid, bool binary) {
    switch (type_oid) {
        case oid::unknown:
        case oid::unspecified:
            // Untyped binary is a binary COPY field, json or jsonb. No JSON text starts with a
            // control byte, so a leading 1 is jsonb's version byte, not part of the document.
            if (binary && !b.empty() && b[0] == '\x01') b.remove_prefix(1);
            return Json{std::string(b)};
        case oid::json:
        case oid::jsonb:
        case oid::text:
        case oid::varchar:
        case oid::bpchar: return Json{std::string(detail::text_view(b, type_oid, binary))};
        default:
            detail::conversion_error((binary ? "binary " : "") + detail::type_name(type_oid) + " value is not json");
    }
}

}  // namespace pgtls
