// GnuTLS client sessions against an OpenSSL server: versions, ALPN, SNI, peer certificate,
// chain verification, CRLs, client certificates, key log, I/O status mapping.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>

#include "gnutls_test_support.hpp"
#include "pgtls/error.hpp"

namespace pgtls::test {
namespace {

using tls::IoStatus;

PeerOptions server(const std::string& name = "server") {
    PeerOptions o;
    o.cert_file = pki(name + ".crt");
    o.key_file = pki(name + ".key");
    return o;
}

PeerOptions requesting_server_options() {
    PeerOptions o = server();
    o.client_ca_file = pki("client-ca.crt");
    o.accept_any_client_cert = true;
    return o;
}

tls::ContextConfig verifying(const std::string& ca = "ca.crt") {
    tls::ContextConfig c;
    c.verify_chain = true;
    c.ca = file_material(ca);
    return c;
}

// Handshake, echo "ping", close cleanly; returns the server's observation.
PeerObservation round_trip(const tls::ContextConfig& config, PeerOptions options, tls::SessionInfo* info = nullptr,
                           const std::string& sni = "") {
    TlsPeer peer(std::move(options));
    TestClient c(config, peer.port(), sni);
    tls::IoResult hs = drive_handshake(*c.session, c.fd);
    EXPECT_EQ(hs.status, IoStatus::ok) << hs.error;
    if (hs.status == IoStatus::ok) {
        EXPECT_EQ(write_all(*c.session, c.fd, "ping").status, IoStatus::ok);
        EXPECT_EQ(read_some(*c.session, c.fd, 4), "ping");
        if (info) *info = c.session->info();
        EXPECT_EQ(c.session->shutdown().status, IoStatus::ok);
    }
    c.session.reset();
    ::shutdown(c.fd, SHUT_WR);
    return peer.finish();
}

// Handshake expected to fail; returns the client's error text.
std::string failing_handshake(const tls::ContextConfig& config, PeerOptions options) {
    TlsPeer peer(std::move(options));
    TestClient c(config, peer.port());
    tls::IoResult hs = drive_handshake(*c.session, c.fd);
    EXPECT_EQ(hs.status, IoStatus::error);
    c.session.reset();
    ::close(c.fd);
    c.fd = -1;
    EXPECT_FALSE(peer.finish().handshake_ok && hs.status == IoStatus::ok);
    return hs.error;
}

TEST(GnutlsBackend, IdentifiesItself) {
    EXPECT_EQ(gnutls().name(), "gnutls");
    EXPECT_EQ(gnutls().library_version().rfind("GnuTLS 3.", 0), 0u) << gnutls().library_version();
    const std::uint32_t all = tls::cap_tls12 | tls::cap_tls13 | tls::cap_alpn | tls::cap_sni | tls::cap_crl_file |
                              tls::cap_crl_dir | tls::cap_system_ca | tls::cap_encrypted_keys | tls::cap_keylog |
                              tls::cap_pem_in_memory;
    EXPECT_EQ(gnutls().capabilities(), all);
    EXPECT_EQ(&gnutls().crypto(), &gnutls().crypto());
}

TEST(GnutlsSession, Tls13ByDefaultWithEcho) {
    tls::SessionInfo info;
    PeerObservation obs = round_trip(verifying(), server(), &info);
    ASSERT_TRUE(obs.handshake_ok) << obs.error;
    EXPECT_EQ(info.protocol, "TLSv1.3");
    EXPECT_EQ(obs.protocol, "TLSv1.3");
    EXPECT_EQ(info.cipher, obs.cipher);
    EXPECT_EQ(info.cipher.rfind("TLS_", 0), 0u) << info.cipher;
}

TEST(GnutlsSession, MaxTls12ReportsOpensslCipherName) {
    tls::ContextConfig c = verifying();
    c.max_version = TlsVersion::tls1_2;
    tls::SessionInfo info;
    PeerObservation obs = round_trip(c, server(), &info);
    ASSERT_TRUE(obs.handshake_ok) << obs.error;
    EXPECT_EQ(info.protocol, "TLSv1.2");
    EXPECT_EQ(obs.protocol, "TLSv1.2");
    EXPECT_EQ(info.cipher, obs.cipher);  // same spelling as OpenSSL's SSL_get_cipher_name
}

TEST(GnutlsSession, MinTls13AgainstTls12ServerFails) {
    tls::ContextConfig c = verifying();
    c.min_version = TlsVersion::tls1_3;
    PeerOptions o = server();
    o.max_version = TLS1_2_VERSION;
    const std::string error = failing_handshake(c, o);
    EXPECT_FALSE(error.empty());
}

TEST(GnutlsSession, ServerMaxTls12NegotiatesTls12) {
    PeerOptions o = server();
    o.max_version = TLS1_2_VERSION;
    tls::SessionInfo info;
    PeerObservation obs = round_trip(verifying(), o, &info);
    ASSERT_TRUE(obs.handshake_ok) << obs.error;
    EXPECT_EQ(info.protocol, "TLSv1.2");
}

TEST(GnutlsSession, AlpnSelectedByServerIsReported) {
    tls::ContextConfig c = verifying();
    c.alpn = {"postgresql"};
    PeerOptions o = server();
    o.alpn = PeerOptions::Alpn::select;
    tls::SessionInfo info;
    PeerObservation obs = round_trip(c, o, &info);
    ASSERT_TRUE(obs.handshake_ok) << obs.error;
    EXPECT_EQ(info.alpn, "postgresql");
    EXPECT_EQ(obs.alpn_selected, "postgresql");
}

TEST(GnutlsSession, AlpnIgnoredByServerIsEmpty) {
    tls::ContextConfig c = verifying();
    c.alpn = {"postgresql"};
    tls::SessionInfo info;
    PeerObservation obs = round_trip(c, server(), &info);
    ASSERT_TRUE(obs.handshake_ok) << obs.error;
    EXPECT_EQ(info.alpn, "");
}

TEST(GnutlsSession, AlpnProtocolNotOfferedFailsHandshake) {
    // RFC 7301 3.2; OpenSSL refuses it too. GnuTLS alone would ignore the unknown protocol.
    tls::ContextConfig c = verifying();
    c.alpn = {"postgresql"};
    PeerOptions o = server();
    o.alpn = PeerOptions::Alpn::force_wrong;
    o.alpn_protocols = {"imap"};
    const std::string error = failing_handshake(c, o);
    EXPECT_NE(error.find("ALPN"), std::string::npos) << error;
}

TEST(GnutlsSession, SniSentOnlyWhenGiven) {
    PeerObservation with = round_trip(verifying(), server(), nullptr, "localhost");
    EXPECT_EQ(with.sni, "localhost");
    PeerObservation without = round_trip(verifying(), server(), nullptr, "");
    ASSERT_TRUE(without.handshake_ok) << without.error;
    EXPECT_EQ(without.sni, "");
}

TEST(GnutlsSession, PeerCertificateNamesAndDer) {
    TlsPeer peer(server());
    TestClient c(verifying(), peer.port());
    ASSERT_EQ(drive_handshake(*c.session, c.fd).status, IoStatus::ok);
    auto pc = c.session->peer_certificate();
    ASSERT_TRUE(pc.has_value());
    const std::string der = slurp(pki("server.der"));
    EXPECT_EQ(std::string(pc->der.begin(), pc->der.end()), der);
    EXPECT_EQ(pc->san_dns, std::vector<std::string>{"localhost"});
    ASSERT_EQ(pc->san_ip.size(), 2u);
    EXPECT_EQ(pc->san_ip[0], (std::vector<std::uint8_t>{127, 0, 0, 1}));
    std::vector<std::uint8_t> v6(16, 0);
    v6[15] = 1;
    EXPECT_EQ(pc->san_ip[1], v6);
    EXPECT_EQ(pc->common_names, std::vector<std::string>{"localhost"});
    EXPECT_NE(pc->subject.find("CN=localhost"), std::string::npos) << pc->subject;
    EXPECT_NE(pc->issuer.find("CN=pgtls test root CA"), std::string::npos) << pc->issuer;
    ASSERT_TRUE(pc->signature_hash.has_value());
    EXPECT_EQ(*pc->signature_hash, crypto::Hash::sha256);
}

TEST(GnutlsSession, PeerCertificateWithTwoCommonNamesAndNoSan) {
    TlsPeer peer(server("server-multi-cn"));
    TestClient c(verifying(), peer.port());
    ASSERT_EQ(drive_handshake(*c.session, c.fd).status, IoStatus::ok);
    auto pc = c.session->peer_certificate();
    ASSERT_TRUE(pc.has_value());
    EXPECT_TRUE(pc->san_dns.empty());
    EXPECT_TRUE(pc->san_ip.empty());
    EXPECT_EQ(pc->common_names, (std::vector<std::string>{"localhost", "second.example"}));
}

struct SignatureCase {
    const char* server;
    const char* ca;
    std::optional<crypto::Hash> hash;
};

class GnutlsSignatureHash : public ::testing::TestWithParam<SignatureCase> {};

TEST_P(GnutlsSignatureHash, ReportsCertificateSignatureHash) {
    const SignatureCase& p = GetParam();
    TlsPeer peer(server(p.server));
    TestClient c(verifying(p.ca), peer.port());
    tls::IoResult hs = drive_handshake(*c.session, c.fd);
    ASSERT_EQ(hs.status, IoStatus::ok) << hs.error;
    auto pc = c.session->peer_certificate();
    ASSERT_TRUE(pc.has_value());
    EXPECT_EQ(pc->signature_hash, p.hash);
}

INSTANTIATE_TEST_SUITE_P(Certificates, GnutlsSignatureHash,
                         ::testing::Values(SignatureCase{"server", "ca.crt", crypto::Hash::sha256},
                                           SignatureCase{"server-ecdsa384", "ca-ecdsa.crt", crypto::Hash::sha384},
                                           SignatureCase{"server-rsa-sha512", "ca.crt", crypto::Hash::sha512},
                                           SignatureCase{"server-ed25519", "ca-ed25519.crt", std::nullopt}));

TEST(GnutlsSession, Sha1SignedServerCertReportsSha1WithoutVerification) {
    TlsPeer peer(server("server-rsa-sha1"));
    TestClient c(tls::ContextConfig{}, peer.port());
    ASSERT_EQ(drive_handshake(*c.session, c.fd).status, IoStatus::ok);
    auto pc = c.session->peer_certificate();
    ASSERT_TRUE(pc.has_value());
    EXPECT_EQ(pc->signature_hash, crypto::Hash::sha1);  // auth/ maps it to SHA-256
}

TEST(GnutlsSession, Sha1SignedServerCertFailsVerificationLikeOpenssl) {
    // OpenSSL 3 rates SHA-1 signatures at 63 bits: "CA signature digest algorithm too weak"
    // at any security level above 0.
    const std::string error = failing_handshake(verifying(), server("server-rsa-sha1"));
    EXPECT_NE(error.find("certificate verify failed"), std::string::npos) << error;
}

TEST(GnutlsSession, WrongCaFailsVerification) {
    const std::string error = failing_handshake(verifying("other-ca.crt"), server());
    EXPECT_NE(error.find("certificate verify failed"), std::string::npos) << error;
    EXPECT_NE(error.find("issuer is unknown"), std::string::npos) << error;
    EXPECT_NE(error.back(), ' ');
}

TEST(GnutlsSession, WrongCaIsFineWithoutVerification) {
    tls::ContextConfig c;
    c.ca = file_material("other-ca.crt");  // loaded, but verify_chain is off (sslmode=require)
    PeerObservation obs = round_trip(c, server());
    EXPECT_TRUE(obs.handshake_ok) << obs.error;
}

TEST(GnutlsSession, NoHostNameCheckInTheBackend) {
    // server-clientauth aside, every server cert says "localhost"; SNI "other.example" must not
    // make the backend fail: the host name is core's business.
    PeerObservation obs = round_trip(verifying(), server(), nullptr, "other.example");
    EXPECT_TRUE(obs.handshake_ok) << obs.error;
}

TEST(GnutlsSession, ServerCertWithoutServerAuthPurposeFails) {
    const std::string error = failing_handshake(verifying(), server("server-clientauth"));
    EXPECT_NE(error.find("certificate verify failed"), std::string::npos) << error;
}

TEST(GnutlsSession, CaFromPemInMemory) {
    tls::ContextConfig c;
    c.verify_chain = true;
    c.ca = pem_material("ca.crt");
    EXPECT_TRUE(round_trip(c, server()).handshake_ok);
}

TEST(GnutlsSession, SystemStoreDoesNotTrustTestCa) {
    tls::ContextConfig c;
    c.verify_chain = true;
    c.ca = {tls::Material::Kind::system, ""};
    const std::string error = failing_handshake(c, server());
    EXPECT_NE(error.find("certificate verify failed"), std::string::npos) << error;
}

TEST(GnutlsSession, RevokedServerCertFailsWithCrlFile) {
    tls::ContextConfig c = verifying();
    c.crl = file_material("ca.crl");
    const std::string error = failing_handshake(c, server("server-revoked"));
    EXPECT_NE(error.find("revoked"), std::string::npos) << error;
}

TEST(GnutlsSession, RevokedServerCertFailsWithCrlPem) {
    tls::ContextConfig c = verifying();
    c.crl = pem_material("ca.crl");
    const std::string error = failing_handshake(c, server("server-revoked"));
    EXPECT_NE(error.find("revoked"), std::string::npos) << error;
}

TEST(GnutlsSession, RevokedServerCertFailsWithCrlDir) {
    tls::ContextConfig c = verifying();
    c.crl_dir = pki("crl-dir");
    const std::string error = failing_handshake(c, server("server-revoked"));
    EXPECT_NE(error.find("revoked"), std::string::npos) << error;
}

TEST(GnutlsSession, GoodServerCertPassesWithCrl) {
    tls::ContextConfig c = verifying();
    c.crl = file_material("ca.crl");
    EXPECT_TRUE(round_trip(c, server()).handshake_ok);
    tls::ContextConfig d = verifying();
    d.crl_dir = pki("crl-dir");
    EXPECT_TRUE(round_trip(d, server()).handshake_ok);
}

TEST(GnutlsSession, CrlFromAnotherIssuerFailsLikeOpensslCrlCheckAll) {
    tls::ContextConfig c = verifying();
    c.crl = file_material("other-ca.crl");
    const std::string error = failing_handshake(c, server());
    EXPECT_NE(error.find("unable to get certificate CRL"), std::string::npos) << error;
}

TEST(GnutlsSession, CrlInsideRootFileCountsOnceCrlCheckingIsOn) {
    // libpq loads CRLs from sslrootcert too; they are used once sslcrl/sslcrldir turns checks on.
    char tmpl[] = "/tmp/pgtls-ca-with-crl-XXXXXX";
    const int fd = ::mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    const std::string bundle = slurp(pki("ca.crt")) + slurp(pki("ca.crl"));
    ASSERT_EQ(::write(fd, bundle.data(), bundle.size()), static_cast<ssize_t>(bundle.size()));
    ::close(fd);
    tls::ContextConfig c;
    c.verify_chain = true;
    c.ca = {tls::Material::Kind::file, tmpl};
    c.crl = file_material("other-ca.crl");  // on its own this would leave ca's certs uncovered
    const std::string error = failing_handshake(c, server("server-revoked"));
    EXPECT_NE(error.find("revoked"), std::string::npos) << error;
    EXPECT_TRUE(round_trip(c, server()).handshake_ok);
    ::unlink(tmpl);
}

TEST(GnutlsSession, CrlDirReadsOnlyHashedNamesLikeOpenssl) {
    char tmpl[] = "/tmp/pgtls-unhashed-crl-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    const std::string dir = tmpl;
    const std::string crl = slurp(pki("ca.crl"));
    for (const char* name : {"ca.crl", "e6af84cd.r", "E6AF84CD.r0", "e6af84cd.r0.bak"}) {
        FILE* f = std::fopen((dir + "/" + name).c_str(), "wb");
        ASSERT_NE(f, nullptr);
        std::fwrite(crl.data(), 1, crl.size(), f);
        std::fclose(f);
    }
    tls::ContextConfig c = verifying();
    c.crl_dir = dir;
    const std::string error = failing_handshake(c, server());
    EXPECT_NE(error.find("unable to get certificate CRL"), std::string::npos) << error;
    // The same CRL under a hashed name (any hash: GnuTLS reads them all) is found.
    ASSERT_EQ(std::rename((dir + "/ca.crl").c_str(), (dir + "/0123abcd.r12").c_str()), 0);
    EXPECT_TRUE(round_trip(c, server()).handshake_ok);
    for (const char* name : {"0123abcd.r12", "e6af84cd.r", "E6AF84CD.r0", "e6af84cd.r0.bak"})
        ::unlink((dir + "/" + name).c_str());
    ::rmdir(tmpl);
}

TEST(GnutlsSession, EmptyCrlDirFailsVerification) {
    char tmpl[] = "/tmp/pgtls-empty-crl-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    tls::ContextConfig c = verifying();
    c.crl_dir = tmpl;
    const std::string error = failing_handshake(c, server());
    ::rmdir(tmpl);
    EXPECT_NE(error.find("unable to get certificate CRL"), std::string::npos) << error;
}

// --- client certificates ---

PeerOptions requesting_server() {
    PeerOptions o = server();
    o.client_ca_file = pki("client-ca.crt");
    o.accept_any_client_cert = true;
    return o;
}

struct KeyCase {
    const char* cert;
    const char* key;
    const char* password;
};

class GnutlsClientKey : public ::testing::TestWithParam<KeyCase> {};

TEST_P(GnutlsClientKey, CertificateIsSent) {
    const KeyCase& k = GetParam();
    tls::ContextConfig c = verifying();
    c.cert = file_material(k.cert);
    c.key = file_material(k.key);
    c.key_password = k.password;
    TlsPeer peer(requesting_server());
    TestClient cl(c, peer.port());
    tls::IoResult hs = drive_handshake(*cl.session, cl.fd);
    ASSERT_EQ(hs.status, IoStatus::ok) << hs.error;
    EXPECT_EQ(write_all(*cl.session, cl.fd, "x").status, IoStatus::ok);
    EXPECT_EQ(read_some(*cl.session, cl.fd, 1), "x");
    EXPECT_TRUE(cl.session->client_certificate_requested());
    EXPECT_TRUE(cl.session->client_certificate_sent());
    cl.session->shutdown();
    ::shutdown(cl.fd, SHUT_WR);
    PeerObservation obs = peer.finish();
    EXPECT_TRUE(obs.client_cert_presented);
    EXPECT_EQ(obs.client_cert_cn, "certuser");
}

INSTANTIATE_TEST_SUITE_P(Keys, GnutlsClientKey,
                         ::testing::Values(KeyCase{"client.crt", "client.key", ""},
                                           KeyCase{"client.crt", "client-pkcs8.key", ""},
                                           KeyCase{"client.crt", "client-encrypted.key", "keypass"},
                                           KeyCase{"client.crt", "client-pkcs1-encrypted.key", "keypass"},
                                           KeyCase{"client-ecdsa.crt", "client-ecdsa.key", ""},
                                           KeyCase{"client-ecdsa.crt", "client-ecdsa-pkcs8.key", ""},
                                           KeyCase{"client-ecdsa.crt", "client-ecdsa-encrypted.key", "keypass"},
                                           KeyCase{"client.crt", "client.key", "ignored-for-plain-keys"}));

TEST(GnutlsClientCert, PemInMemory) {
    tls::ContextConfig c = verifying();
    c.cert = pem_material("client.crt");
    c.key = pem_material("client-encrypted.key");
    c.key_password = "keypass";
    PeerObservation obs = round_trip(c, requesting_server());
    EXPECT_TRUE(obs.client_cert_presented);
    EXPECT_EQ(obs.client_cert_cn, "certuser");
}

TEST(GnutlsClientCert, SentEvenWhenServerListsAnotherCa) {
    // OpenSSL sends the configured certificate whatever CA names the server lists; GnuTLS's own
    // selection would send none. The server then decides (PostgreSQL rejects it).
    tls::ContextConfig c = verifying();
    c.cert = file_material("client-other.crt");
    c.key = file_material("client-other.key");
    PeerObservation obs = round_trip(c, requesting_server());
    EXPECT_TRUE(obs.client_cert_presented);
    EXPECT_EQ(obs.client_cert_issuer_cn, "pgtls unrelated root CA");  // client-other, not client.crt
}

TEST(GnutlsClientCert, NotSentWhenDisabled) {
    tls::ContextConfig c = verifying();
    c.cert = file_material("client.crt");
    c.key = file_material("client.key");
    c.send_client_cert = false;
    TlsPeer peer(requesting_server());
    TestClient cl(c, peer.port());
    ASSERT_EQ(drive_handshake(*cl.session, cl.fd).status, IoStatus::ok);
    EXPECT_EQ(write_all(*cl.session, cl.fd, "x").status, IoStatus::ok);
    EXPECT_EQ(read_some(*cl.session, cl.fd, 1), "x");
    EXPECT_TRUE(cl.session->client_certificate_requested());
    EXPECT_FALSE(cl.session->client_certificate_sent());
    cl.session->shutdown();
    ::shutdown(cl.fd, SHUT_WR);
    EXPECT_FALSE(peer.finish().client_cert_presented);
}

TEST(GnutlsClientCert, NotRequestedByServer) {
    tls::ContextConfig c = verifying();
    c.cert = file_material("client.crt");
    c.key = file_material("client.key");
    TlsPeer peer(server());
    TestClient cl(c, peer.port());
    ASSERT_EQ(drive_handshake(*cl.session, cl.fd).status, IoStatus::ok);
    EXPECT_EQ(write_all(*cl.session, cl.fd, "x").status, IoStatus::ok);
    EXPECT_EQ(read_some(*cl.session, cl.fd, 1), "x");
    EXPECT_FALSE(cl.session->client_certificate_requested());
    EXPECT_FALSE(cl.session->client_certificate_sent());
}

// --- key log ---

TEST(GnutlsKeylog, WritesNssLinesTo0600File) {
    char tmpl[] = "/tmp/pgtls-keylog-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    const std::string path = std::string(tmpl) + "/keys.log";
    tls::ContextConfig c = verifying();
    c.keylog_file = path;
    PeerObservation obs = round_trip(c, server());
    ASSERT_TRUE(obs.handshake_ok);
    struct stat st{};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    const std::string log = slurp(path);
    EXPECT_NE(log.find("CLIENT_HANDSHAKE_TRAFFIC_SECRET "), std::string::npos) << log;
    EXPECT_NE(log.find("CLIENT_TRAFFIC_SECRET_0 "), std::string::npos) << log;
    // "LABEL <64 hex client random> <hex secret>\n"
    const std::string first = log.substr(0, log.find('\n'));
    const auto s1 = first.find(' '), s2 = first.find(' ', s1 + 1);
    EXPECT_EQ(s2 - s1 - 1, 64u) << first;
    ::unlink(path.c_str());
    ::rmdir(tmpl);
}

TEST(GnutlsKeylog, UnopenableFileIsOnlyAWarning) {
    tls::ContextConfig c = verifying();
    c.keylog_file = "/nonexistent-dir/keys.log";
    TlsPeer peer(server());
    TestClient cl(c, peer.port());
    ASSERT_EQ(drive_handshake(*cl.session, cl.fd).status, IoStatus::ok);
    auto w = cl.session->warnings();
    ASSERT_EQ(w.size(), 1u);  // one warning, not one per secret
    EXPECT_NE(w[0].find("/nonexistent-dir/keys.log"), std::string::npos) << w[0];
}

TEST(GnutlsKeylog, SslkeylogfileEnvironmentIsIgnored) {
    // GnuTLS reads SSLKEYLOGFILE once per process, so the check runs in a fresh child
    // (the "threadsafe" death-test style re-executes this test binary).
    ::testing::FLAGS_gtest_death_test_style = "threadsafe";
    char tmpl[] = "/tmp/pgtls-envkeylog-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    const std::string path = std::string(tmpl) + "/env-keys.log";
    EXPECT_EXIT(
        {
            ::setenv("SSLKEYLOGFILE", path.c_str(), 1);
            TlsPeer peer(server());
            TestClient cl(verifying(), peer.port());
            const bool ok = drive_handshake(*cl.session, cl.fd).status == IoStatus::ok;
            struct stat st{};
            std::_Exit(ok && ::stat(path.c_str(), &st) != 0 ? 0 : 1);
        },
        ::testing::ExitedWithCode(0), "");
    ::unlink(path.c_str());
    ::rmdir(tmpl);
}

// --- concurrency ---

TEST(GnutlsContextThreads, OneContextManyConcurrentSessions) {
    tls::ContextConfig c = verifying();
    c.cert = file_material("client.crt");
    c.key = file_material("client-encrypted.key");
    c.key_password = "keypass";
    c.alpn = {"postgresql"};
    auto context = gnutls().create_context(c);
    constexpr int kThreads = 6;
    std::vector<std::string> results(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            PeerOptions o = requesting_server_options();
            o.alpn = PeerOptions::Alpn::select;
            TlsPeer peer(o);
            const int fd = connect_tcp("127.0.0.1", static_cast<std::uint16_t>(peer.port()));
            {
                auto session = context->create_session(fd, {"localhost"});
                tls::IoResult hs = drive_handshake(*session, fd);
                const std::string msg = "thread " + std::to_string(t);
                if (hs.status != IoStatus::ok) {
                    results[t] = "handshake: " + hs.error;
                } else if (write_all(*session, fd, msg).status != IoStatus::ok) {
                    results[t] = "write failed";
                } else {
                    results[t] = read_some(*session, fd, msg.size()) + "|" + session->info().alpn;
                    session->shutdown();
                }
            }
            ::shutdown(fd, SHUT_WR);
            PeerObservation obs = peer.finish();
            if (obs.client_cert_cn != "certuser") results[t] += "|no client cert";
            ::close(fd);
        });
    }
    for (auto& th : threads) th.join();
    for (int t = 0; t < kThreads; ++t) EXPECT_EQ(results[t], "thread " + std::to_string(t) + "|postgresql");
}

