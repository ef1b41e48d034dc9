// The OpenSSL backend against the in-process OpenSSL test peer (tests/support/tls), with
// the project's test PKI (scripts/make-pki.sh) made in a temporary directory.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include <openssl/ssl.h>

#include "tls/tls_backend.hpp"
#include "pgtls/error.hpp"
#include "tests/support/tls/tls_test_server.hpp"

namespace pgtls::tls {
const Backend& openssl_backend();
}

namespace {

using namespace pgtls;
using namespace pgtls::tls;
using ServerOptions = pgtls::test::TlsServerOptions;
using pgtls::test::TlsServerConnection;
using pgtls::test::TlsTestServer;

std::string g_dir;

std::string pki(const std::string& name) { return g_dir + "/" + name; }

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

Material file(const std::string& name) { return {Material::Kind::file, pki(name)}; }
Material pem(const std::string& name) { return {Material::Kind::pem, slurp(pki(name))}; }

// The peer presents `name`.crt / .key and selects "postgresql" when the client offers it.
ServerOptions server(const std::string& name) {
    ServerOptions o;
    o.cert_file = pki(name + ".crt");
    o.key_file = pki(name + ".key");
    o.alpn = ServerOptions::Alpn::select;
    return o;
}

// The test peer and one client socket connected to it (closed on destruction).
class TestServer {
public:
    explicit TestServer(ServerOptions options)
        : server_(std::move(options)), fd_(pgtls::test::connect_tcp(server_.address(), server_.port())) {}
    ~TestServer() { ::close(fd_); }
    TestServer(const TestServer&) = delete;
    TestServer& operator=(const TestServer&) = delete;

    int client_fd() const { return fd_; }
    // What the peer saw once the handshake ended on its side; a client that stalls gets its
    // socket shut down after a few seconds so the peer's handshake ends.
    const TlsServerConnection& finish() {
        if (!seen_) seen_ = server_.next_connection(std::chrono::seconds(3));
        if (!seen_) {
            ::shutdown(fd_, SHUT_RDWR);
            seen_ = server_.next_connection();
        }
        if (!seen_) {
            ADD_FAILURE() << "the test peer saw no connection";
            seen_ = TlsServerConnection{};
        }
        return *seen_;
    }

private:
    TlsTestServer server_;
    int fd_;
    std::optional<TlsServerConnection> seen_;
};

ContextConfig verifying(Material ca) {
    ContextConfig c;
    c.verify_chain = true;
    c.ca = std::move(ca);
    c.alpn = {"postgresql"};
    return c;
}

class OpenSslSessionTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        char tmpl[] = "/tmp/pgtls-openssl-test-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        g_dir = tmpl;
        std::string cmd = std::string("bash '") + PGTLS_MAKE_PKI_SCRIPT + "' '" + g_dir + "' >/dev/null";
        ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    }
    static void TearDownTestSuite() { std::filesystem::remove_all(g_dir); }

    const Backend& backend() { return openssl_backend(); }

    // Handshake on a blocking socket; returns the result.
    IoResult connect(Context& ctx, TestServer& srv, std::unique_ptr<Session>& session, std::string sni = "localhost") {
        session = ctx.create_session(srv.client_fd(), SessionParams{std::move(sni)});
        return session->handshake();
    }

    static std::string echo(Session& s, const std::string& text) {
        IoResult w = s.write(text.data(), text.size());
        EXPECT_EQ(w.status, IoStatus::ok) << w.error;
        EXPECT_EQ(w.bytes, text.size());
        std::string got;
        char buf[256];
        while (got.size() < text.size()) {
            IoResult r = s.read(buf, sizeof buf);
            if (r.status != IoStatus::ok) {
                ADD_FAILURE() << "read status " << static_cast<int>(r.status) << " " << r.error;
                break;
            }
            got.append(buf, r.bytes);
        }
        return got;
    }
};

