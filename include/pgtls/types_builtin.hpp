/// \file
/// Built-in codecs for scalar types. Included by types.hpp; do not include directly.
///
/// Every built-in Codec<T> has, besides decode/encode:
/// @code
///   static constexpr std::uint32_t type_oid;       the PostgreSQL type it writes
///   static std::string encode_text(const T&);      PostgreSQL's text input form
///   static std::string encode_binary(const T&);    PostgreSQL's binary (send/recv) form, where exact
/// @endcode
#pragma once

#include "pgtls/version.hpp"

#include <cstddef>
#include <cstring>
#include <limits>
#include <string>

#include "pgtls/error.hpp"
#include "pgtls/types.hpp"

PGTLS_API_BEGIN
namespace pgtls {
namespace detail {

/// Throws Error(ErrorKind::usage, what).
[[noreturn]] void conversion_error(const std::string& what);

/// "int4", "timestamptz", ... or "type 12345" for OIDs pgtls does not know.
std::string type_name(std::uint32_t type_oid);
/// `text` quoted for an error message, shortened if long.
std::string quoted(std::string_view text);

inline std::uint64_t read_be(std::string_view b, std::size_t n) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(b[i]);
    return v;
}
// The low `n` bytes of `v`, big-endian; n <= 8. (Built in a local array: a push_back per byte
// costs a capacity check each, on every integer parameter of every query.)
inline void write_be(std::string& out, std::uint64_t v, std::size_t n) {
    char b[8];
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<char>(v >> (8 * (n - 1 - i)));
    out.append(b, n);
}
inline std::string be_bytes(std::uint64_t v, std::size_t n) {
    char b[8];
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<char>(v >> (8 * (n - 1 - i)));
    return std::string(b, n);
}

/// An integer read from an int2/int4/int8/oid/numeric column (or text with OID 0): either a
/// signed value or, for large non-negative text/oid values, an unsigned one.
struct IntegerValue {
    bool is_unsigned = false;
    std::int64_t s = 0;
    std::uint64_t u = 0;
};
IntegerValue decode_integer_value(std::string_view b, std::uint32_t type_oid, bool binary);

/// Any integer column into integral T, range-checked.
template <typename T>
T decode_integer(std::string_view b, std::uint32_t type_oid, bool binary) {
    static_assert(std::is_integral_v<T>);
    const IntegerValue v = decode_integer_value(b, type_oid, binary);
    if (v.is_unsigned) {
        if (v.u > static_cast<std::uint64_t>(std::numeric_limits<T>::max()))
            conversion_error(std::to_string(v.u) + " does not fit the requested integer type");
        return static_cast<T>(v.u);
    }
    if constexpr (std::is_unsigned_v<T>) {
        if (v.s < 0) conversion_error(std::to_string(v.s) + " does not fit an unsigned type");
        if (static_cast<std::uint64_t>(v.s) > std::numeric_limits<T>::max())
            conversion_error(std::to_string(v.s) + " does not fit the requested integer type");
    } else {
        if (v.s < std::numeric_limits<T>::min() || v.s > std::numeric_limits<T>::max())
            conversion_error(std::to_string(v.s) + " does not fit the requested integer type");
    }
    return static_cast<T>(v.s);
}

/// float4/float8 (and integer, numeric) columns. Rounds to nearest; a finite value outside the
/// target's range is an error.
double decode_double(std::string_view b, std::uint32_t type_oid, bool binary);
float decode_float(std::string_view b, std::uint32_t type_oid, bool binary);
/// PostgreSQL's float8out/float4out layout (extra_float_digits = 1): shortest round-trip digits.
/// In rare float4 ties the server prints one digit more; both spellings read back identically.
std::string format_double(double v);
std::string format_float(float v);

bool decode_bool(std::string_view b, std::uint32_t type_oid, bool binary);
/// bytea in hex or escape text form, or binary.
std::string decode_bytea(std::string_view b, std::uint32_t type_oid, bool binary);
std::string format_bytea_hex(std::string_view bytes);
/// Field of a string-like column (text, varchar, bpchar, name, json, xml, unknown; jsonb without
/// its version byte; any column in text format; user-defined types). Binary non-string built-ins
/// are an error.
std::string_view text_view(std::string_view b, std::uint32_t type_oid, bool binary);
/// "char": text form is "", one byte, or \ooo for bytes >= 0x80; binary is one byte.
char decode_char(std::string_view b, std::uint32_t type_oid, bool binary);
std::string format_char(char c);

}  // namespace detail

