// pgtls — conversions between C++ values and PostgreSQL's text/binary formats.
//
// Extend with your own type by specializing pgtls::Codec<T>:
//   template <> struct pgtls::Codec<Money> {
//       static Money decode(std::string_view bytes, std::uint32_t oid, bool binary);
//       static pgtls::Param encode(const Money& v);
//   };
// decode() throws pgtls::Error(ErrorKind::usage) (or any std::exception) when the value does
// not fit; from_field adds the column name to the message.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace pgtls {

template <typename T>
struct is_optional : std::false_type {};
template <typename T>
struct is_optional<std::optional<T>> : std::true_type {};
template <typename T>
inline constexpr bool is_optional_v = is_optional<T>::value;

// Well-known type OIDs (pg_type.dat).
namespace oid {
inline constexpr std::uint32_t unspecified = 0, bool_ = 16, bytea = 17, char_ = 18, name = 19, int8 = 20,
                               int2 = 21, int4 = 23, text = 25, oid_ = 26, json = 114, float4 = 700,
                               float8 = 701, varchar = 1043, bpchar = 1042, date = 1082, time = 1083,
                               timestamp = 1114, timestamptz = 1184, interval = 1186, numeric = 1700,
                               uuid = 2950, jsonb = 3802;
}

// One bound parameter: bytes (nullopt = NULL), type OID (0 = let the server infer) and
// format (0 text, 1 binary).
struct Param {
    std::optional<std::string> value;
    std::uint32_t type_oid = 0;
    std::int16_t format = 0;
};

template <typename T, typename Enable = void>
struct Codec;  // specialized in types_builtin.hpp and by users

// Decode with the column name in any error.
template <typename T>
T from_field(std::string_view bytes, std::uint32_t type_oid, bool binary, const std::string& column);

template <typename T>
Param to_param(const T& value) {
    if constexpr (is_optional_v<T>) {
        if (!value) return Param{std::nullopt, 0, 0};
        return Codec<typename T::value_type>::encode(*value);
    } else {
        return Codec<T>::encode(value);
    }
}

}  // namespace pgtls

#include "pgtls/types_builtin.hpp"