TEST_F(OpenSslSessionTest, BackendDescribesItself) {
    EXPECT_EQ(backend().name(), "openssl");
    EXPECT_EQ(backend().library_version().rfind("OpenSSL ", 0), 0u) << backend().library_version();
    std::uint32_t caps = backend().capabilities();
    for (auto bit : {cap_tls12, cap_tls13, cap_alpn, cap_sni, cap_crl_file, cap_crl_dir, cap_system_ca,
                     cap_encrypted_keys, cap_keylog, cap_pem_in_memory})
        EXPECT_TRUE(caps & bit) << bit;
    EXPECT_EQ(&find_backend("openssl"), &backend());
}

TEST_F(OpenSslSessionTest, VerifiedHandshakeReportsSessionAndPeer) {
    auto ctx = backend().create_context(verifying(file("ca.crt")));
    TestServer srv(server("server"));
    std::unique_ptr<Session> s;
    IoResult hs = connect(*ctx, srv, s);
    ASSERT_EQ(hs.status, IoStatus::ok) << hs.error;

    SessionInfo info = s->info();
    EXPECT_EQ(info.protocol, "TLSv1.3");
    EXPECT_FALSE(info.cipher.empty());
    EXPECT_EQ(info.alpn, "postgresql");

    auto peer = s->peer_certificate();
    ASSERT_TRUE(peer.has_value());
    ASSERT_FALSE(peer->der.empty());
    EXPECT_EQ(peer->der[0], 0x30);  // DER SEQUENCE
    EXPECT_EQ(peer->der, [] {      // the same bytes `openssl x509 -outform DER` gives
        std::string cmd = "openssl x509 -in '" + pki("server.crt") + "' -outform DER -out '" + pki("server.der") + "'";
        EXPECT_EQ(std::system(cmd.c_str()), 0);
        std::string d = slurp(pki("server.der"));
        return std::vector<std::uint8_t>(d.begin(), d.end());
    }());
    EXPECT_EQ(peer->common_names, std::vector<std::string>{"localhost"});
    EXPECT_EQ(peer->san_dns, std::vector<std::string>{"localhost"});
    ASSERT_EQ(peer->san_ip.size(), 2u);
    EXPECT_EQ(peer->san_ip[0], (std::vector<std::uint8_t>{127, 0, 0, 1}));
    EXPECT_EQ(peer->san_ip[1].size(), 16u);
    EXPECT_EQ(peer->san_ip[1][15], 1);
    EXPECT_EQ(peer->subject, "CN=localhost,O=pgtls test");
    EXPECT_EQ(peer->issuer, "CN=pgtls test root CA,O=pgtls test");
    EXPECT_EQ(peer->signature_hash, crypto::Hash::sha256);
    EXPECT_FALSE(s->client_certificate_requested());
    EXPECT_FALSE(s->client_certificate_sent());
    EXPECT_TRUE(s->warnings().empty());

    EXPECT_EQ(echo(*s, "ping"), "ping");
    EXPECT_EQ(s->shutdown().status, IoStatus::ok);
    EXPECT_EQ(srv.finish().sni, "localhost");
}

TEST_F(OpenSslSessionTest, CaFromPemBytes) {
    auto ctx = backend().create_context(verifying(pem("ca.crt")));
    TestServer srv(server("server"));
    std::unique_ptr<Session> s;
    IoResult hs = connect(*ctx, srv, s);
    EXPECT_EQ(hs.status, IoStatus::ok) << hs.error;
}

TEST_F(OpenSslSessionTest, WrongCaFailsWithVerifyReason) {
    auto ctx = backend().create_context(verifying(file("other-ca.crt")));
    TestServer srv(server("server"));
    std::unique_ptr<Session> s;
    IoResult hs = connect(*ctx, srv, s);
    ASSERT_EQ(hs.status, IoStatus::error);
    EXPECT_NE(hs.error.find("certificate verify failed: unable to get local issuer certificate"), std::string::npos)
        << hs.error;
    EXPECT_NE(hs.error.find("CN=localhost"), std::string::npos) << hs.error;
    EXPECT_FALSE(srv.finish().handshake_ok);
}

