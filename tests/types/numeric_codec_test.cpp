// pgtls::Numeric: PostgreSQL 15 vectors, canonical text, checked conversions, errors.
#include <cmath>

#include "codec_test_util.hpp"

using namespace pgtls;
using namespace pgtls::test;

TEST(NumericCodec, ServerVectors) {
    expect_server_vector(Numeric("0"), oid::numeric, "0", "0000000000000000");
    expect_server_vector(Numeric("NaN"), oid::numeric, "NaN", "00000000c0000000");
    expect_server_vector(Numeric("1.2300"), oid::numeric, "1.2300", "0002000000000004000108fc");
    expect_server_vector(Numeric("-0.001"), oid::numeric, "-0.001", "0001ffff40000003000a");
    expect_server_vector(Numeric("123456789.123456789"), oid::numeric, "123456789.123456789",
                         "0006000200000009000109291a8504d2162e2328");
    expect_server_vector(Numeric("10000"), oid::numeric, "10000", "00010001000000000001");
    expect_server_vector(Numeric("0.0001"), oid::numeric, "0.0001", "0001ffff000000040001");
    expect_server_vector(Numeric("1e-20"), oid::numeric, "0.00000000000000000001", "0001fffb000000140001");
    expect_server_vector(Numeric("-12345678901234567890123456789"), oid::numeric, "-12345678901234567890123456789",
                         "0008000740000000000109291a85007b11d722c509291a85");
    expect_server_vector(Numeric("0.00"), oid::numeric, "0.00", "0000000000000002");
    expect_server_vector(Numeric("100.0000"), oid::numeric, "100.0000", "00010000000000040064");
    expect_server_vector(Numeric("9999.9999"), oid::numeric, "9999.9999", "0002000000000004270f270f");
    expect_server_vector(Numeric("1e100"), oid::numeric, "1" + std::string(100, '0'), "00010019000000000001");
    // The server sends an unspecified scale with infinities; only the sign word matters.
    EXPECT_EQ(binary_decode_hex<Numeric>("00000000d0000020", oid::numeric).str(), "Infinity");
    EXPECT_EQ(binary_decode_hex<Numeric>("00000000f0000020", oid::numeric).str(), "-Infinity");
    EXPECT_EQ(text_decode<Numeric>("-Infinity", oid::numeric).str(), "-Infinity");
    expect_round_trip(Numeric("Infinity"));
    expect_round_trip(Numeric("-Infinity"));
}

TEST(NumericCodec, CanonicalText) {
    EXPECT_EQ(Numeric(" +1.50 ").str(), "1.50");
    EXPECT_EQ(Numeric("-0.00").str(), "0.00");
    EXPECT_EQ(Numeric("-0").str(), "0");
    EXPECT_EQ(Numeric("007").str(), "7");
    EXPECT_EQ(Numeric(".5").str(), "0.5");
    EXPECT_EQ(Numeric("5.").str(), "5");
    EXPECT_EQ(Numeric("1.5e3").str(), "1500");
    EXPECT_EQ(Numeric("1.5e-3").str(), "0.0015");
    EXPECT_EQ(Numeric("12.345e1").str(), "123.45");
    EXPECT_EQ(Numeric("1E+2").str(), "100");
    // numeric_in's limits are the storage format's, not the exponent's (PostgreSQL 15 and 18
    // print the same): 131072 digits before the point, 16383 after.
    EXPECT_EQ(Numeric("1e1001").str(), "1" + std::string(1001, '0'));
    EXPECT_EQ(Numeric("9.9e131071").str(), "99" + std::string(131070, '0'));
    EXPECT_EQ(Numeric("0.0001e131075").str(), "1" + std::string(131071, '0'));
    EXPECT_EQ(Numeric("1.5e-16382").str(), "0." + std::string(16381, '0') + "15");
    EXPECT_EQ(Numeric("-0.00e-16381").str(), "0." + std::string(16383, '0'));
    EXPECT_EQ(Numeric("0e999999999").str(), "0");
    EXPECT_EQ(Numeric("nan").str(), "NaN");
    EXPECT_EQ(Numeric("-inf").str(), "-Infinity");
    EXPECT_EQ(Numeric(std::int64_t{INT64_MIN}).str(), "-9223372036854775808");
    EXPECT_EQ(Numeric::from_double(0.1).str(), "0.1");
    EXPECT_EQ(Numeric::from_double(-2.5e-7).str(), "-0.00000025");
    EXPECT_EQ(Numeric::from_double(1e21).str(), "1000000000000000000000");
    EXPECT_TRUE(Numeric::from_double(NAN).is_nan());
    EXPECT_EQ(Numeric("1.2300").scale(), 4);
    EXPECT_NE(Numeric("1.0"), Numeric("1.00"));
    EXPECT_EQ(to_param(Numeric("1.5")).type_oid, oid::numeric);
    EXPECT_EQ(to_param(Numeric("1.5")).format, 0);
    EXPECT_EQ(*to_param(Numeric("1.5")).value, "1.5");
}

