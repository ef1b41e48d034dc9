// Decoders behind the built-in codecs in include/pgtls/types_builtin.hpp.
#include <charconv>
#include <cmath>
#include <cstring>

#include "pgtls/error.hpp"
#include "pgtls/types.hpp"

namespace pgtls {

namespace detail {

void conversion_error(const std::string& what) { throw Error(ErrorKind::usage, what); }

double decode_double(std::string_view b, std::uint32_t type_oid, bool binary) {
    if (binary) {
        if (type_oid == oid::float8) {
            if (b.size() != 8) conversion_error("float8 value must be 8 bytes");
            const std::uint64_t u = read_be(b, 8);
            double d;
            std::memcpy(&d, &u, 8);
            return d;
        }
        if (type_oid == oid::float4) {
            if (b.size() != 4) conversion_error("float4 value must be 4 bytes");
            const auto u = static_cast<std::uint32_t>(read_be(b, 4));
            float f;
            std::memcpy(&f, &u, 4);
            return f;
        }
        if (type_oid == oid::int2 || type_oid == oid::int4 || type_oid == oid::int8)
            return static_cast<double>(decode_integer<std::int64_t>(b, type_oid, true));
        conversion_error("binary value of type " + std::to_string(type_oid) + " is not a number");
    }
    if (b == "NaN") return std::nan("");
    if (b == "Infinity") return INFINITY;
    if (b == "-Infinity") return -INFINITY;
    double d = 0;
    auto r = std::from_chars(b.data(), b.data() + b.size(), d);
    if (r.ec == std::errc::result_out_of_range) conversion_error("\"" + std::string(b) + "\" is out of range for double");
    if (r.ec != std::errc() || r.ptr != b.data() + b.size())
        conversion_error("\"" + std::string(b) + "\" is not a number");
    return d;
}

bool decode_bool(std::string_view b, bool binary) {
    if (binary) {
        if (b.size() != 1) conversion_error("bool value must be 1 byte");
        return b[0] != 0;
    }
    if (b == "t" || b == "true") return true;
    if (b == "f" || b == "false") return false;
    conversion_error("\"" + std::string(b) + "\" is not a boolean");
}

std::string decode_bytea(std::string_view b, bool binary) {
    if (binary) return std::string(b);
    auto hexval = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out;
    if (b.size() >= 2 && b[0] == '\\' && b[1] == 'x') {
        if ((b.size() - 2) % 2 != 0) conversion_error("bytea hex value has an odd number of digits");
        out.reserve((b.size() - 2) / 2);
        for (std::size_t i = 2; i < b.size(); i += 2) {
            const int hi = hexval(b[i]), lo = hexval(b[i + 1]);
            if (hi < 0 || lo < 0) conversion_error("invalid hexadecimal digit in bytea value");
            out.push_back(static_cast<char>(hi * 16 + lo));
        }
        return out;
    }
    // Escape format: \\ and \ooo.
    for (std::size_t i = 0; i < b.size(); ++i) {
        if (b[i] != '\\') {
            out.push_back(b[i]);
            continue;
        }
        if (i + 1 < b.size() && b[i + 1] == '\\') {
            out.push_back('\\');
            ++i;
        } else if (i + 3 < b.size() + 0 && b[i + 1] >= '0' && b[i + 1] <= '3' && b[i + 2] >= '0' && b[i + 2] <= '7' &&
                   b[i + 3] >= '0' && b[i + 3] <= '7') {
            out.push_back(static_cast<char>((b[i + 1] - '0') * 64 + (b[i + 2] - '0') * 8 + (b[i + 3] - '0')));
            i += 3;
        } else {
            conversion_error("invalid escape in bytea value");
        }
    }
    return out;
}

std::string format_double(double v) {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

}  // namespace detail

}  // namespace pgtls
