/// \file
/// Ranges and multiranges. Included by types.hpp.
///
/// @code{.unparsed}
/// int4range <-> Range<std::int32_t>    int8range <-> Range<std::int64_t>    numrange <-> Range<Numeric>
/// daterange <-> Range<std::chrono::sys_days>   tsrange <-> Range<Timestamp>  tstzrange <-> Range<TimestampTz>
/// @endcode
/// and the multiranges of each (PostgreSQL 14+) <-> Multirange<T>.
///
/// An unbounded side is nullopt (PostgreSQL's "(,5]"); an infinite date or timestamp bound is a
/// value (sys_days::max(), see types_datetime.hpp), as PostgreSQL keeps them apart. The server
/// canonicalizes discrete ranges (int4range, int8range, daterange) to "[lower,upper)" and
/// clears the inclusive flag of an unbounded side; values read back are in that form. Text is
/// range_out's "[1,5)" / "empty" (bounds quoted as the server quotes them); binary is
/// range_send's flags byte and length-prefixed bounds. A lower bound above the upper one (for
/// ordered T), unknown flag bits, or lengths disagreeing with the data are Error(usage).
/// Written binary and typed when T is one of the element types above, else as untyped text.
#pragma once

#include "pgtls/version.hpp"

#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgtls/error.hpp"
#include "pgtls/types.hpp"

PGTLS_API_BEGIN
namespace pgtls {

/// A range of T: empty, or bounds (nullopt = unbounded) with inclusive flags.
template <typename T>
struct Range {
    std::optional<T> lower;        ///< The lower bound; nullopt is unbounded.
    std::optional<T> upper;        ///< The upper bound; nullopt is unbounded.
    bool lower_inclusive = true;   ///< `[` rather than `(`.
    bool upper_inclusive = false;  ///< `]` rather than `)`.
    bool empty = false;            ///< The empty range (the bounds are then ignored).
    /// The empty range.
    static Range make_empty() {
        Range r;
        r.empty = true;
        r.lower_inclusive = false;
        return r;
    }
    bool operator==(const Range&) const = default;  ///< Equal when all fields are (compare canonical forms: the server normalizes discrete ranges).
};

/// A multirange: its ranges in order (the server sorts and merges them).
template <typename T>
struct Multirange {
    std::vector<Range<T>> ranges;  ///< The ranges, in order.
    bool operator==(const Multirange&) const = default;  ///< Equal when the ranges are.
};

namespace oid {
/// The range type over a built-in element type, or 0.
constexpr std::uint32_t range_of(std::uint32_t element) {
    switch (element) {
        case int4: return int4range;
        case int8: return int8range;
        case numeric: return numrange;
        case date: return daterange;
        case timestamp: return tsrange;
        case timestamptz: return tstzrange;
        default: return 0;
    }
}
/// The element type of a built-in range type, or 0.
constexpr std::uint32_t range_element_of(std::uint32_t range) {
    switch (range) {
        case int4range: return int4;
        case int8range: return int8;
        case numrange: return numeric;
        case daterange: return date;
        case tsrange: return timestamp;
        case tstzrange: return timestamptz;
        default: return 0;
    }
}
/// The multirange type of a built-in range type, or 0.
constexpr std::uint32_t multirange_of(std::uint32_t range) {
    switch (range) {
        case int4range: return int4multirange;
        case int8range: return int8multirange;
        case numrange: return nummultirange;
        case daterange: return datemultirange;
        case tsrange: return tsmultirange;
        case tstzrange: return tstzmultirange;
        default: return 0;
    }
}
/// The range type of a built-in multirange type, or 0.
constexpr std::uint32_t multirange_range_of(std::uint32_t multirange) {
    switch (multirange) {
        case int4multirange: return int4range;
        case int8multirange: return int8range;
        case nummultirange: return numrange;
        case datemultirange: return daterange;
        case tsmultirange: return tsrange;
        case tstzmultirange: return tstzrange;
        default: return 0;
    }
}
}  // namespace oid

namespace detail {

/// A range split into its parts: bounds as their field bytes (text unquoted).
struct RangeParts {
    bool empty = false;
    bool lower_inclusive = false;
    bool upper_inclusive = false;
    std::optional<std::string> lower;
    std::optional<std::string> upper;
};

void parse_binary_range(std::string_view b, std::uint32_t type_oid, RangeParts& out);
void parse_text_range(std::string_view b, std::uint32_t type_oid, RangeParts& out);
std::string range_text(const RangeParts& parts);
std::string range_binary(const RangeParts& parts);
/// Splits a multirange into its ranges' bytes (binary: each range_send value; text: each literal).
void parse_binary_multirange(std::string_view b, std::uint32_t type_oid, std::vector<std::string_view>& out);
void parse_text_multirange(std::string_view b, std::uint32_t type_oid, std::vector<std::string_view>& out);
[[noreturn]] void range_error(std::uint32_t type_oid, const std::string& what);

}  // namespace detail

/// Range<T> for any T with a codec; typed and binary for the built-in range element types.
template <typename T>
struct Codec<Range<T>> {
    /// The PostgreSQL type this codec writes (parameters and array elements).
    static constexpr std::uint32_t type_oid = oid::range_of(codec_type_oid<T>());

