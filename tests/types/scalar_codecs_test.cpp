// Integers, floats, bool, "char", strings, bytea, oid: PostgreSQL 15 vectors, boundaries and
// malformed input.
#include <cmath>
#include <cstdint>
#include <limits>

#include "codec_test_util.hpp"

using namespace pgtls;
using namespace pgtls::test;

TEST(IntegerCodec, ServerVectors) {
    expect_server_vector<std::int16_t>(-32768, oid::int2, "-32768", "8000");
    expect_server_vector<std::int16_t>(32767, oid::int2, "32767", "7fff");
    expect_server_vector<std::int16_t>(-1, oid::int2, "-1", "ffff");
    expect_server_vector<std::int32_t>(-3, oid::int4, "-3", "fffffffd");
    expect_server_vector<std::int64_t>(INT64_MIN, oid::int8, "-9223372036854775808", "8000000000000000");
    expect_server_vector<std::int64_t>(INT64_MAX, oid::int8, "9223372036854775807", "7fffffffffffffff");
    expect_server_vector<Oid>(Oid{4294967295u}, oid::oid_, "4294967295", "ffffffff");
    EXPECT_EQ(binary_decode_hex<std::uint32_t>("ffffffff", oid::oid_), 4294967295u);
}

TEST(IntegerCodec, EncodePicksSmallestExactBinaryType) {
    EXPECT_EQ(to_param(std::int16_t{5}).type_oid, oid::int2);
    EXPECT_EQ(to_param(5).type_oid, oid::int4);
    EXPECT_EQ(to_param(std::int64_t{5}).type_oid, oid::int8);
    EXPECT_EQ(to_param(5).format, 1);
    EXPECT_EQ(tohex(*to_param(std::int8_t{-2}).value), "fffe");
    const Param u = to_param(std::uint64_t{18446744073709551615u});
    EXPECT_EQ(u.format, 0);
    EXPECT_EQ(*u.value, "18446744073709551615");
    EXPECT_EQ(to_param(Oid{7}).type_oid, oid::oid_);
}

TEST(IntegerCodec, WideningAcrossIntegerTypes) {
    EXPECT_EQ(binary_decode_hex<std::int64_t>("fffe", oid::int2), -2);
    EXPECT_EQ(binary_decode_hex<std::int16_t>("00000005", oid::int4), 5);
    EXPECT_EQ(text_decode<std::int8_t>("-128", oid::int2), -128);
    EXPECT_EQ(text_decode<std::uint64_t>("18446744073709551615", oid::unspecified), 18446744073709551615u);
    // numeric columns read as integers when integral.
    EXPECT_EQ(text_decode<int>("12.000", oid::numeric), 12);
    EXPECT_EQ(binary_decode_hex<std::int64_t>("00010001000000000001", oid::numeric), 10000);
}

TEST(IntegerCodec, OutOfRangeIsAnError) {
    EXPECT_CONVERSION_ERROR(text_decode<std::int16_t>("70000", oid::int4));
    EXPECT_CONVERSION_ERROR(binary_decode_hex<std::int16_t>("00011170", oid::int4));
    EXPECT_CONVERSION_ERROR(text_decode<std::int8_t>("128", oid::int2));
    EXPECT_CONVERSION_ERROR(text_decode<unsigned>("-1", oid::int4));
    EXPECT_CONVERSION_ERROR(binary_decode_hex<std::uint64_t>("ffffffffffffffff", oid::int8));
    EXPECT_CONVERSION_ERROR(binary_decode_hex<std::int32_t>("ffffffff", oid::oid_));
    EXPECT_CONVERSION_ERROR(text_decode<std::int64_t>("9223372036854775808", oid::int8));
    EXPECT_CONVERSION_ERROR(text_decode<std::int64_t>("-9223372036854775809", oid::int8));
    EXPECT_CONVERSION_ERROR(text_decode<int>("12.5", oid::numeric));
    EXPECT_CONVERSION_ERROR(text_decode<int>("NaN", oid::numeric));
}

