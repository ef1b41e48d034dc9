// Multi-dimensional arrays as nested std::vector: PostgreSQL 15 vectors, lower bounds, NULL
// elements, depth mismatches, ragged input and dimensions that disagree with the data.
#include "codec_test_util.hpp"

using namespace pgtls;
using namespace pgtls::test;

using OptInts2 = std::vector<std::vector<std::optional<int>>>;
using Ints2 = std::vector<std::vector<int>>;
using OptStrings3 = std::vector<std::vector<std::vector<std::optional<std::string>>>>;

TEST(ArrayNdCodec, ServerVectors) {
    expect_server_vector(OptInts2{{1, 2, 3}, {4, std::nullopt, 6}}, oid::int4_array, "{{1,2,3},{4,NULL,6}}",
                         "000000020000000100000017000000020000000100000003000000010000000400000001000000040000000200000004"
                         "000000030000000400000004ffffffff0000000400000006");
    expect_server_vector(OptStrings3{{{"a", "b c"}}, {{std::nullopt, ""}}}, oid::text_array, "{{{a,\"b c\"}},{{NULL,\"\"}}}",
                         "00000003000000010000001900000002000000010000000100000001000000020000000100000001610000000362206"
                         "3ffffffff00000000");
    expect_server_vector(Ints2{}, oid::int4_array, "{}", "000000000000000000000017");
    const Param p = to_param(Ints2{{1}, {2}});
    EXPECT_EQ(p.type_oid, oid::int4_array);
    EXPECT_EQ(p.format, 1);
}

TEST(ArrayNdCodec, LowerBoundsAreDropped) {
    EXPECT_EQ(text_decode<Ints2>("[0:1][2:3]={{1,2},{3,4}}", oid::int4_array), (Ints2{{1, 2}, {3, 4}}));
    EXPECT_EQ(binary_decode_hex<Ints2>("000000020000000000000017000000020000000000000002000000020000000400000001000000040000000"
                                       "200000004000000030000000400000004",
                                       oid::int4_array),
              (Ints2{{1, 2}, {3, 4}}));
    EXPECT_EQ(text_decode<Ints2>(" { { 1 , 2 } , {3,4} } ", oid::int4_array), (Ints2{{1, 2}, {3, 4}}));
}

TEST(ArrayNdCodec, EmptySubVectorWritesTheEmptyArray) {
    EXPECT_EQ(Codec<Ints2>::encode_text(Ints2{{}, {}}), "{}");
    EXPECT_EQ(tohex(Codec<Ints2>::encode_binary(Ints2{{}, {}})), "000000000000000000000017");
}

TEST(ArrayNdCodec, RaggedVectorsAreAUsageError) {
    try {
        (void)Codec<Ints2>::encode_binary(Ints2{{1, 2}, {3}});
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::usage);
        EXPECT_NE(std::string(e.what()).find("ragged"), std::string::npos) << e.what();
    }
    EXPECT_THROW((void)Codec<Ints2>::encode_text(Ints2{{1}, {2, 3}}), Error);
}

TEST(ArrayNdCodec, DepthMismatchNamesBoth) {
    try {
        (void)text_decode<Ints2>("{1,2}", oid::int4_array);
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("array of 1 dimensions read as 2-dimensional"), std::string::npos) << e.what();
    }
    EXPECT_CONVERSION_ERROR(text_decode<Ints2>("{{{1}}}", oid::int4_array));
    EXPECT_CONVERSION_ERROR(binary_decode_hex<Ints2>("000000010000000000000017000000010000000100000004000000", oid::int4_array));
    // A NULL element into a non-optional element.
    EXPECT_CONVERSION_ERROR(text_decode<Ints2>("{{1,NULL}}", oid::int4_array));
}

TEST(ArrayNdCodec, MalformedTextDimensions) {
    for (const char* bad : {"{{1,2},{3}}", "{{1},2}", "{1,{2}}", "{{1},{{2}}}", "{{}}", "{{1,2},{3,4}",
                            "[1:2][1:3]={{1,2},{3,4}}", "[1:2]={{1,2},{3,4}}", "[1:1][1:1]={1}", "{{{{{{{1}}}}}}}",
                            "[1:1][1:1][1:1][1:1][1:1][1:1][1:1]={{{{{{{1}}}}}}}", "{{1,2}x,{3,4}}"}) {
        SCOPED_TRACE(bad);
        EXPECT_CONVERSION_ERROR(text_decode<OptInts2>(bad, oid::int4_array));
    }
}

TEST(ArrayNdCodec, MalformedBinaryDimensions) {
    for (const char* bad : {
             "00000002000000000000001700000002000000010000000200000001000000040000000100000004000000020000000400000003",  // 2x2 declared, 3 elements present
             "0000000200000000000000170000000200000001000000020000000100000004000000010000000400000002000000040000000300000004000000040000000400000005",  // 2x2 declared, 5 elements present
             "000000020000000000000017400000000000000140000000000000010000000400000001",  // sizes whose product overflows
             "000000070000000000000017",  // 7 dimensions
             "000000020000000000000017000000020000000100000002",  // truncated dimension header
             "0000000200000000000000170000000100000001000000017fffffff0000000400000001",  // lower bound + size overflows int32
             "000000020000000000000017ffffffff000000010000000100000001",  // negative size
         }) {
        SCOPED_TRACE(bad);
        EXPECT_CONVERSION_ERROR(binary_decode_hex<OptInts2>(bad, oid::int4_array));
    }
}

TEST(ArrayNdCodec, RandomRoundTrips) {
    std::uint32_t seed = 12345;
    auto next = [&] { return seed = seed * 1103515245u + 12345u; };
    for (int iter = 0; iter < 200; ++iter) {
        const std::size_t rows = 1 + next() % 4, cols = 1 + next() % 5;
        OptInts2 v(rows);
        for (auto& r : v)
            for (std::size_t c = 0; c < cols; ++c) {
                if (next() % 7 == 0) r.emplace_back(std::nullopt);
                else r.emplace_back(static_cast<int>(next()));
            }
        expect_round_trip(v);
        std::vector<std::vector<std::vector<std::string>>> s(1 + next() % 2,
                                                             std::vector<std::vector<std::string>>(1 + next() % 2));
        const std::size_t n = 1 + next() % 3;
        for (auto& a : s)
            for (auto& b : a)
                for (std::size_t k = 0; k < n; ++k) b.push_back(std::string(next() % 3, "a\" {},\\N"[next() % 8]));
        const std::size_t inner = s[0][0].size();
        for (auto& a : s)
            for (auto& b : a) b.resize(inner);
        expect_round_trip(s);
    }
}
