// bit/varbit (bit_in/out, bit_send/recv) and money (cash_out under lc_monetary C; int8 binary).
#include "pgtls/error.hpp"
#include "pgtls/types.hpp"

namespace pgtls {
namespace detail {

namespace {

__extension__ typedef unsigned __int128 uint128;

// PostgreSQL's VARBITMAXLEN: the most bits a varlena can hold.
constexpr std::int64_t max_bit_length = 0x7fffffff - 8 * 8 - 7;

bool text_like(std::uint32_t type_oid) {
    return type_oid == oid::unspecified || type_oid == oid::unknown || type_oid == oid::text || type_oid == oid::varchar ||
           type_oid == oid::bpchar;
}

}  // namespace

BitString decode_bits(std::string_view b, std::uint32_t type_oid, bool binary) {
    if (type_oid == oid::bit || type_oid == oid::varbit) {
        if (!binary) return BitString::parse(b);
        auto bad = [&](const std::string& why) { conversion_error("malformed binary " + type_name(type_oid) + ": " + why); };
        if (b.size() < 4) bad("shorter than its 4-byte length");
        const auto n = static_cast<std::int32_t>(read_be(b, 4));
        if (n < 0 || n > max_bit_length) bad("invalid bit length " + std::to_string(n));
        const std::size_t bytes = (static_cast<std::size_t>(n) + 7) / 8;
        if (b.size() - 4 != bytes)
            bad(std::to_string(n) + " bits need " + std::to_string(bytes) + " bytes, got " + std::to_string(b.size() - 4));
        if (n % 8 != 0 && (static_cast<unsigned char>(b.back()) & (0xffu >> (n % 8))) != 0) bad("padding bits are set");
        BitString v;
        v.bits.resize(static_cast<std::size_t>(n));
        for (std::size_t i = 0; i < v.bits.size(); ++i)
            v.bits[i] = (static_cast<unsigned char>(b[4 + i / 8]) >> (7 - i % 8)) & 1;
        return v;
    }
    if (text_like(type_oid)) return BitString::parse(text_view(b, type_oid, binary));
    conversion_error((binary ? "binary " : "") + type_name(type_oid) + " value is not a bit string");
}

std::string bits_binary(const BitString& v) {
    if (v.bits.size() > static_cast<std::size_t>(max_bit_length)) conversion_error("bit string longer than varbit allows");
    std::string out;
    write_be(out, v.bits.size(), 4);
    out.resize(4 + (v.bits.size() + 7) / 8, '\0');
    for (std::size_t i = 0; i < v.bits.size(); ++i)
        if (v.bits[i]) out[4 + i / 8] = static_cast<char>(out[4 + i / 8] | (0x80 >> (i % 8)));
    return out;
}

Money decode_money(std::string_view b, std::uint32_t type_oid, bool binary) {
    if (type_oid == oid::money && binary) {
        if (b.size() != 8) conversion_error("money value must be 8 bytes, got " + std::to_string(b.size()));
        return Money{static_cast<std::int64_t>(read_be(b, 8))};
    }
    if (type_oid != oid::money && !text_like(type_oid))
        conversion_error((binary ? "binary " : "") + type_name(type_oid) + " value is not money");
    const std::string_view s = text_view(b, type_oid, binary);
    auto bad = [&] {
        conversion_error(quoted(s) + " is not money as lc_monetary C prints it (\"-$1,234.56\"); read it in binary format or as std::string");
    };
    std::size_t i = 0;
    bool negative = false;
    if (i < s.size() && s[i] == '-') negative = true, ++i;
    if (i < s.size() && s[i] == '$') ++i;
    // Whole units with optional "," grouping, then exactly two fraction digits.
    uint128 magnitude = 0;
    std::size_t digits = 0, group = 0;
    bool grouped = false;
    for (; i < s.size() && s[i] != '.'; ++i) {
        if (s[i] == ',') {
            if (digits == 0 || (grouped && group != 3) || (!grouped && group > 3)) bad();
            grouped = true;
            group = 0;
            continue;
        }
        if (s[i] < '0' || s[i] > '9') bad();
        magnitude = magnitude * 10 + static_cast<unsigned>(s[i] - '0');
        if (magnitude > (static_cast<uint128>(1) << 64)) bad();
        ++digits, ++group;
    }
    if (digits == 0 || (grouped && group != 3)) bad();
    if (i + 3 != s.size() || s[i] != '.') bad();
    for (std::size_t k = i + 1; k < s.size(); ++k) {
        if (s[k] < '0' || s[k] > '9') bad();
        magnitude = magnitude * 10 + static_cast<unsigned>(s[k] - '0');
    }
    const uint128 limit = negative ? (static_cast<uint128>(1) << 63) : (static_cast<uint128>(1) << 63) - 1;
    if (magnitude > limit) conversion_error(quoted(s) + " is out of range for money");
    const auto u = static_cast<std::uint64_t>(magnitude);
    return Money{negative ? static_cast<std::int64_t>(0 - u) : static_cast<std::int64_t>(u)};
}

std::string format_money(const Money& v) {
    const std::uint64_t magnitude = v.units < 0 ? 0 - static_cast<std::uint64_t>(v.units) : static_cast<std::uint64_t>(v.units);
    const std::string digits = std::to_string(magnitude / 100);
    std::string whole;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i != 0 && (digits.size() - i) % 3 == 0) whole.push_back(',');
        whole.push_back(digits[i]);
    }
    const unsigned cents = static_cast<unsigned>(magnitude % 100);
    return std::string(v.units < 0 ? "-$" : "$") + whole + "." + static_cast<char>('0' + cents / 10) +
           static_cast<char>('0' + cents % 10);
}

}  // namespace detail

BitString BitString::parse(std::string_view text) {
    BitString v;
    v.bits.reserve(text.size());
    for (const char c : text) {
        if (c != '0' && c != '1') detail::conversion_error(detail::quoted(text) + " is not a valid bit string");
        v.bits.push_back(c == '1');
    }
    return v;
}

std::string BitString::str() const {
    std::string out;
    out.reserve(bits.size());
    for (const bool b : bits) out.push_back(b ? '1' : '0');
    return out;
}

}  // namespace pgtls
