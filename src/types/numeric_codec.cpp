// pgtls::Numeric: canonical text, PostgreSQL's binary numeric (base-10000 digits), checked
// conversions.
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "pgtls/error.hpp"
#include "pgtls/types.hpp"

namespace pgtls {

namespace {

using detail::conversion_error;
using detail::quoted;

constexpr std::uint16_t sign_pos = 0x0000, sign_neg = 0x4000, sign_nan = 0xC000, sign_pinf = 0xD000,
                        sign_ninf = 0xF000;
// numeric_in's limit on an exponent (INT_MAX / 2, exclusive); the value must still fit below.
constexpr long max_exponent = 0x7fffffff / 2 - 1;
// numeric's display scale limit (NUMERIC_DSCALE_MASK).
constexpr int max_dscale = 0x3FFF;
// Digits before the point of the largest numeric: weight 32767 in base-10000 digits.
constexpr long max_integer_digits = (0x7FFF + 1) * 4;

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Canonical text of a finite decimal given its digits and the count of them before the point
// (`point` may be <= 0 or > digits.size()), showing exactly `scale` fraction digits.
std::string canonical(bool negative, std::string_view digits, long point, long scale) {
    std::string out;
    if (point <= 0) {
        out = "0";
    } else {
        for (long i = 0; i < point; ++i) out.push_back(i < static_cast<long>(digits.size()) ? digits[static_cast<std::size_t>(i)] : '0');
        const auto nz = out.find_first_not_of('0');
        out.erase(0, nz == std::string::npos ? out.size() - 1 : nz);
    }
    if (scale > 0) {
        out.push_back('.');
        for (long k = 0; k < scale; ++k) {
            const long idx = point + k;
            out.push_back(idx >= 0 && idx < static_cast<long>(digits.size()) ? digits[static_cast<std::size_t>(idx)] : '0');
        }
    }
    const bool zero = out.find_first_not_of("0.") == std::string::npos;
    if (negative && !zero) out.insert(0, "-");
    return out;
}

}  // namespace

Numeric::Numeric(std::string_view in) {
    std::string_view s = in;
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    if (iequals(s, "nan")) {
        text_ = "NaN";
        return;
    }
    if (iequals(s, "infinity") || iequals(s, "+infinity") || iequals(s, "inf") || iequals(s, "+inf")) {
        text_ = "Infinity";
        return;
    }
    if (iequals(s, "-infinity") || iequals(s, "-inf")) {
        text_ = "-Infinity";
        return;
    }
    std::size_t i = 0;
    bool negative = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
    std::string digits;
    long int_digits = 0, frac_digits = 0;
    while (i < s.size() && is_digit(s[i])) {
        digits.push_back(s[i++]);
        ++int_digits;
    }
    if (i < s.size() && s[i] == '.') {
        ++i;
        while (i < s.size() && is_digit(s[i])) {
            digits.push_back(s[i++]);
            ++frac_digits;
        }
    }
    if (digits.empty()) conversion_error(quoted(in) + " is not a numeric value");
    long exponent = 0;
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        bool exp_negative = false;
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) exp_negative = s[i++] == '-';
        if (i == s.size() || !is_digit(s[i])) conversion_error(quoted(in) + " is not a numeric value");
        while (i < s.size() && is_digit(s[i])) {
            exponent = exponent * 10 + (s[i++] - '0');
            if (exponent > max_exponent) conversion_error(quoted(in) + ": exponent out of range");
        }
        if (exp_negative) exponent = -exponent;
    }
    if (i != s.size()) conversion_error(quoted(in) + " is not a numeric value");
    const long scale = std::max(0L, frac_digits - exponent);
    if (scale > max_dscale) conversion_error(quoted(in) + ": scale out of range");
    long point = int_digits + exponent;
    const auto first_nonzero = static_cast<long>(std::min(digits.find_first_not_of('0'), digits.size()));
    if (first_nonzero == static_cast<long>(digits.size())) point = std::min(point, first_nonzero);  // zero: "0" and the scale's zeros
    else if (point - first_nonzero > max_integer_digits) conversion_error(quoted(in) + ": value overflows numeric format");
    text_ = canonical(negative, digits, point, scale);
}

