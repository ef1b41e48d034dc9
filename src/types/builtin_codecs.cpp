// Scalar codecs behind include/pgtls/types_builtin.hpp: integers, floats, bool, strings,
// "char", bytea.
#include <charconv>
#include <cmath>
#include <cstring>

#include "pgtls/error.hpp"
#include "pgtls/types.hpp"

namespace pgtls::detail {

void conversion_error(const std::string& what) { throw Error(ErrorKind::usage, what); }

std::string type_name(std::uint32_t type_oid) {
    switch (type_oid) {
        case oid::unspecified: return "unspecified type";
        case oid::bool_: return "bool";
        case oid::bytea: return "bytea";
        case oid::char_: return "\"char\"";
        case oid::name: return "name";
        case oid::int8: return "int8";
        case oid::int2: return "int2";
        case oid::int4: return "int4";
        case oid::text: return "text";
        case oid::oid_: return "oid";
        case oid::json: return "json";
        case oid::xml: return "xml";
        case oid::float4: return "float4";
        case oid::float8: return "float8";
        case oid::unknown: return "unknown";
        case oid::varchar: return "varchar";
        case oid::bpchar: return "bpchar";
        case oid::date: return "date";
        case oid::time: return "time";
        case oid::timestamp: return "timestamp";
        case oid::timestamptz: return "timestamptz";
        case oid::interval: return "interval";
        case oid::numeric: return "numeric";
        case oid::uuid: return "uuid";
        case oid::jsonb: return "jsonb";
        case 1266: return "timetz";
        case oid::inet: return "inet";
        case oid::cidr: return "cidr";
        case oid::macaddr: return "macaddr";
        case oid::macaddr8: return "macaddr8";
        case oid::bit: return "bit";
        case oid::varbit: return "varbit";
        case oid::money: return "money";
        case oid::int4range: return "int4range";
        case oid::numrange: return "numrange";
        case oid::tsrange: return "tsrange";
        case oid::tstzrange: return "tstzrange";
        case oid::daterange: return "daterange";
        case oid::int8range: return "int8range";
        case oid::int4multirange: return "int4multirange";
        case oid::nummultirange: return "nummultirange";
        case oid::tsmultirange: return "tsmultirange";
        case oid::tstzmultirange: return "tstzmultirange";
        case oid::datemultirange: return "datemultirange";
        case oid::int8multirange: return "int8multirange";
        case oid::record: return "record";
        default: break;
    }
    if (const std::uint32_t e = oid::element_of(type_oid); e != 0) return type_name(e) + "[]";
    return "type " + std::to_string(type_oid);
}

std::string quoted(std::string_view text) {
    constexpr std::size_t max = 64;
    if (text.size() <= max) return "\"" + std::string(text) + "\"";
    return "\"" + std::string(text.substr(0, max)) + "...\" (" + std::to_string(text.size()) + " bytes)";
}

namespace {

bool is_text_like(std::uint32_t type_oid) {
    switch (type_oid) {
        case oid::text:
        case oid::varchar:
        case oid::bpchar:
        case oid::name:
        case oid::unknown:
        case oid::unspecified: return true;
        default: return false;
    }
}

// PostgreSQL's FirstNormalObjectId: OIDs from here on are user-defined or extension types.
constexpr std::uint32_t first_user_oid = 16384;

std::int64_t parse_signed(std::string_view b) {
    std::int64_t v = 0;
    const auto r = std::from_chars(b.data(), b.data() + b.size(), v);
    if (r.ec == std::errc::result_out_of_range) conversion_error(quoted(b) + " is out of range for a 64-bit integer");
    if (r.ec != std::errc() || r.ptr != b.data() + b.size()) conversion_error(quoted(b) + " is not an integer");
    return v;
}

double parse_double_text(std::string_view b) {
    if (b == "NaN") return std::nan("");
    if (b == "Infinity") return INFINITY;
    if (b == "-Infinity") return -INFINITY;
    double d = 0;
    const auto r = std::from_chars(b.data(), b.data() + b.size(), d);
    if (r.ec == std::errc::result_out_of_range) conversion_error(quoted(b) + " is out of range for double");
    if (r.ec != std::errc() || r.ptr != b.data() + b.size() || b.empty()) conversion_error(quoted(b) + " is not a number");
    return d;
}

float parse_float_text(std::string_view b) {
    if (b == "NaN") return std::nanf("");
    if (b == "Infinity") return INFINITY;
    if (b == "-Infinity") return -INFINITY;
    float f = 0;
    const auto r = std::from_chars(b.data(), b.data() + b.size(), f);
    if (r.ec == std::errc::result_out_of_range) conversion_error(quoted(b) + " is out of range for float");
    if (r.ec != std::errc() || r.ptr != b.data() + b.size() || b.empty()) conversion_error(quoted(b) + " is not a number");
    return f;
}

// Shortest exact digits, in fixed notation unless the decimal exponent is < -4 or >= max_exp
// (PostgreSQL uses DBL_DIG = 15 for float8, FLT_DIG = 6 for float4).
template <typename F>
std::string format_pg_float(F v, int max_exp) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v < 0 ? "-Infinity" : "Infinity";
    char buf[128];
    auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
    const std::string sci(buf, r.ptr);
    const int exp = std::atoi(sci.c_str() + sci.find('e') + 1);
    if (exp < -4 || exp >= max_exp) return sci;
    r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
    return std::string(buf, r.ptr);
}

}  // namespace

