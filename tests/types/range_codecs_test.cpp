// Ranges and multiranges of the built-in element types against PostgreSQL 18's range_out and
// range_send bytes (TimeZone UTC), and values a server never sends.
#include <chrono>

#include "codec_test_util.hpp"

using namespace pgtls;
using namespace pgtls::test;
using namespace std::chrono;

namespace {

template <typename T>
Range<T> range(std::optional<T> lo, std::optional<T> hi, bool lo_inc = true, bool hi_inc = false) {
    Range<T> r;
    r.lower = lo;
    r.upper = hi;
    r.lower_inclusive = lo_inc && lo;
    r.upper_inclusive = hi_inc && hi;
    return r;
}

using I4 = Range<std::int32_t>;

}  // namespace

TEST(RangeCodec, Int4RangesMatchServerBytes) {
    EXPECT_EQ(Codec<I4>::type_oid, oid::int4range);
    expect_server_vector(range<std::int32_t>(1, 5), oid::int4range, "[1,5)", "0200000004000000010000000400000005");
    expect_server_vector(I4::make_empty(), oid::int4range, "empty", "01");
    expect_server_vector(range<std::int32_t>(std::nullopt, 6), oid::int4range, "(,6)", "080000000400000006");
    expect_server_vector(range<std::int32_t>(3, std::nullopt), oid::int4range, "[3,)", "120000000400000003");
    expect_server_vector(range<std::int32_t>(std::nullopt, std::nullopt), oid::int4range, "(,)", "18");
    EXPECT_EQ(Codec<I4>::decode(" EMPTY ", oid::int4range, false), I4::make_empty());
    EXPECT_EQ(Codec<I4>::decode("(\"1\",5]", 16600, false), range<std::int32_t>(1, 5, false, true));
}

TEST(RangeCodec, OtherElementTypesMatchServerBytes) {
    expect_server_vector(range<Numeric>(Numeric("1.5"), Numeric("2.5"), false, true), oid::numrange,
                         "(1.5,2.5]", "040000000c0002000000000001000113880000000c000200000000000100021388");
    expect_server_vector(range<Numeric>(Numeric("1"), Numeric("1"), true, true), oid::numrange, "[1,1]",
                         "060000000a000100000000000000010000000a00010000000000000001");
    const Timestamp ts = local_days(year{2020} / 1 / 1) + 10h;
    expect_server_vector(range<Timestamp>(ts, Timestamp::max()), oid::tsrange, "[\"2020-01-01 10:00:00\",infinity)",
                         "020000000800023e0fe886c800000000087fffffffffffffff");
    expect_server_vector(range<Timestamp>(ts, std::nullopt, false), oid::tsrange, "(\"2020-01-01 10:00:00\",)",
                         "100000000800023e0fe886c800");
    const TimestampTz tz = sys_days(year{2020} / 1 / 1) + 10h;
    expect_server_vector(range<TimestampTz>(tz, std::nullopt), oid::tstzrange, "[\"2020-01-01 10:00:00+00\",)",
                         "120000000800023e0fe886c800");
    expect_server_vector(range<sys_days>(sys_days::min(), sys_days(year{2020} / 1 / 2)), oid::daterange,
                         "[-infinity,2020-01-02)", "0200000004800000000000000400001c8a");
    expect_server_vector(range<std::int64_t>(1, INT64_MAX), oid::int8range, "[1,9223372036854775807)",
                         "02000000080000000000000001000000087fffffffffffffff");
    // A text bound is quoted as range_out quotes it.
    EXPECT_EQ(Codec<Range<std::string>>::encode_text(range<std::string>("a b", "q\"\\")), "[\"a b\",\"q\"\"\\\\\")");
    EXPECT_EQ(Codec<Range<std::string>>::decode("[\"a b\",\"q\"\"\\\\\")", 16600, false),
              range<std::string>("a b", "q\"\\"));
    EXPECT_EQ(Codec<Range<std::string>>::decode("[\"\",x)", 16600, false), range<std::string>("", "x"));
}

TEST(RangeCodec, MultirangesMatchServerBytes) {
    using M = Multirange<std::int32_t>;
    EXPECT_EQ(Codec<M>::type_oid, oid::int4multirange);
    expect_server_vector(M{{range<std::int32_t>(1, 3), range<std::int32_t>(5, 7)}}, oid::int4multirange, "{[1,3),[5,7)}",
                         "00000002000000110200000004000000010000000400000003000000110200000004000000050000000400000007");
    expect_server_vector(M{}, oid::int4multirange, "{}", "00000000");
    expect_server_vector(M{{range<std::int32_t>(std::nullopt, 4), range<std::int32_t>(5, std::nullopt)}}, oid::int4multirange,
                         "{(,4),[5,)}", "000000020000000908000000040000000400000009120000000400000005");
    EXPECT_EQ(Codec<M>::decode(" { [1,3) , empty } ", oid::int4multirange, false),
              (M{{range<std::int32_t>(1, 3), I4::make_empty()}}));
    using TM = Multirange<Timestamp>;
    const Timestamp ts = local_days(year{2020} / 1 / 1) + 10h;
    const TM tm{{range<Timestamp>(ts, ts + 1h)}};
    EXPECT_EQ(Codec<TM>::decode(Codec<TM>::encode_text(tm), oid::tsmultirange, false), tm);
}

TEST(RangeCodec, MalformedRangesAreErrors) {
    for (const char* t : {"", "[", "[1", "[1,", "[1,5", "[1,5)x", "1,5", "[1;5)", "[5,1)", "[x,5)", "emptyx", "[1,5,6)"}) {
        SCOPED_TRACE(t);
        EXPECT_CONVERSION_ERROR(Codec<I4>::decode(t, oid::int4range, false));
    }
    for (const char* h : {"", "20", "41", "0101", "0a", "0200000004000000010000000400000005ff", "0200000004000000010000000400",
                          "02ffffffff", "0200000004000000050000000400000001", "0200000003000001000000000400000005", "11"}) {
        SCOPED_TRACE(h);
        EXPECT_CONVERSION_ERROR(Codec<I4>::decode(unhex(h), oid::int4range, true));
    }
    using M = Multirange<std::int32_t>;
    for (const char* t : {"", "{", "{[1,3)", "{[1,3);[5,7)}", "{[1,3)}x", "{,}"}) {
        SCOPED_TRACE(t);
        EXPECT_CONVERSION_ERROR(Codec<M>::decode(t, oid::int4multirange, false));
    }
    for (const char* h : {"", "00000001", "7fffffff", "0000000100000011", "000000000000"}) {
        SCOPED_TRACE(h);
        EXPECT_CONVERSION_ERROR(Codec<M>::decode(unhex(h), oid::int4multirange, true));
    }
    EXPECT_CONVERSION_ERROR(Codec<I4>::decode(unhex("00000001"), oid::int4, true));
    try {
        (void)from_field<I4>("[5,1)", oid::int4range, false, "span");
        ADD_FAILURE() << "an inverted range decoded";
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()), "column \"span\": range int4range: lower bound is above the upper bound");
    }
    EXPECT_CONVERSION_ERROR(Codec<M>::decode(unhex("01"), oid::int4range, true));
}
