// Random round trips (fixed seed): encode -> decode in text and binary for every built-in type,
// and text vs binary decoding agreement.
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>

#include "codec_test_util.hpp"

using namespace pgtls;
using namespace pgtls::test;
using namespace std::chrono;

namespace {

constexpr int iterations = 3000;

std::mt19937_64& rng() {
    static std::mt19937_64 g(20261127);
    return g;
}

template <typename I>
I uniform(I lo, I hi) {
    return std::uniform_int_distribution<I>(lo, hi)(rng());
}

std::string random_string(std::size_t max_len) {
    // ASCII, array-literal specials, whitespace, and multi-byte UTF-8 sequences.
    static const std::vector<std::string> pieces = {"a", "Z", "0", " ", "\t", "\n", "{", "}", ",", "\"", "\\", "'", "NULL",
                                                    "null", "\xc3\xa9", "\xe2\x9c\x93", "\xf0\x9f\x98\x80", "[", "]", ":", "="};
    std::string s;
    const std::size_t n = uniform<std::size_t>(0, max_len);
    for (std::size_t i = 0; i < n; ++i) s += pieces[uniform<std::size_t>(0, pieces.size() - 1)];
    return s;
}

std::string random_decimal() {
    std::string s;
    if (uniform(0, 1)) s += '-';
    const int int_len = uniform(0, 40), frac_len = uniform(0, 40);
    for (int i = 0; i < int_len; ++i) s += static_cast<char>('0' + uniform(0, 9));
    if (int_len == 0) s += '0';
    if (frac_len > 0) {
        s += '.';
        for (int i = 0; i < frac_len; ++i) s += static_cast<char>('0' + uniform(0, 9));
    }
    return s;
}

}  // namespace

TEST(RoundTripProperty, Integers) {
    for (int i = 0; i < iterations; ++i) {
        expect_round_trip(static_cast<std::int16_t>(uniform<int>(INT16_MIN, INT16_MAX)));
        expect_round_trip(uniform<std::int32_t>(INT32_MIN, INT32_MAX));
        const auto v64 = uniform<std::int64_t>(INT64_MIN, INT64_MAX);
        expect_round_trip(v64);
        // Narrowing reads succeed exactly when the value fits.
        const bool fits = v64 >= INT32_MIN && v64 <= INT32_MAX;
        const std::string b = Codec<std::int64_t>::encode_binary(v64);
        if (fits) EXPECT_EQ(Codec<std::int32_t>::decode(b, oid::int8, true), v64);
        else EXPECT_CONVERSION_ERROR(Codec<std::int32_t>::decode(b, oid::int8, true));
        expect_round_trip(Oid{uniform<std::uint32_t>(0, UINT32_MAX)});
        expect_round_trip(uniform(0, 1) == 1);
    }
}

TEST(RoundTripProperty, FloatsAllBitPatterns) {
    for (int i = 0; i < iterations; ++i) {
        const std::uint64_t bits = rng()();
        double d;
        std::memcpy(&d, &bits, 8);
        if (std::isnan(d)) continue;
        expect_round_trip(d);
        const auto bits32 = static_cast<std::uint32_t>(bits);
        float f;
        std::memcpy(&f, &bits32, 4);
        if (std::isnan(f)) continue;
        expect_round_trip(f);
        // float4 read as double: text and binary give the same value.
        EXPECT_EQ(Codec<double>::decode(Codec<float>::encode_text(f), oid::float4, false),
                  Codec<double>::decode(Codec<float>::encode_binary(f), oid::float4, true));
        // Numeric from a float column agrees across formats.
        EXPECT_EQ(Codec<Numeric>::decode(Codec<double>::encode_text(d), oid::float8, false),
                  Codec<Numeric>::decode(Codec<double>::encode_binary(d), oid::float8, true));
    }
}

