// One-dimensional arrays in text and binary format: PostgreSQL 15 vectors, quoting, NULLs,
// empty arrays, lower bounds, multi-dimensional and malformed input.
#include <chrono>
#include <cmath>

#include "codec_test_util.hpp"

using namespace pgtls;
using namespace pgtls::test;
using namespace std::chrono;

using OptInts = std::vector<std::optional<int>>;
using OptStrings = std::vector<std::optional<std::string>>;

TEST(ArrayCodec, Int4ServerVectors) {
    const OptInts v{1, 2, std::nullopt, -3};
    expect_server_vector(v, oid::int4_array, "{1,2,NULL,-3}",
                         "000000010000000100000017000000040000000100000004000000010000000400000002ffffffff00000004fffffffd");
    expect_server_vector(std::vector<int>{}, oid::int4_array, "{}", "000000000000000000000017");
    expect_server_vector(OptInts{}, oid::int4_array, "{}", "000000000000000000000017");
    // A lower bound other than 1 is dropped.
    EXPECT_EQ(text_decode<std::vector<int>>("[0:1]={5,6}", oid::int4_array), (std::vector<int>{5, 6}));
    EXPECT_EQ(binary_decode_hex<std::vector<int>>("000000010000000000000017000000020000000000000004000000050000000400000006",
                                                  oid::int4_array),
              (std::vector<int>{5, 6}));
    EXPECT_EQ(text_decode<std::vector<std::int64_t>>("{ 1 , 2 }", oid::int4_array), (std::vector<std::int64_t>{1, 2}));
    const Param p = to_param(std::vector<int>{1, 2});
    EXPECT_EQ(p.type_oid, oid::int4_array);
    EXPECT_EQ(p.format, 1);
}

TEST(ArrayCodec, TextQuotingAndEscaping) {
    const OptStrings v{"a", "b c", std::nullopt, "NULL", "", "q\"x", "back\\slash", "\xc3\xbc,{}", " lead", "x y"};
    expect_server_vector(v, oid::text_array, "{a,\"b c\",NULL,\"NULL\",\"\",\"q\\\"x\",\"back\\\\slash\",\"\xc3\xbc,{}\",\" lead\",\"x y\"}",
                         "0000000100000001000000190000000a00000001000000016100000003622063ffffffff000000044e554c4c00000000000000"
                         "037122780000000a6261636b5c736c61736800000005c3bc2c7b7d00000005206c65616400000003782079");
    EXPECT_EQ(text_decode<OptStrings>("{\"null\",\"Null\",nullx}", oid::text_array), (OptStrings{"null", "Null", "nullx"}));
    EXPECT_EQ(text_decode<OptStrings>("{null,NuLl}", oid::text_array), (OptStrings{std::nullopt, std::nullopt}));
    EXPECT_EQ(text_decode<OptStrings>("{\"tab\there\",\"nl\nx\"}", oid::text_array), (OptStrings{"tab\there", "nl\nx"}));
    EXPECT_EQ(text_decode<OptStrings>("{1 2}", oid::text_array), (OptStrings{"1 2"}));
    EXPECT_EQ(text_decode<OptStrings>("{ \"a\" , b c , NULL }", oid::text_array), (OptStrings{"a", "b c", std::nullopt}));
    EXPECT_EQ(text_decode<OptStrings>("{a\\,b,\\NULL,x\\ }", oid::text_array), (OptStrings{"a,b", "NULL", "x "}));
    EXPECT_EQ(Codec<OptStrings>::encode_text(OptStrings{"tab\there", "null"}), "{\"tab\there\",\"null\"}");
    expect_server_vector(std::vector<std::string>{"a", "NULL"}, oid::text_array, "{a,\"NULL\"}",
                         "00000001000000000000001900000002000000010000000161000000044e554c4c");
    EXPECT_EQ(binary_decode_hex<std::vector<std::string>>("00000001000000000000041300000002000000010000000161000000044e554c4c",
                                                          oid::varchar_array),
              (std::vector<std::string>{"a", "NULL"}));
    EXPECT_EQ(text_decode<std::vector<std::string>>("{\"ab \",x}", oid::bpchar_array), (std::vector<std::string>{"ab ", "x"}));
}