TEST(IntegerCodec, GarbageAndWrongTypesAreErrors) {
    EXPECT_CONVERSION_ERROR(text_decode<int>("abc", oid::int4));
    EXPECT_CONVERSION_ERROR(text_decode<int>("12abc", oid::int4));
    EXPECT_CONVERSION_ERROR(text_decode<int>("", oid::int4));
    EXPECT_CONVERSION_ERROR(text_decode<int>(" 1", oid::int4));
    EXPECT_CONVERSION_ERROR(text_decode<int>("1.0", oid::int4));
    // A text column is not an integer even if its content looks like one.
    EXPECT_CONVERSION_ERROR(text_decode<int>("12", oid::text));
    EXPECT_CONVERSION_ERROR(text_decode<int>("1.5", oid::float8));
    EXPECT_CONVERSION_ERROR(binary_decode_hex<int>("000000", oid::int4));
    EXPECT_CONVERSION_ERROR(binary_decode_hex<int>("0000000000", oid::int4));
    EXPECT_CONVERSION_ERROR(binary_decode_hex<std::int64_t>("00000001", oid::int8));
    EXPECT_CONVERSION_ERROR(binary_decode_hex<int>("3ff0000000000000", oid::float8));
}

TEST(FloatCodec, ServerVectorsFloat8) {
    const double dmin = 5e-324;
    expect_server_vector<double>(0.0, oid::float8, "0", "0000000000000000");
    expect_server_vector<double>(INFINITY, oid::float8, "Infinity", "7ff0000000000000");
    expect_server_vector<double>(-INFINITY, oid::float8, "-Infinity", "fff0000000000000");
    expect_server_vector<double>(0.1, oid::float8, "0.1", "3fb999999999999a");
    expect_server_vector<double>(-1.5e300, oid::float8, "-1.5e+300", "fe41eb2d66005835");
    expect_server_vector<double>(dmin, oid::float8, "5e-324", "0000000000000001");
    expect_server_vector<double>(100000, oid::float8, "100000", "40f86a0000000000");
    expect_server_vector<double>(1e15, oid::float8, "1e+15", "430c6bf526340000");
    expect_server_vector<double>(1e16, oid::float8, "1e+16", "4341c37937e08000");
    expect_server_vector<double>(123456789012345678.0, oid::float8, "1.2345678901234568e+17", "437b69b4ba630f35");
    expect_server_vector<double>(1e-5, oid::float8, "1e-05", "3ee4f8b588e368f1");
    expect_server_vector<double>(1e14, oid::float8, "100000000000000", "42d6bcc41e900000");
    expect_server_vector<double>(0.00012, oid::float8, "0.00012", "3f1f75104d551d69");
    // NaN != NaN: check separately; -0 keeps its sign.
    EXPECT_TRUE(std::isnan(text_decode<double>("NaN", oid::float8)));
    EXPECT_TRUE(std::isnan(binary_decode_hex<double>("7ff8000000000000", oid::float8)));
    EXPECT_EQ(Codec<double>::encode_text(std::nan("")), "NaN");
    EXPECT_TRUE(std::signbit(text_decode<double>("-0", oid::float8)));
    EXPECT_TRUE(std::signbit(binary_decode_hex<double>("8000000000000000", oid::float8)));
    EXPECT_EQ(Codec<double>::encode_text(-0.0), "-0");
}

TEST(FloatCodec, ServerVectorsFloat4) {
    expect_server_vector<float>(0.0f, oid::float4, "0", "00000000");
    expect_server_vector<float>(INFINITY, oid::float4, "Infinity", "7f800000");
    expect_server_vector<float>(0.1f, oid::float4, "0.1", "3dcccccd");
    expect_server_vector<float>(3.4028235e38f, oid::float4, "3.4028235e+38", "7f7fffff");
    expect_server_vector<float>(1e-45f, oid::float4, "1e-45", "00000001");
    expect_server_vector<float>(100000.0f, oid::float4, "100000", "47c35000");
    expect_server_vector<float>(1e7f, oid::float4, "1e+07", "4b189680");
    expect_server_vector<float>(1e6f, oid::float4, "1e+06", "49742400");
    expect_server_vector<float>(1234567.0f, oid::float4, "1.234567e+06", "4996b438");
    EXPECT_TRUE(std::isnan(binary_decode_hex<float>("7fc00000", oid::float4)));
    // float4 read into double: text and binary agree (the text is parsed as a float).
    EXPECT_EQ(text_decode<double>("0.1", oid::float4), binary_decode_hex<double>("3dcccccd", oid::float4));
}

