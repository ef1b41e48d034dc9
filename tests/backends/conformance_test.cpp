// Backend conformance: handshake, chain verification, ALPN, SNI, client certificates and
// keys, CRLs, protocol versions, session I/O and channel-binding inputs — the same cases on
// every compiled TLS backend, against an independent OpenSSL test server.
#include <fcntl.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>

#include "tls/hostname.hpp"
#include "pgtls/error.hpp"
#include "tests/backends/conformance_fixture.hpp"

namespace pgtls::conformance {
namespace {

using tls::ContextConfig;
using tls::IoStatus;
using tls::SessionParams;
using test::TlsServerOptions;
using test::TlsTestServer;

ContextConfig verify_with(std::string_view ca_file) {
    ContextConfig c;
    c.verify_chain = true;
    c.ca = pki_file(ca_file);
    return c;
}

// Runs `fn` and returns the pgtls::Error it throws; fails the test when it throws nothing.
template <typename Fn>
std::optional<Error> expect_error(Fn&& fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e;
    } catch (const std::exception& e) {
        ADD_FAILURE() << "threw a non-pgtls exception: " << e.what();
        return std::nullopt;
    }
    ADD_FAILURE() << "expected a pgtls::Error";
    return std::nullopt;
}

ContextConfig verify_with_path(const std::string& ca_path) {
    ContextConfig c;
    c.verify_chain = true;
    c.ca = {tls::Material::Kind::file, ca_path};
    return c;
}

// A per-process temporary directory, removed at exit.
struct ScratchDir {
    std::string path;
    ScratchDir() {
        char tmpl[] = "/tmp/pgtls-conformance-bundle.XXXXXX";
        if (::mkdtemp(tmpl)) path = tmpl;
    }
    ~ScratchDir() {
        std::error_code ec;
        if (!path.empty()) std::filesystem::remove_all(path, ec);
    }
};

// Concatenates PKI files into `name` in the scratch directory and returns its path.
std::string test_bundle(std::string_view name, std::initializer_list<std::string_view> parts) {
    static const ScratchDir dir;
    std::string text;
    for (std::string_view part : parts) text += test::read_file(pki(part));
    const std::string path = dir.path + "/" + std::string(name);
    std::ofstream(path, std::ios::binary) << text;
    return path;
}

bool is_config_or_tls(const Error& e) { return e.kind() == ErrorKind::config || e.kind() == ErrorKind::tls; }

// ---- backend identity -------------------------------------------------------------------

TEST_P(BackendConformance, ReportsNameVersionAndBaseCapabilities) {
    EXPECT_FALSE(backend().library_version().empty());
    EXPECT_EQ(backend().crypto().name(), backend().name()) << "a backend's crypto must come from its own library";
    EXPECT_TRUE(has(tls::cap_tls12));
    EXPECT_TRUE(has(tls::cap_alpn)) << "ALPN is needed for PostgreSQL 17+ direct SSL";
    EXPECT_TRUE(has(tls::cap_sni));
    EXPECT_EQ(&tls::find_backend(name()), &backend());
}

// ---- handshake and chain verification -------------------------------------------------------

TEST_P(BackendConformance, HandshakeWithoutVerificationEchoesData) {
    TlsTestServer server(server_options("server"));
    Handshake h = run_handshake(backend(), ContextConfig{}, server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    ASSERT_TRUE(h.server && h.server->handshake_ok);
    tls::SessionInfo info = h.session->info();
    EXPECT_TRUE(info.protocol == "TLSv1.2" || info.protocol == "TLSv1.3") << info.protocol;
    EXPECT_EQ(info.protocol, h.server->protocol);
    EXPECT_FALSE(info.cipher.empty());
    // TLS 1.3 suites by their IANA names, as OpenSSL (and so libpq's sslcipher) spells them.
    if (info.protocol == "TLSv1.3") {
        EXPECT_EQ(info.cipher.rfind("TLS_", 0), 0u) << info.cipher;
        EXPECT_EQ(info.cipher.find('-'), std::string::npos) << info.cipher;
    }
    EXPECT_EQ(echo(h, "hello, server"), "hello, server");
}

TEST_P(BackendConformance, NoVerificationAcceptsUntrustedServer) {
    TlsTestServer server(server_options("client-other"));  // signed by other-ca, no SAN
    Handshake h = run_handshake(backend(), ContextConfig{}, server);
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    EXPECT_EQ(echo(h, "x"), "x");
}

TEST_P(BackendConformance, NonBlockingSocketHandshakeAndIo) {
    TlsTestServer server(server_options("server"));
    Handshake h = run_handshake(backend(), verify_with("ca.crt"), server, {"localhost"}, /*nonblocking=*/true);
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    std::string big(200000, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
    // Larger than one TLS record and the socket buffers: exercises partial writes and want_*.
    EXPECT_EQ(echo(h, big), big);
}

TEST_P(BackendConformance, LargeEchoOnBlockingSocket) {
    TlsTestServer server(server_options("server"));
    Handshake h = run_handshake(backend(), verify_with("ca.crt"), server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    std::string data(70000, 'q');
    EXPECT_EQ(echo(h, data), data);
}

TEST_P(BackendConformance, ReadReportsClosedAfterServerCloseNotify) {
    TlsTestServer server(server_options("server"));
    Handshake h = run_handshake(backend(), ContextConfig{}, server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    EXPECT_EQ(echo(h, "ping"), "ping");
    server.stop();  // the server sends close_notify and closes
    char buf[64];
    tls::IoResult r;
    for (int i = 0; i < 100; ++i) {
        r = h.session->read(buf, sizeof buf);
        if (r.status != IoStatus::want_read) break;
        ::usleep(10000);
    }
    EXPECT_EQ(r.status, IoStatus::closed) << describe(r);
}

TEST_P(BackendConformance, ChainVerifiesWithRightCaFile) {
    TlsTestServer server(server_options("server"));
    Handshake h = run_handshake(backend(), verify_with("ca.crt"), server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    EXPECT_EQ(echo(h, "verified"), "verified");
}

TEST_P(BackendConformance, ChainFailsWithOtherCa) {
    TlsTestServer server(server_options("server"));
    Handshake h = run_handshake(backend(), verify_with("other-ca.crt"), server, {"localhost"});
    PGTLS_EXPECT_HANDSHAKE_ERROR(h);
    EXPECT_TRUE(contains_ignoring_case(h.result.error, "certificate")) << h.result.error;
    ASSERT_TRUE(h.server);
    EXPECT_FALSE(h.server->handshake_ok);
}

TEST_P(BackendConformance, ChainFailsForSelfSignedServerNotInTrustStore) {
    // A self-signed root served as the leaf: not the trust anchor we gave.
    TlsServerOptions o;
    o.cert_file = pki("other-ca.crt");
    o.key_file = pki("other-ca.key");
    TlsTestServer server(o);
    Handshake h = run_handshake(backend(), verify_with("ca.crt"), server, {"localhost"});
    PGTLS_EXPECT_HANDSHAKE_ERROR(h);
}

TEST_P(BackendConformance, ChainVerifiesWithCaFromPemBytes) {
    TlsTestServer server(server_options("server"));
    ContextConfig c;
    c.verify_chain = true;
    c.ca = pki_pem("ca.crt");
    if (!has(tls::cap_pem_in_memory)) {
        auto e = expect_error([&] { backend().create_context(c); });
        if (e) {
            EXPECT_TRUE(is_config_or_tls(*e)) << e->what();
        }
        return;
    }
    Handshake h = run_handshake(backend(), c, server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
}

TEST_P(BackendConformance, ChainFailsWithOtherCaFromPemBytes) {
    if (!has(tls::cap_pem_in_memory)) {
        ContextConfig c;
        c.verify_chain = true;
        c.ca = pki_pem("other-ca.crt");
        EXPECT_TRUE(expect_error([&] { backend().create_context(c); }));
        return;
    }
    TlsTestServer server(server_options("server"));
    ContextConfig c;
    c.verify_chain = true;
    c.ca = pki_pem("other-ca.crt");
    Handshake h = run_handshake(backend(), c, server, {"localhost"});
    PGTLS_EXPECT_HANDSHAKE_ERROR(h);
}

TEST_P(BackendConformance, CaBundleVerifiesRsaServer) {
    TlsTestServer server(server_options("server"));
    Handshake h = run_handshake(backend(), verify_with("ca-bundle.crt"), server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
}

TEST_P(BackendConformance, CaBundleVerifiesEcdsaServer) {
    TlsTestServer server(server_options("server-ecdsa384"));
    Handshake h = run_handshake(backend(), verify_with("ca-bundle.crt"), server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    EXPECT_EQ(echo(h, "ec"), "ec");
}

TEST_P(BackendConformance, CaBundleDoesNotTrustClientCaServer) {
    TlsTestServer server(server_options("client-other"));
    Handshake h = run_handshake(backend(), verify_with("ca-bundle.crt"), server);
    PGTLS_EXPECT_HANDSHAKE_ERROR(h);
}

// libpq has no partial-chain trust: a root file holding only an intermediate CA (not
// self-signed) anchors nothing, so the chain it signed is refused (OpenSSL without
// X509_V_FLAG_PARTIAL_CHAIN). Every backend must give the same verdict.
TEST_P(BackendConformance, IntermediateCaAloneIsNotATrustAnchor) {
    TlsTestServer server(server_options("server-chain"));  // sends leaf + intermediate
    Handshake h = run_handshake(backend(), verify_with("intermediate-ca.crt"), server, {"localhost"});
    PGTLS_EXPECT_HANDSHAKE_ERROR(h);
}

// The leaf of make_dated_ca_and_leaf: its CN (bytes, of ASN.1 string type `cn_type`, or an
// OpenSSL MBSTRING_* type for text) and whether it has the dNSName SAN "localhost".
struct LeafNames {
    std::string cn = "localhost";
    int cn_type = MBSTRING_ASC;
    bool dns_san = true;
};

// A self-signed CA valid from now + `from_days` to now + `to_days` and a current leaf it
// signed, written as NAME-ca.crt, NAME.crt and NAME.key in the scratch directory; returns the
// path prefix (empty on failure, with the test failed).
std::string make_dated_ca_and_leaf(const std::string& name, long from_days, long to_days, const LeafNames& names = {}) {
    using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
    using Cert = std::unique_ptr<X509, decltype(&X509_free)>;
    Key ca_key(EVP_EC_gen("P-256"), EVP_PKEY_free), leaf_key(EVP_EC_gen("P-256"), EVP_PKEY_free);
    auto make = [&names](const std::string& cn, int cn_type, EVP_PKEY* key, X509* issuer, EVP_PKEY* signer, long from,
                         long to, long serial) {
        Cert c(X509_new(), X509_free);
        X509_NAME* subject = X509_NAME_new();
        bool ok = c && subject && X509_set_version(c.get(), 2) == 1 &&
                  ASN1_INTEGER_set(X509_get_serialNumber(c.get()), serial) == 1 &&
                  X509_NAME_add_entry_by_txt(subject, "CN", cn_type, reinterpret_cast<const unsigned char*>(cn.data()),
                                             static_cast<int>(cn.size()), -1, 0) == 1 &&
                  X509_set_subject_name(c.get(), subject) == 1 &&
                  X509_set_issuer_name(c.get(), issuer ? X509_get_subject_name(issuer) : subject) == 1 &&
                  X509_time_adj_ex(X509_getm_notBefore(c.get()), from, 0, nullptr) != nullptr &&
                  X509_time_adj_ex(X509_getm_notAfter(c.get()), to, 0, nullptr) != nullptr &&
                  X509_set_pubkey(c.get(), key) == 1;
        X509_NAME_free(subject);
        X509V3_CTX v3;
        X509V3_set_ctx_nodb(&v3);
        X509V3_set_ctx(&v3, issuer ? issuer : c.get(), c.get(), nullptr, nullptr, 0);
        const char* exts[][2] = {{"basicConstraints", issuer ? "critical,CA:FALSE" : "critical,CA:TRUE"},
                                 {"keyUsage", issuer ? "critical,digitalSignature" : "critical,keyCertSign,cRLSign"},
                                 {"subjectAltName",
                                  issuer && names.dns_san ? "DNS:localhost" : "email:ca@pgtls.test"}};
        for (const auto& e : exts) {
            X509_EXTENSION* ext = ok ? X509V3_EXT_conf(nullptr, &v3, e[0], e[1]) : nullptr;
            ok = ext != nullptr && X509_add_ext(c.get(), ext, -1) == 1;
            X509_EXTENSION_free(ext);
        }
        if (!ok || X509_sign(c.get(), signer, EVP_sha256()) <= 0) c.reset();
        return c;
    };
    Cert ca = ca_key ? make("pgtls dated CA", MBSTRING_ASC, ca_key.get(), nullptr, ca_key.get(), from_days, to_days, 1)
                     : Cert(nullptr, X509_free);
    Cert leaf = ca && leaf_key ? make(names.cn, names.cn_type, leaf_key.get(), ca.get(), ca_key.get(), -1, 30, 2)
                               : Cert(nullptr, X509_free);
    static const ScratchDir dir;
    const std::string prefix = dir.path + "/" + name;
    auto write = [](const std::string& path, auto writer) {
        std::unique_ptr<BIO, decltype(&BIO_free)> out(BIO_new_file(path.c_str(), "w"), BIO_free);
        return out && writer(out.get()) == 1;
    };
    if (!leaf || !write(prefix + "-ca.crt", [&](BIO* b) { return PEM_write_bio_X509(b, ca.get()); }) ||
        !write(prefix + ".crt", [&](BIO* b) { return PEM_write_bio_X509(b, leaf.get()); }) ||
        !write(prefix + ".key", [&](BIO* b) {
            return PEM_write_bio_PrivateKey(b, leaf_key.get(), nullptr, nullptr, 0, nullptr, nullptr);
        })) {
        ADD_FAILURE() << "could not make the dated CA " << name;
        return {};
    }
    return prefix;
}

// A handshake to "localhost" trusting PREFIX-ca.crt, against a server presenting PREFIX.crt
// and PREFIX.key (make_dated_ca_and_leaf's files).
Handshake handshake_with_dated(const tls::Backend& b, const std::string& prefix) {
    TlsServerOptions o;
    o.cert_file = prefix + ".crt";
    o.key_file = prefix + ".key";
    TlsTestServer server(o);
    return run_handshake(b, verify_with_path(prefix + "-ca.crt"), server, {"localhost"});
}

// OpenSSL (libpq) checks the dates of every certificate of the path, the trust anchor
// included; a root of sslrootcert that expired or is not yet valid trusts nothing.
TEST_P(BackendConformance, RootOutsideItsValidityPeriodTrustsNothing) {
    const struct {
        const char* name;
        long from_days, to_days;
        bool trusted;
    } cases[] = {{"current-root", -2, 30, true}, {"expired-root", -20, -2, false}, {"future-root", 2, 30, false}};
    for (const auto& c : cases) {
        const std::string prefix = make_dated_ca_and_leaf(c.name, c.from_days, c.to_days);
        if (prefix.empty()) return;
        Handshake h = handshake_with_dated(backend(), prefix);
        if (c.trusted) {
            EXPECT_TRUE(h.ok()) << c.name << ": " << describe(h.result);
        } else {
            EXPECT_FALSE(h.ok()) << c.name << " accepted";
            PGTLS_EXPECT_HANDSHAKE_ERROR(h);
        }
    }
}

// libpq compares the CN's bytes as the certificate holds them: a BMPString (UTF-16) CN has
// NULs and is refused, whatever text it spells. Every backend reports those bytes.
TEST_P(BackendConformance, CommonNameIsReportedAsItsRawBytes) {
    using namespace std::string_literals;
    const std::string utf16_localhost = "\0l\0o\0c\0a\0l\0h\0o\0s\0t"s;
    const std::string prefix = make_dated_ca_and_leaf("bmp-cn", -2, 30, {utf16_localhost, V_ASN1_BMPSTRING, false});
    if (prefix.empty()) return;
    Handshake h = handshake_with_dated(backend(), prefix);
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    const auto peer = h.session->peer_certificate();
    ASSERT_TRUE(peer.has_value());
    EXPECT_EQ(peer->common_names, std::vector<std::string>{utf16_localhost});
    std::string reason;
    EXPECT_FALSE(tls::verify_host_name(*peer, "localhost", &reason));
    EXPECT_EQ(reason, "SSL certificate's name contains embedded null");
}

TEST_P(BackendConformance, IntermediateCaBesideItsRootVerifies) {
    const std::string bundle = test_bundle("intermediate-and-root.crt", {"intermediate-ca.crt", "ca.crt"});
    TlsTestServer server(server_options("server-chain"));
    Handshake h = run_handshake(backend(), verify_with_path(bundle), server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
}

TEST_P(BackendConformance, MissingCaFileIsAnErrorNamingTheFile) {
    ContextConfig c;
    c.verify_chain = true;
    c.ca = {tls::Material::Kind::file, pki("does-not-exist.crt")};
    auto e = expect_error([&] { backend().create_context(c); });
    ASSERT_TRUE(e);
    EXPECT_TRUE(is_config_or_tls(*e)) << e->what();
    EXPECT_NE(std::string(e->what()).find("does-not-exist.crt"), std::string::npos) << e->what();
}

TEST_P(BackendConformance, GarbageCaFileIsAnError) {
    ContextConfig c;
    c.verify_chain = true;
    c.ca = pki_file("ca.key");  // a key, not a certificate
    auto e = expect_error([&] { backend().create_context(c); });
    ASSERT_TRUE(e);
    EXPECT_NE(std::string(e->what()).find("ca.key"), std::string::npos) << e->what();
}

TEST_P(BackendConformance, OneContextServesManySessions) {
    TlsTestServer server(server_options("server"));
    auto ctx = backend().create_context(verify_with("ca.crt"));
    for (int i = 0; i < 3; ++i) {
        Handshake h;
        h.context = ctx;
        h.fd = test::connect_tcp(server.address(), server.port());
        h.session = ctx->create_session(h.fd, {"localhost"});
        h.result = h.session->handshake();
        PGTLS_ASSERT_HANDSHAKE_OK(h);
        EXPECT_EQ(echo(h, "again"), "again");
        auto rec = server.next_connection();
        ASSERT_TRUE(rec && rec->handshake_ok);
    }
}

TEST_P(BackendConformance, Ipv6Loopback) {
    TlsServerOptions o = server_options("server");
    o.bind_address = "::1";
    std::unique_ptr<TlsTestServer> server;
    try {
        server = std::make_unique<TlsTestServer>(o);
    } catch (const std::exception& e) {
        GTEST_FAIL() << "no IPv6 loopback on this machine: " << e.what();
    }
    Handshake h = run_handshake(backend(), verify_with("ca.crt"), *server, {});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    auto peer = h.session->peer_certificate();
    ASSERT_TRUE(peer);
    std::string reason;
    EXPECT_TRUE(tls::verify_host_name(*peer, "::1", &reason)) << reason;
}

// ---- ALPN -----------------------------------------------------------------------------

TEST_P(BackendConformance, AlpnOfferedAndSelected) {
    TlsServerOptions o = server_options("server");
    o.alpn = TlsServerOptions::Alpn::select;
    TlsTestServer server(o);
    ContextConfig c = verify_with("ca.crt");
    c.alpn = {"postgresql"};
    Handshake h = run_handshake(backend(), c, server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    ASSERT_TRUE(h.server);
    EXPECT_EQ(h.server->alpn_offered, std::vector<std::string>{"postgresql"});
    EXPECT_EQ(h.server->alpn_selected, "postgresql");
    EXPECT_EQ(h.session->info().alpn, "postgresql");
}

TEST_P(BackendConformance, AlpnListOfferedInOrder) {
    TlsServerOptions o = server_options("server");
    o.alpn = TlsServerOptions::Alpn::select;
    o.alpn_protocols = {"second"};
    TlsTestServer server(o);
    ContextConfig c;
    c.alpn = {"first", "second"};
    Handshake h = run_handshake(backend(), c, server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    EXPECT_EQ(h.server->alpn_offered, (std::vector<std::string>{"first", "second"}));
    EXPECT_EQ(h.session->info().alpn, "second");
}

TEST_P(BackendConformance, AlpnServerSelectsNone) {
    TlsServerOptions o = server_options("server");
    o.alpn = TlsServerOptions::Alpn::ignore;
    TlsTestServer server(o);
    ContextConfig c = verify_with("ca.crt");
    c.alpn = {"postgresql"};
    Handshake h = run_handshake(backend(), c, server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    EXPECT_EQ(h.session->info().alpn, "");
    EXPECT_EQ(h.server->alpn_selected, "");
}

TEST_P(BackendConformance, AlpnNotOfferedWhenListEmpty) {
    TlsServerOptions o = server_options("server");
    o.alpn = TlsServerOptions::Alpn::select;  // a callback that would record any offer
    TlsTestServer server(o);
    Handshake h = run_handshake(backend(), ContextConfig{}, server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    EXPECT_TRUE(h.server->alpn_offered.empty());
    EXPECT_EQ(h.session->info().alpn, "");
}

TEST_P(BackendConformance, AlpnNoCommonProtocolFailsHandshake) {
    TlsServerOptions o = server_options("server");
    o.alpn = TlsServerOptions::Alpn::select;
    o.alpn_protocols = {"http/1.1"};  // the server refuses postgresql, as with a wrong service
    TlsTestServer server(o);
    ContextConfig c;
    c.alpn = {"postgresql"};
    Handshake h = run_handshake(backend(), c, server, {"localhost"});
    PGTLS_EXPECT_HANDSHAKE_ERROR(h);
}

TEST_P(BackendConformance, AlpnServerSelectsProtocolNotOffered) {
    TlsServerOptions o = server_options("server");
    o.alpn = TlsServerOptions::Alpn::force_wrong;
    o.alpn_protocols = {"imap"};
    TlsTestServer server(o);
    ContextConfig c;
    c.alpn = {"postgresql"};
    Handshake h = run_handshake(backend(), c, server, {"localhost"});
    // RFC 7301 3.2: the client must reject a protocol it did not offer. GnuTLS 3.7 instead
    // ignores the answer (no protocol selected); that is tolerated because core requires
    // "postgresql" to be selected on direct connections. Reporting "imap" is not.
    if (h.ok()) {
        EXPECT_EQ(h.session->info().alpn, "") << "backend reports a protocol the client never offered";
    } else {
        PGTLS_EXPECT_HANDSHAKE_ERROR(h);
    }
}

// ---- SNI ------------------------------------------------------------------------------

TEST_P(BackendConformance, SniSentForHostName) {
    TlsTestServer server(server_options("server"));
    Handshake h = run_handshake(backend(), ContextConfig{}, server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    EXPECT_EQ(h.server->sni, "localhost");
}

TEST_P(BackendConformance, SniSentVerbatimForOtherName) {
    TlsTestServer server(server_options("server-wildcard"));
    Handshake h = run_handshake(backend(), verify_with("ca.crt"), server, {"db1.pgtls.test"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    EXPECT_EQ(h.server->sni, "db1.pgtls.test");
}

TEST_P(BackendConformance, SniNotSentWhenEmpty) {
    TlsTestServer server(server_options("server"));
    Handshake h = run_handshake(backend(), verify_with("ca.crt"), server, {""});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    EXPECT_EQ(h.server->sni, "");
}

TEST(HostSniRule, LibpqSendsSniOnlyForNames) {
    EXPECT_TRUE(tls::host_wants_sni("localhost"));
    EXPECT_TRUE(tls::host_wants_sni("db.example.com"));
    EXPECT_TRUE(tls::host_wants_sni("1.2.3.4.example"));
    EXPECT_FALSE(tls::host_wants_sni(""));
    EXPECT_FALSE(tls::host_wants_sni("127.0.0.1"));
    EXPECT_FALSE(tls::host_wants_sni("10.1"));
    EXPECT_FALSE(tls::host_wants_sni("::1"));
    EXPECT_FALSE(tls::host_wants_sni("fe80::1%eth0"));
}

// ---- client certificates and keys -----------------------------------------------------------

struct ClientKeyCase {
    const char* cert;
    const char* key;
    bool encrypted;
};


TlsServerOptions requiring_client_cert() {
    TlsServerOptions o = server_options("server");
    o.client_ca_file = pki("client-ca.crt");
    o.require_client_cert = true;
    return o;
}

void check_client_key(const tls::Backend& b, bool has_encrypted_keys, const ClientKeyCase& k) {
    SCOPED_TRACE(std::string(k.cert) + " + " + k.key);
    if (k.encrypted && !has_encrypted_keys) {
        ContextConfig c = verify_with("ca.crt");
        c.cert = pki_file(k.cert);
        c.key = pki_file(k.key);
        c.key_password = "keypass";
        auto e = expect_error([&] { b.create_context(c); });
        if (e) {
            EXPECT_NE(std::string(e->what()).find(k.key), std::string::npos) << e->what();
        }
        return;
    }
    TlsTestServer server(requiring_client_cert());
    ContextConfig c = verify_with("ca.crt");
    c.cert = pki_file(k.cert);
    c.key = pki_file(k.key);
    if (k.encrypted) c.key_password = "keypass";
    Handshake h = run_handshake(b, c, server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    // In TLS 1.3 the server judges the client certificate after the client's handshake
    // ends, so the record is the authority, and data must flow.
    EXPECT_EQ(echo(h, "with cert"), "with cert");
    ASSERT_TRUE(h.server);
    EXPECT_TRUE(h.server->handshake_ok) << h.server->error;
    EXPECT_TRUE(h.server->client_cert_presented);
    EXPECT_EQ(h.server->client_cert_cn, "certuser");
    EXPECT_TRUE(h.session->client_certificate_requested());
    EXPECT_TRUE(h.session->client_certificate_sent());
}

TEST_P(BackendConformance, ClientCertRsaPkcs1Key) {
    check_client_key(backend(), has(tls::cap_encrypted_keys), {"client.crt", "client.key", false});
}
TEST_P(BackendConformance, ClientCertRsaPkcs8Key) {
    check_client_key(backend(), has(tls::cap_encrypted_keys), {"client.crt", "client-pkcs8.key", false});
}
TEST_P(BackendConformance, ClientCertRsaEncryptedPkcs8Key) {
    check_client_key(backend(), has(tls::cap_encrypted_keys), {"client.crt", "client-encrypted.key", true});
}
TEST_P(BackendConformance, ClientCertRsaLegacyEncryptedPkcs1Key) {
    check_client_key(backend(), has(tls::cap_encrypted_keys),
                     {"client.crt", "client-pkcs1-encrypted.key", true});
}
TEST_P(BackendConformance, ClientCertEcdsaSec1Key) {
    check_client_key(backend(), has(tls::cap_encrypted_keys), {"client-ecdsa.crt", "client-ecdsa.key", false});
}
TEST_P(BackendConformance, ClientCertEcdsaPkcs8Key) {
    check_client_key(backend(), has(tls::cap_encrypted_keys),
                     {"client-ecdsa.crt", "client-ecdsa-pkcs8.key", false});
}
TEST_P(BackendConformance, ClientCertEcdsaEncryptedPkcs8Key) {
    check_client_key(backend(), has(tls::cap_encrypted_keys),
                     {"client-ecdsa.crt", "client-ecdsa-encrypted.key", true});
}

TEST_P(BackendConformance, ClientCertAndKeyFromPemBytes) {
    ContextConfig c = verify_with("ca.crt");
    c.cert = pki_pem("client.crt");
    c.key = pki_pem("client.key");
    if (!has(tls::cap_pem_in_memory)) {
        EXPECT_TRUE(expect_error([&] { backend().create_context(c); }));
        return;
    }
    TlsTestServer server(requiring_client_cert());
    Handshake h = run_handshake(backend(), c, server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    EXPECT_EQ(echo(h, "pem"), "pem");
    EXPECT_EQ(h.server->client_cert_cn, "certuser");
}

void check_wrong_password(const tls::Backend& b, const char* cert, const char* key, const std::string& password) {
    SCOPED_TRACE(std::string(key) + " with password \"" + password + "\"");
    ContextConfig c = verify_with("ca.crt");
    c.cert = pki_file(cert);
    c.key = pki_file(key);
    c.key_password = password;
    auto e = expect_error([&] {
        // Either stage may refuse the key; neither may prompt or succeed.
        auto ctx = b.create_context(c);
        TlsTestServer server(requiring_client_cert());
        Handshake h = run_handshake(b, c, server, {"localhost"});
        if (!h.ok()) throw Error(ErrorKind::tls, "handshake: " + h.result.error);
    });
    ASSERT_TRUE(e);
    EXPECT_TRUE(is_config_or_tls(*e)) << e->what();
    if (!password.empty()) {
        EXPECT_EQ(std::string(e->what()).find(password), std::string::npos) << "message leaks the password";
    }
}

TEST_P(BackendConformance, WrongKeyPasswordIsAnError) {
    check_wrong_password(backend(), "client.crt", "client-encrypted.key", "wrong-password-123");
    check_wrong_password(backend(), "client.crt", "client-pkcs1-encrypted.key", "wrong-password-123");
    check_wrong_password(backend(), "client-ecdsa.crt", "client-ecdsa-encrypted.key", "wrong-password-123");
}

TEST_P(BackendConformance, EncryptedKeyWithoutPasswordIsAnErrorNotAPrompt) {
    check_wrong_password(backend(), "client.crt", "client-encrypted.key", "");
    check_wrong_password(backend(), "client.crt", "client-pkcs1-encrypted.key", "");
}

TEST_P(BackendConformance, WrongPasswordErrorNamesTheKeyFile) {
    ContextConfig c = verify_with("ca.crt");
    c.cert = pki_file("client.crt");
    c.key = pki_file("client-encrypted.key");
    c.key_password = "nope";
    auto e = expect_error([&] { backend().create_context(c); });
    ASSERT_TRUE(e) << "the key must be decrypted when the context is created";
    EXPECT_NE(std::string(e->what()).find("client-encrypted.key"), std::string::npos) << e->what();
}

TEST_P(BackendConformance, KeyNotMatchingCertificateIsAnError) {
    ContextConfig c = verify_with("ca.crt");
    c.cert = pki_file("client.crt");
    c.key = pki_file("client-ecdsa.key");
    auto e = expect_error([&] {
        auto ctx = backend().create_context(c);
        TlsTestServer server(requiring_client_cert());
        Handshake h = run_handshake(backend(), c, server, {"localhost"});
        if (!h.ok()) throw Error(ErrorKind::tls, "handshake: " + h.result.error);
        if (h.server && !h.server->handshake_ok) throw Error(ErrorKind::tls, "server: " + h.server->error);
    });
    ASSERT_TRUE(e);
    EXPECT_TRUE(is_config_or_tls(*e)) << e->what();
}

TEST_P(BackendConformance, MissingKeyFileIsAnErrorNamingIt) {
    ContextConfig c = verify_with("ca.crt");
    c.cert = pki_file("client.crt");
    c.key = {tls::Material::Kind::file, pki("no-such.key")};
    auto e = expect_error([&] { backend().create_context(c); });
    ASSERT_TRUE(e);
    EXPECT_NE(std::string(e->what()).find("no-such.key"), std::string::npos) << e->what();
}

TEST_P(BackendConformance, ClientCertFromOtherCaRejectedByServer) {
    TlsTestServer server(requiring_client_cert());
    ContextConfig c = verify_with("ca.crt");
    c.cert = pki_file("client-other.crt");
    c.key = pki_file("client-other.key");
    Handshake h = run_handshake(backend(), c, server, {"localhost"});
    ASSERT_TRUE(h.server);
    EXPECT_FALSE(h.server->handshake_ok);
    EXPECT_TRUE(h.server->client_cert_presented || !h.server->error.empty());
    if (h.ok()) {
        // TLS 1.3: the client learns of the rejection on its next read.
        char buf[16];
        tls::IoResult w = h.session->write("x", 1);
        tls::IoResult r = h.session->read(buf, sizeof buf);
        EXPECT_TRUE(r.status == IoStatus::error || r.status == IoStatus::closed)
            << "write " << describe(w) << ", read " << describe(r);
    } else {
        PGTLS_EXPECT_HANDSHAKE_ERROR(h);
    }
}

TEST_P(BackendConformance, NoClientCertWhenServerOnlyRequests) {
    TlsServerOptions o = server_options("server");
    o.client_ca_file = pki("client-ca.crt");
    o.require_client_cert = false;
    TlsTestServer server(o);
    Handshake h = run_handshake(backend(), verify_with("ca.crt"), server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    EXPECT_EQ(echo(h, "anon"), "anon");
    EXPECT_TRUE(h.session->client_certificate_requested());
    EXPECT_FALSE(h.session->client_certificate_sent());
    EXPECT_FALSE(h.server->client_cert_presented);
}

TEST_P(BackendConformance, ServerThatDoesNotAskGetsNoCertificate) {
    TlsTestServer server(server_options("server"));
    ContextConfig c = verify_with("ca.crt");
    c.cert = pki_file("client.crt");
    c.key = pki_file("client.key");
    Handshake h = run_handshake(backend(), c, server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    EXPECT_EQ(echo(h, "x"), "x");
    EXPECT_FALSE(h.session->client_certificate_requested());
    EXPECT_FALSE(h.session->client_certificate_sent());
    EXPECT_FALSE(h.server->client_cert_presented);
}

TEST_P(BackendConformance, SendClientCertFalseWithholdsIt) {
    TlsServerOptions o = server_options("server");
    o.client_ca_file = pki("client-ca.crt");
    TlsTestServer server(o);
    ContextConfig c = verify_with("ca.crt");
    c.cert = pki_file("client.crt");
    c.key = pki_file("client.key");
    c.send_client_cert = false;  // sslcertmode=disable
    Handshake h = run_handshake(backend(), c, server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    EXPECT_EQ(echo(h, "x"), "x");
    EXPECT_TRUE(h.session->client_certificate_requested());
    EXPECT_FALSE(h.session->client_certificate_sent());
    EXPECT_FALSE(h.server->client_cert_presented);
}

TEST_P(BackendConformance, RequiredClientCertMissingFails) {
    TlsTestServer server(requiring_client_cert());
    Handshake h = run_handshake(backend(), verify_with("ca.crt"), server, {"localhost"});
    ASSERT_TRUE(h.server);
    EXPECT_FALSE(h.server->handshake_ok);
    if (h.ok()) {
        char buf[16];
        h.session->write("x", 1);
        tls::IoResult r = h.session->read(buf, sizeof buf);
        EXPECT_TRUE(r.status == IoStatus::error || r.status == IoStatus::closed) << describe(r);
    }
}

// ---- CRL ------------------------------------------------------------------------------

TEST_P(BackendConformance, CrlFileRejectsRevokedServer) {
    ContextConfig c = verify_with("ca.crt");
    c.crl = pki_file("ca.crl");
    if (!has(tls::cap_crl_file)) {
        EXPECT_TRUE(expect_error([&] { backend().create_context(c); }));
        return;
    }
    TlsTestServer server(server_options("server-revoked"));
    Handshake h = run_handshake(backend(), c, server, {"localhost"});
    PGTLS_EXPECT_HANDSHAKE_ERROR(h);
    EXPECT_TRUE(contains_ignoring_case(h.result.error, "revoked")) << h.result.error;
}

TEST_P(BackendConformance, CrlFileAcceptsGoodServer) {
    ContextConfig c = verify_with("ca.crt");
    c.crl = pki_file("ca.crl");
    if (!has(tls::cap_crl_file)) {
        EXPECT_TRUE(expect_error([&] { backend().create_context(c); }));
        return;
    }
    TlsTestServer server(server_options("server"));
    Handshake h = run_handshake(backend(), c, server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
}

TEST_P(BackendConformance, CrlPemBytesRejectsRevokedServer) {
    ContextConfig c = verify_with("ca.crt");
    c.crl = pki_pem("ca.crl");
    if (!has(tls::cap_crl_file) || !has(tls::cap_pem_in_memory)) {
        EXPECT_TRUE(expect_error([&] { backend().create_context(c); }));
        return;
    }
    TlsTestServer server(server_options("server-revoked"));
    Handshake h = run_handshake(backend(), c, server, {"localhost"});
    PGTLS_EXPECT_HANDSHAKE_ERROR(h);
}

TEST_P(BackendConformance, CrlDirRejectsRevokedServer) {
    ContextConfig c = verify_with("ca.crt");
    c.crl_dir = pki("crl-dir");
    if (!has(tls::cap_crl_dir)) {
        EXPECT_TRUE(expect_error([&] { backend().create_context(c); }));
        return;
    }
    TlsTestServer server(server_options("server-revoked"));
    Handshake h = run_handshake(backend(), c, server, {"localhost"});
    PGTLS_EXPECT_HANDSHAKE_ERROR(h);
    EXPECT_TRUE(contains_ignoring_case(h.result.error, "revoked")) << h.result.error;
}

TEST_P(BackendConformance, CrlDirAcceptsGoodServer) {
    ContextConfig c = verify_with("ca.crt");
    c.crl_dir = pki("crl-dir");
    if (!has(tls::cap_crl_dir)) {
        EXPECT_TRUE(expect_error([&] { backend().create_context(c); }));
        return;
    }
    TlsTestServer server(server_options("server"));
    Handshake h = run_handshake(backend(), c, server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
}

// A CRL (PEM) naming the subject of PKI certificate `issuer`, signed with PKI key `signing_key`,
// valid from now + `from_days` to now + `to_days` (no nextUpdate: nullopt), revoking nothing.
std::string make_crl(std::string_view issuer, std::string_view signing_key, long from_days,
                     std::optional<long> to_days) {
    auto read = [](std::string_view name, auto reader) {
        std::unique_ptr<BIO, decltype(&BIO_free)> in(BIO_new_file(pki(name).c_str(), "r"), BIO_free);
        return in ? reader(in.get(), nullptr, nullptr, nullptr) : nullptr;
    };
    std::unique_ptr<X509, decltype(&X509_free)> ca(read(issuer, PEM_read_bio_X509), X509_free);
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(read(signing_key, PEM_read_bio_PrivateKey), EVP_PKEY_free);
    std::unique_ptr<X509_CRL, decltype(&X509_CRL_free)> crl(X509_CRL_new(), X509_CRL_free);
    std::unique_ptr<ASN1_TIME, decltype(&ASN1_TIME_free)> from(X509_time_adj_ex(nullptr, from_days, 0, nullptr),
                                                                ASN1_TIME_free);
    std::unique_ptr<ASN1_TIME, decltype(&ASN1_TIME_free)> to(X509_time_adj_ex(nullptr, to_days.value_or(0), 0, nullptr),
                                                              ASN1_TIME_free);
    std::unique_ptr<BIO, decltype(&BIO_free)> out(BIO_new(BIO_s_mem()), BIO_free);
    if (!ca || !key || !crl || !from || !to || !out || X509_CRL_set_version(crl.get(), 1) != 1 ||
        X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca.get())) != 1 ||
        X509_CRL_set1_lastUpdate(crl.get(), from.get()) != 1 ||
        (to_days && X509_CRL_set1_nextUpdate(crl.get(), to.get()) != 1) ||
        X509_CRL_sign(crl.get(), key.get(), EVP_sha256()) <= 0 || PEM_write_bio_X509_CRL(out.get(), crl.get()) != 1) {
        ADD_FAILURE() << "could not make a CRL of " << issuer;
        return {};
    }
    char* data = nullptr;
    const long len = BIO_get_mem_data(out.get(), &data);
    return std::string(data, static_cast<std::size_t>(len));
}

// The verdict on the good server certificate with `crl_pem` as the only CRL: "" when the
// handshake succeeds, else the error, whether the context refused the CRL or the handshake failed.
std::string verdict_with_crl(const tls::Backend& b, const std::string& crl_pem) {
    ContextConfig c = verify_with("ca.crt");
    c.crl = {tls::Material::Kind::pem, crl_pem};
    std::shared_ptr<tls::Context> probe;
    try {
        probe = b.create_context(c);
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::config) << e.what();
        return e.what();
    }
    TlsTestServer server(server_options("server"));
    Handshake h = run_handshake(b, c, server, {"localhost"});
    if (h.ok()) return "";
    PGTLS_EXPECT_HANDSHAKE_ERROR(h);
    return h.result.error;
}

// OpenSSL (libpq) accepts a CRL only when its issuer's key signed it and now lies between its
// thisUpdate and nextUpdate; a stale, premature or forged CRL must never count as coverage.
TEST_P(BackendConformance, CrlMustBeCurrentAndSignedByItsIssuer) {
    if (!has(tls::cap_crl_file) || !has(tls::cap_pem_in_memory)) GTEST_SKIP() << "no in-memory CRL";
    // Control: a current CRL made the same way is accepted.
    EXPECT_EQ(verdict_with_crl(backend(), make_crl("ca.crt", "ca.key", -1, 30)), "");
    // RFC 5280 makes nextUpdate mandatory, yet OpenSSL (libpq) takes a CRL without one as
    // current. mbedTLS 2.28 calls it expired and wolfSSL 5.5 cannot parse it: they refuse it.
    const std::string undated = verdict_with_crl(backend(), make_crl("ca.crt", "ca.key", -1, std::nullopt));
    if (name() == "openssl" || name() == "gnutls")
        EXPECT_EQ(undated, "") << "no nextUpdate";
    else
        EXPECT_NE(undated, "") << "no nextUpdate";
    const struct {
        const char* what;
        std::string crl;
    } cases[] = {
        {"expired", make_crl("ca.crt", "ca.key", -10, -1)},
        {"not yet valid", make_crl("ca.crt", "ca.key", 1, 30)},
        {"signed by another key", make_crl("ca.crt", "other-ca.key", -1, 30)},
    };
    for (const auto& c : cases) {
        const std::string verdict = verdict_with_crl(backend(), c.crl);
        EXPECT_NE(verdict, "") << c.what << " CRL accepted";
        EXPECT_TRUE(contains_ignoring_case(verdict, "CRL")) << c.what << ": " << verdict;  // each backend's words
    }
}

TEST_P(BackendConformance, RevokedServerAcceptedWithoutCrl) {
    // Control for the CRL cases: the revoked certificate is otherwise valid.
    TlsTestServer server(server_options("server-revoked"));
    Handshake h = run_handshake(backend(), verify_with("ca.crt"), server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
}

// ---- protocol versions ------------------------------------------------------------------

TEST_P(BackendConformance, MaxTls12Negotiates12) {
    TlsTestServer server(server_options("server"));
    ContextConfig c = verify_with("ca.crt");
    c.max_version = TlsVersion::tls1_2;
    Handshake h = run_handshake(backend(), c, server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    EXPECT_EQ(h.session->info().protocol, "TLSv1.2");
    EXPECT_EQ(h.server->protocol, "TLSv1.2");
    EXPECT_EQ(echo(h, "v12"), "v12");
}

// One cipher naming on every backend: OpenSSL's, which libpq reports (a TLS 1.2 suite is
// "ECDHE-RSA-AES256-GCM-SHA384", never the IANA "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384").
TEST_P(BackendConformance, CipherIsNamedAsOpenSslNamesIt) {
    TlsTestServer server(server_options("server"));
    ContextConfig c = verify_with("ca.crt");
    c.max_version = TlsVersion::tls1_2;
    Handshake h = run_handshake(backend(), c, server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    ASSERT_TRUE(h.server && h.server->handshake_ok);
    EXPECT_EQ(h.session->info().cipher, h.server->cipher);
}

TEST_P(BackendConformance, DefaultNegotiatesHighestCommonVersion) {
    TlsTestServer server(server_options("server"));
    Handshake h = run_handshake(backend(), verify_with("ca.crt"), server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    EXPECT_EQ(h.session->info().protocol, has(tls::cap_tls13) ? "TLSv1.3" : "TLSv1.2");
}

TEST_P(BackendConformance, MinTls13) {
    ContextConfig c = verify_with("ca.crt");
    c.min_version = TlsVersion::tls1_3;
    if (!has(tls::cap_tls13)) {
        auto e = expect_error([&] { backend().create_context(c); });
        if (e) {
            EXPECT_TRUE(is_config_or_tls(*e)) << e->what();
        }
        return;
    }
    TlsTestServer server(server_options("server"));
    Handshake h = run_handshake(backend(), c, server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    EXPECT_EQ(h.session->info().protocol, "TLSv1.3");
}

TEST_P(BackendConformance, MinTls13AgainstTls12OnlyServerFails) {
    ContextConfig c = verify_with("ca.crt");
    c.min_version = TlsVersion::tls1_3;
    if (!has(tls::cap_tls13)) {
        EXPECT_TRUE(expect_error([&] { backend().create_context(c); }));
        return;
    }
    TlsServerOptions o = server_options("server");
    o.max_version = TLS1_2_VERSION;
    TlsTestServer server(o);
    Handshake h = run_handshake(backend(), c, server, {"localhost"});
    PGTLS_EXPECT_HANDSHAKE_ERROR(h);
}

TEST_P(BackendConformance, MaxTls12AgainstTls13OnlyServerFails) {
    TlsServerOptions o = server_options("server");
    o.min_version = TLS1_3_VERSION;
    TlsTestServer server(o);
    ContextConfig c = verify_with("ca.crt");
    c.max_version = TlsVersion::tls1_2;
    Handshake h = run_handshake(backend(), c, server, {"localhost"});
    PGTLS_EXPECT_HANDSHAKE_ERROR(h);
}

TEST_P(BackendConformance, Tls12OnlyServerWorksWithDefaults) {
    TlsServerOptions o = server_options("server");
    o.max_version = TLS1_2_VERSION;
    TlsTestServer server(o);
    Handshake h = run_handshake(backend(), verify_with("ca.crt"), server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    EXPECT_EQ(h.session->info().protocol, "TLSv1.2");
}

// ---- channel-binding inputs (tls-server-end-point) ------------------------------------------

// `ca` empty: no chain verification (a SHA-1 signature fails OpenSSL's default security
// level, yet a server may still present one and channel binding must still work).
void check_signature_hash(const tls::Backend& b, const char* base, const char* ca, std::optional<crypto::Hash> want,
                          TlsVersion max_version = TlsVersion::unspecified) {
    SCOPED_TRACE(base);
    TlsTestServer server(server_options(base));
    ContextConfig c = *ca ? verify_with(ca) : ContextConfig{};
    c.max_version = max_version;
    Handshake h = run_handshake(b, c, server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    auto peer = h.session->peer_certificate();
    ASSERT_TRUE(peer);
    EXPECT_EQ(peer->der, test::pem_certificate_der(pki(std::string(base) + ".crt")))
        << "peer DER must be the leaf exactly as sent";
    EXPECT_EQ(peer->signature_hash, want);
}

TEST_P(BackendConformance, ChannelBindingRsaSha256) {
    check_signature_hash(backend(), "server", "ca.crt", crypto::Hash::sha256);
}
TEST_P(BackendConformance, ChannelBindingRsaSha256OverTls12) {
    check_signature_hash(backend(), "server", "ca.crt", crypto::Hash::sha256, TlsVersion::tls1_2);
}
TEST_P(BackendConformance, ChannelBindingRsaSha1) {
    // Reported as SHA-1; auth/ upgrades it to SHA-256 (RFC 5929).
    check_signature_hash(backend(), "server-rsa-sha1", "", crypto::Hash::sha1);
}
// OpenSSL 3 at its default security level refuses a SHA-1 signature in the chain ("ca md too
// weak"), and so does libpq with it; every backend must refuse it when verifying.
TEST_P(BackendConformance, Sha1SignedServerRefusedWhenVerifying) {
    TlsTestServer server(server_options("server-rsa-sha1"));
    Handshake h = run_handshake(backend(), verify_with("ca.crt"), server, {"localhost"});
    PGTLS_EXPECT_HANDSHAKE_ERROR(h);
}

TEST_P(BackendConformance, ChannelBindingRsaSha512) {
    check_signature_hash(backend(), "server-rsa-sha512", "ca.crt", crypto::Hash::sha512);
}
TEST_P(BackendConformance, ChannelBindingEcdsaSha384) {
    check_signature_hash(backend(), "server-ecdsa384", "ca-ecdsa.crt", crypto::Hash::sha384);
}

// Ed25519 certificates: mbedTLS 2.28 has no EdDSA at all (documented limitation), so there
// the handshake must fail cleanly; the other stacks must report "no usable hash": EdDSA
// hashes internally, and PostgreSQL's server (X509_get_signature_info) finds no digest for
// it either, so reporting SHA-512 would make the client bind to bytes the server never sends.
TEST_P(BackendConformance, ChannelBindingEd25519HasNoHash) {
    if (name() == "mbedtls") {
        TlsTestServer server(server_options("server-ed25519"));
        Handshake h = run_handshake(backend(), ContextConfig{}, server, {"localhost"});
        PGTLS_EXPECT_HANDSHAKE_ERROR(h);
        return;
    }
    check_signature_hash(backend(), "server-ed25519", "ca-ed25519.crt", std::nullopt);
}

TEST_P(BackendConformance, PeerCertificateNamesAndSubject) {
    TlsTestServer server(server_options("server"));
    Handshake h = run_handshake(backend(), verify_with("ca.crt"), server, {"localhost"});
    PGTLS_ASSERT_HANDSHAKE_OK(h);
    auto peer = h.session->peer_certificate();
    ASSERT_TRUE(peer);
    EXPECT_EQ(peer->san_dns, std::vector<std::string>{"localhost"});
    std::vector<std::vector<std::uint8_t>> ips = {{127, 0, 0, 1}, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
    EXPECT_EQ(peer->san_ip, ips);
    EXPECT_EQ(peer->common_names, std::vector<std::string>{"localhost"});
    EXPECT_NE(peer->subject.find("localhost"), std::string::npos) << peer->subject;
    EXPECT_NE(peer->issuer.find("pgtls test root CA"), std::string::npos) << peer->issuer;
}

// ---- instantiation --------------------------------------------------------------------

std::string backend_test_name(const ::testing::TestParamInfo<const tls::Backend*>& info) {
    return std::string(info.param->name());
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendConformance, ::testing::ValuesIn(tls::available_backends()),
                         backend_test_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(BackendConformance);

TEST(BackendRegistry, EveryCompiledBackendIsListedOnce) {
    const auto& all = tls::available_backends();
    for (std::size_t i = 0; i < all.size(); ++i)
        for (std::size_t j = i + 1; j < all.size(); ++j) EXPECT_NE(all[i]->name(), all[j]->name());
    if (all.empty()) {
        EXPECT_THROW(tls::find_backend(""), Error);
    } else {
        EXPECT_EQ(&tls::find_backend(all[0]->name()), all[0]);
        EXPECT_THROW(tls::find_backend("no-such-backend"), Error);
    }
}

}  // namespace
}  // namespace pgtls::conformance