IntegerValue decode_integer_value(std::string_view b, std::uint32_t type_oid, bool binary) {
    IntegerValue v;
    if (type_oid == oid::numeric) {
        v.s = binary ? Numeric::from_binary(b).to_int64() : Numeric(b).to_int64();
        return v;
    }
    if (binary) {
        switch (type_oid) {
            case oid::int2:
                if (b.size() != 2) conversion_error("int2 value must be 2 bytes, got " + std::to_string(b.size()));
                v.s = static_cast<std::int16_t>(read_be(b, 2));
                return v;
            case oid::int4:
                if (b.size() != 4) conversion_error("int4 value must be 4 bytes, got " + std::to_string(b.size()));
                v.s = static_cast<std::int32_t>(read_be(b, 4));
                return v;
            case oid::int8:
                if (b.size() != 8) conversion_error("int8 value must be 8 bytes, got " + std::to_string(b.size()));
                v.s = static_cast<std::int64_t>(read_be(b, 8));
                return v;
            case oid::oid_:
                if (b.size() != 4) conversion_error("oid value must be 4 bytes, got " + std::to_string(b.size()));
                v.u = read_be(b, 4);
                v.is_unsigned = true;
                return v;
            default: conversion_error("binary " + type_name(type_oid) + " value is not an integer");
        }
    }
    switch (type_oid) {
        case oid::int2:
        case oid::int4:
        case oid::int8:
        case oid::oid_:
        case oid::unspecified:
        case oid::unknown: break;
        default: conversion_error(type_name(type_oid) + " value is not an integer");
    }
    if (!b.empty() && b[0] != '-') {
        const auto r = std::from_chars(b.data(), b.data() + b.size(), v.u);
        if (r.ec == std::errc::result_out_of_range) conversion_error(quoted(b) + " is out of range");
        if (r.ec != std::errc() || r.ptr != b.data() + b.size()) conversion_error(quoted(b) + " is not an integer");
        v.is_unsigned = true;
        return v;
    }
    v.s = parse_signed(b);
    return v;
}

double decode_double(std::string_view b, std::uint32_t type_oid, bool binary) {
    switch (type_oid) {
        case oid::float8:
            if (binary) {
                if (b.size() != 8) conversion_error("float8 value must be 8 bytes, got " + std::to_string(b.size()));
                const std::uint64_t u = read_be(b, 8);
                double d;
                std::memcpy(&d, &u, 8);
                return d;
            }
            return parse_double_text(b);
        case oid::float4: return decode_float(b, type_oid, binary);
        case oid::numeric: return binary ? Numeric::from_binary(b).to_double() : Numeric(b).to_double();
        case oid::int2:
        case oid::int4:
        case oid::int8:
        case oid::oid_: {
            const IntegerValue v = decode_integer_value(b, type_oid, binary);
            return v.is_unsigned ? static_cast<double>(v.u) : static_cast<double>(v.s);
        }
        case oid::unspecified:
        case oid::unknown:
            if (!binary) return parse_double_text(b);
            [[fallthrough]];
        default: conversion_error((binary ? "binary " : "") + type_name(type_oid) + " value is not a number");
    }
}

float decode_float(std::string_view b, std::uint32_t type_oid, bool binary) {
    if (type_oid == oid::float4) {
        if (binary) {
            if (b.size() != 4) conversion_error("float4 value must be 4 bytes, got " + std::to_string(b.size()));
            const auto u = static_cast<std::uint32_t>(read_be(b, 4));
            float f;
            std::memcpy(&f, &u, 4);
            return f;
        }
        return parse_float_text(b);
    }
    if ((type_oid == oid::unspecified || type_oid == oid::unknown) && !binary) return parse_float_text(b);
    const double d = decode_double(b, type_oid, binary);
    const auto f = static_cast<float>(d);
    if (std::isinf(f) && !std::isinf(d)) conversion_error(format_double(d) + " is out of range for float");
    return f;
}

