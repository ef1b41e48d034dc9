/// \file
/// pgtls::Uuid and pgtls::Json. Included by types.hpp.
#pragma once

#include "pgtls/version.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "pgtls/types.hpp"

PGTLS_API_BEGIN
namespace pgtls {

/// A uuid value: its 16 bytes in the order it is printed.
struct Uuid {
    std::array<std::uint8_t, 16> bytes{};  ///< The 16 bytes, first printed first.
    /// Accepts what uuid_in accepts: 32 hex digits (any case), optionally in braces, with a
    /// hyphen allowed after any group of four digits. Throws Error(usage) otherwise.
    static Uuid parse(std::string_view text);
    /// Lowercase 8-4-4-4-12 form, as the server prints it.
    std::string str() const;
    bool operator==(const Uuid&) const = default;  ///< Equal when the bytes are.
};

/// Uuid <-> uuid, text and binary; sent binary.
template <>
struct Codec<Uuid> {
    /// The PostgreSQL type this codec writes (parameters and array elements).
    static constexpr std::uint32_t type_oid = oid::uuid;
    /// Reads a field of column type `oid` in text or binary format; throws
    /// Error(ErrorKind::usage) when the value does not fit.
    static Uuid decode(std::string_view b, std::uint32_t oid, bool binary);
    /// The value in PostgreSQL's text input form.
    static std::string encode_text(const Uuid& v) { return v.str(); }
    /// The value in PostgreSQL's binary (send/recv) form.
    static std::string encode_binary(const Uuid& v) { return std::string(reinterpret_cast<const char*>(v.bytes.data()), 16); }
    /// The value as a binary parameter typed as type_oid.
    static Param encode(const Uuid& v) { return Param{encode_binary(v), type_oid, 1}; }
};

/// A JSON document as text. Reads json and jsonb (either format) and string-like columns; the
/// text is not validated here (the server validates what it stores). Written as untyped text
/// so the statement decides json or jsonb (`$1::jsonb` to force it).
struct Json {
    std::string text;  ///< The document, as the server prints json (jsonb: normalized).
    bool operator==(const Json&) const = default;  ///< Equal when the texts are (byte for byte).
};

/// Json <-> json and jsonb (text and binary); sent as untyped text.
template <>
struct Codec<Json> {
    /// Reads a field of column type `oid` in text or binary format; throws
    /// Error(ErrorKind::usage) when the value does not fit.
    static Json decode(std::string_view b, std::uint32_t oid, bool binary);
    /// The value in PostgreSQL's text input form.
    static std::string encode_text(const Json& v) { return v.text; }
    /// The value as an untyped text parameter: the server reads it as the type the statement needs.
    static Param encode(const Json& v) { return Param{v.text, 0, 0}; }
};

}  // namespace pgtls
PGTLS_API_END
