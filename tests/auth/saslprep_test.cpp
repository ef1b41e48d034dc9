// SASLprep with libpq's pg_saslprep semantics, and NFKC against the Unicode conformance file
// when the Debian unicode-data package is installed.
#include <gtest/gtest.h>

#include <cstdio>
#include <sstream>

#include "auth/saslprep.hpp"
#include "auth/unicode_tables.hpp"

namespace pgtls::test {
namespace {

using auth::SaslprepStatus;

std::string prep(std::string_view in, SaslprepStatus expected = SaslprepStatus::success) {
    std::string out = "<unset>";
    EXPECT_EQ(auth::saslprep(in, out), expected) << in;
    return out;
}

TEST(Saslprep, AsciiPassesUnchangedEvenWithControlCharacters) {
    EXPECT_EQ(prep("scram-secret"), "scram-secret");
    EXPECT_EQ(prep("\x01 tab\there"), "\x01 tab\there");  // libpq's pure-ASCII fast path
    EXPECT_EQ(prep(""), "");
}

TEST(Saslprep, MappedToNothing) {
    EXPECT_EQ(prep("I\xc2\xadX"), "IX");                      // U+00AD SOFT HYPHEN
    EXPECT_EQ(prep("a\xe2\x80\x8d" "b\xef\xbb\xbf"), "ab");   // U+200D ZWJ, U+FEFF
    EXPECT_EQ(prep("x\xef\xb8\x8fy"), "xy");                  // U+FE0F variation selector
}

TEST(Saslprep, NonAsciiSpacesBecomeSpace) {
    EXPECT_EQ(prep("a\xc2\xa0" "b"), "a b");        // U+00A0
    EXPECT_EQ(prep("\xe3\x80\x80x"), " x");         // U+3000
    EXPECT_EQ(prep("a\xe2\x80\x8b" "b"), "a b");    // U+200B is in C.1.2 and B.1; libpq maps it to space
}

TEST(Saslprep, Nfkc) {
    EXPECT_EQ(prep("\xe2\x85\xa8"), "IX");                         // U+2168 ROMAN NUMERAL NINE
    EXPECT_EQ(prep("\xc2\xaa"), "a");                              // U+00AA
    EXPECT_EQ(prep("\xef\xbd\x86\xef\xbd\x95ll"), "full");         // fullwidth f, u
    EXPECT_EQ(prep("e\xcc\x81"), "\xc3\xa9");                      // e + U+0301 -> U+00E9
    EXPECT_EQ(prep("\xef\xac\x81"), "fi");                         // U+FB01 ligature
    EXPECT_EQ(prep("\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8"), "\xea\xb0\x81");  // Hangul L V T -> U+AC01
    EXPECT_EQ(prep("p\xc3\xa4ssw\xc3\xb6rd"), "p\xc3\xa4ssw\xc3\xb6rd");    // already NFKC
    EXPECT_EQ(prep("a\xcc\x81\xcc\xa3"), "\xe1\xba\xa1\xcc\x81");  // reordering: a + acute + dot below
}

TEST(Saslprep, ProhibitedCharacters) {
    prep("\xc3\xa9\x07", SaslprepStatus::prohibited);          // ASCII control once non-ASCII is present
    prep("x\xee\x80\x80", SaslprepStatus::prohibited);         // U+E000 private use
    prep("x\xe2\x80\x8e", SaslprepStatus::prohibited);         // U+200E LRM (C.8)
    prep("x\xef\xbf\xbe", SaslprepStatus::prohibited);         // U+FFFE non-character
    prep("x\xc8\xa1", SaslprepStatus::prohibited);             // U+0221: unassigned in Unicode 3.2
    prep("x\xf0\x9f\x98\x80", SaslprepStatus::prohibited);     // U+1F600 emoji: unassigned in 3.2
    prep("\xc2\xad", SaslprepStatus::prohibited);              // maps to the empty string
}

TEST(Saslprep, Bidi) {
    EXPECT_EQ(prep("\xd8\xa7" "1" "\xd8\xa8"), "\xd8\xa7" "1" "\xd8\xa8");  // RandAL ... RandAL
    prep("\xd8\xa7" "a" "\xd8\xa8", SaslprepStatus::prohibited);            // mixes in an L character
    prep("\xd8\xa7" "1", SaslprepStatus::prohibited);                       // does not end with RandAL
    prep("1\xd8\xa7", SaslprepStatus::prohibited);                          // does not start with RandAL
}

TEST(Saslprep, InvalidUtf8) {
    for (std::string_view bad : {std::string_view("\xc3\x28"), std::string_view("\xed\xa0\x80"),
                                 std::string_view("\xf4\x90\x80\x80"), std::string_view("\xc0\xaf"),
                                 std::string_view("\xe0\x80\xaf"), std::string_view("\xe2\x82"),
                                 std::string_view("\xff"), std::string_view("\x80" "abc")})
        prep(bad, SaslprepStatus::invalid_utf8);
}

TEST(Saslprep, ScramPasswordFallsBackToRawBytes) {
    EXPECT_EQ(auth::scram_password("\xe2\x85\xa8"), "IX");
    EXPECT_EQ(auth::scram_password("\xc3\x28pw"), "\xc3\x28pw");          // invalid UTF-8: raw
    EXPECT_EQ(auth::scram_password("x\xee\x80\x80"), "x\xee\x80\x80");    // prohibited: raw
    EXPECT_EQ(auth::scram_password("\xc2\xad"), "\xc2\xad");              // empty after mapping: raw
}

TEST(Saslprep, Utf8RoundTrip) {
    std::u32string cps = {0x41, 0x7FF, 0x800, 0xFFFF, 0x10000, 0x10FFFF};
    std::u32string back;
    ASSERT_TRUE(auth::utf8_decode(auth::utf8_encode(cps), back));
    EXPECT_EQ(back, cps);
}

std::u32string parse_code_points(const std::string& field) {
    std::u32string out;
    std::istringstream in(field);
    std::string hex;
    while (in >> hex) out += static_cast<char32_t>(std::stoul(hex, nullptr, 16));
    return out;
}

// UAX #15 conformance: NFKC(c1..c5) == c4 for every line of NormalizationTest.txt.
TEST(Nfkc, UnicodeConformanceFile) {
    const char* path = "/usr/share/unicode/NormalizationTest.txt.bz2";
    if (std::FILE* f = std::fopen(path, "r"))
        std::fclose(f);
    else
        GTEST_SKIP() << path << " not installed (Debian package unicode-data)";
    std::FILE* pipe = ::popen((std::string("bzcat ") + path).c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    char line[4096];
    int checked = 0, failures = 0;
    bool version_ok = false;
    while (std::fgets(line, sizeof line, pipe)) {
        std::string s(line);
        if (s.rfind("# NormalizationTest-", 0) == 0)
            version_ok = s.find(std::string("NormalizationTest-") + auth::unicode::ucd_version) != std::string::npos;
        if (s.empty() || s[0] == '#' || s[0] == '@') continue;
        std::vector<std::string> fields;
        std::size_t pos = 0;
        for (int i = 0; i < 5; ++i) {
            std::size_t semi = s.find(';', pos);
            if (semi == std::string::npos) break;
            fields.push_back(s.substr(pos, semi - pos));
            pos = semi + 1;
        }
        if (fields.size() != 5) continue;
        const std::u32string c4 = parse_code_points(fields[3]);
        for (const auto& f : fields) {
            if (auth::nfkc(parse_code_points(f)) != c4 && ++failures <= 10) ADD_FAILURE() << "NFKC mismatch: " << s;
        }
        ++checked;
    }
    ::pclose(pipe);
    if (!version_ok) GTEST_SKIP() << "conformance file is not for Unicode " << auth::unicode::ucd_version;
    EXPECT_GT(checked, 15000);
    EXPECT_EQ(failures, 0);
}

}  // namespace
}  // namespace pgtls::test
