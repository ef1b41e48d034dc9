// inet/cidr (network_in/out, inet_send/recv) and macaddr/macaddr8.
#include <arpa/inet.h>

#include <charconv>
#include <cstdio>

#include "pgtls/error.hpp"
#include "pgtls/types.hpp"

namespace pgtls {
namespace detail {

namespace {

// PostgreSQL's PGSQL_AF_INET / PGSQL_AF_INET6 in inet_send's first byte.
constexpr std::uint8_t pg_af_inet = 2, pg_af_inet6 = 3;

std::size_t address_size(std::uint8_t family) { return family == 6 ? 16 : 4; }
unsigned max_bits(std::uint8_t family) { return family == 6 ? 128 : 32; }

bool host_bits_zero(const Inet& v) {
    const std::size_t n = address_size(v.family);
    for (std::size_t i = 0; i < n; ++i) {
        const unsigned first = static_cast<unsigned>(i) * 8;  // bit index of this byte's MSB
        std::uint8_t mask = 0xff;
        if (first + 8 <= v.prefix) continue;
        if (first < v.prefix) mask = static_cast<std::uint8_t>(0xff >> (v.prefix - first));
        if ((v.address[i] & mask) != 0) return false;
    }
    return true;
}

// PostgreSQL's inet_net_ntop_ipv6 (src/port/inet_net_ntop.c): the longest run of two or more
// zero words becomes "::"; ::a.b.c.d and ::ffff:a.b.c.d keep the IPv4 tail dotted.
std::string ipv6_text(const std::array<std::uint8_t, 16>& a) {
    std::uint16_t words[8];
    for (int i = 0; i < 8; ++i) words[i] = static_cast<std::uint16_t>(a[2 * i] << 8 | a[2 * i + 1]);
    int best_base = -1, best_len = 0, cur_base = -1, cur_len = 0;
    for (int i = 0; i < 8; ++i) {
        if (words[i] == 0) {
            if (cur_base == -1) cur_base = i, cur_len = 1;
            else ++cur_len;
        } else if (cur_base != -1) {
            if (best_base == -1 || cur_len > best_len) best_base = cur_base, best_len = cur_len;
            cur_base = -1;
        }
    }
    if (cur_base != -1 && (best_base == -1 || cur_len > best_len)) best_base = cur_base, best_len = cur_len;
    if (best_base != -1 && best_len < 2) best_base = -1;
    std::string out;
    char buf[16];
    for (int i = 0; i < 8; ++i) {
        if (best_base != -1 && i >= best_base && i < best_base + best_len) {
            if (i == best_base) out.push_back(':');
            continue;
        }
        if (i != 0) out.push_back(':');
        if (i == 6 && best_base == 0 &&
            (best_len == 6 || (best_len == 7 && words[7] != 1) || (best_len == 5 && words[5] == 0xffff))) {
            std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
            out += buf;
            break;
        }
        std::snprintf(buf, sizeof buf, "%x", words[i]);
        out += buf;
    }
    if (best_base != -1 && best_base + best_len == 8) out.push_back(':');
    return out;
}

Inet parse_inet(std::string_view text, bool cidr) {
    auto bad = [&] { conversion_error(quoted(text) + " is not a valid " + (cidr ? "cidr" : "inet") + " value"); };
    Inet v;
    std::string_view addr = text;
    std::optional<unsigned> bits;
    if (const auto slash = text.find('/'); slash != std::string_view::npos) {
        addr = text.substr(0, slash);
        const std::string_view b = text.substr(slash + 1);
        unsigned n = 0;
        const auto r = std::from_chars(b.data(), b.data() + b.size(), n);
        if (b.empty() || r.ec != std::errc() || r.ptr != b.data() + b.size()) bad();
        bits = n;
    }
    if (addr.size() > 45) bad();
    const std::string a(addr);
    if (a.find(':') != std::string::npos) {
        v.family = 6;
        if (inet_pton(AF_INET6, a.c_str(), v.address.data()) != 1) bad();
    } else {
        v.family = 4;
        if (inet_pton(AF_INET, a.c_str(), v.address.data()) != 1) bad();
    }
    if (bits && *bits > max_bits(v.family)) bad();
    v.prefix = static_cast<std::uint8_t>(bits ? *bits : max_bits(v.family));
    if (cidr && !host_bits_zero(v)) conversion_error(quoted(text) + " is not a valid cidr value: bits set right of the netmask");
    return v;
}

}  // namespace

void check_inet(const Inet& v, bool cidr) {
    if (v.family != 4 && v.family != 6) conversion_error("inet family must be 4 or 6, got " + std::to_string(v.family));
    if (v.prefix > max_bits(v.family)) conversion_error("inet netmask length " + std::to_string(v.prefix) + " is too long");
    if (v.family == 4)
        for (std::size_t i = 4; i < 16; ++i)
            if (v.address[i] != 0) conversion_error("IPv4 inet value has bytes beyond its 4-byte address");
    if (cidr && !host_bits_zero(v)) conversion_error("cidr value has bits set right of its netmask");
}

std::string format_inet(const Inet& v, bool cidr) {
    check_inet(v, cidr);
    std::string out;
    if (v.family == 4) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", v.address[0], v.address[1], v.address[2], v.address[3]);
        out = buf;
    } else {
        out = ipv6_text(v.address);
    }
    if (cidr || v.prefix != max_bits(v.family)) out += "/" + std::to_string(v.prefix);
    return out;
}

std::string inet_binary(const Inet& v, bool cidr) {
    check_inet(v, cidr);
    std::string out;
    out.push_back(static_cast<char>(v.family == 6 ? pg_af_inet6 : pg_af_inet));
    out.push_back(static_cast<char>(v.prefix));
    out.push_back(cidr ? 1 : 0);
    const std::size_t n = address_size(v.family);
    out.push_back(static_cast<char>(n));
    out.append(reinterpret_cast<const char*>(v.address.data()), n);
    return out;
}

Inet decode_inet(std::string_view b, std::uint32_t type_oid, bool binary, bool cidr) {
    const char* want = cidr ? "cidr" : "inet";
    if (type_oid == oid::inet || type_oid == oid::cidr) {
        if (!binary) return parse_inet(b, cidr);
        auto bad = [&](const std::string& why) { conversion_error("malformed binary " + type_name(type_oid) + ": " + why); };
        if (b.size() < 4) bad("shorter than its 4-byte header");
        const auto family = static_cast<std::uint8_t>(b[0]);
        Inet v;
        if (family == pg_af_inet) v.family = 4;
        else if (family == pg_af_inet6) v.family = 6;
        else bad("unknown address family " + std::to_string(family));
        v.prefix = static_cast<std::uint8_t>(b[1]);
        if (v.prefix > max_bits(v.family)) bad("netmask length " + std::to_string(v.prefix) + " is too long");
        if (b[2] != 0 && b[2] != 1) bad("invalid is_cidr flag");
        const std::size_t n = static_cast<std::uint8_t>(b[3]);
        if (n != address_size(v.family)) bad("address length " + std::to_string(n) + " does not match the family");
        if (b.size() != 4 + n) bad("length " + std::to_string(b.size()) + " does not match its address");
        for (std::size_t i = 0; i < n; ++i) v.address[i] = static_cast<std::uint8_t>(b[4 + i]);
        if (cidr && !host_bits_zero(v)) conversion_error(format_inet(v, false) + " has bits set right of its netmask; it is not a cidr");
        return v;
    }
    switch (type_oid) {
        case oid::unspecified:
        case oid::unknown:
        case oid::text:
        case oid::varchar:
        case oid::bpchar: return parse_inet(text_view(b, type_oid, binary), cidr);
        default: break;
    }
    conversion_error((binary ? "binary " : "") + type_name(type_oid) + " value is not " + want);
}

namespace {

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// "08:00:2b:01:02:03" or with '-' separators, n bytes; false if not that form.
bool parse_mac(std::string_view s, std::uint8_t* out, std::size_t n) {
    if (s.size() != 3 * n - 1) return false;
    const char sep = n > 1 ? s[2] : ':';
    if (sep != ':' && sep != '-') return false;
    for (std::size_t i = 0; i < n; ++i) {
        const int hi = hex_digit(s[3 * i]), lo = hex_digit(s[3 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        if (i + 1 < n && s[3 * i + 2] != sep) return false;
        out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return true;
}

}  // namespace

void decode_mac(std::string_view b, std::uint32_t type_oid, bool binary, std::uint8_t* out, std::size_t n) {
    std::uint8_t raw[8] = {};
    std::size_t have = 0;
    const std::string want = n == 6 ? "macaddr" : "macaddr8";
    if (type_oid == oid::macaddr || type_oid == oid::macaddr8) {
        have = type_oid == oid::macaddr ? 6 : 8;
        if (binary) {
            if (b.size() != have)
                conversion_error(type_name(type_oid) + " value must be " + std::to_string(have) + " bytes, got " +
                                 std::to_string(b.size()));
            for (std::size_t i = 0; i < have; ++i) raw[i] = static_cast<std::uint8_t>(b[i]);
        } else if (!parse_mac(b, raw, have)) {
            conversion_error(quoted(b) + " is not a valid " + type_name(type_oid) + " value");
        }
    } else if (type_oid == oid::unspecified || type_oid == oid::unknown || type_oid == oid::text ||
               type_oid == oid::varchar || type_oid == oid::bpchar) {
        const std::string_view s = text_view(b, type_oid, binary);
        if (parse_mac(s, raw, n)) have = n;
        else conversion_error(quoted(s) + " is not a valid " + want + " value");
    } else {
        conversion_error((binary ? "binary " : "") + type_name(type_oid) + " value is not " + want);
    }
    if (have == n) {
        for (std::size_t i = 0; i < n; ++i) out[i] = raw[i];
    } else if (n == 8) {  // EUI-48 to EUI-64, as macaddr_to_macaddr8 does
        const std::uint8_t expanded[8] = {raw[0], raw[1], raw[2], 0xff, 0xfe, raw[3], raw[4], raw[5]};
        for (std::size_t i = 0; i < 8; ++i) out[i] = expanded[i];
    } else {
        if (raw[3] != 0xff || raw[4] != 0xfe)
            conversion_error("macaddr8 value " + format_mac(raw, 8) +
                             " is not an EUI-48 expanded with ff:fe; read it as MacAddr8");
        const std::uint8_t narrowed[6] = {raw[0], raw[1], raw[2], raw[5], raw[6], raw[7]};
        for (std::size_t i = 0; i < 6; ++i) out[i] = narrowed[i];
    }
}

std::string format_mac(const std::uint8_t* bytes, std::size_t n) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
        if (i) out.push_back(':');
        out.push_back(hex[bytes[i] >> 4]);
        out.push_back(hex[bytes[i] & 15]);
    }
    return out;
}

}  // namespace detail

Inet Inet::parse(std::string_view text) { return detail::decode_inet(text, oid::unspecified, false, false); }
std::string Inet::str() const { return detail::format_inet(*this, false); }
Cidr Cidr::parse(std::string_view text) { return detail::to_cidr(detail::decode_inet(text, oid::unspecified, false, true)); }
std::string Cidr::str() const { return detail::format_inet(detail::to_inet(*this), true); }

}  // namespace pgtls
