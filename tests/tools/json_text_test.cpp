// What `pgtls --format json` embeds bare must be the JSON it claims to be: a hostile server
// can put anything in a numeric or json column's text (issue 15). Values a real server cannot
// send are checked here; tests/cli covers what a real server sends.
#include <gtest/gtest.h>

#include <string>

#include "json_text.hpp"

namespace pgtls::cli {
namespace {

TEST(JsonNumber, AcceptsWhatPostgresPrints) {
    for (const char* s : {"0", "-7", "123456789012345678901234567890", "1.50", "-0.001", "1e+300", "1E-05", "2.5e10"})
        EXPECT_TRUE(is_json_number(s)) << s;
}

TEST(JsonNumber, RefusesForgedStructureAndNonNumbers) {
    for (const char* s : {"", "1,\"admin\":true", "1}", "NaN", "Infinity", "-Infinity", "+1", "01", "1.", ".5",
                          "1e", "0x10", "1 ", " 1", "1\n", "--1", "1e+", "true"})
        EXPECT_FALSE(is_json_number(s)) << s;
}

TEST(CompactJson, RemovesInsignificantWhitespaceOnly) {
    EXPECT_EQ(compact_json("{\n  \"a\" : [1,\n 2.5e3 ],\t\"b\":{\"c d\": \"x\\ny\\u0041\"}}\r\n"),
              R"({"a":[1,2.5e3],"b":{"c d":"x\ny\u0041"}})");
    EXPECT_EQ(compact_json(" true "), "true");
    EXPECT_EQ(compact_json("[]"), "[]");
    EXPECT_EQ(compact_json("{}"), "{}");
    EXPECT_EQ(compact_json("\"a b\""), "\"a b\"");
}

TEST(CompactJson, RefusesAnythingThatIsNotOneJsonValue) {
    for (const char* s : {"", "1]", "{\"a\":1}}", "[1,]", "{\"a\"}", "{a:1}", "[1 2]", "\"unterminated", "\"raw\nnewline\"",
                          "\"bad \\x escape\"", "\"\\u12\"", "tru", "nul", "1, \"x\": 2", "[1],[2]", "{\"a\":1,}", "NaN",
                          "{\"k\":1}, \"forged\":{\"x\":1"})
        EXPECT_FALSE(compact_json(s).has_value()) << s;
}

TEST(CompactJson, DeepNestingIsNoStackOverflow) {
    const std::size_t depth = 1'000'000;
    std::string deep(depth, '[');
    deep.append(depth, ']');
    auto out = compact_json(deep);
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(out->size(), 2 * depth);
    EXPECT_FALSE(compact_json(std::string(depth, '[')).has_value());
}

TEST(CompactJson, InvalidUtf8InStringsBecomesReplacementCharacters) {
    EXPECT_EQ(compact_json("[\"caf\xE9\"]"), "[\"caf\xEF\xBF\xBD\"]");
    EXPECT_EQ(compact_json("\"\xED\xA0\x80\""), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
}

TEST(JsonQuote, StrictUtf8) {
    EXPECT_EQ(json_quote("\xC3\xA9"), "\"\xC3\xA9\"");                      // é
    EXPECT_EQ(json_quote("\xF0\x9F\x98\x80"), "\"\xF0\x9F\x98\x80\"");      // U+1F600
    EXPECT_EQ(json_quote("\xE0\x80\x80"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");  // overlong
    EXPECT_EQ(json_quote("\xED\xA0\x80"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");  // surrogate
    EXPECT_EQ(json_quote("\xF4\x90\x80\x80"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");  // > U+10FFFF
    EXPECT_EQ(json_quote("\xC0\xAF"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");
    EXPECT_EQ(json_quote("a\"\\\n\x1b"), "\"a\\\"\\\\\\n\\u001b\"");
}

}  // namespace
}  // namespace pgtls::cli