TEST_F(OpenSslSessionTest, NoVerificationAcceptsUnknownIssuerButStillReportsPeer) {
    ContextConfig c;  // sslmode=require without a root certificate
    auto ctx = backend().create_context(c);
    TestServer srv(server("server"));
    std::unique_ptr<Session> s;
    ASSERT_EQ(connect(*ctx, srv, s).status, IoStatus::ok);
    auto peer = s->peer_certificate();
    ASSERT_TRUE(peer);
    EXPECT_EQ(peer->common_names, std::vector<std::string>{"localhost"});
    EXPECT_EQ(s->info().alpn, "");  // none offered
}

TEST_F(OpenSslSessionTest, NoSniWhenNameEmpty) {
    auto ctx = backend().create_context(verifying(file("ca.crt")));
    TestServer srv(server("server"));
    std::unique_ptr<Session> s;
    ASSERT_EQ(connect(*ctx, srv, s, "").status, IoStatus::ok);
    EXPECT_EQ(echo(*s, "x"), "x");
    EXPECT_EQ(srv.finish().sni, "");
}

TEST_F(OpenSslSessionTest, MaxVersionTls12) {
    ContextConfig c = verifying(file("ca.crt"));
    c.max_version = TlsVersion::tls1_2;
    auto ctx = backend().create_context(c);
    TestServer srv(server("server"));
    std::unique_ptr<Session> s;
    ASSERT_EQ(connect(*ctx, srv, s).status, IoStatus::ok);
    EXPECT_EQ(s->info().protocol, "TLSv1.2");
    EXPECT_EQ(s->info().alpn, "postgresql");
    EXPECT_EQ(echo(*s, "tls12"), "tls12");
}

TEST_F(OpenSslSessionTest, VersionMismatchExplainsRange) {
    ContextConfig c = verifying(file("ca.crt"));
    c.max_version = TlsVersion::tls1_2;
    auto ctx = backend().create_context(c);
    ServerOptions o = server("server");
    o.min_version = TLS1_3_VERSION;
    TestServer srv(o);
    std::unique_ptr<Session> s;
    IoResult hs = connect(*ctx, srv, s);
    ASSERT_EQ(hs.status, IoStatus::error);
    EXPECT_NE(hs.error.find("between TLSv1.2 and TLSv1.2"), std::string::npos) << hs.error;
}

TEST_F(OpenSslSessionTest, InvertedVersionRangeIsAConfigError) {
    ContextConfig c;
    c.min_version = TlsVersion::tls1_3;
    c.max_version = TlsVersion::tls1_2;
    try {
        backend().create_context(c);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::config);
        EXPECT_NE(std::string(e.what()).find("ssl_min_protocol_version"), std::string::npos) << e.what();
    }
}

TEST_F(OpenSslSessionTest, MissingCaFileNamesTheFile) {
    try {
        backend().create_context(verifying(file("does-not-exist.crt")));
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::config);
        EXPECT_NE(std::string(e.what()).find("does-not-exist.crt"), std::string::npos) << e.what();
    }
}

TEST_F(OpenSslSessionTest, InvalidAlpnNameRejected) {
    ContextConfig c;
    c.alpn = {""};
    EXPECT_THROW(backend().create_context(c), Error);
}

TEST_F(OpenSslSessionTest, RevokedServerFailsWithCrlFile) {
    ContextConfig c = verifying(file("ca.crt"));
    c.crl = file("ca.crl");
    auto ctx = backend().create_context(c);
    {
        TestServer srv(server("server-revoked"));
        std::unique_ptr<Session> s;
        IoResult hs = connect(*ctx, srv, s);
        ASSERT_EQ(hs.status, IoStatus::error);
        EXPECT_NE(hs.error.find("certificate verify failed: certificate revoked"), std::string::npos) << hs.error;
    }
    {  // the same context still accepts a certificate that is not revoked
        TestServer srv(server("server"));
        std::unique_ptr<Session> s;
        IoResult hs = connect(*ctx, srv, s);
        EXPECT_EQ(hs.status, IoStatus::ok) << hs.error;
    }
}