TEST(ArrayCodec, BoxArraysAreSeparatedBySemicolons) {
    // box is the one built-in type whose typdelim is ';' (PostgreSQL 15 and 18 print
    // ARRAY[box '((1,1),(0,0))', box '((3,3),(2,2))', NULL] so); its elements hold commas.
    EXPECT_EQ(text_decode<OptStrings>("{(1,1),(0,0);(3,3),(2,2);NULL}", 1020),
              (OptStrings{"(1,1),(0,0)", "(3,3),(2,2)", std::nullopt}));
    EXPECT_EQ(text_decode<std::vector<std::vector<std::string>>>("{{(1,1),(0,0)};{(3,3),(2,2)}}", 1020),
              (std::vector<std::vector<std::string>>{{"(1,1),(0,0)"}, {"(3,3),(2,2)"}}));
    // Other arrays keep ',' (a ';' is part of an element).
    EXPECT_EQ(text_decode<OptStrings>("{a;b,c}", oid::text_array), (OptStrings{"a;b", "c"}));
}

TEST(ArrayCodec, OtherElementTypes) {
    expect_server_vector(std::vector<std::optional<bool>>{true, false, std::nullopt}, oid::bool_array, "{t,f,NULL}",
                         "000000010000000100000010000000030000000100000001010000000100ffffffff");
    expect_server_vector(std::vector<Numeric>{Numeric("1.5"), Numeric("NaN"), Numeric("-0.001")}, oid::numeric_array,
                         "{1.5,NaN,-0.001}",
                         "0000000100000000000006a400000003000000010000000c0002000000000001000113880000000800000000c0000000"
                         "0000000a0001ffff40000003000a");
    const auto t1 = sys_time<microseconds>(sys_days(year{2024} / 1 / 2).time_since_epoch() + 3h + 4min + 5s);
    expect_server_vector(std::vector<sys_time<microseconds>>{t1, sys_time<microseconds>::max()}, oid::timestamptz_array,
                         "{\"2024-01-02 03:04:05+00\",infinity}",
                         "0000000100000000000004a00000000200000001000000080002b0ec8515f340000000087fffffffffffffff");
    expect_server_vector(std::vector<Bytea>{Bytea{std::string("\0\xff", 2)}, Bytea{}}, oid::bytea_array,
                         "{\"\\\\x00ff\",\"\\\\x\"}", "00000001000000000000001100000002000000010000000200ff00000000");
    expect_server_vector(std::vector<Interval>{Interval{0, 1, 0}, Interval{0, 0, -1000000}}, oid::interval_array,
                         "{\"1 day\",-00:00:01}",
                         "0000000100000000000004a20000000200000001000000100000000000000000000000010000000000000010fffffffffff0bdc0"
                         "0000000000000000");
    EXPECT_EQ(text_decode<std::vector<Json>>("{\"{\\\"a\\\": 1}\",\"[1, \\\"x,y\\\"]\"}", oid::jsonb_array),
              (std::vector<Json>{Json{"{\"a\": 1}"}, Json{"[1, \"x,y\"]"}}));
    const auto f = text_decode<std::vector<double>>("{0.1,NaN,-Infinity,1e+300}", oid::float8_array);
    ASSERT_EQ(f.size(), 4u);
    EXPECT_EQ(f[0], 0.1);
    EXPECT_TRUE(std::isnan(f[1]));
    EXPECT_EQ(f[3], 1e300);
    EXPECT_EQ(text_decode<std::vector<sys_days>>("{2024-01-02,infinity,\"0044-03-15 BC\"}", oid::date_array),
              (std::vector<sys_days>{sys_days(year{2024} / 1 / 2), sys_days::max(), sys_days(year{-43} / 3 / 15)}));
    EXPECT_EQ(Codec<std::vector<sys_days>>::encode_text({sys_days(year{-43} / 3 / 15)}), "{\"0044-03-15 BC\"}");
    EXPECT_EQ(text_decode<std::vector<Uuid>>("{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}", oid::uuid_array),
              (std::vector<Uuid>{Uuid::parse("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")}));
    // Elements without a binary codec make a text literal; Json is untyped so the server infers json[]/jsonb[].
    const Param pj = to_param(std::vector<Json>{Json{"{\"a\": 1}"}});
    EXPECT_EQ(pj.format, 0);
    EXPECT_EQ(pj.type_oid, 0u);
    EXPECT_EQ(*pj.value, "{\"{\\\"a\\\": 1}\"}");
    const Param pu = to_param(std::vector<unsigned>{1, 2});
    EXPECT_EQ(*pu.value, "{1,2}");
    EXPECT_EQ(to_param(std::vector<std::string>{"x"}).type_oid, oid::text_array);
    EXPECT_EQ(to_param(std::vector<Numeric>{}).type_oid, oid::numeric_array);
    expect_round_trip(std::vector<std::vector<std::uint8_t>>{{1, 2}, {}});
}

