// mbedTLS backend against a real OpenSSL 3 server (openssl s_server subprocess).
#include <cctype>
#include <cstdlib>
#include <thread>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "mbedtls_test_env.hpp"
#include "openssl_server_process.hpp"
#include "pgtls/error.hpp"

namespace pgtls::test {
namespace {

using tls::ContextConfig;
using tls::IoStatus;

std::vector<std::string> server_args(const std::string& name, std::vector<std::string> extra = {}) {
    std::vector<std::string> a = {"-cert", name + ".crt", "-key", name + ".key"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
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

    Connection(const OpensslServer& server, const ContextConfig& config, const std::string& sni = "") {
        context = mbedtls().create_context(config);
        fd = server.connect();
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
    OpensslServer server(pki_dir(), server_args("server"));
    Connection c(server, ContextConfig{});
    ASSERT_TRUE(c.ok()) << c.result.error;
    const tls::SessionInfo info = c.session->info();
    EXPECT_EQ(info.protocol, "TLSv1.2");
    EXPECT_EQ(info.cipher.rfind("ECDHE-RSA-", 0), 0u) << info.cipher;
    EXPECT_NE(info.cipher.find("GCM"), std::string::npos) << info.cipher;
    EXPECT_EQ(info.alpn, "");
    EXPECT_EQ(send_line(*c.session, c.fd, "hello\n"), "olleh\n");
    EXPECT_TRUE(server.wait_for_log("Protocol version: TLSv1.2")) << server.log();
    EXPECT_FALSE(c.session->client_certificate_requested());
    EXPECT_FALSE(c.session->client_certificate_sent());
}

TEST(MbedtlsSession, OffersAlpnAndReportsTheSelection) {
    OpensslServer server(pki_dir(), server_args("server", {"-alpn", "postgresql"}));
    ContextConfig cfg;
    cfg.alpn = {"postgresql"};
    Connection c(server, cfg);
    ASSERT_TRUE(c.ok()) << c.result.error;
    EXPECT_EQ(c.session->info().alpn, "postgresql");
}

TEST(MbedtlsSession, SendsSniOnlyWhenGiven) {
    {
        OpensslServer server(pki_dir(), server_args("server", {"-servername", "localhost", "-cert2", "server.crt",
                                                               "-key2", "server.key"}));
        {
            Connection c(server, ContextConfig{}, "db.example.com");
            ASSERT_TRUE(c.ok()) << c.result.error;
            EXPECT_EQ(send_line(*c.session, c.fd, "x\n"), "x\n");
        }
        // s_server buffers this line until the connection ends.
        EXPECT_TRUE(server.wait_for_log("Hostname in TLS extension: \"db.example.com\"")) << server.log();
    }
    {
        OpensslServer server(pki_dir(), server_args("server", {"-servername", "localhost", "-cert2", "server.crt",
                                                               "-key2", "server.key"}));
        {
            Connection c(server, ContextConfig{});
            ASSERT_TRUE(c.ok()) << c.result.error;
            EXPECT_EQ(send_line(*c.session, c.fd, "x\n"), "x\n");
        }
        EXPECT_TRUE(server.wait_for_log("CONNECTION CLOSED")) << server.log();
        EXPECT_EQ(server.log().find("Hostname in TLS extension"), std::string::npos) << server.log();
    }
}

TEST(MbedtlsSession, ReportsPeerCertificateNamesIncludingIpSans) {
    OpensslServer server(pki_dir(), server_args("server"));
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
    OpensslServer server(pki_dir(), server_args("server-multi-cn"));
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
    OpensslServer server(pki_dir(), server_args("server-ecdsa384"));
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
    OpensslServer server(pki_dir(), server_args("server-wrongname"));
    Connection c(server, verifying(), "localhost");
    ASSERT_TRUE(c.ok()) << c.result.error;
    EXPECT_EQ(c.session->peer_certificate()->san_dns, std::vector<std::string>{"wrong.example"});
}

TEST(MbedtlsSession, WrongCaFailsVerificationWithReason) {
    OpensslServer server(pki_dir(), server_args("server"));
    Connection c(server, verifying("other-ca.crt"), "localhost");
    ASSERT_EQ(c.result.status, IoStatus::error);
    EXPECT_NE(c.result.error.find("certificate verify failed"), std::string::npos) << c.result.error;
    EXPECT_NE(c.result.error.find("not correctly signed by the trusted CA"), std::string::npos) << c.result.error;
    EXPECT_EQ(c.result.error.find("CN"), std::string::npos) << "host name must not be a reason: " << c.result.error;
}

TEST(MbedtlsSession, WrongCaIsIgnoredWithoutVerification) {
    OpensslServer server(pki_dir(), server_args("server"));
    ContextConfig cfg;
    cfg.ca = file_material(pki("other-ca.crt"));  // present but verify_chain false (sslmode=require)
    Connection c(server, cfg);
    EXPECT_TRUE(c.ok()) << c.result.error;
}

TEST(MbedtlsSession, RevokedCertificateFailsWithCrlFile) {
    OpensslServer server(pki_dir(), server_args("server-revoked"));
    ContextConfig cfg = verifying();
    cfg.crl = file_material(pki("ca.crl"));
    Connection c(server, cfg, "localhost");
    ASSERT_EQ(c.result.status, IoStatus::error);
    EXPECT_NE(c.result.error.find("revoked"), std::string::npos) << c.result.error;
}

TEST(MbedtlsSession, RevokedCertificateFailsWithCrlDirectory) {
    OpensslServer server(pki_dir(), server_args("server-revoked"));
    ContextConfig cfg = verifying();
    cfg.crl_dir = pki("crl-dir");
    Connection c(server, cfg, "localhost");
    ASSERT_EQ(c.result.status, IoStatus::error);
    EXPECT_NE(c.result.error.find("revoked"), std::string::npos) << c.result.error;
}

TEST(MbedtlsSession, CrlDoesNotRejectAGoodCertificate) {
    OpensslServer server(pki_dir(), server_args("server"));
    ContextConfig cfg = verifying();
    cfg.crl = pem_material(read_text_file(pki("ca.crl")));
    Connection c(server, cfg, "localhost");
    EXPECT_TRUE(c.ok()) << c.result.error;
}

TEST(MbedtlsSession, RevokedCertificateFailsWithCrlInsideRootFile) {
    OpensslServer server(pki_dir(), server_args("server-revoked"));
    Connection c(server, verifying("ca-with-crl.crt"), "localhost");
    ASSERT_EQ(c.result.status, IoStatus::error);
    EXPECT_NE(c.result.error.find("revoked"), std::string::npos) << c.result.error;
}

TEST(MbedtlsSession, CrlConfiguredMeansEveryChainCertificateNeedsOne) {
    // OpenSSL's CRL_CHECK_ALL, as libpq sets it: ca.crl says nothing about ca-ecdsa's chain.
    OpensslServer server(pki_dir(), server_args("server-ecdsa384"));
    ContextConfig cfg = verifying("ca-bundle.crt");
    cfg.crl = file_material(pki("ca.crl"));
    Connection c(server, cfg, "localhost");
    ASSERT_EQ(c.result.status, IoStatus::error);
    EXPECT_NE(c.result.error.find("unable to get certificate CRL"), std::string::npos) << c.result.error;
    EXPECT_NE(c.result.error.find("pgtls test ECDSA root CA"), std::string::npos) << c.result.error;
}

TEST(MbedtlsSession, EmptyCrlDirectoryRejectsEveryChain) {
    OpensslServer server(pki_dir(), server_args("server"));
    ContextConfig cfg = verifying();
    cfg.crl_dir = pki("empty-crl-dir");
    Connection c(server, cfg, "localhost");
    ASSERT_EQ(c.result.status, IoStatus::error);
    EXPECT_NE(c.result.error.find("unable to get certificate CRL"), std::string::npos) << c.result.error;
}

TEST(MbedtlsSession, Sha1SignedCertificateReportsSha1WithoutVerification) {
    // OpenSSL 3 refuses SHA-1 certificates at its default security level, on both sides;
    // the server needs level 0 to use one at all.
    OpensslServer server(pki_dir(), server_args("server-rsa-sha1", {"-cipher", "DEFAULT@SECLEVEL=0"}));
    Connection c(server, ContextConfig{});
    ASSERT_TRUE(c.ok()) << c.result.error;
    EXPECT_EQ(c.session->peer_certificate()->signature_hash, crypto::Hash::sha1);
}

TEST(MbedtlsSession, Sha1SignedCertificateFailsVerificationLikeOpenssl3) {
    OpensslServer server(pki_dir(), server_args("server-rsa-sha1", {"-cipher", "DEFAULT@SECLEVEL=0"}));
    Connection c(server, verifying(), "localhost");
    ASSERT_EQ(c.result.status, IoStatus::error);
    EXPECT_NE(c.result.error.find("unacceptable hash"), std::string::npos) << c.result.error;
}

TEST(MbedtlsSession, RevokedCertificateAcceptedWithoutCrl) {
    OpensslServer server(pki_dir(), server_args("server-revoked"));
    Connection c(server, verifying(), "localhost");
    EXPECT_TRUE(c.ok()) << c.result.error;
}

TEST(MbedtlsSession, Ed25519ServerCertificateIsAClearFailure) {
    OpensslServer server(pki_dir(), server_args("server-ed25519"));
    Connection c(server, ContextConfig{});
    ASSERT_EQ(c.result.status, IoStatus::error);
    EXPECT_NE(c.result.error.find("Ed25519"), std::string::npos) << c.result.error;
}

TEST(MbedtlsSession, CaBundleWithAnUnparsableEd25519RootStillLoads) {
    OpensslServer server(pki_dir(), server_args("server"));
    Connection c(server, verifying("ca-bundle.crt"), "localhost");
    EXPECT_TRUE(c.ok()) << c.result.error;
}

TEST(MbedtlsSession, CaAsInMemoryPem) {
    OpensslServer server(pki_dir(), server_args("server"));
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
        OpensslServer server(pki_dir(), server_args("server"));
        ::unsetenv("SSL_CERT_FILE");
        Connection c(server, cfg, "localhost");  // Debian's store does not know our test CA
        if (::access("/etc/ssl/certs/ca-certificates.crt", R_OK) == 0) {
            ASSERT_EQ(c.result.status, IoStatus::error);
            EXPECT_NE(c.result.error.find("certificate verify failed"), std::string::npos) << c.result.error;
        }
    }
    {
        OpensslServer server(pki_dir(), server_args("server"));
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
    OpensslServer server(pki_dir(), server_args("server", {"-Verify", "1", "-CAfile", "client-ca.crt"}));
    ContextConfig cfg;
    cfg.cert = file_material(pki(k.cert));
    cfg.key = file_material(pki(k.key));
    cfg.key_password = k.password;
    Connection c(server, cfg);
    ASSERT_TRUE(c.ok()) << c.result.error;
    EXPECT_EQ(send_line(*c.session, c.fd, "ping\n"), "gnip\n");
    EXPECT_TRUE(c.session->client_certificate_requested());
    EXPECT_TRUE(c.session->client_certificate_sent());
    EXPECT_TRUE(server.wait_for_log("Peer certificate: O = pgtls test, CN = certuser")) << server.log();
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
    OpensslServer server(pki_dir(), server_args("server", {"-Verify", "1", "-CAfile", "client-ca.crt"}));
    ContextConfig cfg;
    cfg.cert = pem_material(read_text_file(pki("client.crt")));
    cfg.key = pem_material(read_text_file(pki("client-encrypted.key")));
    cfg.key_password = "keypass";
    Connection c(server, cfg);
    ASSERT_TRUE(c.ok()) << c.result.error;
    EXPECT_TRUE(c.session->client_certificate_sent());
}

TEST(MbedtlsSession, SendClientCertFalseSendsNone) {
    OpensslServer server(pki_dir(), server_args("server", {"-verify", "1", "-CAfile", "client-ca.crt"}));
    ContextConfig cfg;
    cfg.cert = file_material(pki("client.crt"));
    cfg.key = file_material(pki("client.key"));
    cfg.send_client_cert = false;
    Connection c(server, cfg);
    ASSERT_TRUE(c.ok()) << c.result.error;
    EXPECT_EQ(send_line(*c.session, c.fd, "ab\n"), "ba\n");
    EXPECT_TRUE(c.session->client_certificate_requested());
    EXPECT_FALSE(c.session->client_certificate_sent());
    EXPECT_TRUE(server.wait_for_log("No peer certificate")) << server.log();
}

TEST(MbedtlsSession, ServerRejectingMissingClientCertificateIsAnError) {
    OpensslServer server(pki_dir(), server_args("server", {"-Verify", "1", "-CAfile", "client-ca.crt"}));
    Connection c(server, ContextConfig{});
    ASSERT_EQ(c.result.status, IoStatus::error);
    EXPECT_NE(c.result.error.find("TLS handshake failed"), std::string::npos) << c.result.error;
}

TEST(MbedtlsSession, ServerRejectingForeignClientCertificateReportsAlert) {
    OpensslServer server(pki_dir(), server_args("server", {"-Verify", "1", "-CAfile", "client-ca.crt",
                                                           "-verify_return_error"}));
    ContextConfig cfg;
    cfg.cert = file_material(pki("client-other.crt"));
    cfg.key = file_material(pki("client-other.key"));
    Connection c(server, cfg);
    ASSERT_EQ(c.result.status, IoStatus::error);
    EXPECT_NE(c.result.error.find("fatal TLS alert: unknown_ca"), std::string::npos) << c.result.error;
}

TEST(MbedtlsSession, MaxTls13IsCappedAtTls12) {
    OpensslServer server(pki_dir(), server_args("server"));
    ContextConfig cfg;
    cfg.max_version = TlsVersion::tls1_3;
    Connection c(server, cfg);
    ASSERT_TRUE(c.ok()) << c.result.error;
    EXPECT_EQ(c.session->info().protocol, "TLSv1.2");
}

TEST(MbedtlsSession, Tls13OnlyServerFailsWithProtocolReason) {
    OpensslServer server(pki_dir(), server_args("server", {"-tls1_3"}));
    Connection c(server, ContextConfig{});
    ASSERT_EQ(c.result.status, IoStatus::error);
    EXPECT_NE(c.result.error.find("protocol_version"), std::string::npos) << c.result.error;
    EXPECT_NE(c.result.error.find("TLS 1.3"), std::string::npos) << c.result.error;
}

TEST(MbedtlsSession, OneContextServesConcurrentSessions) {
    constexpr int n = 4;
    std::vector<std::unique_ptr<OpensslServer>> servers;
    for (int i = 0; i < n; ++i)
        servers.push_back(std::make_unique<OpensslServer>(
            pki_dir(), server_args("server", {"-Verify", "1", "-CAfile", "client-ca.crt"})));
    ContextConfig cfg = verifying();
    cfg.cert = file_material(pki("client.crt"));
    cfg.key = file_material(pki("client.key"));
    auto ctx = mbedtls().create_context(cfg);
    std::vector<std::string> echoes(n);
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) {
        threads.emplace_back([&, i] {
            const int fd = servers[i]->connect();
            auto s = ctx->create_session(fd, {"localhost"});
            const tls::IoResult r = complete_handshake(*s, fd);
            echoes[i] = r.status == IoStatus::ok ? send_line(*s, fd, "thread" + std::to_string(i) + "\n") : r.error;
            s.reset();
            ::close(fd);
        });
    }
    for (auto& t : threads) t.join();
    for (int i = 0; i < n; ++i) EXPECT_EQ(echoes[i], std::to_string(i) + "daerht\n");
}

TEST(MbedtlsSession, NonBlockingSocketHandshakeAndIo) {
    OpensslServer server(pki_dir(), server_args("server", {"-alpn", "postgresql"}));
    ContextConfig cfg;
    cfg.alpn = {"postgresql"};
    auto ctx = mbedtls().create_context(cfg);
    const int fd = server.connect();
    ASSERT_EQ(::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
    auto s = ctx->create_session(fd, {});
    // The first call cannot complete: the ServerHello has not arrived yet.
    const tls::IoResult first = s->handshake();
    EXPECT_EQ(first.status, IoStatus::want_read) << first.error;
    const tls::IoResult r = complete_handshake(*s, fd);
    ASSERT_EQ(r.status, IoStatus::ok) << r.error;
    char buf[8];
    EXPECT_EQ(s->read(buf, sizeof buf).status, IoStatus::want_read);
    EXPECT_EQ(send_line(*s, fd, "nonblock\n"), "kcolbnon\n");
    s.reset();
    ::close(fd);
}

TEST(MbedtlsSession, PendingCountsBufferedPlaintextAndCloseIsReported) {
    OpensslServer server(pki_dir(), server_args("server"));
    Connection c(server, ContextConfig{});
    ASSERT_TRUE(c.ok()) << c.result.error;
    const std::string msg = "abcdef\n";
    ASSERT_EQ(c.session->write(msg.data(), msg.size()).bytes, msg.size());
    char one = 0;
    tls::IoResult r = c.session->read(&one, 1);
    ASSERT_EQ(r.status, IoStatus::ok) << r.error;
    EXPECT_EQ(one, 'f');
    EXPECT_EQ(c.session->pending(), 6u);  // "edcba\n" decrypted but not yet taken
    char rest[16];
    r = c.session->read(rest, sizeof rest);
    EXPECT_EQ(std::string(rest, r.bytes), "edcba\n");
    EXPECT_EQ(c.session->pending(), 0u);

    const std::string close = "CLOSE\n";
    ASSERT_EQ(c.session->write(close.data(), close.size()).status, IoStatus::ok);
    r = c.session->read(rest, sizeof rest);
    EXPECT_EQ(r.status, IoStatus::closed) << r.error;
    // Shutting down after the peer closed is not an error.
    EXPECT_EQ(c.session->shutdown().status, IoStatus::ok);
}

TEST(MbedtlsSession, ShutdownSendsCloseNotify) {
    OpensslServer server(pki_dir(), server_args("server"));
    Connection c(server, ContextConfig{});
    ASSERT_TRUE(c.ok()) << c.result.error;
    EXPECT_EQ(c.session->shutdown().status, IoStatus::ok);
    EXPECT_TRUE(server.wait_for_log("CONNECTION CLOSED") || server.wait_for_log("shutdown", 100)) << server.log();
}

TEST(MbedtlsSession, AbruptServerExitIsNotAHang) {
    auto server = std::make_unique<OpensslServer>(pki_dir(), server_args("server"));
    Connection c(*server, ContextConfig{});
    ASSERT_TRUE(c.ok()) << c.result.error;
    server.reset();  // SIGTERM: the TCP connection is closed without close_notify
    char buf[8];
    const tls::IoResult r = c.session->read(buf, sizeof buf);
    EXPECT_TRUE(r.status == IoStatus::closed || r.status == IoStatus::error) << static_cast<int>(r.status);
}

TEST(MbedtlsSession, KeyLogFileGetsClientRandomLinesWithMode0600) {
    TempDir dir;
    const std::string path = dir.path() + "/keys.log";
    const std::string server_path = dir.path() + "/server-keys.log";
    OpensslServer server(pki_dir(), server_args("server", {"-keylogfile", server_path}));
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
    OpensslServer server(pki_dir(), server_args("server"));
    ContextConfig cfg;
    cfg.keylog_file = "/nonexistent-dir/keys.log";
    Connection c(server, cfg);
    ASSERT_TRUE(c.ok()) << c.result.error;
    const auto warnings = c.session->warnings();
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("/nonexistent-dir/keys.log"), std::string::npos) << warnings[0];
    EXPECT_EQ(send_line(*c.session, c.fd, "ok\n"), "ko\n");
}

}  // namespace
}  // namespace pgtls::test