TEST_F(OpenSslSessionTest, RevokedServerFailsWithCrlPemAndCrlDir) {
    for (int variant = 0; variant < 2; ++variant) {
        ContextConfig c = verifying(file("ca.crt"));
        if (variant == 0)
            c.crl = pem("ca.crl");
        else
            c.crl_dir = pki("crl-dir");
        auto ctx = backend().create_context(c);
        TestServer srv(server("server-revoked"));
        std::unique_ptr<Session> s;
        IoResult hs = connect(*ctx, srv, s);
        ASSERT_EQ(hs.status, IoStatus::error) << "variant " << variant;
        EXPECT_NE(hs.error.find("certificate revoked"), std::string::npos) << hs.error;
    }
}

TEST_F(OpenSslSessionTest, MissingCrlDirIsAConfigError) {
    ContextConfig c = verifying(file("ca.crt"));
    c.crl_dir = pki("no-such-dir");
    EXPECT_THROW(backend().create_context(c), Error);
}

TEST_F(OpenSslSessionTest, SignatureHashFollowsTheCertificate) {
    {
        auto ctx = backend().create_context(verifying(file("ca-ecdsa.crt")));
        TestServer srv(server("server-ecdsa384"));
        std::unique_ptr<Session> s;
        IoResult hs = connect(*ctx, srv, s);
        ASSERT_EQ(hs.status, IoStatus::ok) << hs.error;
        EXPECT_EQ(s->peer_certificate()->signature_hash, crypto::Hash::sha384);
    }
    {
        auto ctx = backend().create_context(verifying(file("ca-ed25519.crt")));
        TestServer srv(server("server-ed25519"));
        std::unique_ptr<Session> s;
        IoResult hs = connect(*ctx, srv, s);
        ASSERT_EQ(hs.status, IoStatus::ok) << hs.error;
        EXPECT_FALSE(s->peer_certificate()->signature_hash.has_value());
    }
}

// OpenSSL 3 (security level 1, as libpq leaves it) refuses SHA-1 signatures in a verified
// chain; without verification the certificate is still described, hash SHA-1.
TEST_F(OpenSslSessionTest, Sha1SignedCertificate) {
    ServerOptions o = server("server-rsa-sha1");
    {
        auto ctx = backend().create_context(ContextConfig{});
        TestServer srv(o);
        std::unique_ptr<Session> s;
        IoResult hs = connect(*ctx, srv, s);
        ASSERT_EQ(hs.status, IoStatus::ok) << hs.error;
        EXPECT_EQ(s->peer_certificate()->signature_hash, crypto::Hash::sha1);
    }
    {
        auto ctx = backend().create_context(verifying(file("ca.crt")));
        TestServer srv(o);
        std::unique_ptr<Session> s;
        IoResult hs = connect(*ctx, srv, s);
        ASSERT_EQ(hs.status, IoStatus::error);
        EXPECT_NE(hs.error.find("certificate verify failed: CA signature digest algorithm too weak"),
                  std::string::npos)
            << hs.error;
    }
}

ServerOptions requesting_server() {
    ServerOptions o = server("server");
    o.client_ca_file = pki("client-ca.crt");
    return o;
}

TEST_F(OpenSslSessionTest, ClientCertificateWithEncryptedPkcs8Key) {
    ContextConfig c = verifying(file("ca.crt"));
    c.cert = file("client-ecdsa.crt");
    c.key = file("client-ecdsa-encrypted.key");
    c.key_password = "keypass";
    auto ctx = backend().create_context(c);
    TestServer srv(requesting_server());
    std::unique_ptr<Session> s;
    ASSERT_EQ(connect(*ctx, srv, s).status, IoStatus::ok);
    EXPECT_TRUE(s->client_certificate_requested());
    EXPECT_TRUE(s->client_certificate_sent());
    EXPECT_EQ(echo(*s, "cert"), "cert");
    EXPECT_EQ(srv.finish().client_cert_subject, "CN=certuser,O=pgtls test");
    EXPECT_EQ(srv.finish().client_intermediates, 0);
}