/// Signed and unsigned integers (not bool, not char: char is "char").
template <typename T>
struct Codec<T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, char> &&
                                 std::is_signed_v<T>>> {
    /// The PostgreSQL type this codec writes (parameters and array elements).
    static constexpr std::uint32_t type_oid = sizeof(T) <= 2 ? oid::int2 : sizeof(T) <= 4 ? oid::int4 : oid::int8;
    /// Bytes of the binary form: 2 (int2), 4 (int4) or 8 (int8).
    static constexpr std::size_t wire_size = sizeof(T) <= 2 ? 2 : sizeof(T) <= 4 ? 4 : 8;
    /// Reads a field of column type `oid` in text or binary format; throws
    /// Error(ErrorKind::usage) when the value does not fit.
    static T decode(std::string_view b, std::uint32_t oid, bool binary) { return detail::decode_integer<T>(b, oid, binary); }
    /// The value in PostgreSQL's text input form.
    static std::string encode_text(const T& v) { return std::to_string(v); }
    /// The value in PostgreSQL's binary (send/recv) form.
    static std::string encode_binary(const T& v) {
        return detail::be_bytes(static_cast<std::uint64_t>(static_cast<std::int64_t>(v)), wire_size);
    }
    /// The value as a binary parameter typed as type_oid.
    static Param encode(const T& v) { return Param{encode_binary(v), type_oid, 1}; }
};

/// Unsigned integers: read from int2/int4/int8/oid/numeric (range-checked), sent as untyped
/// text, so they have no type_oid and no binary form.
template <typename T>
struct Codec<T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, char> &&
                                 std::is_unsigned_v<T>>> {
    /// Reads a field of column type `oid` in text or binary format; throws
    /// Error(ErrorKind::usage) when the value does not fit.
    static T decode(std::string_view b, std::uint32_t oid, bool binary) { return detail::decode_integer<T>(b, oid, binary); }
    /// The value in PostgreSQL's text input form.
    static std::string encode_text(const T& v) { return std::to_string(v); }
    /// Sent as untyped text: the server picks oid/int8/numeric from the statement's context.
    static Param encode(const T& v) { return Param{encode_text(v), 0, 0}; }
};

/// An object identifier, sent typed as oid.
struct Oid {
    std::uint32_t value = 0;                      ///< The OID.
    bool operator==(const Oid&) const = default;  ///< Equal when the OIDs are.
};
/// Oid <-> oid (reads any integer column that fits 32 bits unsigned), text and binary.
template <>
struct Codec<Oid> {
    /// The PostgreSQL type this codec writes (parameters and array elements).
    static constexpr std::uint32_t type_oid = oid::oid_;
    /// Reads a field of column type `oid` in text or binary format; throws
    /// Error(ErrorKind::usage) when the value does not fit.
    static Oid decode(std::string_view b, std::uint32_t oid, bool binary) {
        return Oid{detail::decode_integer<std::uint32_t>(b, oid, binary)};
    }
    /// The value in PostgreSQL's text input form.
    static std::string encode_text(const Oid& v) { return std::to_string(v.value); }
    /// The value in PostgreSQL's binary (send/recv) form.
    static std::string encode_binary(const Oid& v) { return detail::be_bytes(v.value, 4); }
    /// The value as a binary parameter typed as type_oid.
    static Param encode(const Oid& v) { return Param{encode_binary(v), type_oid, 1}; }
};

/// double <-> float8, text and binary; also reads float4, integers and numeric (rounded).
template <>
struct Codec<double> {
    /// The PostgreSQL type this codec writes (parameters and array elements).
    static constexpr std::uint32_t type_oid = oid::float8;
    /// Reads a field of column type `oid` in text or binary format; throws
    /// Error(ErrorKind::usage) when the value does not fit.
    static double decode(std::string_view b, std::uint32_t oid, bool binary) { return detail::decode_double(b, oid, binary); }
    /// The value in PostgreSQL's text input form.
    static std::string encode_text(const double& v) { return detail::format_double(v); }
    /// The value in PostgreSQL's binary (send/recv) form.
    static std::string encode_binary(const double& v) {
        std::uint64_t u;
        std::memcpy(&u, &v, 8);
        return detail::be_bytes(u, 8);
    }
    /// The value as a binary parameter typed as type_oid.
    static Param encode(const double& v) { return Param{encode_binary(v), type_oid, 1}; }
};

