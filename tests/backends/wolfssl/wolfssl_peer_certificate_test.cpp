// PeerCertificate from DER: names for core's host-name check and the signature hash, for the
// certificate kinds the test PKI has — RSA, ECDSA and Ed25519, the last decoded from the DER
// because wolfSSL 5.5 cannot make a WOLFSSL_X509 of it.
#include <gtest/gtest.h>

#include "backends/wolfssl/wolfssl_certificate.hpp"
#include "tests/backends/conformance_fixture.hpp"

namespace pgtls::test {
namespace {

std::optional<tls::PeerCertificate> describe(const std::string& base) {
    const std::vector<std::uint8_t> der = pem_certificate_der(conformance::pki(base + ".crt"));
    return tls::wolfssl::describe_certificate(der);
}

TEST(WolfsslPeerCertificate, RsaServerNamesAndHash) {
    auto pc = describe("server");
    ASSERT_TRUE(pc);
    EXPECT_EQ(pc->san_dns, std::vector<std::string>{"localhost"});
    EXPECT_EQ(pc->san_ip.size(), 2u);
    EXPECT_EQ(pc->common_names, std::vector<std::string>{"localhost"});
    EXPECT_NE(pc->subject.find("CN=localhost"), std::string::npos) << pc->subject;
    EXPECT_NE(pc->issuer.find("pgtls test root CA"), std::string::npos) << pc->issuer;
    EXPECT_EQ(pc->signature_hash, crypto::Hash::sha256);
}

TEST(WolfsslPeerCertificate, EcdsaHash) {
    auto pc = describe("server-ecdsa384");
    ASSERT_TRUE(pc);
    EXPECT_EQ(pc->signature_hash, crypto::Hash::sha384);
}

TEST(WolfsslPeerCertificate, Ed25519NamesComeFromTheDer) {
    auto pc = describe("server-ed25519");
    ASSERT_TRUE(pc) << "wolfSSL cannot load Ed25519 certificates as X509; the DER fallback must";
    EXPECT_EQ(pc->common_names, std::vector<std::string>{"localhost"});
    EXPECT_EQ(pc->subject, "/O=pgtls test/CN=localhost");
    EXPECT_EQ(pc->issuer, "/O=pgtls test/CN=pgtls test Ed25519 root CA");
    EXPECT_FALSE(pc->signature_hash) << "EdDSA has no separate hash (libpq's rule)";
}

TEST(WolfsslPeerCertificate, GarbageIsNoCertificate) {
    const std::vector<std::uint8_t> junk{0x30, 0x03, 0x02, 0x01, 0x00};
    EXPECT_FALSE(tls::wolfssl::describe_certificate(junk));
    EXPECT_FALSE(tls::wolfssl::describe_certificate({}));
}

}  // namespace
}  // namespace pgtls::test