TEST_F(OpenSslSessionTest, ClientCertificateFromPemWithLegacyEncryptedRsaKey) {
    ContextConfig c = verifying(file("ca.crt"));
    c.cert = pem("client.crt");
    c.key = pem("client-pkcs1-encrypted.key");
    c.key_password = "keypass";
    auto ctx = backend().create_context(c);
    TestServer srv(requesting_server());
    std::unique_ptr<Session> s;
    ASSERT_EQ(connect(*ctx, srv, s).status, IoStatus::ok);
    EXPECT_TRUE(s->client_certificate_sent());
    EXPECT_EQ(echo(*s, "pem"), "pem");
    EXPECT_EQ(srv.finish().client_cert_subject, "CN=certuser,O=pgtls test");
}

TEST_F(OpenSslSessionTest, ClientCertificateChainIsSent) {
    for (bool in_memory : {false, true}) {
        ContextConfig c = verifying(file("ca.crt"));
        c.cert = in_memory ? pem("client-chain.crt") : file("client-chain.crt");
        c.key = file("client-chain.key");
        auto ctx = backend().create_context(c);
        TestServer srv(requesting_server());
        std::unique_ptr<Session> s;
        ASSERT_EQ(connect(*ctx, srv, s).status, IoStatus::ok);
        EXPECT_EQ(echo(*s, "chain"), "chain");
        const auto& report = srv.finish();
        EXPECT_EQ(report.client_cert_subject, "CN=certuser,O=pgtls test");
        EXPECT_EQ(report.client_intermediates, 1) << "the intermediate must follow the leaf";
    }
}

TEST_F(OpenSslSessionTest, ClientKeyInDerAndSec1) {
    for (auto [cert, key] : {std::pair{"client.crt", "client.key.der"}, std::pair{"client-ecdsa.crt", "client-ecdsa.key"}}) {
        ContextConfig c = verifying(file("ca.crt"));
        c.cert = file(cert);
        c.key = file(key);
        auto ctx = backend().create_context(c);
        TestServer srv(requesting_server());
        std::unique_ptr<Session> s;
        ASSERT_EQ(connect(*ctx, srv, s).status, IoStatus::ok) << key;
        EXPECT_EQ(echo(*s, "k"), "k");
        EXPECT_EQ(srv.finish().client_cert_subject, "CN=certuser,O=pgtls test") << key;
    }
}

TEST_F(OpenSslSessionTest, RequestedButNoCertificateConfigured) {
    auto ctx = backend().create_context(verifying(file("ca.crt")));
    TestServer srv(requesting_server());
    std::unique_ptr<Session> s;
    ASSERT_EQ(connect(*ctx, srv, s).status, IoStatus::ok);
    EXPECT_TRUE(s->client_certificate_requested());
    EXPECT_FALSE(s->client_certificate_sent());
    EXPECT_EQ(echo(*s, "none"), "none");
    EXPECT_EQ(srv.finish().client_cert_subject, "");
}

TEST_F(OpenSslSessionTest, SendClientCertFalseLoadsNothing) {
    ContextConfig c = verifying(file("ca.crt"));
    c.cert = file("client-ecdsa.crt");
    c.key = file("client-ecdsa-encrypted.key");  // no password: would fail if it were loaded
    c.send_client_cert = false;
    auto ctx = backend().create_context(c);
    TestServer srv(requesting_server());
    std::unique_ptr<Session> s;
    ASSERT_EQ(connect(*ctx, srv, s).status, IoStatus::ok);
    EXPECT_TRUE(s->client_certificate_requested());
    EXPECT_FALSE(s->client_certificate_sent());
    EXPECT_EQ(echo(*s, "off"), "off");
    EXPECT_EQ(srv.finish().client_cert_subject, "");
}

Error key_error(const std::string& key, const std::string& password, const std::string& cert = "client-ecdsa.crt") {
    ContextConfig c;
    c.cert = file(cert);
    c.key = file(key);
    c.key_password = password;
    try {
        openssl_backend().create_context(c);
    } catch (const Error& e) {
        return e;
    }
    ADD_FAILURE() << "no error for key " << key;
    return Error(ErrorKind::usage, "");
}