TEST(FloatCodec, WideningAndRange) {
    EXPECT_EQ(text_decode<double>("42", oid::int4), 42.0);
    EXPECT_EQ(binary_decode_hex<double>("0000002a", oid::int4), 42.0);
    EXPECT_EQ(text_decode<double>("1.25", oid::numeric), 1.25);
    EXPECT_EQ(text_decode<float>("0.5", oid::float8), 0.5f);
    EXPECT_CONVERSION_ERROR(text_decode<float>("1e+300", oid::float8));
    EXPECT_CONVERSION_ERROR(text_decode<double>("1e400", oid::numeric));
    EXPECT_CONVERSION_ERROR(text_decode<double>("1e400", oid::float8));
    EXPECT_CONVERSION_ERROR(text_decode<double>("abc", oid::float8));
    EXPECT_CONVERSION_ERROR(text_decode<double>("", oid::float8));
    EXPECT_CONVERSION_ERROR(text_decode<double>("1.5x", oid::float8));
    EXPECT_CONVERSION_ERROR(text_decode<double>("1.5", oid::text));
    EXPECT_CONVERSION_ERROR(binary_decode_hex<double>("3ff00000", oid::float8));
    EXPECT_CONVERSION_ERROR(binary_decode_hex<float>("3ff0000000000000", oid::float4));
    EXPECT_EQ(to_param(1.5).type_oid, oid::float8);
    EXPECT_EQ(to_param(1.5f).type_oid, oid::float4);
}

TEST(BoolCodec, VectorsAndErrors) {
    expect_server_vector<bool>(true, oid::bool_, "t", "01");
    expect_server_vector<bool>(false, oid::bool_, "f", "00");
    EXPECT_TRUE(text_decode<bool>("true", oid::bool_));
    EXPECT_CONVERSION_ERROR(text_decode<bool>("yes", oid::bool_));
    EXPECT_CONVERSION_ERROR(text_decode<bool>("", oid::bool_));
    EXPECT_CONVERSION_ERROR(binary_decode_hex<bool>("02", oid::bool_));
    EXPECT_CONVERSION_ERROR(binary_decode_hex<bool>("0001", oid::bool_));
    EXPECT_CONVERSION_ERROR(text_decode<bool>("t", oid::int4));
}

TEST(CharCodec, InternalCharType) {
    expect_server_vector<char>('a', oid::char_, "a", "61");
    expect_server_vector<char>('\0', oid::char_, "", "00");
    expect_server_vector<char>('\xe9', oid::char_, "\\351", "e9");
    EXPECT_EQ(text_decode<std::string>("\\351", oid::char_), "\xe9");
    EXPECT_EQ(binary_decode_hex<std::string>("00", oid::char_), "");
    EXPECT_EQ(text_decode<char>("x", oid::text), 'x');
    EXPECT_CONVERSION_ERROR(text_decode<char>("xy", oid::text));
    EXPECT_CONVERSION_ERROR(text_decode<char>("\\999", oid::char_));
    EXPECT_CONVERSION_ERROR(binary_decode_hex<char>("6162", oid::char_));
    EXPECT_CONVERSION_ERROR(text_decode<char>("1", oid::int4));
}

