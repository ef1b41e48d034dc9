/// \file
/// Bit strings and money. Included by types.hpp.
///
/// @code{.unparsed}
/// bit, varbit <-> pgtls::BitString (any length; written as varbit, which a bit(n) column takes
///                 by assignment when the length matches)
/// money       <-> pgtls::Money     (int64 in the currency's minor unit)
/// @endcode
///
/// money: binary is exact and locale-free: the int64 the server stores, in units of
/// 10^-frac_digits of lc_monetary's currency (cents for C, en_US and most locales). Text
/// decoding reads the form PostgreSQL prints under lc_monetary C, POSIX or en_US
/// ("$1,234.56", "-$1,234.56"), assuming two fraction digits; under other locales read money
/// in binary format or as std::string. Money is written binary, so the server's locale never
/// reinterprets it.
#pragma once

#include "pgtls/version.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pgtls/types.hpp"

PGTLS_API_BEGIN
namespace pgtls {

/// A bit or varbit value, most significant (leftmost printed) bit first.
struct BitString {
    std::vector<bool> bits;  ///< The bits, leftmost first; the length is the value's length.
    /// Parses "0101" (only '0' and '1'); Error(usage) otherwise.
    static BitString parse(std::string_view text);
    /// "0101", as bit_out prints it.
    std::string str() const;
    bool operator==(const BitString&) const = default;  ///< Equal when the bits are.
};

/// A money value in the minor currency unit (see above).
struct Money {
    std::int64_t units = 0;  ///< The amount in minor units (cents for lc_monetary with 2 digits).
    bool operator==(const Money&) const = default;  ///< Equal when the amounts are.
};

namespace detail {
BitString decode_bits(std::string_view b, std::uint32_t type_oid, bool binary);
std::string bits_binary(const BitString& v);
Money decode_money(std::string_view b, std::uint32_t type_oid, bool binary);
/// cash_out's text under lc_monetary C: "$1,234.56", "-$0.05".
std::string format_money(const Money& v);
}  // namespace detail

/// bit and varbit columns; written binary, typed varbit.
template <>
struct Codec<BitString> {
    /// The PostgreSQL type this codec writes (parameters and array elements).
    static constexpr std::uint32_t type_oid = oid::varbit;
    /// Reads a field of column type `oid` in text or binary format; throws
    /// Error(ErrorKind::usage) when the value does not fit.
    static BitString decode(std::string_view b, std::uint32_t oid, bool binary) { return detail::decode_bits(b, oid, binary); }
    /// The value in PostgreSQL's text input form.
    static std::string encode_text(const BitString& v) { return v.str(); }
    /// The value in PostgreSQL's binary (send/recv) form.
    static std::string encode_binary(const BitString& v) { return detail::bits_binary(v); }
    /// The value as a binary parameter typed as type_oid.
    static Param encode(const BitString& v) { return Param{encode_binary(v), type_oid, 1}; }
};

/// money columns; written binary, typed money.
template <>
struct Codec<Money> {
    /// The PostgreSQL type this codec writes (parameters and array elements).
    static constexpr std::uint32_t type_oid = oid::money;
    /// Reads a field of column type `oid` in text or binary format; throws
    /// Error(ErrorKind::usage) when the value does not fit.
    static Money decode(std::string_view b, std::uint32_t oid, bool binary) { return detail::decode_money(b, oid, binary); }
    /// The value in PostgreSQL's text input form.
    static std::string encode_text(const Money& v) { return detail::format_money(v); }
    /// The value in PostgreSQL's binary (send/recv) form.
    static std::string encode_binary(const Money& v) { return detail::be_bytes(static_cast<std::uint64_t>(v.units), 8); }
    /// The value as a binary parameter typed as type_oid.
    static Param encode(const Money& v) { return Param{encode_binary(v), type_oid, 1}; }
};

}  // namespace pgtls
PGTLS_API_END