// --- I/O ---

TEST(GnutlsIo, NonBlockingSocketWorks) {
    PeerOptions o = server();
    o.sink_bytes = 300000;
    // The peer holds its handshake: the first call cannot complete (no ServerHello yet). Without
    // the hold, a peer that answers before the client reads lets it complete at once (seen
    // under ASan in CI).
    o.hold_handshakes = true;
    TlsPeer peer(o);
    TestClient cl(verifying(), peer.port());
    ::fcntl(cl.fd, F_SETFL, ::fcntl(cl.fd, F_GETFL) | O_NONBLOCK);
    tls::IoResult first = cl.session->handshake();
    EXPECT_EQ(first.status, IoStatus::want_read);
    peer.release_handshakes();
    ASSERT_EQ(drive_handshake(*cl.session, cl.fd).status, IoStatus::ok);
    // 300 kB cannot go out in one call: writes are partial (one record) and may block.
    const std::string big(300000, 'z');
    tls::IoResult one = cl.session->write(big.data(), big.size());
    ASSERT_EQ(one.status, IoStatus::ok);
    EXPECT_LE(one.bytes, 16384u);
    EXPECT_GT(one.bytes, 0u);
    ASSERT_EQ(write_all(*cl.session, cl.fd, big.substr(one.bytes)).status, IoStatus::ok);
    EXPECT_EQ(read_some(*cl.session, cl.fd, 6), "300000");  // what the peer counted
}

