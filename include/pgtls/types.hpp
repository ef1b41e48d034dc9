/// \file
/// pgtls — conversions between C++ values and PostgreSQL's text/binary formats.
///
/// Reading: Field::as<T>() calls Codec<T>::decode(bytes, column type OID, binary?). A column
/// decodes to the same C++ value whichever format the server used. A value that does not fit
/// T (out of range, wrong type, wrong binary length, garbage text) throws
/// pgtls::Error(ErrorKind::usage); nothing is silently truncated. NULL needs std::optional<T>.
/// Text-format decoding assumes the server defaults DateStyle=ISO and IntervalStyle=postgres
/// (or iso_8601); binary is exact regardless. Type OID 0 in text format means "parse by content".
///
/// Writing: to_param(v) calls Codec<T>::encode(v), which picks the exact, cheaper format
/// (binary for numbers, dates, uuid, bytea, arrays; text for numeric and json).
/// text_param(v) / binary_param(v) force a format for built-in types.
///
/// @code{.unparsed}
/// C++ type                         PostgreSQL type(s)
/// bool                             bool
/// int16/int32/int64 (and smaller)  int2, int4, int8 (also oid, numeric when integral)
/// unsigned integers                read from int2/int4/int8/oid; sent as text (server infers)
/// float, double                    float4, float8 (also integers and numeric, range-checked)
/// Oid                              oid
/// Numeric                          numeric (exact, keeps scale; NaN, ±Infinity)
/// std::string, std::string_view    text, varchar, bpchar, name, "char", json, unknown; bytea
///                                  decodes to its raw bytes; jsonb binary drops its version byte
/// char                             "char"
/// Json                             json, jsonb
/// Bytea, std::vector<std::byte>,
///   std::vector<std::uint8_t>,
///   std::vector<char>              bytea (hex and escape text forms, binary)
/// std::chrono::sys_days,
///   std::chrono::local_days,
///   std::chrono::year_month_day    date (sys_days::max()/min() are ±infinity)
/// std::chrono::local_time<D>       timestamp (time_point max()/min() are ±infinity);
///                                  pgtls::Timestamp = local_time<microseconds>
/// std::chrono::sys_time<D>         timestamptz (UTC); also reads timestamp as if UTC;
///                                  pgtls::TimestampTz = sys_time<microseconds>
/// Time                             time (microseconds since midnight)
/// Interval                         interval (months, days, microseconds)
/// std::chrono::duration<R, P>      interval without months (a day counts 24 h); time
/// Uuid                             uuid
/// std::vector<T>,
///   std::vector<std::optional<T>>  one-dimensional arrays of any of the above
/// @endcode
///
/// Extend with your own type by specializing pgtls::Codec<T> (after including this header):
///
/// @code
///   struct Point2 { double x, y; };
///   template <> struct pgtls::Codec<Point2> {
///       // bytes is the field in the column's format; throw via pgtls::detail::conversion_error
///       // (an Error(ErrorKind::usage)) when it does not fit.
///       static Point2 decode(std::string_view bytes, std::uint32_t type_oid, bool binary) {
///           if (binary) pgtls::detail::conversion_error("Point2 reads text format only");
///           double x = 0, y = 0;
///           if (std::sscanf(std::string(bytes).c_str(), "(%lf,%lf)", &x, &y) != 2)
///               pgtls::detail::conversion_error("\"" + std::string(bytes) + "\" is not a point");
///           return {x, y};
///       }
///       static pgtls::Param encode(const Point2& p) {
///           return pgtls::Param{"(" + std::to_string(p.x) + "," + std::to_string(p.y) + ")", 600, 0};
///       }
///   };
/// @endcode
///
/// A user codec works in Field::as<Point2>(), to_param(), and inside std::vector<Point2>
/// (sent as a text-format array literal). Built-in codecs additionally expose `type_oid`,
/// `encode_text` and `encode_binary`; a user codec that defines them gets binary arrays too.
#pragma once

#include "pgtls/version.hpp"

#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