/// float <-> float4, text and binary; also reads float8, integers and numeric, range-checked.
template <>
struct Codec<float> {
    /// The PostgreSQL type this codec writes (parameters and array elements).
    static constexpr std::uint32_t type_oid = oid::float4;
    /// Reads a field of column type `oid` in text or binary format; throws
    /// Error(ErrorKind::usage) when the value does not fit.
    static float decode(std::string_view b, std::uint32_t oid, bool binary) { return detail::decode_float(b, oid, binary); }
    /// The value in PostgreSQL's text input form.
    static std::string encode_text(const float& v) { return detail::format_float(v); }
    /// The value in PostgreSQL's binary (send/recv) form.
    static std::string encode_binary(const float& v) {
        std::uint32_t u;
        std::memcpy(&u, &v, 4);
        return detail::be_bytes(u, 4);
    }
    /// The value as a binary parameter typed as type_oid.
    static Param encode(const float& v) { return Param{encode_binary(v), type_oid, 1}; }
};

/// bool <-> bool, text ("t"/"f", and the other spellings the server accepts) and binary.
template <>
struct Codec<bool> {
    /// The PostgreSQL type this codec writes (parameters and array elements).
    static constexpr std::uint32_t type_oid = oid::bool_;
    /// Reads a field of column type `oid` in text or binary format; throws
    /// Error(ErrorKind::usage) when the value does not fit.
    static bool decode(std::string_view b, std::uint32_t oid, bool binary) { return detail::decode_bool(b, oid, binary); }
    /// The value in PostgreSQL's text input form.
    static std::string encode_text(const bool& v) { return v ? "t" : "f"; }
    /// The value in PostgreSQL's binary (send/recv) form.
    static std::string encode_binary(const bool& v) { return std::string(1, v ? '\1' : '\0'); }
    /// The value as a binary parameter typed as type_oid.
    static Param encode(const bool& v) { return Param{encode_binary(v), type_oid, 1}; }
};

/// "char" (the one-byte internal type, OID 18). A zero byte is PostgreSQL's empty "char".
template <>
struct Codec<char> {
    /// The PostgreSQL type this codec writes (parameters and array elements).
    static constexpr std::uint32_t type_oid = oid::char_;
    /// Reads a field of column type `oid` in text or binary format; throws
    /// Error(ErrorKind::usage) when the value does not fit.
    static char decode(std::string_view b, std::uint32_t oid, bool binary) { return detail::decode_char(b, oid, binary); }
    /// The value in PostgreSQL's text input form.
    static std::string encode_text(const char& v) { return detail::format_char(v); }
    /// The value in PostgreSQL's binary (send/recv) form.
    static std::string encode_binary(const char& v) { return std::string(1, v); }
    /// The value as a binary parameter typed as type_oid.
    static Param encode(const char& v) { return Param{encode_binary(v), type_oid, 1}; }
};

/// std::string <-> text, varchar, bpchar, name, json, xml, unknown and any column in text
/// format; reads bytea as its raw bytes, jsonb binary without its version byte.
template <>
struct Codec<std::string> {
    /// Arrays of strings are text[]; a lone string parameter is sent untyped so the server can
    /// read it as whatever type the statement needs (as libpq applications usually do).
    static constexpr std::uint32_t type_oid = oid::text;
    /// String-like columns as-is; bytea decoded to its raw bytes; "char" as 0 or 1 byte.
    static std::string decode(std::string_view b, std::uint32_t oid, bool binary) {
        if (oid == oid::bytea) return detail::decode_bytea(b, oid, binary);
        if (oid == oid::char_) {
            const char c = detail::decode_char(b, oid, binary);
            return c == '\0' ? std::string() : std::string(1, c);
        }
        return std::string(detail::text_view(b, oid, binary));
    }
    /// The value in PostgreSQL's text input form.
    static std::string encode_text(const std::string& v) { return v; }
    /// The value in PostgreSQL's binary (send/recv) form.
    static std::string encode_binary(const std::string& v) { return v; }
    /// The value as an untyped text parameter: the server reads it as the type the statement needs.
    static Param encode(const std::string& v) { return Param{v, 0, 0}; }
};

