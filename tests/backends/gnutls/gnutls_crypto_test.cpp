// crypto::Provider over GnuTLS: published vectors, and a cross-check against OpenSSL's own
// primitives for edge-case lengths (empty key/data, long keys, odd output lengths).
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>
#include <thread>
#include <vector>

#include "gnutls_test_support.hpp"
#include "pgtls/error.hpp"

namespace pgtls::test {
namespace {

using crypto::Hash;

const crypto::Provider& provider() { return gnutls().crypto(); }

std::string hex(const crypto::Bytes& b) {
    static const char d[] = "0123456789abcdef";
    std::string s;
    for (auto c : b) {
        s += d[c >> 4];
        s += d[c & 15];
    }
    return s;
}

crypto::ByteView bytes(const std::string& s) { return crypto::as_bytes(s); }

TEST(GnutlsCrypto, NameIsGnutls) { EXPECT_EQ(provider().name(), "gnutls"); }

TEST(GnutlsCrypto, DigestsOfAbcMatchFipsVectors) {
    const std::string abc = "abc";
    EXPECT_EQ(hex(provider().digest(Hash::md5, bytes(abc))), "900150983cd24fb0d6963f7d28e17f72");
    EXPECT_EQ(hex(provider().digest(Hash::sha1, bytes(abc))), "a9993e364706816aba3e25717850c26c9cd0d89d");
    EXPECT_EQ(hex(provider().digest(Hash::sha224, bytes(abc))),
              "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7");
    EXPECT_EQ(hex(provider().digest(Hash::sha256, bytes(abc))),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(hex(provider().digest(Hash::sha384, bytes(abc))),
              "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7");
    EXPECT_EQ(hex(provider().digest(Hash::sha512, bytes(abc))),
              "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
              "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
}

TEST(GnutlsCrypto, DigestOfEmptyInput) {
    EXPECT_EQ(hex(provider().digest(Hash::sha256, {})), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(GnutlsCrypto, HmacMatchesRfc4231) {
    const std::string key1(20, '\x0b'), data1 = "Hi There";
    EXPECT_EQ(hex(provider().hmac(Hash::sha224, bytes(key1), bytes(data1))),
              "896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22");
    EXPECT_EQ(hex(provider().hmac(Hash::sha256, bytes(key1), bytes(data1))),
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    EXPECT_EQ(hex(provider().hmac(Hash::sha384, bytes(key1), bytes(data1))),
              "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6");
    EXPECT_EQ(hex(provider().hmac(Hash::sha512, bytes(key1), bytes(data1))),
              "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
              "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854");
    const std::string key2 = "Jefe", data2 = "what do ya want for nothing?";
    EXPECT_EQ(hex(provider().hmac(Hash::sha256, bytes(key2), bytes(data2))),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    // Test case 6: a key longer than the block size is hashed first.
    const std::string key6(131, '\xaa'), data6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    EXPECT_EQ(hex(provider().hmac(Hash::sha256, bytes(key6), bytes(data6))),
              "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(GnutlsCrypto, HmacMd5AndSha1MatchRfc2202) {
    EXPECT_EQ(hex(provider().hmac(Hash::md5, bytes(std::string(16, '\x0b')), bytes("Hi There"))),
              "9294727a3638bb1c13f48ef8158bfc9d");
    EXPECT_EQ(hex(provider().hmac(Hash::sha1, bytes(std::string(20, '\x0b')), bytes("Hi There"))),
              "b617318655057264e28bc0b6fb378c8ef146be00");
}

TEST(GnutlsCrypto, HmacWithEmptyKeyAndData) {
    EXPECT_EQ(hex(provider().hmac(Hash::sha256, {}, {})),
              "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(GnutlsCrypto, Pbkdf2HmacSha256KnownVectors) {
    EXPECT_EQ(hex(provider().pbkdf2_hmac(Hash::sha256, bytes("password"), bytes("salt"), 1, 32)),
              "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b");
    EXPECT_EQ(hex(provider().pbkdf2_hmac(Hash::sha256, bytes("password"), bytes("salt"), 4096, 32)),
              "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a");
    // RFC 7914 section 11: a 64-byte output spans two PBKDF2 blocks.
    EXPECT_EQ(hex(provider().pbkdf2_hmac(Hash::sha256, bytes("passwd"), bytes("salt"), 1, 64)),
              "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
              "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783");
}

TEST(GnutlsCrypto, Pbkdf2HmacSha1MatchesRfc6070) {
    EXPECT_EQ(hex(provider().pbkdf2_hmac(Hash::sha1, bytes("password"), bytes("salt"), 2, 20)),
              "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957");
}

TEST(GnutlsCrypto, Pbkdf2RejectsZeroIterations) {
    EXPECT_THROW(provider().pbkdf2_hmac(Hash::sha256, bytes("p"), bytes("s"), 0, 32), Error);
}

const EVP_MD* openssl_md(Hash h) {
    switch (h) {
        case Hash::md5: return EVP_md5();
        case Hash::sha1: return EVP_sha1();
        case Hash::sha224: return EVP_sha224();
        case Hash::sha256: return EVP_sha256();
        case Hash::sha384: return EVP_sha384();
        case Hash::sha512: return EVP_sha512();
    }
    return nullptr;
}

TEST(GnutlsCrypto, AgreesWithOpensslOnEdgeLengths) {
    const Hash hashes[] = {Hash::md5, Hash::sha1, Hash::sha224, Hash::sha256, Hash::sha384, Hash::sha512};
    const std::size_t lengths[] = {0, 1, 55, 56, 63, 64, 65, 127, 128, 129, 1000};
    for (Hash h : hashes) {
        for (std::size_t len : lengths) {
            std::string data(len, '\0');
            for (std::size_t i = 0; i < len; ++i) data[i] = static_cast<char>(i * 7 + 3);
            unsigned char md[EVP_MAX_MD_SIZE];
            unsigned md_len = 0;
            EVP_Digest(data.data(), data.size(), md, &md_len, openssl_md(h), nullptr);
            EXPECT_EQ(hex(provider().digest(h, bytes(data))), hex(crypto::Bytes(md, md + md_len))) << len;

            const std::string key = data.substr(0, len / 2);
            HMAC(openssl_md(h), key.data(), static_cast<int>(key.size()),
                 reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &md_len);
            EXPECT_EQ(hex(provider().hmac(h, bytes(key), bytes(data))), hex(crypto::Bytes(md, md + md_len))) << len;

            const std::size_t out_len = len % 97 + 1;
            crypto::Bytes expected(out_len);
            PKCS5_PBKDF2_HMAC(key.data(), static_cast<int>(key.size()),
                              reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()), 3,
                              openssl_md(h), static_cast<int>(out_len), expected.data());
            EXPECT_EQ(hex(provider().pbkdf2_hmac(h, bytes(key), bytes(data), 3, out_len)), hex(expected)) << len;
        }
    }
}

TEST(GnutlsCrypto, RandomFillsAndDiffers) {
    std::vector<std::uint8_t> a(32), b(32), zero(32);
    provider().random(a);
    provider().random(b);
    EXPECT_NE(a, b);
    EXPECT_NE(a, zero);
    std::vector<std::uint8_t> big(1 << 20);
    provider().random(big);
    std::size_t zeros = 0;
    for (auto c : big) zeros += c == 0;
    EXPECT_LT(zeros, 8000u);  // ~4096 expected for uniform bytes
    provider().random(std::span<std::uint8_t>());  // empty is fine
}

TEST(GnutlsCrypto, SafeFromManyThreads) {
    const std::string expected = "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a";
    std::vector<std::thread> threads;
    std::vector<int> failures(8, 0);
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 20; ++i) {
                if (hex(provider().pbkdf2_hmac(Hash::sha256, bytes("password"), bytes("salt"), 4096, 32)) != expected)
                    ++failures[t];
                std::vector<std::uint8_t> r(16);
                provider().random(r);
            }
        });
    }
    for (auto& th : threads) th.join();
    for (int f : failures) EXPECT_EQ(f, 0);
}

}  // namespace
}  // namespace pgtls::test