TEST_F(OpenSslSessionTest, EncryptedKeyWithoutPasswordNamesFileAndSetting) {
    Error e = key_error("client-ecdsa-encrypted.key", "");
    EXPECT_EQ(e.kind(), ErrorKind::config);
    std::string msg = e.what();
    EXPECT_NE(msg.find("client-ecdsa-encrypted.key"), std::string::npos) << msg;
    EXPECT_NE(msg.find("sslpassword"), std::string::npos) << msg;
}

TEST_F(OpenSslSessionTest, WrongPasswordNamesFileButNotPassword) {
    for (const char* key : {"client-ecdsa-encrypted.key", "client-pkcs1-encrypted.key"}) {
        const bool ecdsa = std::string(key).find("ecdsa") != std::string::npos;
        Error e = key_error(key, "hunter2-wrong", ecdsa ? "client-ecdsa.crt" : "client.crt");
        EXPECT_EQ(e.kind(), ErrorKind::config);
        std::string msg = e.what();
        EXPECT_NE(msg.find(key), std::string::npos) << msg;
        EXPECT_NE(msg.find("wrong password"), std::string::npos) << msg;
        EXPECT_EQ(msg.find("hunter2"), std::string::npos) << msg;
    }
}

TEST_F(OpenSslSessionTest, MismatchedCertificateAndKey) {
    Error e = key_error("client.key", "", "client-ecdsa.crt");
    std::string msg = e.what();
    EXPECT_NE(msg.find("does not match"), std::string::npos) << msg;
    EXPECT_NE(msg.find("client.key"), std::string::npos) << msg;
}