/// A view into the row buffer: valid while the Result lives. bytea in text format and escaped
/// "char" values cannot be viewed (read them as std::string).
template <>
struct Codec<std::string_view> {
    /// The PostgreSQL type this codec writes (parameters and array elements).
    static constexpr std::uint32_t type_oid = oid::text;
    /// Reads a field of column type `oid` in text or binary format; throws
    /// Error(ErrorKind::usage) when the value does not fit.
    static std::string_view decode(std::string_view b, std::uint32_t oid, bool binary) {
        if (oid == oid::bytea) {
            if (!binary) detail::conversion_error("bytea in text format cannot be viewed; read it as std::string");
            return b;
        }
        if (oid == oid::char_) {
            if (b.size() == 1 && b[0] == '\0') return b.substr(0, 0);
            if (b.size() > 1) detail::conversion_error("escaped \"char\" value cannot be viewed; read it as std::string");
            return b;
        }
        return detail::text_view(b, oid, binary);
    }
    /// The value in PostgreSQL's text input form.
    static std::string encode_text(const std::string_view& v) { return std::string(v); }
    /// The value in PostgreSQL's binary (send/recv) form.
    static std::string encode_binary(const std::string_view& v) { return std::string(v); }
    /// The value as an untyped text parameter: the server reads it as the type the statement needs.
    static Param encode(const std::string_view& v) { return Param{std::string(v), 0, 0}; }
};

/// A C string as an untyped text parameter (write only).
template <>
struct Codec<const char*> {
    /// The value as an untyped text parameter: the server reads it as the type the statement needs.
    static Param encode(const char* const& v) { return Param{std::string(v), 0, 0}; }
};

/// A string literal as an untyped text parameter (write only).
template <std::size_t N>
struct Codec<char[N]> {
    /// The value as an untyped text parameter: the server reads it as the type the statement needs.
    static Param encode(const char (&v)[N]) { return Param{std::string(v), 0, 0}; }
};

/// Raw bytes <-> bytea.
struct Bytea {
    std::string bytes;                              ///< The raw bytes, any values.
    bool operator==(const Bytea&) const = default;  ///< Equal when the bytes are.
};
/// Bytea <-> bytea: hex and escape text forms, binary; sent binary.
template <>
struct Codec<Bytea> {
    /// The PostgreSQL type this codec writes (parameters and array elements).
    static constexpr std::uint32_t type_oid = oid::bytea;
    /// Reads a field of column type `oid` in text or binary format; throws
    /// Error(ErrorKind::usage) when the value does not fit.
    static Bytea decode(std::string_view b, std::uint32_t oid, bool binary) {
        return Bytea{detail::decode_bytea(b, oid, binary)};
    }
    /// The value in PostgreSQL's text input form.
    static std::string encode_text(const Bytea& v) { return detail::format_bytea_hex(v.bytes); }
    /// The value in PostgreSQL's binary (send/recv) form.
    static std::string encode_binary(const Bytea& v) { return v.bytes; }
    /// The value as a binary parameter typed as type_oid.
    static Param encode(const Bytea& v) { return Param{v.bytes, type_oid, 1}; }
};

/// Byte vectors (std::byte, uint8_t, char) are bytea, not arrays.
template <typename B>
inline constexpr bool is_byte_v = std::is_same_v<B, std::byte> || std::is_same_v<B, std::uint8_t> || std::is_same_v<B, char>;

/// Byte vectors <-> bytea, as Bytea.
template <typename B>
struct Codec<std::vector<B>, std::enable_if_t<is_byte_v<B>>> {
    /// The PostgreSQL type this codec writes (parameters and array elements).
    static constexpr std::uint32_t type_oid = oid::bytea;
    /// Reads a field of column type `oid` in text or binary format; throws
    /// Error(ErrorKind::usage) when the value does not fit.
    static std::vector<B> decode(std::string_view b, std::uint32_t oid, bool binary) {
        const std::string raw = detail::decode_bytea(b, oid, binary);
        std::vector<B> out(raw.size());
        if (!raw.empty()) std::memcpy(out.data(), raw.data(), raw.size());
        return out;
    }
    /// The value in PostgreSQL's binary (send/recv) form.
    static std::string encode_binary(const std::vector<B>& v) {
        return std::string(reinterpret_cast<const char*>(v.data()), v.size());
    }
    /// The value in PostgreSQL's text input form.
    static std::string encode_text(const std::vector<B>& v) { return detail::format_bytea_hex(encode_binary(v)); }
    /// The value as a binary parameter typed as type_oid.
    static Param encode(const std::vector<B>& v) { return Param{encode_binary(v), type_oid, 1}; }
};

/// std::nullopt as a NULL parameter (write only).
template <>
struct Codec<std::nullopt_t> {
    /// The value as an untyped text parameter: the server reads it as the type the statement needs.
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

#include "pgtls/types_numeric.hpp"
#include "pgtls/types_datetime.hpp"
#include "pgtls/types_uuid_json.hpp"
#include "pgtls/types_network.hpp"
#include "pgtls/types_bits.hpp"
#include "pgtls/types_enum.hpp"
#include "pgtls/types_range.hpp"
#include "pgtls/types_array.hpp"
PGTLS_API_END