TEST(ArrayCodec, NullElementNeedsOptional) {
    EXPECT_CONVERSION_ERROR(text_decode<std::vector<int>>("{1,NULL}", oid::int4_array));
    EXPECT_CONVERSION_ERROR(binary_decode_hex<std::vector<int>>(
        "000000010000000100000017000000040000000100000004000000010000000400000002ffffffff00000004fffffffd", oid::int4_array));
    try {
        text_decode<std::vector<std::int16_t>>("{1,70000}", oid::int4_array);
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("array element 2"), std::string::npos) << e.what();
    }
}

TEST(ArrayCodec, MultiDimensionalIsAClearError) {
    try {
        text_decode<std::vector<int>>("{{1,2},{3,4}}", oid::int4_array);
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("multi-dimensional"), std::string::npos) << e.what();
    }
    EXPECT_CONVERSION_ERROR(binary_decode_hex<std::vector<int>>(
        "000000020000000000000017000000020000000100000002000000010000000400000001000000040000000200000004000000030000000400000004",
        oid::int4_array));
    EXPECT_CONVERSION_ERROR(text_decode<std::vector<int>>("[1:2][1:1]={{1},{2}}", oid::int4_array));
}

TEST(ArrayCodec, MalformedInput) {
    for (const char* bad : {"", "1,2", "{1,2", "{1,,2}", "{,}", "{1,2}x", "{\"a}", "{a\"b}", "[1:3]={1,2}", "[1:2={1,2}",
                            "{\"a\" b}", "{a\\"})
        { SCOPED_TRACE(bad); EXPECT_CONVERSION_ERROR(text_decode<OptStrings>(bad, oid::text_array)); }
    EXPECT_CONVERSION_ERROR(text_decode<std::vector<int>>("{1,x}", oid::int4_array));
    EXPECT_CONVERSION_ERROR(text_decode<std::vector<int>>("{1}", oid::int4));  // a scalar column
    for (const char* bad : {"0000000100000000", "000000000000000000000017ff", "ffffffff0000000000000017",
                            "000000010000000200000017000000010000000100000004",
                            "00000001000000000000001700000001000000010000000400000001ff",
                            "0000000100000000000000170000000100000001000000050000000100",
                            "00000001000000000000001700000002000000010000000400000001",
                            "000000010000000000000017000000010000000100000004000000",
                            "0000000100000000000000170000000100000001fffffffe",
                            "000000010000000000000019000000010000000100000004000000"})
        { SCOPED_TRACE(bad); EXPECT_CONVERSION_ERROR(binary_decode_hex<OptInts>(bad, oid::int4_array)); }
    // Element type in the header must match the column's array type.
    EXPECT_CONVERSION_ERROR(binary_decode_hex<OptInts>("000000010000000000000019000000010000000100000001", oid::int4_array));
}
