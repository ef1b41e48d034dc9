// Known-answer tests for the OpenSSL crypto::Provider (FIPS 180, RFC 1321, RFC 4231, RFC 7914).
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <thread>
#include <vector>

#include "tls/tls_backend.hpp"
#include "pgtls/error.hpp"

namespace pgtls::tls {
const Backend& openssl_backend();
}

namespace {

using pgtls::crypto::Bytes;
using pgtls::crypto::Hash;
using pgtls::crypto::as_bytes;

const pgtls::crypto::Provider& provider() { return pgtls::tls::openssl_backend().crypto(); }

std::string hex(const Bytes& b) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (auto c : b) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

TEST(OpenSslCrypto, NameIsOpenssl) { EXPECT_EQ(provider().name(), "openssl"); }

TEST(OpenSslCrypto, DigestsOfAbc) {
    auto abc = as_bytes("abc");
    EXPECT_EQ(hex(provider().digest(Hash::md5, abc)), "900150983cd24fb0d6963f7d28e17f72");
    EXPECT_EQ(hex(provider().digest(Hash::sha1, abc)), "a9993e364706816aba3e25717850c26c9cd0d89d");
    EXPECT_EQ(hex(provider().digest(Hash::sha224, abc)), "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7");
    EXPECT_EQ(hex(provider().digest(Hash::sha256, abc)),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(hex(provider().digest(Hash::sha384, abc)),
              "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7");
    EXPECT_EQ(hex(provider().digest(Hash::sha512, abc)),
              "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
              "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
}

TEST(OpenSslCrypto, DigestOfEmptyInput) {
    EXPECT_EQ(hex(provider().digest(Hash::sha256, {})),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(OpenSslCrypto, HmacRfc4231) {
    // Test case 1: key = 0x0b * 20, "Hi There".
    Bytes key1(20, 0x0b);
    EXPECT_EQ(hex(provider().hmac(Hash::sha256, key1, as_bytes("Hi There"))),
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    // Test case 2: key = "Jefe".
    EXPECT_EQ(hex(provider().hmac(Hash::sha256, as_bytes("Jefe"), as_bytes("what do ya want for nothing?"))),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    EXPECT_EQ(hex(provider().hmac(Hash::sha512, as_bytes("Jefe"), as_bytes("what do ya want for nothing?"))),
              "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
              "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
    // Test case 6: a key longer than the block size is hashed first.
    Bytes key6(131, 0xaa);
    EXPECT_EQ(hex(provider().hmac(Hash::sha256, key6,
                                  as_bytes("Test Using Larger Than Block-Size Key - Hash Key First"))),
              "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(OpenSslCrypto, HmacWithEmptyKeyAndData) {
    EXPECT_EQ(hex(provider().hmac(Hash::sha256, {}, {})),
              "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(OpenSslCrypto, Pbkdf2HmacSha256KnownVectors) {
    EXPECT_EQ(hex(provider().pbkdf2_hmac(Hash::sha256, as_bytes("password"), as_bytes("salt"), 1, 32)),
              "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b");
    EXPECT_EQ(hex(provider().pbkdf2_hmac(Hash::sha256, as_bytes("password"), as_bytes("salt"), 4096, 32)),
              "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a");
    // RFC 7914 section 11.
    EXPECT_EQ(hex(provider().pbkdf2_hmac(Hash::sha256, as_bytes("passwd"), as_bytes("salt"), 1, 64)),
              "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
              "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783");
}

TEST(OpenSslCrypto, Pbkdf2RejectsZeroIterations) {
    EXPECT_THROW(provider().pbkdf2_hmac(Hash::sha256, as_bytes("p"), as_bytes("s"), 0, 32), pgtls::Error);
}

TEST(OpenSslCrypto, RandomFillsAndDiffers) {
    std::array<std::uint8_t, 32> a{}, b{};
    provider().random(a);
    provider().random(b);
    EXPECT_NE(a, b);
    EXPECT_NE(a, (std::array<std::uint8_t, 32>{}));
}

TEST(OpenSslCrypto, ConcurrentUseGivesSameAnswers) {
    std::vector<std::thread> threads;
    std::vector<std::string> results(8);
    for (int i = 0; i < 8; ++i)
        threads.emplace_back([&results, i] {
            for (int j = 0; j < 50; ++j)
                results[i] = hex(provider().pbkdf2_hmac(Hash::sha256, as_bytes("password"), as_bytes("salt"), 64, 32));
        });
    for (auto& t : threads) t.join();
    for (const auto& r : results) EXPECT_EQ(r, results[0]);
    EXPECT_EQ(results[0].size(), 64u);
}

}  // namespace
