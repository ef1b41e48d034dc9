// mbedTLS backend against a real OpenSSL 3 server: the backend tests' one TLS peer,
// tests/support/tls/TlsTestServer, which echoes what it reads and records what the client
// presented (SNI, protocol, client certificate).
#include <cctype>
#include <cstdlib>
#include <thread>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "mbedtls_test_env.hpp"
#include "pgtls/error.hpp"
#include "tests/support/tls/tls_test_server.hpp"

namespace pgtls::test {
namespace {

using tls::ContextConfig;
using tls::IoStatus;

// The peer serving pki/<name>.crt with its key.
TlsServerOptions serving(const std::string& name) {
    TlsServerOptions o;
    o.cert_file = pki(name + ".crt");
    o.key_file = pki(name + ".key");
    return o;
}

// ... that also asks for a client certificate signed by client-ca.crt and verifies it,
// and, when `required`, refuses a connection without one.
TlsServerOptions asking_client_cert(bool required) {
    TlsServerOptions o = serving("server");
    o.client_ca_file = pki("client-ca.crt");
    o.require_client_cert = required;
    return o;
}

ContextConfig verifying(const std::string& ca = "ca.crt") {
    ContextConfig c;
    c.verify_chain = true;
    c.ca = file_material(pki(ca));
    return c;
}

// One client connection: owns the socket, the context and the session.
struct Connection {
    std::shared_ptr<tls::Context> context;
    std::unique_ptr<tls::Session> session;
    int fd = -1;
    tls::IoResult result;

