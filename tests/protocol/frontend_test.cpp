#include "core/protocol/frontend.hpp"

#include <gtest/gtest.h>

#include "pgtls/error.hpp"

using namespace pgtls;

TEST(Frontend, SslRequestIsTheDocumentedEightBytes) {
    std::string out;
    protocol::ssl_request(out);
    EXPECT_EQ(out, std::string("\0\0\0\x08\x04\xd2\x16\x2f", 8));
}

TEST(Frontend, StartupMessageLayout) {
    std::string out;
    protocol::startup_message(out, {{"user", "bob"}, {"database", "db"}});
    const std::string expected = std::string("\0\0\0\x1e\0\3\0\0", 8) + "user" + '\0' + "bob" + '\0' + "database" + '\0' +
                                 "db" + '\0' + '\0';
    EXPECT_EQ(out, expected);
}

TEST(Frontend, QueryRefusesEmbeddedNul) {
    std::string out;
    EXPECT_THROW(protocol::query(out, std::string_view("SELECT 1\0; DROP", 15)), Error);
}

TEST(Frontend, BindSendsFormatsOnlyWhenSomeParameterIsBinary) {
    std::string text, binary;
    const char v[] = "42";
    protocol::BindParam p{v, 2, 0};
    protocol::bind(text, "", "", std::span(&p, 1), {});
    // 'B', len, portal "", stmt "", nformats 0, nparams 1, len 2, "42", nresult 0
    EXPECT_EQ(text, std::string("B\0\0\0\x12\0\0\0\0\0\1\0\0\0\x02" "42\0\0", 19));
    p.format = 1;
    protocol::bind(binary, "", "", std::span(&p, 1), {});
    EXPECT_EQ(binary.size(), text.size() + 2);  // one format code
}

TEST(Frontend, NullParameterIsMinusOne) {
    std::string out;
    protocol::BindParam p{nullptr, 0, 0};
    protocol::bind(out, "", "s1", std::span(&p, 1), {});
    EXPECT_NE(out.find(std::string("\xff\xff\xff\xff", 4)), std::string::npos);
}

TEST(Frontend, CancelRequestCarriesPidAndKey) {
    std::string out;
    const std::uint8_t key[4] = {1, 2, 3, 4};
    protocol::cancel_request(out, 0x01020304, key);
    EXPECT_EQ(out, std::string("\0\0\0\x10\x04\xd2\x16\x2e\1\2\3\4\1\2\3\4", 16));
}
