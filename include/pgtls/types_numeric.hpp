/// \file
/// pgtls::Numeric — PostgreSQL numeric, exactly. Included by types.hpp.
#pragma once

#include "pgtls/version.hpp"

#include <cstdint>
#include <string>
#include <string_view>

#include "pgtls/types.hpp"

PGTLS_API_BEGIN
namespace pgtls {

/// An exact decimal held as PostgreSQL's canonical text: "-12.3400", "0", "NaN", "Infinity",
/// "-Infinity". The scale (digits after the point) is kept, so 1.0 and 1.00 compare unequal,
/// as their text differs; compare by value in SQL if that matters.
/// A PostgreSQL numeric, kept exactly as its canonical decimal text (NaN, Infinity and
/// -Infinity included): no rounding through binary floating point.
class Numeric {
public:
    Numeric() = default;  ///< 0
    /// Accepts what numeric_in accepts: optional sign, digits with an optional point, an
    /// optional exponent (1.5e-3), surrounding spaces, NaN/Infinity/inf (any case).
    /// Throws Error(usage) on anything else.
    explicit Numeric(std::string_view decimal);
    explicit Numeric(std::int64_t v);  ///< The integer `v`, exactly.
    /// The shortest decimal that reads back as `v`; NaN and ±infinity map to the numeric ones.
    static Numeric from_double(double v);

    /// The canonical text, as numeric_out prints it ("-1.50", "NaN", "Infinity").
    const std::string& str() const noexcept { return text_; }
    bool is_nan() const noexcept { return text_ == "NaN"; }  ///< True for NaN.
    /// True for Infinity and -Infinity.
    bool is_infinite() const noexcept { return text_ == "Infinity" || text_ == "-Infinity"; }
    /// True below zero, and for -Infinity.
    bool is_negative() const noexcept { return !text_.empty() && text_[0] == '-'; }
    /// Digits after the decimal point (PostgreSQL's dscale); 0 for NaN and infinities.
    int scale() const noexcept;

    /// Nearest double; NaN/±Infinity map to the double ones. Error if beyond double's range.
    double to_double() const;
    /// Error unless the value is an integer (any zero fraction is fine) within int64.
    std::int64_t to_int64() const;

    /// PostgreSQL's binary numeric (numeric_send) form, and parsing it (numeric_recv).
    std::string to_binary() const;
    /// Error(usage) when `bytes` is not a valid numeric_send form.
    static Numeric from_binary(std::string_view bytes);

    bool operator==(const Numeric&) const = default;  ///< Equal when the canonical texts are (1.0 and 1.00 differ: the scale is kept).

private:
    std::string text_ = "0";
};

/// Numeric <-> numeric, text and binary; sent as text, typed numeric.
template <>
struct Codec<Numeric> {
    /// The PostgreSQL type this codec writes (parameters and array elements).
    static constexpr std::uint32_t type_oid = oid::numeric;
    /// numeric columns, and integer columns (exact).
    static Numeric decode(std::string_view b, std::uint32_t oid, bool binary);
    /// The value in PostgreSQL's text input form.
    static std::string encode_text(const Numeric& v) { return v.str(); }
    /// The value in PostgreSQL's binary (send/recv) form.
    static std::string encode_binary(const Numeric& v) { return v.to_binary(); }
    /// The value as a text parameter typed as type_oid.
    static Param encode(const Numeric& v) { return Param{v.str(), type_oid, 0}; }
};

}  // namespace pgtls
PGTLS_API_END