    /// Reads a field of column type `oid` in text or binary format; throws
    /// Error(ErrorKind::usage) when the value does not fit.
    static Range<T> decode(std::string_view b, std::uint32_t oid, bool binary) {
        detail::RangeParts parts;
        if (binary) detail::parse_binary_range(b, oid, parts);
        else detail::parse_text_range(b, oid, parts);
        if (parts.empty) return Range<T>::make_empty();
        std::uint32_t element = oid::range_element_of(oid);
        if (element == 0 && binary) element = codec_type_oid<T>();
        Range<T> r;
        r.lower_inclusive = parts.lower_inclusive;
        r.upper_inclusive = parts.upper_inclusive;
        r.lower = bound(parts.lower, element, binary, oid, "lower");
        r.upper = bound(parts.upper, element, binary, oid, "upper");
        if constexpr (std::totally_ordered<T>) {
            if (r.lower && r.upper && *r.upper < *r.lower)
                detail::range_error(oid, "lower bound is above the upper bound");
        }
        return r;
    }

    /// The value in PostgreSQL's text input form.
    static std::string encode_text(const Range<T>& v) {
        detail::RangeParts parts = split(v);
        if (!parts.empty) {
            if (v.lower) parts.lower = text_of(*v.lower);
            if (v.upper) parts.upper = text_of(*v.upper);
        }
        return detail::range_text(parts);
    }

    /// The value in PostgreSQL's binary (send/recv) form.
    static std::string encode_binary(const Range<T>& v)
        requires binary_encodable<T>
    {
        detail::RangeParts parts = split(v);
        if (!parts.empty) {
            if (v.lower) parts.lower = Codec<T>::encode_binary(*v.lower);
            if (v.upper) parts.upper = Codec<T>::encode_binary(*v.upper);
        }
        return detail::range_binary(parts);
    }

    /// Binary and typed for the built-in range element types; otherwise untyped text.
    static Param encode(const Range<T>& v) {
        if constexpr (type_oid != 0 && binary_encodable<T>) return Param{encode_binary(v), type_oid, 1};
        else return Param{encode_text(v), 0, 0};
    }

private:
    static detail::RangeParts split(const Range<T>& v) {
        detail::RangeParts parts;
        parts.empty = v.empty;
        parts.lower_inclusive = v.lower_inclusive && v.lower.has_value();
        parts.upper_inclusive = v.upper_inclusive && v.upper.has_value();
        return parts;
    }
    static std::string text_of(const T& v) {
        if constexpr (text_encodable<T>) {
            return std::string(Codec<T>::encode_text(v));
        } else {
            Param p = Codec<T>::encode(v);
            if (!p.value || p.format != 0) throw Error(ErrorKind::usage, "range bound codec writes no text; give it encode_text");
            return std::move(*p.value);
        }
    }
    static std::optional<T> bound(const std::optional<std::string>& bytes, std::uint32_t element, bool binary,
                                  std::uint32_t oid, const char* which) {
        if (!bytes) return std::nullopt;
        try {
            return Codec<T>::decode(*bytes, element, binary);
        } catch (const Error& e) {
            detail::range_error(oid, std::string(which) + " bound: " + e.what());
        }
    }
};

/// Multirange<T>: typed and binary for the built-in range element types.
template <typename T>
struct Codec<Multirange<T>> {
    /// The PostgreSQL type this codec writes (parameters and array elements).
    static constexpr std::uint32_t type_oid = oid::multirange_of(Codec<Range<T>>::type_oid);

    /// Reads a field of column type `oid` in text or binary format; throws
    /// Error(ErrorKind::usage) when the value does not fit.
    static Multirange<T> decode(std::string_view b, std::uint32_t oid, bool binary) {
        std::vector<std::string_view> parts;
        if (binary) detail::parse_binary_multirange(b, oid, parts);
        else detail::parse_text_multirange(b, oid, parts);
        std::uint32_t range_oid = oid::multirange_range_of(oid);
        if (range_oid == 0) range_oid = Codec<Range<T>>::type_oid;
        Multirange<T> m;
        m.ranges.reserve(parts.size());
        for (const std::string_view p : parts) m.ranges.push_back(Codec<Range<T>>::decode(p, range_oid, binary));
        return m;
    }

    /// The value in PostgreSQL's text input form.
    static std::string encode_text(const Multirange<T>& v) {
        std::string out = "{";
        for (std::size_t i = 0; i < v.ranges.size(); ++i) {
            if (i) out.push_back(',');
            out += Codec<Range<T>>::encode_text(v.ranges[i]);
        }
        out.push_back('}');
        return out;
    }

    /// The value in PostgreSQL's binary (send/recv) form.
    static std::string encode_binary(const Multirange<T>& v)
        requires binary_encodable<T>
    {
        std::string out;
        detail::write_be(out, v.ranges.size(), 4);
        for (const Range<T>& r : v.ranges) {
            const std::string bytes = Codec<Range<T>>::encode_binary(r);
            detail::write_be(out, bytes.size(), 4);
            out += bytes;
        }
        return out;
    }

    /// Binary and typed for the built-in range element types; otherwise untyped text.
    static Param encode(const Multirange<T>& v) {
        if constexpr (type_oid != 0 && binary_encodable<T>) return Param{encode_binary(v), type_oid, 1};
        else return Param{encode_text(v), 0, 0};
    }
};

}  // namespace pgtls
PGTLS_API_END