TEST(StringCodec, TextTypesBothFormats) {
    const std::string s = "h\xc3\xa9llo \xe2\x9c\x93";  // "héllo ✓"
    EXPECT_EQ(text_decode<std::string>(s, oid::text), s);
    EXPECT_EQ(binary_decode_hex<std::string>("68c3a96c6c6f20e29c93", oid::text), s);
    EXPECT_EQ(binary_decode_hex<std::string>("70675f636174616c6f67", oid::name), "pg_catalog");
    EXPECT_EQ(binary_decode_hex<std::string>("61622020", oid::bpchar), "ab  ");
    EXPECT_EQ(text_decode<std::string_view>("abc", oid::varchar), "abc");
    EXPECT_EQ(binary_decode_hex<std::string>("017b7d", oid::jsonb), "{}");
    EXPECT_EQ(text_decode<std::string>("", oid::text), "");
    // Text format of any type is its server text; binary non-string built-ins are refused.
    EXPECT_EQ(text_decode<std::string>("42", oid::int4), "42");
    EXPECT_CONVERSION_ERROR(binary_decode_hex<std::string>("0000002a", oid::int4));
    EXPECT_CONVERSION_ERROR(binary_decode_hex<std::string>("027b7d", oid::jsonb));
    // User-defined types (citext, enums...) pass through.
    EXPECT_EQ(binary_decode_hex<std::string>("6869", 50000), "hi");
    const Param p = to_param(std::string("x"));
    EXPECT_EQ(p.type_oid, 0u);
    EXPECT_EQ(p.format, 0);
    EXPECT_EQ(to_param("lit").value, "lit");
}

TEST(ByteaCodec, HexEscapeAndBinary) {
    const std::string raw("\x00\x01\x7f\x80\xff\\'", 7);
    EXPECT_EQ(text_decode<std::string>("\\x00017f80ff5c27", oid::bytea), raw);
    EXPECT_EQ(text_decode<std::string>("\\000\\001\\177\\200\\377\\\\'", oid::bytea), raw);
    EXPECT_EQ(text_decode<std::string>("abc\\\\ \\001", oid::bytea), "abc\\ \x01");
    EXPECT_EQ(binary_decode_hex<std::string>("00017f80ff5c27", oid::bytea), raw);
    expect_server_vector<Bytea>(Bytea{raw}, oid::bytea, "\\x00017f80ff5c27", "00017f80ff5c27");
    expect_server_vector<Bytea>(Bytea{}, oid::bytea, "\\x", "");
    const std::vector<std::uint8_t> v{0, 1, 0x7f, 0x80, 0xff, '\\', '\''};
    expect_server_vector<std::vector<std::uint8_t>>(v, oid::bytea, "\\x00017f80ff5c27", "00017f80ff5c27");
    expect_server_vector(std::vector<char>(raw.begin(), raw.end()), oid::bytea, "\\x00017f80ff5c27", "00017f80ff5c27");
    const std::vector<std::byte> vb{std::byte{0xde}, std::byte{0xad}};
    expect_round_trip(vb);
    EXPECT_EQ(to_param(vb).type_oid, oid::bytea);
    EXPECT_EQ(to_param(vb).format, 1);
    EXPECT_CONVERSION_ERROR(text_decode<Bytea>("\\x0", oid::bytea));
    EXPECT_CONVERSION_ERROR(text_decode<Bytea>("\\xzz", oid::bytea));
    EXPECT_CONVERSION_ERROR(text_decode<Bytea>("\\9", oid::bytea));
    EXPECT_CONVERSION_ERROR(text_decode<Bytea>("abc", oid::text));
    EXPECT_CONVERSION_ERROR(text_decode<std::string_view>("\\x00", oid::bytea));
}

TEST(FromField, ErrorNamesTheColumn) {
    try {
        from_field<std::int16_t>("70000", oid::int4, false, "total");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::usage);
        EXPECT_NE(std::string(e.what()).find("\"total\""), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("70000"), std::string::npos) << e.what();
    }
}

TEST(ToParam, OptionalIsNull) {
    const std::optional<int> none;
    EXPECT_FALSE(to_param(none).value.has_value());
    EXPECT_EQ(*to_param(std::optional<int>(3)).value, std::string("\0\0\0\3", 4));
    EXPECT_FALSE(to_param(std::nullopt).value.has_value());
    EXPECT_FALSE(text_param(none).value.has_value());
    EXPECT_EQ(*text_param(std::optional<int>(3)).value, "3");
    EXPECT_EQ(binary_param(std::int64_t{1}).type_oid, oid::int8);
}
