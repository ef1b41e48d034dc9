// Known-answer vectors for the mbedTLS crypto provider.
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>

#include "crypto/crypto.hpp"
#include "mbedtls_test_env.hpp"

namespace pgtls::test {
namespace {

using crypto::Hash;

std::string hex(const crypto::Bytes& b) {
    static const char* d = "0123456789abcdef";
    std::string s;
    for (auto c : b) {
        s += d[c >> 4];
        s += d[c & 15];
    }
    return s;
}

crypto::Bytes unhex(const std::string& h) {
    crypto::Bytes b;
    for (std::size_t i = 0; i + 1 < h.size(); i += 2) b.push_back(static_cast<std::uint8_t>(std::stoi(h.substr(i, 2), nullptr, 16)));
    return b;
}

const crypto::Provider& provider() { return mbedtls().crypto(); }

TEST(MbedtlsCrypto, DigestsOfAbc) {
    const auto abc = crypto::as_bytes("abc");
    EXPECT_EQ(hex(provider().digest(Hash::md5, abc)), "900150983cd24fb0d6963f7d28e17f72");
    EXPECT_EQ(hex(provider().digest(Hash::sha1, abc)), "a9993e364706816aba3e25717850c26c9cd0d89d");
    EXPECT_EQ(hex(provider().digest(Hash::sha224, abc)), "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7");
    EXPECT_EQ(hex(provider().digest(Hash::sha256, abc)),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(hex(provider().digest(Hash::sha384, abc)),
              "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7");
    EXPECT_EQ(hex(provider().digest(Hash::sha512, abc)),
              "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd"
              "454d4423643ce80e2a9ac94fa54ca49f");
    EXPECT_EQ(hex(provider().digest(Hash::sha256, {})),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(MbedtlsCrypto, HmacRfc4231) {
    // Test case 1
    const crypto::Bytes key1(20, 0x0b);
    EXPECT_EQ(hex(provider().hmac(Hash::sha256, key1, crypto::as_bytes("Hi There"))),
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    EXPECT_EQ(hex(provider().hmac(Hash::sha512, key1, crypto::as_bytes("Hi There"))),
              "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4"
              "be9d914eeb61f1702e696c203a126854");
    // Test case 2
    EXPECT_EQ(hex(provider().hmac(Hash::sha256, crypto::as_bytes("Jefe"), crypto::as_bytes("what do ya want for nothing?"))),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    EXPECT_EQ(hex(provider().hmac(Hash::sha384, crypto::as_bytes("Jefe"), crypto::as_bytes("what do ya want for nothing?"))),
              "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649");
    // Test case 6: key longer than the block size
    const crypto::Bytes key6(131, 0xaa);
    EXPECT_EQ(hex(provider().hmac(Hash::sha256, key6,
                                  crypto::as_bytes("Test Using Larger Than Block-Size Key - Hash Key First"))),
              "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(MbedtlsCrypto, Pbkdf2HmacSha256KnownVectors) {
    EXPECT_EQ(hex(provider().pbkdf2_hmac(Hash::sha256, crypto::as_bytes("password"), crypto::as_bytes("salt"), 1, 32)),
              "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b");
    EXPECT_EQ(hex(provider().pbkdf2_hmac(Hash::sha256, crypto::as_bytes("password"), crypto::as_bytes("salt"), 4096, 32)),
              "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a");
    // RFC 6070 (SHA-1), 20 bytes
    EXPECT_EQ(hex(provider().pbkdf2_hmac(Hash::sha1, crypto::as_bytes("password"), crypto::as_bytes("salt"), 2, 20)),
              "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957");
}

// mbedTLS's own PBKDF2, the reference our pad-caching implementation must equal.
crypto::Bytes reference_pbkdf2(mbedtls_md_type_t md, const crypto::Bytes& pw, const crypto::Bytes& salt,
                               unsigned iterations, std::size_t len) {
    mbedtls_md_context_t ctx;
    mbedtls_md_init(&ctx);
    crypto::Bytes out(len);
    EXPECT_EQ(mbedtls_md_setup(&ctx, mbedtls_md_info_from_type(md), 1), 0);
    EXPECT_EQ(mbedtls_pkcs5_pbkdf2_hmac(&ctx, pw.data(), pw.size(), salt.data(), salt.size(), iterations,
                                        static_cast<std::uint32_t>(len), out.data()),
              0);
    mbedtls_md_free(&ctx);
    return out;
}

TEST(MbedtlsCrypto, Pbkdf2EqualsMbedtlsReferenceForEveryHashAndShape) {
    const std::pair<Hash, mbedtls_md_type_t> hashes[] = {
        {Hash::md5, MBEDTLS_MD_MD5},       {Hash::sha1, MBEDTLS_MD_SHA1},     {Hash::sha224, MBEDTLS_MD_SHA224},
        {Hash::sha256, MBEDTLS_MD_SHA256}, {Hash::sha384, MBEDTLS_MD_SHA384}, {Hash::sha512, MBEDTLS_MD_SHA512}};
    for (auto [hash, md] : hashes) {
        const std::size_t ds = crypto::digest_size(hash);
        for (std::size_t pw_len : {0u, 5u, 64u, 65u, 128u, 129u, 200u}) {
            crypto::Bytes pw(pw_len);
            for (std::size_t i = 0; i < pw_len; ++i) pw[i] = static_cast<std::uint8_t>(i * 7 + 1);
            const crypto::Bytes salt = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
            for (unsigned iterations : {1u, 2u, 3u, 50u}) {
                for (std::size_t len : {std::size_t{1}, ds, ds + 1, 3 * ds + 7}) {
                    EXPECT_EQ(provider().pbkdf2_hmac(hash, pw, salt, iterations, len),
                              reference_pbkdf2(md, pw, salt, iterations, len))
                        << "hash " << static_cast<int>(hash) << " pw " << pw_len << " it " << iterations << " len " << len;
                }
            }
        }
    }
}

TEST(MbedtlsCrypto, RandomBytesDifferAndAreNotConstant) {
    std::vector<std::uint8_t> a(32), b(32), big(5000);
    provider().random(a);
    provider().random(b);
    provider().random(big);  // more than one CTR_DRBG request
    EXPECT_NE(a, b);
    EXPECT_GT(std::set<std::uint8_t>(big.begin(), big.end()).size(), 200u);
}

TEST(MbedtlsCrypto, ConcurrentUseIsConsistent) {
    std::vector<std::thread> threads;
    std::vector<int> failures(8, 0);
    std::vector<std::set<crypto::Bytes>> seen(8);
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([t, &failures, &seen] {
            for (int i = 0; i < 200; ++i) {
                if (hex(provider().digest(Hash::sha256, crypto::as_bytes("abc"))) !=
                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
                    ++failures[t];
                crypto::Bytes r(16);
                provider().random(r);
                seen[t].insert(r);
            }
        });
    }
    for (auto& th : threads) th.join();
    std::set<crypto::Bytes> all;
    for (int t = 0; t < 8; ++t) {
        EXPECT_EQ(failures[t], 0);
        all.insert(seen[t].begin(), seen[t].end());
    }
    EXPECT_EQ(all.size(), 1600u);  // no two threads ever got the same random block
}

TEST(MbedtlsCrypto, HexHelperRoundTrips) { EXPECT_EQ(hex(unhex("00ff10")), "00ff10"); }

}  // namespace
}  // namespace pgtls::test