    Connection(const TlsTestServer& server, const ContextConfig& config, const std::string& sni = "") {
        context = mbedtls().create_context(config);
        fd = connect_tcp(server.address(), server.port());
        session = context->create_session(fd, tls::SessionParams{sni});
        result = complete_handshake(*session, fd);
    }
    ~Connection() {
        session.reset();
        if (fd >= 0) ::close(fd);
    }
    bool ok() const { return result.status == IoStatus::ok; }
};

TEST(MbedtlsSession, NegotiatesTls12WithForwardSecretAeadAndEchoes) {
    TlsTestServer server(serving("server"));
    Connection c(server, ContextConfig{});
    ASSERT_TRUE(c.ok()) << c.result.error;
    const tls::SessionInfo info = c.session->info();
    EXPECT_EQ(info.protocol, "TLSv1.2");
    EXPECT_EQ(info.cipher.rfind("ECDHE-RSA-", 0), 0u) << info.cipher;
    EXPECT_NE(info.cipher.find("GCM"), std::string::npos) << info.cipher;
    EXPECT_EQ(info.alpn, "");
    EXPECT_EQ(send_line(*c.session, c.fd, "hello\n"), "hello\n");
    const auto seen = server.next_connection();
    ASSERT_TRUE(seen.has_value());
    EXPECT_EQ(seen->protocol, "TLSv1.2");
    EXPECT_FALSE(c.session->client_certificate_requested());
    EXPECT_FALSE(c.session->client_certificate_sent());
}

TEST(MbedtlsSession, OffersAlpnAndReportsTheSelection) {
    TlsServerOptions o = serving("server");
    o.alpn = TlsServerOptions::Alpn::select;  // alpn_protocols: {"postgresql"}
    TlsTestServer server(o);
    ContextConfig cfg;
    cfg.alpn = {"postgresql"};
    Connection c(server, cfg);
    ASSERT_TRUE(c.ok()) << c.result.error;
    EXPECT_EQ(c.session->info().alpn, "postgresql");
}

TEST(MbedtlsSession, SendsSniOnlyWhenGiven) {
    TlsTestServer server(serving("server"));
    {
        Connection c(server, ContextConfig{}, "db.example.com");
        ASSERT_TRUE(c.ok()) << c.result.error;
        EXPECT_EQ(send_line(*c.session, c.fd, "x\n"), "x\n");
        const auto seen = server.next_connection();
        ASSERT_TRUE(seen.has_value());
        EXPECT_EQ(seen->sni, "db.example.com");
    }
    {
        Connection c(server, ContextConfig{});
        ASSERT_TRUE(c.ok()) << c.result.error;
        EXPECT_EQ(send_line(*c.session, c.fd, "x\n"), "x\n");
        const auto seen = server.next_connection();
        ASSERT_TRUE(seen.has_value());
        EXPECT_EQ(seen->sni, "") << "no SNI was given, yet the server saw one";
    }
}

TEST(MbedtlsSession, ReportsPeerCertificateNamesIncludingIpSans) {
    TlsTestServer server(serving("server"));
    Connection c(server, verifying(), "localhost");
    ASSERT_TRUE(c.ok()) << c.result.error;
    auto cert = c.session->peer_certificate();
    ASSERT_TRUE(cert.has_value());
    const std::string der = read_text_file(pki("server.der"));
    EXPECT_EQ(std::string(cert->der.begin(), cert->der.end()), der);
    EXPECT_EQ(cert->san_dns, std::vector<std::string>{"localhost"});
    ASSERT_EQ(cert->san_ip.size(), 2u);
    EXPECT_EQ(cert->san_ip[0], (std::vector<std::uint8_t>{127, 0, 0, 1}));
    std::vector<std::uint8_t> v6(16, 0);
    v6[15] = 1;
    EXPECT_EQ(cert->san_ip[1], v6);
    EXPECT_EQ(cert->common_names, std::vector<std::string>{"localhost"});
    EXPECT_EQ(cert->subject, "O=pgtls test, CN=localhost");
    EXPECT_EQ(cert->issuer, "O=pgtls test, CN=pgtls test root CA");
    EXPECT_EQ(cert->signature_hash, crypto::Hash::sha256);
}

TEST(MbedtlsSession, ReportsEveryCommonNameAndSha512) {
    TlsTestServer server(serving("server-multi-cn"));
    Connection c(server, ContextConfig{});
    ASSERT_TRUE(c.ok()) << c.result.error;
    auto cert = c.session->peer_certificate();
    ASSERT_TRUE(cert.has_value());
    EXPECT_EQ(cert->common_names, (std::vector<std::string>{"localhost", "second.example"}));
    EXPECT_TRUE(cert->san_dns.empty());
    EXPECT_TRUE(cert->san_ip.empty());
    EXPECT_EQ(cert->signature_hash, crypto::Hash::sha512);
}

TEST(MbedtlsSession, EcdsaP384ServerWithSha384Signature) {
    TlsTestServer server(serving("server-ecdsa384"));
    Connection c(server, verifying("ca-bundle.crt"), "localhost");
    ASSERT_TRUE(c.ok()) << c.result.error;
    EXPECT_EQ(c.session->info().cipher.rfind("ECDHE-ECDSA-", 0), 0u) << c.session->info().cipher;
    auto cert = c.session->peer_certificate();
    ASSERT_TRUE(cert.has_value());
    EXPECT_EQ(cert->signature_hash, crypto::Hash::sha384);
    EXPECT_EQ(cert->san_ip.size(), 1u);
}

TEST(MbedtlsSession, HostNameMismatchIsNotTheBackendsBusiness) {
    // SNI "localhost" but the certificate names wrong.example: the chain is valid, so the
    // backend succeeds; src/tls/ applies libpq's host-name rules afterwards.
    TlsTestServer server(serving("server-wrongname"));
    Connection c(server, verifying(), "localhost");
    ASSERT_TRUE(c.ok()) << c.result.error;
    EXPECT_EQ(c.session->peer_certificate()->san_dns, std::vector<std::string>{"wrong.example"});
}

TEST(MbedtlsSession, WrongCaFailsVerificationWithReason) {
    TlsTestServer server(serving("server"));
    Connection c(server, verifying("other-ca.crt"), "localhost");
    ASSERT_EQ(c.result.status, IoStatus::error);
    EXPECT_NE(c.result.error.find("certificate verify failed"), std::string::npos) << c.result.error;
    EXPECT_NE(c.result.error.find("not correctly signed by the trusted CA"), std::string::npos) << c.result.error;
    EXPECT_EQ(c.result.error.find("CN"), std::string::npos) << "host name must not be a reason: " << c.result.error;
}

TEST(MbedtlsSession, WrongCaIsIgnoredWithoutVerification) {
    TlsTestServer server(serving("server"));
    ContextConfig cfg;
    cfg.ca = file_material(pki("other-ca.crt"));  // present but verify_chain false (sslmode=require)
    Connection c(server, cfg);
    EXPECT_TRUE(c.ok()) << c.result.error;
}

TEST(MbedtlsSession, RevokedCertificateFailsWithCrlFile) {
    TlsTestServer server(serving("server-revoked"));
    ContextConfig cfg = verifying();
    cfg.crl = file_material(pki("ca.crl"));
    Connection c(server, cfg, "localhost");
    ASSERT_EQ(c.result.status, IoStatus::error);
    EXPECT_NE(c.result.error.find("revoked"), std::string::npos) << c.result.error;
}

TEST(MbedtlsSession, RevokedCertificateFailsWithCrlDirectory) {
    TlsTestServer server(serving("server-revoked"));
    ContextConfig cfg = verifying();
    cfg.crl_dir = pki("crl-dir");
    Connection c(server, cfg, "localhost");
    ASSERT_EQ(c.result.status, IoStatus::error);
    EXPECT_NE(c.result.error.find("revoked"), std::string::npos) << c.result.error;
}

TEST(MbedtlsSession, CrlDoesNotRejectAGoodCertificate) {
    TlsTestServer server(serving("server"));
    ContextConfig cfg = verifying();
    cfg.crl = pem_material(read_text_file(pki("ca.crl")));
    Connection c(server, cfg, "localhost");
    EXPECT_TRUE(c.ok()) << c.result.error;
}

TEST(MbedtlsSession, RevokedCertificateFailsWithCrlInsideRootFile) {
    TlsTestServer server(serving("server-revoked"));
    Connection c(server, verifying("ca-with-crl.crt"), "localhost");
    ASSERT_EQ(c.result.status, IoStatus::error);
    EXPECT_NE(c.result.error.find("revoked"), std::string::npos) << c.result.error;
}

TEST(MbedtlsSession, CrlConfiguredMeansEveryChainCertificateNeedsOne) {
    // OpenSSL's CRL_CHECK_ALL, as libpq sets it: ca.crl says nothing about ca-ecdsa's chain.
    TlsTestServer server(serving("server-ecdsa384"));
    ContextConfig cfg = verifying("ca-bundle.crt");
    cfg.crl = file_material(pki("ca.crl"));
    Connection c(server, cfg, "localhost");
    ASSERT_EQ(c.result.status, IoStatus::error);
    EXPECT_NE(c.result.error.find("unable to get certificate CRL"), std::string::npos) << c.result.error;
    EXPECT_NE(c.result.error.find("pgtls test ECDSA root CA"), std::string::npos) << c.result.error;
}

TEST(MbedtlsSession, EmptyCrlDirectoryRejectsEveryChain) {
    TlsTestServer server(serving("server"));
    ContextConfig cfg = verifying();
    cfg.crl_dir = pki("empty-crl-dir");
    Connection c(server, cfg, "localhost");
    ASSERT_EQ(c.result.status, IoStatus::error);
    EXPECT_NE(c.result.error.find("unable to get certificate CRL"), std::string::npos) << c.result.error;
}

TEST(MbedtlsSession, Sha1SignedCertificateReportsSha1WithoutVerification) {
    // OpenSSL 3 refuses SHA-1 certificates at its default security level, on both sides;
    // the server needs level 0 to use one at all.
    TlsTestServer server(serving("server-rsa-sha1"));  // the peer runs at security level 0
    Connection c(server, ContextConfig{});
    ASSERT_TRUE(c.ok()) << c.result.error;
    EXPECT_EQ(c.session->peer_certificate()->signature_hash, crypto::Hash::sha1);
}

TEST(MbedtlsSession, Sha1SignedCertificateFailsVerificationLikeOpenssl3) {
    TlsTestServer server(serving("server-rsa-sha1"));  // the peer runs at security level 0
    Connection c(server, verifying(), "localhost");
    ASSERT_EQ(c.result.status, IoStatus::error);
    EXPECT_NE(c.result.error.find("unacceptable hash"), std::string::npos) << c.result.error;
}

TEST(MbedtlsSession, RevokedCertificateAcceptedWithoutCrl) {
    TlsTestServer server(serving("server-revoked"));
    Connection c(server, verifying(), "localhost");
    EXPECT_TRUE(c.ok()) << c.result.error;
}

TEST(MbedtlsSession, Ed25519ServerCertificateIsAClearFailure) {
    TlsTestServer server(serving("server-ed25519"));
    Connection c(server, ContextConfig{});
    ASSERT_EQ(c.result.status, IoStatus::error);
    EXPECT_NE(c.result.error.find("Ed25519"), std::string::npos) << c.result.error;
}

TEST(MbedtlsSession, CaBundleWithAnUnparsableEd25519RootStillLoads) {
    TlsTestServer server(serving("server"));
    Connection c(server, verifying("ca-bundle.crt"), "localhost");
    EXPECT_TRUE(c.ok()) << c.result.error;
}

TEST(MbedtlsSession, CaAsInMemoryPem) {
    TlsTestServer server(serving("server"));
    ContextConfig cfg;
    cfg.verify_chain = true;
    cfg.ca = pem_material(read_text_file(pki("ca.crt")));
    Connection c(server, cfg, "localhost");
    EXPECT_TRUE(c.ok()) << c.result.error;
}

TEST(MbedtlsSession, SystemTrustStoreHonoursSslCertFile) {
    ContextConfig cfg;
    cfg.verify_chain = true;
    cfg.ca = {tls::Material::Kind::system, ""};
    {
        TlsTestServer server(serving("server"));
        ::unsetenv("SSL_CERT_FILE");
        Connection c(server, cfg, "localhost");  // Debian's store does not know our test CA
        if (::access("/etc/ssl/certs/ca-certificates.crt", R_OK) == 0) {
            ASSERT_EQ(c.result.status, IoStatus::error);
            EXPECT_NE(c.result.error.find("certificate verify failed"), std::string::npos) << c.result.error;
        }
    }
    {
        TlsTestServer server(serving("server"));
        ::setenv("SSL_CERT_FILE", pki("ca.crt").c_str(), 1);
        Connection c(server, cfg, "localhost");
        ::unsetenv("SSL_CERT_FILE");
        EXPECT_TRUE(c.ok()) << c.result.error;
    }
}

struct ClientKeyCase {
    const char* cert;
    const char* key;
    const char* password;
};

class MbedtlsClientCertificate : public ::testing::TestWithParam<ClientKeyCase> {};

TEST_P(MbedtlsClientCertificate, IsSentAndAcceptedByAServerThatRequiresOne) {
    const ClientKeyCase k = GetParam();
    TlsTestServer server(asking_client_cert(true));
    ContextConfig cfg;
    cfg.cert = file_material(pki(k.cert));
    cfg.key = file_material(pki(k.key));
    cfg.key_password = k.password;
    Connection c(server, cfg);
    ASSERT_TRUE(c.ok()) << c.result.error;
    EXPECT_EQ(send_line(*c.session, c.fd, "ping\n"), "ping\n");
    EXPECT_TRUE(c.session->client_certificate_requested());
    EXPECT_TRUE(c.session->client_certificate_sent());
    const auto seen = server.next_connection();
    ASSERT_TRUE(seen.has_value());
    EXPECT_TRUE(seen->client_cert_presented);
    EXPECT_EQ(seen->client_cert_cn, "certuser");
    EXPECT_NE(seen->client_cert_subject.find("O=pgtls test"), std::string::npos) << seen->client_cert_subject;
}

INSTANTIATE_TEST_SUITE_P(
    Keys, MbedtlsClientCertificate,
    ::testing::Values(ClientKeyCase{"client.crt", "client.key", ""},
                      ClientKeyCase{"client.crt", "client-pkcs8.key", ""},
                      ClientKeyCase{"client.crt", "client.key.der", ""},
                      ClientKeyCase{"client.crt", "client-encrypted.key", "keypass"},
                      ClientKeyCase{"client.crt", "client-encrypted-des3.key", "keypass"},
                      ClientKeyCase{"client.crt", "client-encrypted-aes128-sha512.key", "keypass"},
                      ClientKeyCase{"client.crt", "client-pkcs1-encrypted.key", "keypass"},
                      ClientKeyCase{"client-ecdsa.crt", "client-ecdsa.key", ""},
                      ClientKeyCase{"client-ecdsa.crt", "client-ecdsa-pkcs8.key", ""},
                      ClientKeyCase{"client-ecdsa.crt", "client-ecdsa-encrypted.key", "keypass"}));

TEST(MbedtlsSession, ClientCertificateAndKeyAsInMemoryPem) {
    TlsTestServer server(asking_client_cert(true));
    ContextConfig cfg;
    cfg.cert = pem_material(read_text_file(pki("client.crt")));
    cfg.key = pem_material(read_text_file(pki("client-encrypted.key")));
    cfg.key_password = "keypass";
    Connection c(server, cfg);
    ASSERT_TRUE(c.ok()) << c.result.error;
    EXPECT_TRUE(c.session->client_certificate_sent());
}

TEST(MbedtlsSession, SendClientCertFalseSendsNone) {
    TlsTestServer server(asking_client_cert(false));
    ContextConfig cfg;
    cfg.cert = file_material(pki("client.crt"));
    cfg.key = file_material(pki("client.key"));
    cfg.send_client_cert = false;
    Connection c(server, cfg);
    ASSERT_TRUE(c.ok()) << c.result.error;
    EXPECT_EQ(send_line(*c.session, c.fd, "ab\n"), "ab\n");
    EXPECT_TRUE(c.session->client_certificate_requested());
    EXPECT_FALSE(c.session->client_certificate_sent());
    const auto seen = server.next_connection();
    ASSERT_TRUE(seen.has_value());
    EXPECT_FALSE(seen->client_cert_presented);
}

TEST(MbedtlsSession, ServerRejectingMissingClientCertificateIsAnError) {
    TlsTestServer server(asking_client_cert(true));
    Connection c(server, ContextConfig{});
    ASSERT_EQ(c.result.status, IoStatus::error);
    EXPECT_NE(c.result.error.find("TLS handshake failed"), std::string::npos) << c.result.error;
}

TEST(MbedtlsSession, ServerRejectingForeignClientCertificateReportsAlert) {
    TlsTestServer server(asking_client_cert(true));  // verification failures are fatal
    ContextConfig cfg;
    cfg.cert = file_material(pki("client-other.crt"));
    cfg.key = file_material(pki("client-other.key"));
    Connection c(server, cfg);
    ASSERT_EQ(c.result.status, IoStatus::error);
    EXPECT_NE(c.result.error.find("fatal TLS alert: unknown_ca"), std::string::npos) << c.result.error;
}

TEST(MbedtlsSession, MaxTls13IsCappedAtTls12) {
    TlsTestServer server(serving("server"));
    ContextConfig cfg;
    cfg.max_version = TlsVersion::tls1_3;
    Connection c(server, cfg);
    ASSERT_TRUE(c.ok()) << c.result.error;
    EXPECT_EQ(c.session->info().protocol, "TLSv1.2");
}

TEST(MbedtlsSession, Tls13OnlyServerFailsWithProtocolReason) {
    TlsServerOptions o = serving("server");
    o.min_version = 0x0304;  // TLS1_3_VERSION: TLS 1.3 only
    TlsTestServer server(o);
    Connection c(server, ContextConfig{});
    ASSERT_EQ(c.result.status, IoStatus::error);
    EXPECT_NE(c.result.error.find("protocol_version"), std::string::npos) << c.result.error;
    EXPECT_NE(c.result.error.find("TLS 1.3"), std::string::npos) << c.result.error;
}

TEST(MbedtlsSession, OneContextServesConcurrentSessions) {
    constexpr int n = 4;
    std::vector<std::unique_ptr<TlsTestServer>> servers;
    for (int i = 0; i < n; ++i) servers.push_back(std::make_unique<TlsTestServer>(asking_client_cert(true)));
    ContextConfig cfg = verifying();
    cfg.cert = file_material(pki("client.crt"));
    cfg.key = file_material(pki("client.key"));
    auto ctx = mbedtls().create_context(cfg);
    std::vector<std::string> echoes(n);
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) {
        threads.emplace_back([&, i] {
            const int fd = connect_tcp(servers[i]->address(), servers[i]->port());
            auto s = ctx->create_session(fd, {"localhost"});
            const tls::IoResult r = complete_handshake(*s, fd);
            echoes[i] = r.status == IoStatus::ok ? send_line(*s, fd, "thread" + std::to_string(i) + "\n") : r.error;
            s.reset();
            ::close(fd);
        });
    }
    for (auto& t : threads) t.join();
    for (int i = 0; i < n; ++i) EXPECT_EQ(echoes[i], "thread" + std::to_string(i) + "\n");
}

TEST(MbedtlsSession, NonBlockingSocketHandshakeAndIo) {
    TlsServerOptions o = serving("server");
    o.alpn = TlsServerOptions::Alpn::select;
    o.hold_handshakes = true;
    TlsTestServer server(o);
    ContextConfig cfg;
    cfg.alpn = {"postgresql"};
    auto ctx = mbedtls().create_context(cfg);
    const int fd = connect_tcp(server.address(), server.port());
    ASSERT_EQ(::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
    auto s = ctx->create_session(fd, {});
    // The first call cannot complete: the server holds its handshake, no ServerHello yet.
    const tls::IoResult first = s->handshake();
    EXPECT_EQ(first.status, IoStatus::want_read) << first.error;
    server.release_handshakes();
    const tls::IoResult r = complete_handshake(*s, fd);
    ASSERT_EQ(r.status, IoStatus::ok) << r.error;
    char buf[8];
    EXPECT_EQ(s->read(buf, sizeof buf).status, IoStatus::want_read);
    EXPECT_EQ(send_line(*s, fd, "nonblock\n"), "nonblock\n");
    s.reset();
    ::close(fd);
}

TEST(MbedtlsSession, PendingCountsBufferedPlaintextAndCloseIsReported) {
    // One record of 7 bytes, then close_notify.
    TlsServerOptions o = serving("server");
    o.greeting = "fedcba\n";
    o.end = TlsServerOptions::End::close_notify;
    TlsTestServer server(o);
    Connection c(server, ContextConfig{});
    ASSERT_TRUE(c.ok()) << c.result.error;
    char one = 0;
    tls::IoResult r = c.session->read(&one, 1);
    ASSERT_EQ(r.status, IoStatus::ok) << r.error;
    EXPECT_EQ(one, 'f');
    EXPECT_EQ(c.session->pending(), 6u);  // "edcba\n" decrypted but not yet taken
    char rest[16];
    r = c.session->read(rest, sizeof rest);
    EXPECT_EQ(std::string(rest, r.bytes), "edcba\n");
    EXPECT_EQ(c.session->pending(), 0u);

    r = c.session->read(rest, sizeof rest);
    EXPECT_EQ(r.status, IoStatus::closed) << r.error;
    // Shutting down after the peer closed is not an error.
    EXPECT_EQ(c.session->shutdown().status, IoStatus::ok);
}

TEST(MbedtlsSession, ShutdownSendsCloseNotify) {
    TlsTestServer server(serving("server"));
    Connection c(server, ContextConfig{});
    ASSERT_TRUE(c.ok()) << c.result.error;
    EXPECT_EQ(c.session->shutdown().status, IoStatus::ok);
    EXPECT_TRUE(server.wait_for_close_notify()) << "the server's echo did not end on our close_notify";
}

TEST(MbedtlsSession, AbruptServerExitIsNotAHang) {
    TlsServerOptions o = serving("server");
    o.end = TlsServerOptions::End::abrupt;  // the TCP connection is closed without close_notify
    TlsTestServer server(o);
    Connection c(server, ContextConfig{});
    ASSERT_TRUE(c.ok()) << c.result.error;
    char buf[8];
    const tls::IoResult r = c.session->read(buf, sizeof buf);
    EXPECT_TRUE(r.status == IoStatus::closed || r.status == IoStatus::error) << static_cast<int>(r.status);
}

TEST(MbedtlsSession, KeyLogFileGetsClientRandomLinesWithMode0600) {
    TempDir dir;
    const std::string path = dir.path() + "/keys.log";
    const std::string server_path = dir.path() + "/server-keys.log";
    TlsServerOptions o = serving("server");
    o.keylog_file = server_path;
    TlsTestServer server(o);
    ContextConfig cfg;
    cfg.keylog_file = path;
    Connection c(server, cfg);
    ASSERT_TRUE(c.ok()) << c.result.error;
    EXPECT_EQ(send_line(*c.session, c.fd, "k\n"), "k\n");
    const std::string text = read_text_file(path);
    ASSERT_EQ(text.rfind("CLIENT_RANDOM ", 0), 0u) << text;
    EXPECT_EQ(text.size(), std::string("CLIENT_RANDOM ").size() + 64 + 1 + 96 + 1) << text;
    // The same secret OpenSSL logs on its side (hex case aside), so Wireshark can decrypt.
    std::string theirs = read_text_file(server_path);
    for (char& ch : theirs) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    EXPECT_NE(theirs.find(text.substr(std::string("CLIENT_RANDOM ").size())), std::string::npos)
        << "client: " << text << "server: " << theirs;
    struct stat st{};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_TRUE(c.session->warnings().empty());
}

TEST(MbedtlsSession, UnwritableKeyLogIsAWarningNotAFailure) {
    TlsTestServer server(serving("server"));
    ContextConfig cfg;
    cfg.keylog_file = "/nonexistent-dir/keys.log";
    Connection c(server, cfg);
    ASSERT_TRUE(c.ok()) << c.result.error;
    const auto warnings = c.session->warnings();
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("/nonexistent-dir/keys.log"), std::string::npos) << warnings[0];
    EXPECT_EQ(send_line(*c.session, c.fd, "ok\n"), "ok\n");
}

}  // namespace
}  // namespace pgtls::test
