// Backend conformance, session-level behaviour: buffered data (pending), key logging,
// warnings, the system trust store, hostile or non-TLS peers, and clean shutdown.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <mutex>
#include <filesystem>
#include <fstream>
#include <thread>

#include "pgtls/error.hpp"
#include "tests/backends/conformance_fixture.hpp"

namespace pgtls::conformance {
namespace {

using tls::ContextConfig;
using tls::IoStatus;
using test::TlsServerOptions;
using test::TlsTestServer;

ContextConfig verified() {
    ContextConfig c;
    c.verify_chain = true;
    c.ca = pki_file("ca.crt");
    return c;
}

class TempDir {
public:
    TempDir() {
        char tmpl[] = "/tmp/pgtls-conformance.XXXXXX";
        if (::mkdtemp(tmpl)) path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        if (!path_.empty()) std::filesystem::remove_all(path_, ec);
    }
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

// A plain TCP listener on 127.0.0.1 that answers each connection with fixed bytes and
// closes it: a peer that does not speak TLS.
class RawServer {
public:
    explicit RawServer(std::string reply) : reply_(std::move(reply)) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(fd_, 4) != 0)
            throw std::runtime_error("raw server: bind/listen failed");
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this] {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 10000) <= 0) return;
            int c = ::accept(fd_, nullptr, nullptr);
            if (c < 0) return;
            char buf[4096];
            pollfd q{c, POLLIN, 0};
            if (::poll(&q, 1, 5000) > 0) {
                [[maybe_unused]] ssize_t n = ::recv(c, buf, sizeof buf, 0);  // the ClientHello
            }
            if (!reply_.empty()) {
                [[maybe_unused]] ssize_t n = ::send(c, reply_.data(), reply_.size(), MSG_NOSIGNAL);
            }
            ::close(c);
        });
    }
    ~RawServer() {
        if (thread_.joinable()) thread_.join();
        if (fd_ >= 0) ::close(fd_);
    }
    std::uint16_t port() const { return port_; }

private:
    std::string reply_;
    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::thread thread_;
};

tls::IoResult handshake_against_raw(const tls::Backend& b, RawServer& raw) {
    auto ctx = b.create_context(ContextConfig{});
    int fd = test::connect_tcp("127.0.0.1", raw.port());
    tls::IoResult r;
    {
        auto session = ctx->create_session(fd, {"localhost"});
        for (int i = 0; i < 1000; ++i) {
            r = session->handshake();
            if (r.status != IoStatus::want_read && r.status != IoStatus::want_write) break;
            pollfd p{fd, static_cast<short>(r.status == IoStatus::want_read ? POLLIN : POLLOUT), 0};
            if (::poll(&p, 1, 10000) <= 0) break;
        }
    }
    ::close(fd);
    return r;
}

