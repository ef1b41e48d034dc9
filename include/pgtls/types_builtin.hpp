// Built-in codecs. Included by types.hpp; do not include directly.
#pragma once

#include <charconv>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include "pgtls/error.hpp"

namespace pgtls {
namespace detail {

[[noreturn]] void conversion_error(const std::string& what);

inline std::uint64_t read_be(std::string_view b, std::size_t n) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(b[i]);
    return v;
}
inline void write_be(std::string& out, std::uint64_t v, std::size_t n) {
    for (std::size_t i = n; i-- > 0;) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// Any integer column (int2/int4/int8/oid, text or binary) into integral T, range-checked.
template <typename T>
T decode_integer(std::string_view b, std::uint32_t type_oid, bool binary) {
    static_assert(std::is_integral_v<T>);
    std::int64_t v = 0;
    std::uint64_t uv = 0;
    bool is_unsigned_src = false;
    if (binary) {
        switch (type_oid) {
            case oid::int2:
                if (b.size() != 2) conversion_error("int2 value must be 2 bytes");
                v = static_cast<std::int16_t>(read_be(b, 2));
                break;
            case oid::int4:
                if (b.size() != 4) conversion_error("int4 value must be 4 bytes");
                v = static_cast<std::int32_t>(read_be(b, 4));
                break;
            case oid::int8:
                if (b.size() != 8) conversion_error("int8 value must be 8 bytes");
                v = static_cast<std::int64_t>(read_be(b, 8));
                break;
            case oid::oid_:
                if (b.size() != 4) conversion_error("oid value must be 4 bytes");
                uv = read_be(b, 4);
                is_unsigned_src = true;
                break;
            default: conversion_error("binary value of type " + std::to_string(type_oid) + " is not an integer");
        }
    } else {
        const char* first = b.data();
        const char* last = b.data() + b.size();
        std::from_chars_result r;
        if (!b.empty() && b[0] != '-') {
            r = std::from_chars(first, last, uv);
            is_unsigned_src = true;
        } else {
            r = std::from_chars(first, last, v);
        }
        if (r.ec == std::errc::result_out_of_range) conversion_error("\"" + std::string(b) + "\" is out of range");
        if (r.ec != std::errc() || r.ptr != last)
            conversion_error("\"" + std::string(b) + "\" is not an integer");
    }
    if (is_unsigned_src) {
        if (uv > static_cast<std::uint64_t>(std::numeric_limits<T>::max()))
            conversion_error(std::to_string(uv) + " does not fit the requested integer type");
        return static_cast<T>(uv);
    }
    if constexpr (std::is_unsigned_v<T>) {
        if (v < 0) conversion_error(std::to_string(v) + " does not fit an unsigned type");
        if (static_cast<std::uint64_t>(v) > std::numeric_limits<T>::max())
            conversion_error(std::to_string(v) + " does not fit the requested integer type");
    } else {
        if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max())
            conversion_error(std::to_string(v) + " does not fit the requested integer type");
    }
    return static_cast<T>(v);
}

double decode_double(std::string_view b, std::uint32_t type_oid, bool binary);
bool decode_bool(std::string_view b, bool binary);
std::string decode_bytea(std::string_view b, bool binary);
std::string format_double(double v);

}  // namespace detail

template <typename T>
struct Codec<T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, char>>> {
    static T decode(std::string_view b, std::uint32_t oid, bool binary) { return detail::decode_integer<T>(b, oid, binary); }
    static Param encode(const T& v) {
        std::string s;
        if constexpr (sizeof(T) <= 2 && std::is_signed_v<T>) {
            detail::write_be(s, static_cast<std::uint16_t>(v), 2);
            return Param{std::move(s), oid::int2, 1};
        } else if constexpr (sizeof(T) <= 4 && std::is_signed_v<T>) {
            detail::write_be(s, static_cast<std::uint32_t>(v), 4);
            return Param{std::move(s), oid::int4, 1};
        } else if constexpr (std::is_signed_v<T>) {
            detail::write_be(s, static_cast<std::uint64_t>(v), 8);
            return Param{std::move(s), oid::int8, 1};
        } else {
            // Unsigned: send as text and let the server pick (oid/int8/numeric by context).
            return Param{std::to_string(v), 0, 0};
        }
    }
};

template <typename T>
struct Codec<T, std::enable_if_t<std::is_floating_point_v<T>>> {
    static T decode(std::string_view b, std::uint32_t oid, bool binary) {
        return static_cast<T>(detail::decode_double(b, oid, binary));
    }
    static Param encode(const T& v) {
        std::string s;
        if constexpr (sizeof(T) == 4) {
            std::uint32_t u;
            std::memcpy(&u, &v, 4);
            detail::write_be(s, u, 4);
            return Param{std::move(s), oid::float4, 1};
        } else {
            double d = v;
            std::uint64_t u;
            std::memcpy(&u, &d, 8);
            detail::write_be(s, u, 8);
            return Param{std::move(s), oid::float8, 1};
        }
    }
};

template <>
struct Codec<bool> {
    static bool decode(std::string_view b, std::uint32_t, bool binary) { return detail::decode_bool(b, binary); }
    static Param encode(const bool& v) { return Param{std::string(1, v ? '\1' : '\0'), oid::bool_, 1}; }
};

template <>
struct Codec<std::string> {
    // Text columns as-is; bytea decoded to raw bytes; other binary values are refused.
    static std::string decode(std::string_view b, std::uint32_t oid, bool binary) {
        if (oid == oid::bytea) return detail::decode_bytea(b, binary);
        if (binary && oid != oid::text && oid != oid::varchar && oid != oid::bpchar && oid != oid::name &&
            oid != oid::json && oid != oid::unspecified)
            detail::conversion_error("binary value of type " + std::to_string(oid) + " is not text");
        return std::string(b);
    }
    static Param encode(const std::string& v) { return Param{v, 0, 0}; }
};

template <>
struct Codec<std::string_view> {
    static std::string_view decode(std::string_view b, std::uint32_t, bool) { return b; }
    static Param encode(const std::string_view& v) { return Param{std::string(v), 0, 0}; }
};

template <>
struct Codec<const char*> {
    static Param encode(const char* const& v) { return Param{std::string(v), 0, 0}; }
};

template <std::size_t N>
struct Codec<char[N]> {
    static Param encode(const char (&v)[N]) { return Param{std::string(v), 0, 0}; }
};

// Raw bytes <-> bytea.
struct Bytea {
    std::string bytes;
};
template <>
struct Codec<Bytea> {
    static Bytea decode(std::string_view b, std::uint32_t, bool binary) { return Bytea{detail::decode_bytea(b, binary)}; }
    static Param encode(const Bytea& v) { return Param{v.bytes, oid::bytea, 1}; }
};

template <>
struct Codec<std::nullopt_t> {
    static Param encode(const std::nullopt_t&) { return Param{std::nullopt, 0, 0}; }
};

template <typename T>
T from_field(std::string_view bytes, std::uint32_t type_oid, bool binary, const std::string& column) {
    try {
        return Codec<T>::decode(bytes, type_oid, binary);
    } catch (const Error& e) {
        throw Error(ErrorKind::usage, "column \"" + column + "\": " + e.what());
    }
}

}  // namespace pgtls