TEST(GnutlsIo, PendingCountsBufferedPlaintext) {
    PeerOptions o = server();
    o.greeting = "hello world";
    o.end = PeerOptions::End::close_notify;
    TlsPeer peer(o);
    TestClient cl(verifying(), peer.port());
    ASSERT_EQ(drive_handshake(*cl.session, cl.fd).status, IoStatus::ok);
    EXPECT_EQ(read_some(*cl.session, cl.fd, 5), "hello");
    EXPECT_EQ(cl.session->pending(), 6u);
    EXPECT_EQ(read_some(*cl.session, cl.fd, 6), " world");
    EXPECT_EQ(cl.session->pending(), 0u);
}

TEST(GnutlsIo, CloseNotifyReadsAsClosed) {
    PeerOptions o = server();
    o.greeting = "bye";
    o.end = PeerOptions::End::close_notify;
    TlsPeer peer(o);
    TestClient cl(verifying(), peer.port());
    ASSERT_EQ(drive_handshake(*cl.session, cl.fd).status, IoStatus::ok);
    tls::IoResult last;
    EXPECT_EQ(read_some(*cl.session, cl.fd, 100, &last), "bye");
    EXPECT_EQ(last.status, IoStatus::closed);
}

TEST(GnutlsIo, EofWithoutCloseNotifyIsAnError) {
    PeerOptions o = server();
    o.greeting = "bye";
    o.end = PeerOptions::End::abrupt;
    TlsPeer peer(o);
    TestClient cl(verifying(), peer.port());
    ASSERT_EQ(drive_handshake(*cl.session, cl.fd).status, IoStatus::ok);
    tls::IoResult last;
    EXPECT_EQ(read_some(*cl.session, cl.fd, 100, &last), "bye");
    EXPECT_EQ(last.status, IoStatus::error);
    EXPECT_NE(last.error.find("unexpectedly"), std::string::npos) << last.error;
}

