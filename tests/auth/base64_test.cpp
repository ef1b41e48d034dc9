#include <gtest/gtest.h>

#include "auth/base64.hpp"
#include "crypto_providers.hpp"

namespace pgtls::test {
namespace {

using auth::base64_decode;
using auth::base64_encode;

TEST(Base64, Rfc4648Vectors) {
    const std::pair<const char*, const char*> v[] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                                     {"foo", "Zm9v"},  {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
                                                     {"foobar", "Zm9vYmFy"}};
    for (auto [plain, enc] : v) {
        EXPECT_EQ(base64_encode(crypto::as_bytes(plain)), enc);
        auto d = base64_decode(enc);
        ASSERT_TRUE(d) << enc;
        EXPECT_EQ(std::string(d->begin(), d->end()), plain);
    }
}

TEST(Base64, AllByteValuesRoundTrip) {
    std::vector<std::uint8_t> all(256);
    for (int i = 0; i < 256; ++i) all[i] = std::uint8_t(i);
    for (std::size_t n = 0; n <= all.size(); n += 37) {
        std::vector<std::uint8_t> part(all.begin(), all.begin() + static_cast<long>(n));
        auto d = base64_decode(base64_encode(part));
        ASSERT_TRUE(d);
        EXPECT_EQ(*d, part);
    }
}

TEST(Base64, StrictDecodingRejects) {
    for (const char* bad : {"Zg", "Zg=", "Zm9v\n", " Zm9v", "Zm 9v", "Zg==Zg==", "Z===", "====", "Zm9v=", "Zm=v",
                            "Zh==", "Zm9=", "Zm!v"}) {
        EXPECT_FALSE(base64_decode(bad)) << bad;
    }
    EXPECT_FALSE(base64_decode(std::string_view("Zm9\0", 4)));
}

}  // namespace
}  // namespace pgtls::test