TEST(NumericCodec, CheckedConversions) {
    EXPECT_EQ(Numeric("12.000").to_int64(), 12);
    EXPECT_EQ(Numeric("-9223372036854775808").to_int64(), INT64_MIN);
    EXPECT_CONVERSION_ERROR(Numeric("9223372036854775808").to_int64());
    EXPECT_CONVERSION_ERROR(Numeric("1.5").to_int64());
    EXPECT_CONVERSION_ERROR(Numeric("NaN").to_int64());
    EXPECT_CONVERSION_ERROR(Numeric("Infinity").to_int64());
    EXPECT_EQ(Numeric("0.1").to_double(), 0.1);
    EXPECT_TRUE(std::isinf(Numeric("-Infinity").to_double()));
    EXPECT_CONVERSION_ERROR(Numeric("1e400").to_double());
    EXPECT_EQ(Numeric("1e-400").to_double(), 0.0);
    // Integer and float columns read as Numeric exactly / at their own precision.
    EXPECT_EQ(binary_decode_hex<Numeric>("8000000000000000", oid::int8).str(), "-9223372036854775808");
    EXPECT_EQ(binary_decode_hex<Numeric>("3dcccccd", oid::float4).str(), "0.1");
    EXPECT_EQ(text_decode<Numeric>("1e+15", oid::float8).str(), "1000000000000000");
}

TEST(NumericCodec, MalformedInput) {
    for (const char* bad : {"", " ", "abc", "1.2.3", "--1", "1e", "1e+", "e5", "1 2", "0x10", "1e131072", "10e131071", "1e-16384",
                            "1.5e-16383", "0e1073741823", "1e99999999999999999999", "."})
        { SCOPED_TRACE(bad); EXPECT_CONVERSION_ERROR(Numeric(bad)); }
    EXPECT_CONVERSION_ERROR(text_decode<Numeric>("12abc", oid::numeric));
    EXPECT_CONVERSION_ERROR(binary_decode_hex<Numeric>("000000000000", oid::numeric));          // short header
    EXPECT_CONVERSION_ERROR(binary_decode_hex<Numeric>("0001000000000000", oid::numeric));      // missing digit
    EXPECT_CONVERSION_ERROR(binary_decode_hex<Numeric>("00010000000000002710", oid::numeric));  // digit 10000
    EXPECT_CONVERSION_ERROR(binary_decode_hex<Numeric>("0000000012340000", oid::numeric));      // bad sign
    EXPECT_CONVERSION_ERROR(binary_decode_hex<Numeric>("00000000000040000", oid::numeric));     // odd length
    EXPECT_CONVERSION_ERROR(text_decode<Numeric>("1.5", oid::text));
    EXPECT_CONVERSION_ERROR(binary_decode_hex<Numeric>("00", oid::bool_));
}