TEST(GnutlsIo, NonTlsPeerFailsHandshakeCleanly) {
    // A server that answers the ClientHello with plaintext and hangs up.
    const int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(lfd, 1), 0);
    socklen_t len = sizeof addr;
    ::getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
    std::thread t([lfd] {
        const int fd = ::accept(lfd, nullptr, nullptr);
        char buf[512];
        (void)!::read(fd, buf, sizeof buf);
        const char reply[] = "HTTP/1.0 400 Bad Request\r\n\r\nthis is not TLS at all, sorry\r\n";
        (void)!::write(fd, reply, sizeof reply - 1);
        ::close(fd);
    });
    TestClient cl(verifying(), ntohs(addr.sin_port));
    tls::IoResult hs = drive_handshake(*cl.session, cl.fd);
    t.join();
    ::close(lfd);
    EXPECT_EQ(hs.status, IoStatus::error);
    EXPECT_FALSE(hs.error.empty());
}

TEST(GnutlsIo, SessionNeverClosesTheSocket) {
    TlsPeer peer(server());
    TestClient cl(verifying(), peer.port());
    ASSERT_EQ(drive_handshake(*cl.session, cl.fd).status, IoStatus::ok);
    cl.session->shutdown();
    cl.session.reset();
    EXPECT_NE(::fcntl(cl.fd, F_GETFD), -1);  // still open after the session is gone
    ::shutdown(cl.fd, SHUT_WR);
}

TEST(GnutlsIo, SessionOutlivesItsContext) {
    TlsPeer peer(server());
    TestClient cl(verifying(), peer.port());
    cl.context.reset();  // the session keeps the credentials alive
    ASSERT_EQ(drive_handshake(*cl.session, cl.fd).status, IoStatus::ok);
    EXPECT_EQ(write_all(*cl.session, cl.fd, "still here").status, IoStatus::ok);
    EXPECT_EQ(read_some(*cl.session, cl.fd, 10), "still here");
}

TEST(GnutlsIo, InfoBeforeHandshakeIsEmpty) {
    TlsPeer peer(server());
    TestClient cl(verifying(), peer.port());
    EXPECT_EQ(cl.session->info().protocol, "");
    EXPECT_FALSE(cl.session->peer_certificate().has_value());
    ASSERT_EQ(drive_handshake(*cl.session, cl.fd).status, IoStatus::ok);
}

}  // namespace
}  // namespace pgtls::test