TEST_F(OpenSslSessionTest, KeylogFileWrittenWithOwnerOnlyMode) {
    ContextConfig c = verifying(file("ca.crt"));
    c.keylog_file = pki("keylog.txt");
    auto ctx = backend().create_context(c);
    TestServer srv(server("server"));
    std::unique_ptr<Session> s;
    ASSERT_EQ(connect(*ctx, srv, s).status, IoStatus::ok);
    EXPECT_TRUE(s->warnings().empty());
    std::string log = slurp(c.keylog_file);
    EXPECT_NE(log.find("CLIENT_HANDSHAKE_TRAFFIC_SECRET "), std::string::npos) << log;
    EXPECT_NE(log.find("CLIENT_TRAFFIC_SECRET_0 "), std::string::npos) << log;
    struct stat st {};
    ASSERT_EQ(::stat(c.keylog_file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(OpenSslSessionTest, UnwritableKeylogIsOnlyAWarning) {
    ContextConfig c = verifying(file("ca.crt"));
    c.keylog_file = pki("no-such-dir/keylog.txt");
    auto ctx = backend().create_context(c);
    TestServer srv(server("server"));
    std::unique_ptr<Session> s;
    ASSERT_EQ(connect(*ctx, srv, s).status, IoStatus::ok);
    ASSERT_EQ(s->warnings().size(), 1u);
    EXPECT_NE(s->warnings()[0].find("no-such-dir/keylog.txt"), std::string::npos) << s->warnings()[0];
    EXPECT_EQ(echo(*s, "still works"), "still works");
}

TEST_F(OpenSslSessionTest, NonBlockingSocketHandshakeAndIo) {
    auto ctx = backend().create_context(verifying(file("ca.crt")));
    TestServer srv(server("server"));
    int fd = srv.client_fd();
    ASSERT_EQ(::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
    auto s = ctx->create_session(fd, SessionParams{"localhost"});
    auto drive = [&](auto op) {
        int waits = 0;
        for (;;) {
            IoResult r = op();
            if (r.status != IoStatus::want_read && r.status != IoStatus::want_write) return std::pair{r, waits};
            ++waits;
            pollfd p{fd, static_cast<short>(r.status == IoStatus::want_read ? POLLIN : POLLOUT), 0};
            if (::poll(&p, 1, 5000) != 1) return std::pair{IoResult{IoStatus::error, 0, "poll timeout"}, waits};
        }
    };
    auto [hs, hs_waits] = drive([&] { return s->handshake(); });
    ASSERT_EQ(hs.status, IoStatus::ok) << hs.error;
    (void)hs_waits;
    char buf[64];
    // Nothing to read yet (the echo server waits for us): must not block.
    IoResult idle = s->read(buf, sizeof buf);
    EXPECT_EQ(idle.status, IoStatus::want_read) << idle.error;
    std::string msg = "non-blocking";
    auto [w, w_waits] = drive([&] { return s->write(msg.data(), msg.size()); });
    ASSERT_EQ(w.status, IoStatus::ok);
    std::string got;
    while (got.size() < msg.size()) {
        auto [r, r_waits] = drive([&] { return s->read(buf, sizeof buf); });
        ASSERT_EQ(r.status, IoStatus::ok) << r.error;
        got.append(buf, r.bytes);
    }
    EXPECT_EQ(got, msg);
}

TEST_F(OpenSslSessionTest, PendingCountsBufferedPlaintext) {
    auto ctx = backend().create_context(verifying(file("ca.crt")));
    ServerOptions o = server("server");
    o.greeting = std::string(100, 'g');
    TestServer srv(o);
    std::unique_ptr<Session> s;
    ASSERT_EQ(connect(*ctx, srv, s).status, IoStatus::ok);
    char buf[10];
    IoResult r = s->read(buf, sizeof buf);
    ASSERT_EQ(r.status, IoStatus::ok) << r.error;
    EXPECT_EQ(r.bytes, 10u);
    EXPECT_EQ(s->pending(), 90u);
}

TEST_F(OpenSslSessionTest, EndOfStreamReadsAsClosed) {
    for (auto end : {ServerOptions::End::close_notify, ServerOptions::End::abrupt}) {
        auto ctx = backend().create_context(verifying(file("ca.crt")));
        ServerOptions o = server("server");
        o.end = end;
        o.greeting = "bye";
        TestServer srv(o);
        std::unique_ptr<Session> s;
        ASSERT_EQ(connect(*ctx, srv, s).status, IoStatus::ok);
        std::string got;
        char buf[64];
        IoResult r;
        while ((r = s->read(buf, sizeof buf)).status == IoStatus::ok) got.append(buf, r.bytes);
        EXPECT_EQ(got, "bye");
        EXPECT_EQ(r.status, IoStatus::closed) << static_cast<int>(end) << " " << r.error;
        EXPECT_EQ(s->shutdown().status, IoStatus::ok);  // never raises SIGPIPE or throws
    }
}

TEST_F(OpenSslSessionTest, ConcurrentSessionsFromOneContext) {
    auto ctx = backend().create_context(verifying(file("ca.crt")));
    constexpr int n = 8;
    std::vector<std::thread> threads;
    std::vector<std::string> results(n);
    for (int i = 0; i < n; ++i)
        threads.emplace_back([&, i] {
            TestServer srv(server("server"));
            auto s = ctx->create_session(srv.client_fd(), SessionParams{"localhost"});
            IoResult hs = s->handshake();
            if (hs.status != IoStatus::ok) {
                results[i] = "handshake: " + hs.error;
                return;
            }
            std::string text = "thread " + std::to_string(i);
            results[i] = echo(*s, text) == text ? "ok" : "echo mismatch";
        });
    for (auto& t : threads) t.join();
    for (const auto& r : results) EXPECT_EQ(r, "ok");
}

TEST_F(OpenSslSessionTest, ServerClosingDuringHandshakeIsAnError) {
    auto ctx = backend().create_context(verifying(file("ca.crt")));
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    ::close(fds[1]);
    auto s = ctx->create_session(fds[0], SessionParams{"localhost"});
    IoResult hs = s->handshake();
    EXPECT_EQ(hs.status, IoStatus::error);
    EXPECT_FALSE(hs.error.empty());
    EXPECT_EQ(s->shutdown().status, IoStatus::ok);
    // The session never closes the caller's fd.
    EXPECT_EQ(::fcntl(fds[0], F_GETFD), 0);
    s.reset();
    EXPECT_NE(::fcntl(fds[0], F_GETFD), -1);
    ::close(fds[0]);
}

}  // namespace
