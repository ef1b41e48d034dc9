// uuid and json/jsonb.
#include "codec_test_util.hpp"

using namespace pgtls;
using namespace pgtls::test;

TEST(UuidCodec, ServerVectorsAndInputForms) {
    const Uuid u = Uuid::parse("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    expect_server_vector(u, oid::uuid, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc999c0b4ef8bb6d6bb9bd380a11");
    expect_server_vector(Uuid{}, oid::uuid, "00000000-0000-0000-0000-000000000000", "00000000000000000000000000000000");
    EXPECT_EQ(Uuid::parse("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"), u);
    EXPECT_EQ(Uuid::parse("{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}"), u);
    EXPECT_EQ(Uuid::parse("a0eebc999c0b4ef8bb6d6bb9bd380a11"), u);
    EXPECT_EQ(Uuid::parse("a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11"), u);
    EXPECT_EQ(text_decode<Uuid>("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", oid::text), u);
    EXPECT_EQ(to_param(u).type_oid, oid::uuid);
    EXPECT_EQ(to_param(u).format, 1);
}

TEST(UuidCodec, Malformed) {
    for (const char* bad : {"", "a0eebc99", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111",
                            "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "-a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-", "a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11",
                            "a0e-ebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                            " a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"})
        { SCOPED_TRACE(bad); EXPECT_CONVERSION_ERROR(text_decode<Uuid>(bad, oid::uuid)); }
    EXPECT_CONVERSION_ERROR(binary_decode_hex<Uuid>("a0eebc999c0b4ef8bb6d6bb9bd380a", oid::uuid));
    EXPECT_CONVERSION_ERROR(binary_decode_hex<Uuid>("00000001", oid::int4));
}

TEST(JsonCodec, JsonAndJsonbBothFormats) {
    const std::string jsonb_text = "{\"a\": [true, null, \"\xc3\xbc\"], \"b\": 1}";
    EXPECT_EQ(text_decode<Json>(jsonb_text, oid::jsonb).text, jsonb_text);
    EXPECT_EQ(binary_decode_hex<Json>("017b2261223a205b747275652c206e756c6c2c2022c3bc225d2c202262223a20317d", oid::jsonb).text,
              jsonb_text);
    const std::string json_text = "{\"b\":1, \"a\":[true,null,\"\xc3\xbc\"]}";
    EXPECT_EQ(binary_decode_hex<Json>("7b2262223a312c202261223a5b747275652c6e756c6c2c22c3bc225d7d", oid::json).text, json_text);
    EXPECT_EQ(text_decode<Json>(json_text, oid::json).text, json_text);
    EXPECT_EQ(binary_decode_hex<std::string>("017b7d", oid::jsonb), "{}");
    EXPECT_CONVERSION_ERROR(binary_decode_hex<Json>("027b7d", oid::jsonb));
    // Untyped binary (a binary COPY field): jsonb's version byte is dropped, json kept whole.
    EXPECT_EQ(binary_decode_hex<Json>("017b7d", oid::unspecified).text, "{}");
    EXPECT_EQ(binary_decode_hex<Json>("7b7d", oid::unspecified).text, "{}");
    EXPECT_EQ(binary_decode_hex<Json>("", oid::unspecified).text, "");
    EXPECT_CONVERSION_ERROR(binary_decode_hex<Json>("", oid::jsonb));
    EXPECT_CONVERSION_ERROR(text_decode<Json>("1", oid::int4));
    const Param p = to_param(Json{"[1]"});
    EXPECT_EQ(p.type_oid, 0u);
    EXPECT_EQ(p.format, 0);
    EXPECT_EQ(*p.value, "[1]");
}
