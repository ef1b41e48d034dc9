// Known-answer tests for every crypto provider: NIST digests (FIPS 180-4 examples, RFC 1321),
// RFC 4231 HMAC, RFC 6070-style PBKDF2, and digests over every length 0..299 to exercise
// block boundaries. Expected values: scripts/gen-auth-test-vectors.py (Python hashlib).
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "crypto_providers.hpp"
#include "pgtls/error.hpp"

namespace pgtls::test {
namespace {

using crypto::Hash;

const std::map<std::string, Hash> hash_by_name = {{"md5", Hash::md5},       {"sha1", Hash::sha1},
                                                  {"sha224", Hash::sha224}, {"sha256", Hash::sha256},
                                                  {"sha384", Hash::sha384}, {"sha512", Hash::sha512}};

std::string message(const std::string& name) {
    if (name == "empty") return "";
    if (name == "abc") return "abc";
    if (name == "448") return "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    if (name == "896")
        return "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    return std::string(1000000, 'a');
}

struct DigestVector { const char* alg; const char* msg; const char* hex; };
const DigestVector digest_vectors[] = {
    {"md5", "empty", "d41d8cd98f00b204e9800998ecf8427e"},
    {"md5", "abc", "900150983cd24fb0d6963f7d28e17f72"},
    {"md5", "448", "8215ef0796a20bcaaae116d3876c664a"},
    {"md5", "896", "03dd8807a93175fb062dfb55dc7d359c"},
    {"md5", "million_a", "7707d6ae4e027c70eea2a935c2296f21"},
    {"sha1", "empty", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
    {"sha1", "abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
    {"sha1", "448", "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
    {"sha1", "896", "a49b2446a02c645bf419f995b67091253a04a259"},
    {"sha1", "million_a", "34aa973cd4c4daa4f61eeb2bdbad27316534016f"},
    {"sha224", "empty", "d14a028c2a3a2bc9476102bb288234c415a2b01f828ea62ac5b3e42f"},
    {"sha224", "abc", "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"},
    {"sha224", "448", "75388b16512776cc5dba5da1fd890150b0c6455cb4f58b1952522525"},
    {"sha224", "896", "c97ca9a559850ce97a04a96def6d99a9e0e0e2ab14e6b8df265fc0b3"},
    {"sha224", "million_a", "20794655980c91d8bbb4c1ea97618a4bf03f42581948b2ee4ee7ad67"},
    {"sha256", "empty", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"sha256", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"sha256", "448", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    {"sha256", "896", "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
    {"sha256", "million_a", "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
    {"sha384", "empty", "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b"},
    {"sha384", "abc", "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"},
    {"sha384", "448", "3391fdddfc8dc7393707a65b1b4709397cf8b1d162af05abfe8f450de5f36bc6b0455a8520bc4e6f5fe95b1fe3c8452b"},
    {"sha384", "896", "09330c33f71147e83d192fc782cd1b4753111b173b3b05d22fa08086e3b0f712fcc7c71a557e2db966c3e9fa91746039"},
    {"sha384", "million_a", "9d0e1809716474cb086e834e310a4a1ced149e9c00f248527972cec5704c2a5b07b8b3dc38ecc4ebae97ddd87f3d8985"},
    {"sha512", "empty", "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"},
    {"sha512", "abc", "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
    {"sha512", "448", "204a8fc6dda82f0a0ced7beb8e08a41657c16ef468b228a8279be331a703c33596fd15c13b1b07f9aa1d3bea57789ca031ad85c7a71dd70354ec631238ca3445"},
    {"sha512", "896", "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909"},
    {"sha512", "million_a", "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973ebde0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b"},
};

struct AccVector { const char* alg; const char* hex; };
const AccVector acc_vectors[] = {
    {"md5", "7822672476780d31feb48545a90bc2ae"},
    {"hmac-md5", "e2adb6720a25723505410a0c928ddd0c"},
    {"sha1", "ca9349a03c700fe25e6c2cde997aa96ac2227d8a"},
    {"hmac-sha1", "d7a4d02b66de201fde2590912dab75ef289d9d6f"},
    {"sha224", "5f7950f53f41eebd9543fb23018cdccfb5c4c3bfb2a89447014ef130"},
    {"hmac-sha224", "1d7f3cdf1f337e6d39b375e590d1206bf286afa3765ceaba532d7466"},
    {"sha256", "7b074096cabb18dd0d1b468a173cb2f97f80e952525bca29542e606fd6d0753a"},
    {"hmac-sha256", "e52ced46a9b46662d578d6e372d5cfb004b445460d3630c8ddc990727e0ee8ee"},
    {"sha384", "3349f9e93dc68265966dd4b4eeb7d0a68a152793b87f45699e689686e9c4438a66fff34d4f5a8f701dafeec6c29475d2"},
    {"hmac-sha384", "fa9fc17fba0bcdfe23c42c98dc3c9da81fe93db07b931a80714eb31e3ab5e1704b36bed797513641b66cf9d328c6651a"},
    {"sha512", "ef606bab51d67f7cb5a90635c7fcde9f432e07fcdf712be07573dfce3f71136c5e01c111214f5e2038133624ee53638b903fa4383bcee60d1b5aa63a5aac7c77"},
    {"hmac-sha512", "c02647cd5b2ecb1c740c5b86f67e71d9d31a164796d5d27d6b280609f8ba919a2b247e04b759a23e4f6e77a6956c27904431652c35f89cde838e0c9d54110aa8"},
};

class CryptoVectors : public testing::TestWithParam<NamedProvider> {
protected:
    const crypto::Provider& p() const { return *GetParam().provider; }
};

TEST_P(CryptoVectors, NistAndRfc1321Digests) {
    for (const auto& v : digest_vectors) {
        SCOPED_TRACE(std::string(v.alg) + " " + v.msg);
        EXPECT_EQ(to_hex(p().digest(hash_by_name.at(v.alg), crypto::as_bytes(message(v.msg)))), v.hex);
    }
}

TEST_P(CryptoVectors, DigestSizes) {
    for (const auto& [name, h] : hash_by_name) EXPECT_EQ(p().digest(h, {}).size(), crypto::digest_size(h)) << name;
}

// H(H(m_0) || ... || H(m_299)) and the same for HMAC with keys of 0..199 bytes: one value
// per algorithm that covers every padding/block-boundary case and short/long HMAC keys.
TEST_P(CryptoVectors, EveryLengthAcrossBlockBoundaries) {
    std::vector<std::uint8_t> pattern(300);
    for (std::size_t i = 0; i < pattern.size(); ++i) pattern[i] = std::uint8_t(i * 7 + 3);
    for (const auto& v : acc_vectors) {
        std::string alg = v.alg;
        const bool is_hmac = alg.rfind("hmac-", 0) == 0;
        const Hash h = hash_by_name.at(is_hmac ? alg.substr(5) : alg);
        std::vector<std::uint8_t> acc;
        for (std::size_t n = 0; n < 300; ++n) {
            crypto::ByteView msg(pattern.data(), n);
            auto d = is_hmac ? p().hmac(h, crypto::ByteView(pattern.data(), n % 200), msg) : p().digest(h, msg);
            acc.insert(acc.end(), d.begin(), d.end());
        }
        EXPECT_EQ(to_hex(p().digest(h, acc)), v.hex) << alg;
    }
}

// RFC 4231 test cases 1, 2, 3, 4, 6 and 7 (case 5 tests truncation, which we do not do).
TEST_P(CryptoVectors, Rfc4231Hmac) {
    struct Case { std::vector<std::uint8_t> key, data; const char *sha224, *sha256, *sha384, *sha512; };
    std::vector<std::uint8_t> key131(131, 0xaa);
    std::vector<std::uint8_t> key25;
    for (int i = 1; i <= 25; ++i) key25.push_back(std::uint8_t(i));
    const Case cases[] = {
        {std::vector<std::uint8_t>(20, 0x0b), bytes_of("Hi There"),
         "896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22",
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
         "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6",
         "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"},
        {bytes_of("Jefe"), bytes_of("what do ya want for nothing?"),
         "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44",
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
         "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
         "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
        {std::vector<std::uint8_t>(20, 0xaa), std::vector<std::uint8_t>(50, 0xdd),
         "7fb3cb3588c6c1f6ffa9694d7d6ad2649365b0c1f65d69d1ec8333ea",
         "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
         "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b2a5ab39dc13814b94e3ab6e101a34f27",
         "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb"},
        {key25, std::vector<std::uint8_t>(50, 0xcd),
         "6c11506874013cac6a2abc1bb382627cec6a90d86efc012de7afec5a",
         "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
         "3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e6801dd23c4a7d679ccf8a386c674cffb",
         "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3dba91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd"},
        {key131, bytes_of("Test Using Larger Than Block-Size Key - Hash Key First"),
         "95e9a0db962095adaebe9b2d6f0dbce2d499f112f2d2b7273fa6870e",
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
         "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952",
         "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"},
        {key131,
         bytes_of("This is a test using a larger than block-size key and a larger than block-size data. The key needs to "
                  "be hashed before being used by the HMAC algorithm."),
         "3a854166ac5d9f023f54d517d0b39dbd946770db9c2b95c9f6f565d1",
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
         "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5a678cc31e799176d3860e6110c46523e",
         "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58"},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(to_hex(p().hmac(Hash::sha224, c.key, c.data)), c.sha224);
        EXPECT_EQ(to_hex(p().hmac(Hash::sha256, c.key, c.data)), c.sha256);
        EXPECT_EQ(to_hex(p().hmac(Hash::sha384, c.key, c.data)), c.sha384);
        EXPECT_EQ(to_hex(p().hmac(Hash::sha512, c.key, c.data)), c.sha512);
    }
}

TEST_P(CryptoVectors, Pbkdf2HmacSha256) {
    struct Case { std::string password, salt; std::uint32_t iterations; std::size_t len; const char* hex; };
    const Case cases[] = {
        {"password", "salt", 1, 32, "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b"},
        {"password", "salt", 2, 32, "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43"},
        {"password", "salt", 4096, 32, "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"},
        {"passwordPASSWORDpassword", "saltSALTsaltSALTsaltSALTsaltSALTsalt", 4096, 40,
         "348c89dbcbd32b2f32d814b8116e84cf2b17347ebc1800181c4e2a1fb8dd53e1c635518c7dac47e9"},
        {std::string("pass\0word", 9), std::string("sa\0lt", 5), 4096, 16, "89b69d0516f829893c696226650a8687"},
    };
    for (const auto& c : cases)
        EXPECT_EQ(to_hex(p().pbkdf2_hmac(Hash::sha256, crypto::as_bytes(c.password), crypto::as_bytes(c.salt),
                                         c.iterations, c.len)),
                  c.hex)
            << c.password << " " << c.iterations;
}

TEST_P(CryptoVectors, Pbkdf2OtherHashesMultiBlock) {
    EXPECT_EQ(to_hex(p().pbkdf2_hmac(Hash::sha1, crypto::as_bytes("password"), crypto::as_bytes("salt"), 4096, 64)),
              "4b007901b765489abead49d926f721d065a429c12e463f6c4cd79401085b03dbc7e8b88f1447f8c33c8e087a29a3bfcd895eb6fbf3"
              "81dcd92caf12199a34037f");
    EXPECT_EQ(to_hex(p().pbkdf2_hmac(Hash::sha512, crypto::as_bytes("password"), crypto::as_bytes("salt"), 4096, 64)),
              "d197b1b33db0143e018b12f3d1d1479e6cdebdcc97c5c0f87f6902e072f457b5143f30602641b3d55cd335988cb36b84376060ec"
              "d532e039b742a239434af2d5");
}

TEST_P(CryptoVectors, RandomFillsAndDiffers) {
    std::vector<std::uint8_t> a(64), b(64);
    p().random(a);
    p().random(b);
    EXPECT_NE(a, b);
    std::set<std::uint8_t> distinct(a.begin(), a.end());
    EXPECT_GT(distinct.size(), 20u);
    std::vector<std::uint8_t> empty;
    EXPECT_NO_THROW(p().random(empty));
}

INSTANTIATE_TEST_SUITE_P(AllProviders, CryptoVectors, testing::ValuesIn(all_crypto_providers()), provider_test_name);

TEST(CryptoCommon, ConstantTimeEqual) {
    std::vector<std::uint8_t> a{1, 2, 3}, b{1, 2, 3}, c{1, 2, 4}, d{1, 2};
    EXPECT_TRUE(crypto::constant_time_equal(a, b));
    EXPECT_FALSE(crypto::constant_time_equal(a, c));
    EXPECT_FALSE(crypto::constant_time_equal(a, d));
    EXPECT_TRUE(crypto::constant_time_equal({}, {}));
}

}  // namespace
}  // namespace pgtls::test