TEST_P(BackendConformance, NonTlsServerReplyIsAHandshakeError) {
    RawServer raw("HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    tls::IoResult r = handshake_against_raw(backend(), raw);
    EXPECT_EQ(r.status, IoStatus::error) << describe(r);
    EXPECT_FALSE(r.error.empty());
}

TEST_P(BackendConformance, ServerClosingDuringHandshakeIsAnError) {
    RawServer raw("");
    tls::IoResult r = handshake_against_raw(backend(), raw);
    EXPECT_TRUE(r.status == IoStatus::error || r.status == IoStatus::closed) << describe(r);
    EXPECT_NE(r.status, IoStatus::ok);
}

TEST_P(BackendConformance, PostgresErrorInsteadOfTlsIsAnError) {
    // What a server without SSL support may send: a plain ErrorResponse ('E').
    std::string msg = std::string("E\0\0\0\x2a", 5) + "SFATAL\0C08P01\0Munsupported frontend\0\0";
    RawServer raw(msg);
    tls::IoResult r = handshake_against_raw(backend(), raw);
    EXPECT_EQ(r.status, IoStatus::error) << describe(r);
}

TEST_P(BackendConformance, PendingReportsBufferedPlaintext) {
    TlsTestServer server(server_options("server"));
    Handshake h = run_handshake(backend(), verified(), server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    std::string data(1000, 'p');
    // One write -> one TLS record echoed back in one record.
    tls::IoResult w = h.session->write(data.data(), data.size());
    ASSERT_EQ(w.status, IoStatus::ok) << describe(w);
    ASSERT_EQ(w.bytes, data.size());
    char buf[10];
    tls::IoResult r;
    for (int i = 0; i < 1000; ++i) {
        r = h.session->read(buf, sizeof buf);
        if (r.status != IoStatus::want_read) break;
        pollfd p{h.fd, POLLIN, 0};
        ::poll(&p, 1, 10000);
    }
    ASSERT_EQ(r.status, IoStatus::ok) << describe(r);
    ASSERT_EQ(r.bytes, sizeof buf);
    // The rest of the record is decrypted and buffered: an event loop must not poll() for it.
    EXPECT_EQ(h.session->pending(), data.size() - sizeof buf);
    std::string rest = echo(h, "");
    std::string got;
    char big[2000];
    while (got.size() < data.size() - sizeof buf && h.session->pending() > 0) {
        tls::IoResult rr = h.session->read(big, sizeof big);
        ASSERT_EQ(rr.status, IoStatus::ok) << describe(rr);
        got.append(big, rr.bytes);
    }
    EXPECT_EQ(got.size(), data.size() - sizeof buf);
    EXPECT_EQ(h.session->pending(), 0u);
}

TEST_P(BackendConformance, ShutdownSendsCloseNotify) {
    TlsTestServer server(server_options("server"));
    Handshake h = run_handshake(backend(), verified(), server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    EXPECT_EQ(echo(h, "bye"), "bye");
    tls::IoResult r = h.session->shutdown();
    EXPECT_NE(r.status, IoStatus::error) << describe(r);
    // The server's echo loop ends on close_notify; a second shutdown is harmless.
    tls::IoResult again = h.session->shutdown();
    (void)again;
    h.session.reset();
    SUCCEED();
}

// A backend without cap_keylog (wolfSSL without HAVE_SECRET_CALLBACK) refuses a key log with
// Error(config) naming the setting, before any handshake: never a log that stays empty.
TEST_P(BackendConformance, KeyLogWithoutTheCapabilityIsAClearError) {
    if (has(tls::cap_keylog)) GTEST_SKIP() << "the backend exports TLS secrets";
    ContextConfig c = verified();
    c.keylog_file = "/tmp/pgtls-never-written.log";
    try {
        (void)backend().create_context(c);
        ADD_FAILURE() << "a key log was accepted by a backend that cannot write one";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::config) << e.what();
        EXPECT_NE(std::string(e.what()).find("sslkeylogfile"), std::string::npos) << e.what();
    }
}

TEST_P(BackendConformance, KeyLogFileWrittenInNssFormat) {
    if (!has(tls::cap_keylog)) GTEST_SKIP() << "see KeyLogWithoutTheCapabilityIsAClearError";
    TempDir dir;
    ASSERT_FALSE(dir.path().empty());
    std::string log = dir.path() + "/keys.log";
    TlsTestServer server(server_options("server"));
    ContextConfig c = verified();
    c.keylog_file = log;
    Handshake h = run_handshake(backend(), c, server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    EXPECT_EQ(echo(h, "k"), "k");
    std::string text = test::read_file(log);
    bool tls13 = h.session->info().protocol == "TLSv1.3";
    EXPECT_NE(text.find(tls13 ? "CLIENT_HANDSHAKE_TRAFFIC_SECRET " : "CLIENT_RANDOM "), std::string::npos) << text;
    struct stat st {};
    ASSERT_EQ(::stat(log.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 077, 0u) << "key log must not be group/world readable (libpq creates it 0600)";
}

TEST_P(BackendConformance, KeyLogFileOverTls12) {
    if (!has(tls::cap_keylog)) GTEST_SKIP() << "see KeyLogWithoutTheCapabilityIsAClearError";
    TempDir dir;
    std::string log = dir.path() + "/keys12.log";
    TlsTestServer server(server_options("server"));
    ContextConfig c = verified();
    c.keylog_file = log;
    c.max_version = TlsVersion::tls1_2;
    Handshake h = run_handshake(backend(), c, server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    std::string text = test::read_file(log);
    EXPECT_EQ(text.rfind("CLIENT_RANDOM ", 0), 0u) << text;
    // CLIENT_RANDOM <64 hex> <96 hex>\n
    EXPECT_GE(text.size(), 14u + 64 + 1 + 96);
}

TEST_P(BackendConformance, UnwritableKeyLogIsOnlyAWarning) {
    if (!has(tls::cap_keylog)) GTEST_SKIP() << "see KeyLogWithoutTheCapabilityIsAClearError";
    TlsTestServer server(server_options("server"));
    ContextConfig c = verified();
    c.keylog_file = "/nonexistent-pgtls-dir/keys.log";
    Handshake h = run_handshake(backend(), c, server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    EXPECT_EQ(echo(h, "still works"), "still works");
    auto warnings = h.session->warnings();
    ASSERT_FALSE(warnings.empty());
    bool names_file = false;
    for (const auto& w : warnings) names_file |= w.find("/nonexistent-pgtls-dir/keys.log") != std::string::npos;
    EXPECT_TRUE(names_file) << warnings.front();
}

// libpq 18 appends to whatever file it can open; pgtls refuses a key log that others can
// read (issue 15): the handshake succeeds, the file is left as it was, a warning names it.
TEST_P(BackendConformance, GroupOrWorldReadableKeyLogGetsNoSecrets) {
    if (!has(tls::cap_keylog)) GTEST_SKIP() << "see KeyLogWithoutTheCapabilityIsAClearError";
    for (mode_t mode : {mode_t{0644}, mode_t{0640}, mode_t{0604}, mode_t{0660}}) {
        TempDir dir;
        std::string log = dir.path() + "/shared-keys.log";
        {
            std::ofstream f(log);
            f << "existing line\n";
        }
        ASSERT_EQ(::chmod(log.c_str(), mode), 0);
        TlsTestServer server(server_options("server"));
        ContextConfig c = verified();
        c.keylog_file = log;
        Handshake h = run_handshake(backend(), c, server, {"localhost"});
        PGTLS_ASSERT_HANDSHAKE_OK(h);
        EXPECT_EQ(echo(h, "k"), "k");
        EXPECT_EQ(test::read_file(log), "existing line\n") << "secrets appended to a file with mode 0" << std::oct << mode;
        auto warnings = h.session->warnings();
        bool named = false;
        const std::string reason = "group or world";
        for (const auto& w : warnings) named |= w.find(log) != std::string::npos && w.find(reason) != std::string::npos;
        EXPECT_TRUE(named) << (warnings.empty() ? std::string("no warning") : warnings.front());
        struct stat st {};
        ASSERT_EQ(::stat(log.c_str(), &st), 0);
        EXPECT_EQ(st.st_mode & 0777, mode) << "the file's mode is left alone";
    }
}

TEST_P(BackendConformance, NoWarningsOnAPlainHandshake) {
    TlsTestServer server(server_options("server"));
    Handshake h = run_handshake(backend(), verified(), server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    auto w = h.session->warnings();
    EXPECT_TRUE(w.empty()) << w.front();
}

TEST_P(BackendConformance, SystemTrustStoreDoesNotTrustTestCa) {
    ContextConfig c;
    c.verify_chain = true;
    c.ca = {tls::Material::Kind::system, ""};
    if (!has(tls::cap_system_ca)) {
        try {
            backend().create_context(c);
            ADD_FAILURE() << "sslrootcert=system accepted without cap_system_ca";
        } catch (const Error&) {
        }
        return;
    }
    TlsTestServer server(server_options("server"));
    Handshake h = run_handshake(backend(), c, server, {"localhost"});
    PGTLS_EXPECT_HANDSHAKE_ERROR(h);
}

// Sets an environment variable for one scope and restores it after.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const std::string& value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        ::setenv(name, value.c_str(), 1);
    }
    ~ScopedEnv() {
        if (old_) ::setenv(name_, old_->c_str(), 1);
        else ::unsetenv(name_);
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    const char* name_;
    std::optional<std::string> old_;
};

// A directory holding `cert` under its OpenSSL subject-hash name, as `openssl rehash` makes.
void add_hashed_certificate(const std::string& dir, const std::string& cert) {
    BIO* bio = BIO_new_file(cert.c_str(), "r");
    ASSERT_NE(bio, nullptr) << cert;
    X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    ASSERT_NE(x, nullptr) << cert;
    char name[16];
    std::snprintf(name, sizeof name, "%08lx.0", X509_subject_name_hash(x));
    X509_free(x);
    std::filesystem::copy_file(cert, dir + "/" + name);
}

// sslrootcert=system is OpenSSL's default verify paths for libpq: $SSL_CERT_FILE replaces the
// default bundle file and $SSL_CERT_DIR the default hashed directory. Every backend honours both.
ContextConfig system_trust() {
    ContextConfig c;
    c.verify_chain = true;
    c.ca = {tls::Material::Kind::system, ""};
    return c;
}

TEST_P(BackendConformance, SystemTrustHonoursSslCertFile) {
    if (!has(tls::cap_system_ca)) GTEST_SKIP() << "no cap_system_ca";
    TempDir empty;
    ScopedEnv file("SSL_CERT_FILE", pki("ca.crt"));
    ScopedEnv dir("SSL_CERT_DIR", empty.path());
    TlsTestServer server(server_options("server"));
    Handshake h = run_handshake(backend(), system_trust(), server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
}

TEST_P(BackendConformance, SystemTrustHonoursSslCertDir) {
    if (!has(tls::cap_system_ca)) GTEST_SKIP() << "no cap_system_ca";
    TempDir hashed;
    add_hashed_certificate(hashed.path(), pki("ca.crt"));
    ScopedEnv file("SSL_CERT_FILE", pki("other-ca.crt"));
    ScopedEnv dir("SSL_CERT_DIR", hashed.path());
    TlsTestServer server(server_options("server"));
    Handshake h = run_handshake(backend(), system_trust(), server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
}

TEST_P(BackendConformance, SystemTrustFromEnvironmentTrustsOnlyWhatItNames) {
    if (!has(tls::cap_system_ca)) GTEST_SKIP() << "no cap_system_ca";
    TempDir empty;
    ScopedEnv file("SSL_CERT_FILE", pki("other-ca.crt"));
    ScopedEnv dir("SSL_CERT_DIR", empty.path());
    TlsTestServer server(server_options("server"));
    Handshake h = run_handshake(backend(), system_trust(), server, {"localhost"});
    PGTLS_EXPECT_HANDSHAKE_ERROR(h);
}

// Contract: a CRL the backend is given must be used, so an unreadable one is an error
// naming it (fail closed). libpq instead skips a CRL file it cannot load; that leniency, if
// wanted, belongs in core (skip a missing default ~/.postgresql/root.crl before calling the
// backend), so that every backend refuses the same way.
TEST_P(BackendConformance, MissingCrlFileIsAnErrorNamingIt) {
    ContextConfig c = verified();
    c.crl = {tls::Material::Kind::file, pki("no-such.crl")};
    try {
        TlsTestServer server(server_options("server"));
        Handshake h = run_handshake(backend(), c, server, {"localhost"});
        ADD_FAILURE() << "context created with a missing CRL file; handshake " << describe(h.result)
                      << (h.session && !h.session->warnings().empty() ? ", warning: " + h.session->warnings().front()
                                                                       : std::string());
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("no-such.crl"), std::string::npos) << e.what();
    }
}

TEST_P(BackendConformance, GarbageCrlFileIsAnError) {
    ContextConfig c = verified();
    c.crl = pki_file("ca.crt");  // a certificate, not a CRL
    try {
        TlsTestServer server(server_options("server"));
        Handshake h = run_handshake(backend(), c, server, {"localhost"});
        ADD_FAILURE() << "context created with a CRL file holding no CRL; handshake " << describe(h.result);
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("ca.crt"), std::string::npos) << e.what();
    }
}

// A directory where a file is expected is a configuration error naming it, on every backend
// (reading one used to escape as std::ios_base::failure from the shared file reader).
TEST_P(BackendConformance, RootCertThatIsADirectoryIsAConfigErrorNamingIt) {
    ContextConfig c = verified();
    c.ca = {tls::Material::Kind::file, pki("crl-dir")};
    try {
        TlsTestServer server(server_options("server"));
        Handshake h = run_handshake(backend(), c, server, {"localhost"});
        ADD_FAILURE() << "context created with a directory as root certificate file; handshake " << describe(h.result);
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::config) << e.what();
        EXPECT_NE(std::string(e.what()).find("crl-dir"), std::string::npos) << e.what();
    } catch (const std::exception& e) {
        ADD_FAILURE() << "not a pgtls::Error: " << e.what();
    }
}

TEST_P(BackendConformance, MissingCrlDirNeverPassesSilently) {
    // libpq (OpenSSL by_dir) accepts the path and then fails verification for want of a CRL.
    ContextConfig c = verified();
    c.crl_dir = pki("no-such-crl-dir");
    try {
        TlsTestServer server(server_options("server"));
        Handshake h = run_handshake(backend(), c, server, {"localhost"});
        PGTLS_EXPECT_HANDSHAKE_ERROR(h);
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("no-such-crl-dir"), std::string::npos) << e.what();
    }
}

TEST_P(BackendConformance, ClientCertRejectedByServerOverTls12FailsHandshake) {
    TlsServerOptions o = server_options("server");
    o.client_ca_file = pki("client-ca.crt");
    o.require_client_cert = true;
    TlsTestServer server(o);
    ContextConfig c = verified();
    c.max_version = TlsVersion::tls1_2;
    c.cert = pki_file("client-other.crt");
    c.key = pki_file("client-other.key");
    Handshake h = run_handshake(backend(), c, server, {"localhost"});
    // In TLS 1.2 the server's verdict arrives before the client's handshake completes.
    PGTLS_EXPECT_HANDSHAKE_ERROR(h);
    ASSERT_TRUE(h.server);
    EXPECT_TRUE(h.server->client_cert_presented);
    EXPECT_FALSE(h.server->handshake_ok);
}

TEST_P(BackendConformance, ClientCertOverTls12) {
    TlsServerOptions o = server_options("server");
    o.client_ca_file = pki("client-ca.crt");
    o.require_client_cert = true;
    TlsTestServer server(o);
    ContextConfig c = verified();
    c.max_version = TlsVersion::tls1_2;
    c.cert = pki_file("client-ecdsa.crt");
    c.key = pki_file("client-ecdsa-encrypted.key");
    c.key_password = "keypass";
    Handshake h = run_handshake(backend(), c, server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    EXPECT_EQ(h.session->info().protocol, "TLSv1.2");
    EXPECT_EQ(h.server->client_cert_cn, "certuser");
    EXPECT_TRUE(h.session->client_certificate_sent());
}

// A blocking socket means blocking calls: post-handshake messages (TLS 1.3 session tickets,
// which the OpenSSL test server sends) must be absorbed, not surfaced as want_read.
TEST_P(BackendConformance, BlockingSocketReadDoesNotReturnWantRead) {
    TlsTestServer server(server_options("server"));
    Handshake h = run_handshake(backend(), verified(), server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    for (int round = 0; round < 3; ++round) {
        tls::IoResult w = h.session->write("abc", 3);
        ASSERT_EQ(w.status, IoStatus::ok) << describe(w);
        ASSERT_EQ(w.bytes, 3u);
        std::size_t got = 0;
        char buf[3];
        while (got < 3) {
            tls::IoResult r = h.session->read(buf + got, 3 - got);
            ASSERT_EQ(r.status, IoStatus::ok) << "round " << round << " after " << got << " bytes: " << describe(r)
                                              << " (" << h.session->info().protocol << ")";
            got += r.bytes;
        }
    }
}

TEST_P(BackendConformance, ConcurrentSessionsFromOneContext) {
    // Context::create_session is documented thread-safe (a pool shares one context).
    TlsServerOptions o = server_options("server");
    std::vector<std::unique_ptr<TlsTestServer>> servers;
    for (int i = 0; i < 4; ++i) servers.push_back(std::make_unique<TlsTestServer>(o));
    auto ctx = backend().create_context(verified());
    std::atomic<int> ok{0};
    std::mutex mu;
    std::vector<std::string> errors;
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
        threads.emplace_back([&, i] {
            int fd = test::connect_tcp("127.0.0.1", servers[static_cast<std::size_t>(i)]->port());
            {
                auto s = ctx->create_session(fd, {"localhost"});
                tls::IoResult hs = s->handshake();
                if (hs.status != IoStatus::ok) {
                    std::lock_guard lock(mu);
                    errors.push_back(describe(hs));
                }
                if (hs.status == IoStatus::ok && s->write("abc", 3).status == IoStatus::ok) {
                    char buf[3];
                    std::size_t got = 0;
                    while (got < 3) {
                        auto r = s->read(buf + got, 3 - got);
                        if (r.status == IoStatus::want_read || r.status == IoStatus::want_write) {
                            pollfd p{fd, static_cast<short>(r.status == IoStatus::want_read ? POLLIN : POLLOUT), 0};
                            if (::poll(&p, 1, 10000) > 0) continue;
                        }
                        if (r.status != IoStatus::ok) {
                            std::lock_guard lock(mu);
                            errors.push_back("read: " + describe(r));
                            break;
                        }
                        got += r.bytes;
                    }
                    if (got == 3 && std::string(buf, 3) == "abc") ++ok;
                }
            }
            ::close(fd);
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok.load(), 4) << (errors.empty() ? std::string("(echo failed)") : errors.front());
}

}  // namespace
}  // namespace pgtls::conformance

namespace pgtls::conformance {
namespace {

TEST_P(BackendConformance, ServerChainThroughIntermediateVerifies) {
    TlsTestServer server(server_options("server-chain"));  // sends leaf + intermediate
    Handshake h = run_handshake(backend(), verified(), server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    auto peer = h.session->peer_certificate();
    ASSERT_TRUE(peer);
    EXPECT_EQ(peer->der, test::pem_certificate_der(pki("server-chain.crt"))) << "peer_certificate must be the leaf";
}

TEST_P(BackendConformance, ClientCertChainSendsIntermediate) {
    TlsServerOptions o = server_options("server");
    o.client_ca_file = pki("client-ca.crt");  // the root only: the intermediate must come from the client
    o.require_client_cert = true;
    TlsTestServer server(o);
    ContextConfig c = verified();
    c.cert = pki_file("client-chain.crt");
    c.key = pki_file("client-chain.key");
    Handshake h = run_handshake(backend(), c, server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    EXPECT_EQ(echo(h, "chained"), "chained");
    ASSERT_TRUE(h.server);
    EXPECT_TRUE(h.server->handshake_ok) << h.server->error;
    EXPECT_EQ(h.server->client_cert_cn, "certuser");
}

}  // namespace
}  // namespace pgtls::conformance
