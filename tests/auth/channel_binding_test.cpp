// tls-server-end-point (RFC 5929 section 4.1) from synthetic certificates with every
// signature hash, on every crypto provider: identical bytes whatever the backend.
#include <gtest/gtest.h>

#include "auth/channel_binding.hpp"
#include "crypto_providers.hpp"
#include "pgtls/error.hpp"

namespace pgtls::test {
namespace {

using crypto::Hash;

tls::PeerCertificate cert(std::optional<Hash> sig) {
    tls::PeerCertificate c;
    for (int i = 0; i < 700; ++i) c.der.push_back(std::uint8_t(i * 31 + 7));  // stands in for DER
    c.signature_hash = sig;
    return c;
}

class ChannelBinding : public testing::TestWithParam<NamedProvider> {
protected:
    const crypto::Provider& p() const { return *GetParam().provider; }
};

TEST_P(ChannelBinding, HashFollowsTheSignatureAlgorithm) {
    const std::pair<Hash, Hash> expected[] = {{Hash::md5, Hash::sha256},       {Hash::sha1, Hash::sha256},
                                              {Hash::sha224, Hash::sha224},    {Hash::sha256, Hash::sha256},
                                              {Hash::sha384, Hash::sha384},    {Hash::sha512, Hash::sha512}};
    for (auto [sig, used] : expected) {
        const auto c = cert(sig);
        const auto data = auth::tls_server_end_point(p(), c);
        EXPECT_EQ(data, p().digest(used, c.der));
        EXPECT_EQ(data.size(), crypto::digest_size(used));
        // Same bytes as the reference provider.
        EXPECT_EQ(data, tls::builtin_crypto().digest(used, c.der));
        EXPECT_EQ(auth::end_point_hash(sig), used);
    }
}

TEST_P(ChannelBinding, NoSignatureHashIsAClearError) {
    EXPECT_EQ(auth::end_point_hash(std::nullopt), std::nullopt);
    try {
        auth::tls_server_end_point(p(), cert(std::nullopt));
        FAIL() << "no error for a certificate without a signature hash";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::authentication);
        EXPECT_NE(std::string(e.what()).find("channel binding not possible"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("Ed25519"), std::string::npos);
    }
}

TEST_P(ChannelBinding, EmptyCertificateIsAnError) {
    tls::PeerCertificate c;
    c.signature_hash = Hash::sha256;
    EXPECT_THROW(auth::tls_server_end_point(p(), c), Error);
}

INSTANTIATE_TEST_SUITE_P(AllProviders, ChannelBinding, testing::ValuesIn(all_crypto_providers()), provider_test_name);

}  // namespace
}  // namespace pgtls::test