Numeric::Numeric(std::int64_t v) : text_(std::to_string(v)) {}

Numeric Numeric::from_double(double v) {
    if (std::isnan(v)) return Numeric("NaN");
    if (std::isinf(v)) return Numeric(v < 0 ? "-Infinity" : "Infinity");
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
    return Numeric(std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
}

int Numeric::scale() const noexcept {
    const auto dot = text_.find('.');
    return dot == std::string::npos ? 0 : static_cast<int>(text_.size() - dot - 1);
}

double Numeric::to_double() const {
    if (is_nan()) return std::nan("");
    if (text_ == "Infinity") return INFINITY;
    if (text_ == "-Infinity") return -INFINITY;
    double d = 0;
    const auto r = std::from_chars(text_.data(), text_.data() + text_.size(), d);
    if (r.ec == std::errc::result_out_of_range) {
        // Underflow rounds to zero like any other tiny value; overflow does not fit.
        const bool below_one = text_.compare(is_negative() ? 1 : 0, 2, "0.") == 0;
        if (!below_one) conversion_error("numeric " + quoted(text_) + " is out of range for double");
        return is_negative() ? -0.0 : 0.0;
    }
    if (r.ec != std::errc()) conversion_error("numeric " + quoted(text_) + " is not convertible to double");
    return d;
}

std::int64_t Numeric::to_int64() const {
    if (is_nan() || is_infinite()) conversion_error("numeric " + text_ + " is not an integer");
    const auto dot = text_.find('.');
    if (dot != std::string::npos && text_.find_first_not_of('0', dot + 1) != std::string::npos)
        conversion_error("numeric " + quoted(text_) + " has a fractional part");
    const std::size_t end = dot == std::string::npos ? text_.size() : dot;
    std::int64_t v = 0;
    const auto r = std::from_chars(text_.data(), text_.data() + end, v);
    if (r.ec == std::errc::result_out_of_range) conversion_error("numeric " + quoted(text_) + " is out of range for int64");
    if (r.ec != std::errc() || r.ptr != text_.data() + end) conversion_error("numeric " + quoted(text_) + " is not an integer");
    return v;
}

std::string Numeric::to_binary() const {
    std::uint16_t sign = sign_pos;
    if (is_nan()) sign = sign_nan;
    else if (text_ == "Infinity") sign = sign_pinf;
    else if (text_ == "-Infinity") sign = sign_ninf;
    if (sign != sign_pos) {
        std::string out;
        detail::write_be(out, 0, 2);
        detail::write_be(out, 0, 2);
        detail::write_be(out, sign, 2);
        detail::write_be(out, 0, 2);
        return out;
    }
    std::string_view t = text_;
    if (is_negative()) {
        sign = sign_neg;
        t.remove_prefix(1);
    }
    const auto dot = t.find('.');
    std::string ip(t.substr(0, dot));
    std::string fp(dot == std::string_view::npos ? std::string_view() : t.substr(dot + 1));
    const std::size_t dscale = fp.size();
    ip.insert(0, (4 - ip.size() % 4) % 4, '0');
    fp.append((4 - fp.size() % 4) % 4, '0');
    std::vector<std::uint16_t> digits;
    auto group = [](const std::string& s, std::size_t at) {
        return static_cast<std::uint16_t>((s[at] - '0') * 1000 + (s[at + 1] - '0') * 100 + (s[at + 2] - '0') * 10 +
                                          (s[at + 3] - '0'));
    };
    for (std::size_t k = 0; k < ip.size(); k += 4) digits.push_back(group(ip, k));
    for (std::size_t k = 0; k < fp.size(); k += 4) digits.push_back(group(fp, k));
    long weight = static_cast<long>(ip.size() / 4) - 1;
    std::size_t first = 0;
    while (first < digits.size() && digits[first] == 0) {
        ++first;
        --weight;
    }
    std::size_t last = digits.size();
    while (last > first && digits[last - 1] == 0) --last;
    if (first == last) {
        weight = 0;
        sign = sign_pos;
    }
    if (weight > std::numeric_limits<std::int16_t>::max() || weight < std::numeric_limits<std::int16_t>::min())
        conversion_error("numeric " + quoted(text_) + " is too large for the binary format");
    std::string out;
    detail::write_be(out, last - first, 2);
    detail::write_be(out, static_cast<std::uint16_t>(static_cast<std::int16_t>(weight)), 2);
    detail::write_be(out, sign, 2);
    detail::write_be(out, dscale, 2);
    for (std::size_t k = first; k < last; ++k) detail::write_be(out, digits[k], 2);
    return out;
}

Numeric Numeric::from_binary(std::string_view b) {
    if (b.size() < 8) conversion_error("binary numeric value is shorter than its 8-byte header");
    const auto ndigits = static_cast<std::size_t>(detail::read_be(b.substr(0, 2), 2));
    const auto weight = static_cast<std::int16_t>(detail::read_be(b.substr(2, 2), 2));
    const auto sign = static_cast<std::uint16_t>(detail::read_be(b.substr(4, 2), 2));
    const auto dscale = static_cast<std::uint16_t>(detail::read_be(b.substr(6, 2), 2));
    if (b.size() != 8 + 2 * ndigits)
        conversion_error("binary numeric value has " + std::to_string(b.size()) + " bytes for " + std::to_string(ndigits) +
                         " digits");
    Numeric n;
    switch (sign) {
        case sign_nan: n.text_ = "NaN"; return n;
        case sign_pinf: n.text_ = "Infinity"; return n;
        case sign_ninf: n.text_ = "-Infinity"; return n;
        case sign_pos:
        case sign_neg: break;
        default: conversion_error("binary numeric value has an invalid sign");
    }
    if (dscale > max_dscale) conversion_error("binary numeric value has an invalid scale");
    // Decimal digits of the base-10000 digits; the point sits after (weight + 1) groups.
    std::string digits;
    digits.reserve(ndigits * 4);
    for (std::size_t k = 0; k < ndigits; ++k) {
        const auto d = static_cast<unsigned>(detail::read_be(b.substr(8 + 2 * k, 2), 2));
        if (d > 9999) conversion_error("binary numeric value has an invalid digit");
        const char four[4] = {static_cast<char>('0' + d / 1000), static_cast<char>('0' + d / 100 % 10),
                              static_cast<char>('0' + d / 10 % 10), static_cast<char>('0' + d % 10)};
        digits.append(four, 4);
    }
    n.text_ = canonical(sign == sign_neg, digits, (static_cast<long>(weight) + 1) * 4, dscale);
    return n;
}

Numeric Codec<Numeric>::decode(std::string_view b, std::uint32_t type_oid, bool binary) {
    switch (type_oid) {
        case oid::numeric: return binary ? Numeric::from_binary(b) : Numeric(b);
        case oid::int2:
        case oid::int4:
        case oid::int8:
        case oid::oid_: {
            const detail::IntegerValue v = detail::decode_integer_value(b, type_oid, binary);
            return v.is_unsigned ? Numeric(std::to_string(v.u)) : Numeric(v.s);
        }
        // The shortest decimal of the column's own precision, as float4/float8::numeric.
        case oid::float4: return Numeric(detail::format_float(detail::decode_float(b, type_oid, binary)));
        case oid::float8: return Numeric(detail::format_double(detail::decode_double(b, type_oid, binary)));
        case oid::unspecified:
        case oid::unknown:
            if (!binary) return Numeric(b);
            [[fallthrough]];
        default: conversion_error((binary ? "binary " : "") + detail::type_name(type_oid) + " value is not numeric");
    }
}

}  // namespace pgtls