std::string format_double(double v) { return format_pg_float(v, 15); }
std::string format_float(float v) { return format_pg_float(v, 6); }

bool decode_bool(std::string_view b, std::uint32_t type_oid, bool binary) {
    if (type_oid != oid::bool_ && type_oid != oid::unspecified && type_oid != oid::unknown)
        conversion_error(type_name(type_oid) + " value is not a boolean");
    if (binary) {
        if (b.size() != 1) conversion_error("bool value must be 1 byte, got " + std::to_string(b.size()));
        if (b[0] != 0 && b[0] != 1) conversion_error("binary bool value is neither 0 nor 1");
        return b[0] != 0;
    }
    if (b == "t" || b == "true") return true;
    if (b == "f" || b == "false") return false;
    conversion_error(quoted(b) + " is not a boolean");
}

std::string decode_bytea(std::string_view b, std::uint32_t type_oid, bool binary) {
    if (type_oid != oid::bytea && type_oid != oid::unspecified && type_oid != oid::unknown)
        conversion_error(type_name(type_oid) + " value is not bytea");
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
    // Escape format (bytea_output = escape): \\ and \ooo; other bytes as themselves.
    for (std::size_t i = 0; i < b.size(); ++i) {
        if (b[i] != '\\') {
            out.push_back(b[i]);
            continue;
        }
        if (i + 1 < b.size() && b[i + 1] == '\\') {
            out.push_back('\\');
            ++i;
        } else if (i + 3 < b.size() && b[i + 1] >= '0' && b[i + 1] <= '3' && b[i + 2] >= '0' && b[i + 2] <= '7' &&
                   b[i + 3] >= '0' && b[i + 3] <= '7') {
            out.push_back(static_cast<char>((b[i + 1] - '0') * 64 + (b[i + 2] - '0') * 8 + (b[i + 3] - '0')));
            i += 3;
        } else {
            conversion_error("invalid escape in bytea value");
        }
    }
    return out;
}

std::string format_bytea_hex(std::string_view bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out = "\\x";
    out.reserve(2 + bytes.size() * 2);
    for (const char c : bytes) {
        const auto u = static_cast<unsigned char>(c);
        out.push_back(digits[u >> 4]);
        out.push_back(digits[u & 15]);
    }
    return out;
}

std::string_view text_view(std::string_view b, std::uint32_t type_oid, bool binary) {
    if (!binary) return b;
    switch (type_oid) {
        case oid::text:
        case oid::varchar:
        case oid::bpchar:
        case oid::name:
        case oid::json:
        case oid::xml:
        case oid::unknown:
        case oid::unspecified: return b;
        case oid::jsonb:
            if (b.empty() || b[0] != 1) conversion_error("binary jsonb value has an unknown version");
            return b.substr(1);
        default:
            if (type_oid >= first_user_oid) return b;
            conversion_error("binary " + type_name(type_oid) + " value is not text; read it as its own C++ type");
    }
}

char decode_char(std::string_view b, std::uint32_t type_oid, bool binary) {
    if (type_oid == oid::char_) {
        if (binary) {
            if (b.size() != 1) conversion_error("\"char\" value must be 1 byte, got " + std::to_string(b.size()));
            return b[0];
        }
        if (b.empty()) return '\0';
        if (b.size() == 1) return b[0];
        if (b.size() == 4 && b[0] == '\\' && b[1] >= '0' && b[1] <= '3' && b[2] >= '0' && b[2] <= '7' && b[3] >= '0' &&
            b[3] <= '7')
            return static_cast<char>((b[1] - '0') * 64 + (b[2] - '0') * 8 + (b[3] - '0'));
        conversion_error(quoted(b) + " is not a \"char\" value");
    }
    if (!is_text_like(type_oid)) conversion_error(type_name(type_oid) + " value is not a character");
    if (b.size() != 1) conversion_error(quoted(b) + " is not a single byte");
    return b[0];
}

std::string format_char(char c) {
    const auto u = static_cast<unsigned char>(c);
    if (u == 0) return std::string();
    if (u < 0x80) return std::string(1, c);
    const char esc[5] = {'\\', static_cast<char>('0' + (u >> 6)), static_cast<char>('0' + ((u >> 3) & 7)),
                         static_cast<char>('0' + (u & 7)), '\0'};
    return esc;
}

}  // namespace pgtls::detail
