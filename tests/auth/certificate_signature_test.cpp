// The signature algorithm read from certificate DER, which picks the tls-server-end-point hash
// for every backend: hand-built DER for each algorithm and malformation, then the real test
// PKI (scripts/make-pki.sh) and RSA-PSS certificates made with the openssl command.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include "auth/base64.hpp"
#include "tls/certificate_signature.hpp"
#include "tests/support/tls/der_writer.hpp"
#include "auth/channel_binding.hpp"
#include "crypto_providers.hpp"
#include "pgtls/error.hpp"

namespace pgtls::test {
namespace {

using auth::CertificateSignature;
using Bytes = std::vector<std::uint8_t>;
using crypto::Hash;
using Kind = CertificateSignature::Kind;

Bytes cert_with(const Bytes& algorithm_identifier_contents) {
    Bytes tbs = tlv(0x30, Bytes(200, 0x01));  // long enough for a long-form length
    return tlv(0x30, cat({tbs, tlv(0x30, algorithm_identifier_contents), tlv(0x03, {0x00, 0xAB})}));
}
Bytes oid(std::initializer_list<std::uint8_t> b) { return tlv(0x06, Bytes(b)); }

const Bytes null_params = {0x05, 0x00};

void expect(const Bytes& der, Kind kind, Hash hash = Hash::sha256) {
    auto s = auth::certificate_signature(der);
    EXPECT_EQ(s.kind, kind);
    if (kind == Kind::hash) {
        EXPECT_EQ(s.hash, hash);
    }
}

TEST(CertificateSignature, RsaPkcs1) {
    const std::pair<std::uint8_t, Hash> v[] = {{0x04, Hash::md5},    {0x05, Hash::sha1},   {0x0E, Hash::sha224},
                                               {0x0B, Hash::sha256}, {0x0C, Hash::sha384}, {0x0D, Hash::sha512}};
    for (auto [last, h] : v)
        expect(cert_with(cat({oid({0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, last}), null_params})), Kind::hash, h);
}

TEST(CertificateSignature, Ecdsa) {
    expect(cert_with(oid({0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x01})), Kind::hash, Hash::sha1);
    const std::pair<std::uint8_t, Hash> v[] = {{1, Hash::sha224}, {2, Hash::sha256}, {3, Hash::sha384}, {4, Hash::sha512}};
    for (auto [last, h] : v) expect(cert_with(oid({0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, last})), Kind::hash, h);
}

TEST(CertificateSignature, DsaAndEdwards) {
    expect(cert_with(oid({0x2A, 0x86, 0x48, 0xCE, 0x38, 0x04, 0x03})), Kind::hash, Hash::sha1);
    expect(cert_with(oid({0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x02})), Kind::hash, Hash::sha256);
    expect(cert_with(oid({0x2B, 0x65, 0x70})), Kind::no_hash);
    expect(cert_with(oid({0x2B, 0x65, 0x71})), Kind::no_hash);
}

TEST(CertificateSignature, RsaPss) {
    const Bytes pss = oid({0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0A});
    const Bytes sha384_alg = tlv(0x30, cat({oid({0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02}), null_params}));
    expect(cert_with(cat({pss, tlv(0x30, tlv(0xA0, sha384_alg))})), Kind::hash, Hash::sha384);
    expect(cert_with(cat({pss, tlv(0x30, {})})), Kind::hash, Hash::sha1);  // hashAlgorithm defaults to SHA-1
    expect(cert_with(pss), Kind::unknown);                                 // parameters missing
}

TEST(CertificateSignature, UnknownOrMalformed) {
    expect({}, Kind::unknown);
    expect({0x30}, Kind::unknown);
    expect(cert_with(oid({0x2A, 0x03})), Kind::unknown);                                    // unknown OID
    expect(cert_with(oid({0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x0A})), Kind::unknown);  // ecdsa-with-SHA3-256
    Bytes good = cert_with(oid({0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02}));
    for (std::size_t cut = 0; cut < good.size() - 4; cut += 7) {  // truncations never read out of bounds
        Bytes t(good.begin(), good.begin() + static_cast<long>(cut));
        EXPECT_EQ(auth::certificate_signature(t).kind, Kind::unknown) << cut;
    }
    Bytes bad_len = good;
    bad_len[1] = 0x85;  // 5 length bytes: refused
    expect(bad_len, Kind::unknown);
    expect(tlv(0x31, {}), Kind::unknown);
}

TEST(CertificateSignature, DerDecidesOverTheBackendReport) {
    tls::PeerCertificate c;
    c.der = cert_with(cat({oid({0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0C}), null_params}));
    c.signature_hash = Hash::sha256;  // wrong report: the DER says SHA-384
    EXPECT_EQ(auth::tls_server_end_point(tls::builtin_crypto(), c), tls::builtin_crypto().digest(Hash::sha384, c.der));
    c.der = cert_with(oid({0x2B, 0x65, 0x70}));
    c.signature_hash = Hash::sha512;  // a backend that reports Ed25519's internal SHA-512
    EXPECT_THROW(auth::tls_server_end_point(tls::builtin_crypto(), c), Error);
}

// ---- real certificates -------------------------------------------------------------------

std::string run(const std::string& cmd) { return std::system(cmd.c_str()) == 0 ? "ok" : "failed"; }

// The test PKI: $PGTLS_TEST_PKI when set, else made once with scripts/make-pki.sh.
const std::string& pki_dir() {
    static const std::string dir = [] {
        if (const char* env = std::getenv("PGTLS_TEST_PKI"); env && std::filesystem::exists(std::string(env) + "/server.crt"))
            return std::string(env);
        std::string d = (std::filesystem::temp_directory_path() / ("pgtls-auth-pki-" + std::to_string(::getpid()))).string();
        static std::string generated;
        generated = d;
        std::atexit([] { std::error_code ec; std::filesystem::remove_all(generated, ec); });
        if (run("bash '" PGTLS_MAKE_PKI_SCRIPT "' '" + d + "' >/dev/null 2>&1") != "ok") return std::string();
        return d;
    }();
    return dir;
}

Bytes der_of(const std::string& pem_path) {
    std::ifstream in(pem_path);
    std::string line, b64;
    bool inside = false;
    while (std::getline(in, line)) {
        if (line.rfind("-----BEGIN CERTIFICATE", 0) == 0) { inside = true; continue; }
        if (line.rfind("-----END CERTIFICATE", 0) == 0) break;
        if (inside) b64 += line;
    }
    auto d = auth::base64_decode(b64);
    return d ? *d : Bytes{};
}

TEST(CertificateSignature, TestPki) {
    if (pki_dir().empty()) GTEST_SKIP() << "could not make the test PKI";
    const std::pair<const char*, std::optional<Hash>> certs[] = {
        {"server.crt", Hash::sha256},         {"server-rsa-sha1.crt", Hash::sha1},
        {"server-rsa-sha512.crt", Hash::sha512}, {"server-ecdsa384.crt", Hash::sha384},
        {"server-ed25519.crt", std::nullopt},  {"ca-ed25519.crt", std::nullopt}};
    for (const auto& [name, hash] : certs) {
        SCOPED_TRACE(name);
        tls::PeerCertificate c;
        c.der = der_of(pki_dir() + "/" + name);
        ASSERT_FALSE(c.der.empty());
        auto s = auth::certificate_signature(c.der);
        if (!hash) {
            EXPECT_EQ(s.kind, Kind::no_hash);
            EXPECT_THROW(auth::tls_server_end_point(tls::builtin_crypto(), c), Error);
            continue;
        }
        EXPECT_EQ(s.kind, Kind::hash);
        EXPECT_EQ(s.hash, *hash);
        const Hash used = (*hash == Hash::sha1) ? Hash::sha256 : *hash;
        for (const auto& p : all_crypto_providers())
            EXPECT_EQ(auth::tls_server_end_point(*p.provider, c), tls::builtin_crypto().digest(used, c.der)) << p.name;
    }
}

TEST(CertificateSignature, RsaPssFromOpenssl) {
    if (std::system("command -v openssl >/dev/null 2>&1") != 0) GTEST_SKIP() << "no openssl command";
    const std::string d = (std::filesystem::temp_directory_path() / ("pgtls-auth-pss-" + std::to_string(::getpid()))).string();
    std::filesystem::create_directories(d);
    for (const char* h : {"sha256", "sha384", "sha512"}) {
        const std::string crt = d + "/pss-" + h + ".crt";
        ASSERT_EQ(run(std::string("openssl req -x509 -newkey rsa:2048 -nodes -keyout '") + d + "/k.pem' -out '" + crt +
                      "' -subj /CN=pss -days 1 -" + h + " -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 >/dev/null 2>&1"),
                  "ok");
        auto s = auth::certificate_signature(der_of(crt));
        EXPECT_EQ(s.kind, Kind::hash) << h;
        EXPECT_EQ(s.hash, std::string(h) == "sha256" ? Hash::sha256 : std::string(h) == "sha384" ? Hash::sha384 : Hash::sha512);
    }
    std::filesystem::remove_all(d);
}

}  // namespace
}  // namespace pgtls::test