TEST(RoundTripProperty, Numeric) {
    for (int i = 0; i < iterations; ++i) {
        const Numeric n(random_decimal());
        expect_round_trip(n);
        EXPECT_EQ(Numeric::from_binary(n.to_binary()), n);
        EXPECT_EQ(Numeric(n.str()), n);
        // Integral values convert to int64 exactly when in range.
        const auto v = uniform<std::int64_t>(INT64_MIN, INT64_MAX);
        const Numeric ni(v);
        expect_round_trip(ni);
        EXPECT_EQ(Codec<std::int64_t>::decode(ni.to_binary(), oid::numeric, true), v);
        EXPECT_EQ(Codec<std::int64_t>::decode(ni.str() + ".000", oid::numeric, false), v);
    }
}

TEST(RoundTripProperty, StringsByteaJsonUuid) {
    for (int i = 0; i < iterations; ++i) {
        const std::string s = random_string(20);
        expect_round_trip(s, oid::text);
        std::string raw;
        for (int k = uniform(0, 40); k > 0; --k) raw.push_back(static_cast<char>(uniform(0, 255)));
        expect_round_trip(Bytea{raw});
        EXPECT_EQ(Codec<std::string>::decode(Codec<Bytea>::encode_text(Bytea{raw}), oid::bytea, false), raw);
        EXPECT_EQ(Codec<Json>::decode("\x01" + s, oid::jsonb, true), Codec<Json>::decode(s, oid::jsonb, false));
        Uuid u;
        for (auto& byte : u.bytes) byte = static_cast<std::uint8_t>(uniform(0, 255));
        expect_round_trip(u);
        EXPECT_EQ(Uuid::parse(u.str()), u);
    }
}

TEST(RoundTripProperty, DatesTimesIntervals) {
    constexpr std::int64_t min_pg_date = -2451545, max_pg_date = 2145031948, epoch_days = 10957;
    constexpr std::int64_t min_unix_us = -2451545LL * 86400000000LL + 946684800000000LL;
    for (int i = 0; i < iterations; ++i) {
        const sys_days d{days(uniform<std::int64_t>(min_pg_date, max_pg_date) + epoch_days)};
        expect_round_trip(d);
        const sys_days near{days(uniform<std::int64_t>(-800000, 800000))};  // within year_month_day's range
        expect_round_trip(year_month_day(near));
        const auto us = uniform<std::int64_t>(min_unix_us, INT64_MAX - 1);
        expect_round_trip(sys_time<microseconds>(microseconds(us)));
        expect_round_trip(local_time<microseconds>(microseconds(us)));
        const auto sec = sys_seconds(seconds(uniform<std::int64_t>(min_unix_us / 1000000 + 1, 9000000000000LL)));
        expect_round_trip(sec);
        expect_round_trip(Time{microseconds(uniform<std::int64_t>(0, 86400000000LL))});
        Interval iv{uniform<std::int32_t>(INT32_MIN, INT32_MAX), uniform<std::int32_t>(INT32_MIN, INT32_MAX),
                    uniform<std::int64_t>(INT64_MIN, INT64_MAX)};
        if (iv == Interval::minus_infinity() || iv == Interval::infinity()) continue;
        expect_round_trip(iv);
        expect_round_trip(microseconds(uniform<std::int64_t>(INT64_MIN, INT64_MAX)));
    }
}

TEST(RoundTripProperty, Arrays) {
    for (int i = 0; i < iterations / 3; ++i) {
        std::vector<std::optional<std::string>> strings;
        std::vector<std::optional<std::int64_t>> ints;
        std::vector<Numeric> nums;
        std::vector<std::optional<sys_time<microseconds>>> times;
        for (int k = uniform(0, 12); k > 0; --k) {
            if (uniform(0, 4) == 0) strings.emplace_back(std::nullopt);
            else strings.emplace_back(random_string(8));
            if (uniform(0, 4) == 0) ints.emplace_back(std::nullopt);
            else ints.emplace_back(uniform<std::int64_t>(INT64_MIN, INT64_MAX));
            nums.emplace_back(random_decimal());
            if (uniform(0, 4) == 0) times.emplace_back(std::nullopt);
            else times.emplace_back(sys_time<microseconds>(microseconds(uniform<std::int64_t>(-(1LL << 57), 1LL << 57))));
        }
        expect_round_trip(strings);
        expect_round_trip(ints);
        expect_round_trip(nums);
        expect_round_trip(times);
    }
}