PGTLS_API_BEGIN
namespace pgtls {

/// True for std::optional<U>: a codec's parameter that may be NULL.
template <typename T>
struct is_optional : std::false_type {};
template <typename T>
struct is_optional<std::optional<T>> : std::true_type {};
/// is_optional<T>::value.
template <typename T>
inline constexpr bool is_optional_v = is_optional<T>::value;

/// Well-known type OIDs (pg_type.dat).
namespace oid {
/// @{
/// Scalar types: `unspecified` (0) lets the server infer a parameter's type; the others are
/// the built-in types of the same name (`bool_`, `char_`, `oid_` carry a _ to avoid keywords).
inline constexpr std::uint32_t unspecified = 0, bool_ = 16, bytea = 17, char_ = 18, name = 19, int8 = 20,
                               int2 = 21, int4 = 23, text = 25, oid_ = 26, json = 114, xml = 142, float4 = 700,
                               float8 = 701, unknown = 705, varchar = 1043, bpchar = 1042, date = 1082, time = 1083,
                               timestamp = 1114, timestamptz = 1184, interval = 1186, numeric = 1700,
                               uuid = 2950, jsonb = 3802;
/// @}
/// @{
/// Network addresses, bit strings, money (types_network.hpp, types_bits.hpp).
inline constexpr std::uint32_t inet = 869, cidr = 650, macaddr = 829, macaddr8 = 774, bit = 1560, varbit = 1562,
                               money = 790;
/// @}
/// @{
/// Arrays of the network, bit string and money types.
inline constexpr std::uint32_t inet_array = 1041, cidr_array = 651, macaddr_array = 1040, macaddr8_array = 775,
                               bit_array = 1561, varbit_array = 1563, money_array = 791;
/// @}
/// @{
/// Ranges of the built-in element types (types_range.hpp).
inline constexpr std::uint32_t int4range = 3904, numrange = 3906, tsrange = 3908, tstzrange = 3910, daterange = 3912,
                               int8range = 3926;
/// @}
/// @{
/// Arrays of the range types.
inline constexpr std::uint32_t int4range_array = 3905, numrange_array = 3907, tsrange_array = 3909,
                               tstzrange_array = 3911, daterange_array = 3913, int8range_array = 3927;
/// @}
/// @{
/// Multiranges of the built-in element types (types_range.hpp).
inline constexpr std::uint32_t int4multirange = 4451, nummultirange = 4532, tsmultirange = 4533,
                               tstzmultirange = 4534, datemultirange = 4535, int8multirange = 4536;
/// @}
/// @{
/// Arrays of the multirange types.
inline constexpr std::uint32_t int4multirange_array = 6150, nummultirange_array = 6151, tsmultirange_array = 6152,
                               tstzmultirange_array = 6153, datemultirange_array = 6155, int8multirange_array = 6157;
/// @}
/// @{
/// Composite values of any row type ("record") and their arrays.
inline constexpr std::uint32_t record = 2249, record_array = 2287;
/// @}
/// @{
/// Array types of the scalar types above.
inline constexpr std::uint32_t json_array = 199, xml_array = 143, bool_array = 1000, bytea_array = 1001,
                               char_array = 1002, name_array = 1003, int2_array = 1005, int4_array = 1007,
                               text_array = 1009, bpchar_array = 1014, varchar_array = 1015, int8_array = 1016,
                               float4_array = 1021, float8_array = 1022, oid_array = 1028,
                               timestamp_array = 1115, date_array = 1182, time_array = 1183,
                               timestamptz_array = 1185, interval_array = 1187, numeric_array = 1231,
                               uuid_array = 2951, jsonb_array = 3807;
/// @}
/// Array type of a built-in element type, or 0 if unknown.
constexpr std::uint32_t array_of(std::uint32_t element) {
    switch (element) {
        case json: return json_array;
        case xml: return xml_array;
        case bool_: return bool_array;
        case bytea: return bytea_array;
        case char_: return char_array;
        case name: return name_array;
        case int2: return int2_array;
        case int4: return int4_array;
        case text: return text_array;
        case bpchar: return bpchar_array;
        case varchar: return varchar_array;
        case int8: return int8_array;
        case float4: return float4_array;
        case float8: return float8_array;
        case oid_: return oid_array;
        case timestamp: return timestamp_array;
        case date: return date_array;
        case time: return time_array;
        case timestamptz: return timestamptz_array;
        case interval: return interval_array;
        case numeric: return numeric_array;
        case uuid: return uuid_array;
        case jsonb: return jsonb_array;
        case inet: return inet_array;
        case cidr: return cidr_array;
        case macaddr: return macaddr_array;
        case macaddr8: return macaddr8_array;
        case bit: return bit_array;
        case varbit: return varbit_array;
        case money: return money_array;
        case int4range: return int4range_array;
        case numrange: return numrange_array;
        case tsrange: return tsrange_array;
        case tstzrange: return tstzrange_array;
        case daterange: return daterange_array;
        case int8range: return int8range_array;
        case int4multirange: return int4multirange_array;
        case nummultirange: return nummultirange_array;
        case tsmultirange: return tsmultirange_array;
        case tstzmultirange: return tstzmultirange_array;
        case datemultirange: return datemultirange_array;
        case int8multirange: return int8multirange_array;
        case record: return record_array;
        default: return 0;
    }
}
/// Element type of a built-in array type, or 0 if `array` is not one.
constexpr std::uint32_t element_of(std::uint32_t array) {
    switch (array) {
        case json_array: return json;
        case xml_array: return xml;
        case bool_array: return bool_;
        case bytea_array: return bytea;
        case char_array: return char_;
        case name_array: return name;
        case int2_array: return int2;
        case int4_array: return int4;
        case text_array: return text;
        case bpchar_array: return bpchar;
        case varchar_array: return varchar;
        case int8_array: return int8;
        case float4_array: return float4;
        case float8_array: return float8;
        case oid_array: return oid_;
        case timestamp_array: return timestamp;
        case date_array: return date;
        case time_array: return time;
        case timestamptz_array: return timestamptz;
        case interval_array: return interval;
        case numeric_array: return numeric;
        case uuid_array: return uuid;
        case jsonb_array: return jsonb;
        case inet_array: return inet;
        case cidr_array: return cidr;
        case macaddr_array: return macaddr;
        case macaddr8_array: return macaddr8;
        case bit_array: return bit;
        case varbit_array: return varbit;
        case money_array: return money;
        case int4range_array: return int4range;
        case numrange_array: return numrange;
        case tsrange_array: return tsrange;
        case tstzrange_array: return tstzrange;
        case daterange_array: return daterange;
        case int8range_array: return int8range;
        case int4multirange_array: return int4multirange;
        case nummultirange_array: return nummultirange;
        case tsmultirange_array: return tsmultirange;
        case tstzmultirange_array: return tstzmultirange;
        case datemultirange_array: return datemultirange;
        case int8multirange_array: return int8multirange;
        case record_array: return record;
        default: return 0;
    }
}
}  // namespace oid

/// One bound parameter: bytes (nullopt = NULL), type OID (0 = let the server infer) and
/// format (0 text, 1 binary).
struct Param {
    std::optional<std::string> value;  ///< The bytes in `format`; nullopt sends NULL.
    std::uint32_t type_oid = 0;        ///< The parameter's type; 0 lets the server infer it.
    std::int16_t format = 0;           ///< 0 text, 1 binary.
};

template <typename T, typename Enable = void>
struct Codec;  ///< specialized in types_builtin.hpp and by users

/// Decode with the column name in any error.
template <typename T>
T from_field(std::string_view bytes, std::uint32_t type_oid, bool binary, const std::string& column);

/// `value` as a parameter, through Codec<T>::encode (std::optional: nullopt is NULL). The
/// codec picks the format; see text_param() and binary_param() to force one.
template <typename T>
Param to_param(const T& value) {
    if constexpr (is_optional_v<T>) {
        if (!value) return Param{std::nullopt, 0, 0};
        return Codec<typename T::value_type>::encode(*value);
    } else {
        return Codec<T>::encode(value);
    }
}

/// Codecs that can write a given format (all built-ins have encode_text; most encode_binary).
template <typename T>
concept text_encodable = requires(const T& v) {
    { Codec<T>::encode_text(v) } -> std::convertible_to<std::string>;
};
template <typename T>
concept binary_encodable = requires(const T& v) {
    { Codec<T>::encode_binary(v) } -> std::convertible_to<std::string>;
    { Codec<T>::type_oid } -> std::convertible_to<std::uint32_t>;
};
template <typename T>
concept has_type_oid = requires {
    { Codec<T>::type_oid } -> std::convertible_to<std::uint32_t>;
};

/// Codec<T>::type_oid, or 0 (untyped) for a codec without one.
template <typename T>
constexpr std::uint32_t codec_type_oid() {
    if constexpr (has_type_oid<T>) return Codec<T>::type_oid;
    else return 0;
}

/// `value` in text format, typed with its codec's type OID (0 when it has none).
template <typename T>
Param text_param(const T& value) {
    if constexpr (is_optional_v<T>) {
        if (!value) return Param{std::nullopt, 0, 0};
        return text_param(*value);
    } else {
        static_assert(text_encodable<T>, "Codec<T> has no encode_text");
        return Param{std::string(Codec<T>::encode_text(value)), codec_type_oid<T>(), 0};
    }
}

/// `value` in binary format with its codec's type OID.
template <typename T>
Param binary_param(const T& value) {
    if constexpr (is_optional_v<T>) {
        if (!value) return Param{std::nullopt, 0, 1};
        return binary_param(*value);
    } else {
        static_assert(binary_encodable<T>, "Codec<T> has no encode_binary");
        return Param{std::string(Codec<T>::encode_binary(value)), Codec<T>::type_oid, 1};
    }
}

}  // namespace pgtls

#include "pgtls/types_builtin.hpp"
PGTLS_API_END
