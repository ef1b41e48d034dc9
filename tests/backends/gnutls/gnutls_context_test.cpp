// Context creation: configuration errors name the file or setting and never leak a password;
// priority strings; cipher-name table agrees with OpenSSL.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <memory>
#include <map>

#include "backends/gnutls/gnutls_names.hpp"
#include "backends/gnutls/gnutls_priority.hpp"
#include "tls/tls_names.hpp"
#include "gnutls_test_support.hpp"
#include "pgtls/error.hpp"

namespace pgtls::test {
namespace {

// The Error thrown by create_context, or fails the test.
Error context_error(const tls::ContextConfig& config) {
    try {
        gnutls().create_context(config);
    } catch (const Error& e) {
        return e;
    }
    ADD_FAILURE() << "create_context did not throw";
    return Error(ErrorKind::usage, "");
}

tls::ContextConfig with_client_key(const std::string& cert, const std::string& key, const std::string& password) {
    tls::ContextConfig c;
    c.cert = file_material(cert);
    c.key = file_material(key);
    c.key_password = password;
    return c;
}

TEST(GnutlsContext, PlainContextNeedsNothing) { EXPECT_NE(gnutls().create_context({}), nullptr); }

TEST(GnutlsContext, MissingCaFileNamesTheFile) {
    tls::ContextConfig c;
    c.verify_chain = true;
    c.ca = {tls::Material::Kind::file, "/nonexistent/root.crt"};
    Error e = context_error(c);
    EXPECT_EQ(e.kind(), ErrorKind::config);
    EXPECT_NE(std::string(e.what()).find("\"/nonexistent/root.crt\""), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No such file"), std::string::npos) << e.what();
}

TEST(GnutlsContext, CaFileWithoutCertificatesIsAnError) {
    tls::ContextConfig c;
    c.verify_chain = true;
    c.ca = file_material("client.key");
    Error e = context_error(c);
    EXPECT_NE(std::string(e.what()).find("client.key"), std::string::npos) << e.what();
}

TEST(GnutlsContext, VerifyWithoutCaIsRefused) {
    tls::ContextConfig c;
    c.verify_chain = true;
    EXPECT_EQ(context_error(c).kind(), ErrorKind::config);
}

TEST(GnutlsContext, WrongKeyPasswordNamesKeyNotPassword) {
    for (const char* key : {"client-encrypted.key", "client-pkcs1-encrypted.key", "client-ecdsa-encrypted.key"}) {
        const std::string cert = std::string(key).find("ecdsa") != std::string::npos ? "client-ecdsa.crt" : "client.crt";
        Error e = context_error(with_client_key(cert, key, "Sup3rWrongSecret"));
        const std::string msg = e.what();
        EXPECT_EQ(e.kind(), ErrorKind::config);
        EXPECT_NE(msg.find(key), std::string::npos) << msg;
        EXPECT_NE(msg.find("password"), std::string::npos) << msg;
        EXPECT_EQ(msg.find("Sup3rWrongSecret"), std::string::npos) << msg;
    }
}

TEST(GnutlsContext, EncryptedKeyWithoutPasswordFailsWithoutPrompting) {
    Error e = context_error(with_client_key("client.crt", "client-encrypted.key", ""));
    EXPECT_NE(std::string(e.what()).find("no password"), std::string::npos) << e.what();
}

TEST(GnutlsContext, RightPasswordLoads) {
    EXPECT_NE(gnutls().create_context(with_client_key("client.crt", "client-encrypted.key", "keypass")), nullptr);
    EXPECT_NE(gnutls().create_context(with_client_key("client.crt", "client-pkcs1-encrypted.key", "keypass")), nullptr);
}

TEST(GnutlsContext, KeyNotMatchingCertificate) {
    Error e = context_error(with_client_key("client.crt", "client-other.key", ""));
    EXPECT_NE(std::string(e.what()).find("does not match"), std::string::npos) << e.what();
    Error e2 = context_error(with_client_key("client.crt", "client-ecdsa.key", ""));
    EXPECT_NE(std::string(e2.what()).find("does not match"), std::string::npos) << e2.what();
}

TEST(GnutlsContext, MissingKeyFileNamesIt) {
    Error e = context_error(with_client_key("client.crt", "no-such.key", ""));
    EXPECT_NE(std::string(e.what()).find("no-such.key"), std::string::npos) << e.what();
}

TEST(GnutlsContext, GarbageKeyFileIsAnError) {
    Error e = context_error(with_client_key("client.crt", "client.crt", ""));
    EXPECT_NE(std::string(e.what()).find("private key"), std::string::npos) << e.what();
}

TEST(GnutlsContext, CertificateWithoutKeyIsRefused) {
    tls::ContextConfig c;
    c.cert = file_material("client.crt");
    EXPECT_EQ(context_error(c).kind(), ErrorKind::config);
}

TEST(GnutlsContext, KeyWithoutCertificateIsIgnored) {
    tls::ContextConfig c;
    c.key = file_material("no-such.key");
    EXPECT_NE(gnutls().create_context(c), nullptr);
}

TEST(GnutlsContext, UnreadableCrlFileIsAnErrorNamingIt) {
    tls::ContextConfig c;
    c.crl = {tls::Material::Kind::file, pki("no-such.crl")};
    Error e = context_error(c);
    EXPECT_EQ(e.kind(), ErrorKind::config);
    EXPECT_NE(std::string(e.what()).find("no-such.crl"), std::string::npos) << e.what();
    c.crl = file_material("ca.crt");  // readable, but holds no CRL
    Error e2 = context_error(c);
    EXPECT_NE(std::string(e2.what()).find("no certificate revocation list"), std::string::npos) << e2.what();
}

TEST(GnutlsContext, MissingCrlDirIsAnError) {
    tls::ContextConfig c;
    c.crl_dir = "/nonexistent/crl-dir";
    Error e = context_error(c);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/crl-dir"), std::string::npos) << e.what();
}

TEST(GnutlsContext, DerMaterialIsAccepted) {
    tls::ContextConfig c;
    c.verify_chain = true;
    c.ca = file_material("ca.der");
    c.cert = file_material("client.der");
    c.key = file_material("client.key.der");
    EXPECT_NE(gnutls().create_context(c), nullptr);
    c.key = file_material("client-encrypted.key.der");
    c.key_password = "keypass";
    EXPECT_NE(gnutls().create_context(c), nullptr);
    c.key_password = "";
    Error e = context_error(c);
    EXPECT_NE(std::string(e.what()).find("no password"), std::string::npos) << e.what();
}

TEST(GnutlsContext, DisabledClientCertIsNotEvenRead) {
    tls::ContextConfig c = with_client_key("no-such.crt", "no-such.key", "");
    c.send_client_cert = false;  // sslcertmode=disable: libpq does not load them
    EXPECT_NE(gnutls().create_context(c), nullptr);
}

TEST(GnutlsContext, InvertedVersionRangeIsAConfigError) {
    tls::ContextConfig c;
    c.min_version = TlsVersion::tls1_3;
    c.max_version = TlsVersion::tls1_2;
    Error e = context_error(c);
    EXPECT_EQ(e.kind(), ErrorKind::config);
    EXPECT_NE(std::string(e.what()).find("ssl_min_protocol_version"), std::string::npos) << e.what();
}

TEST(GnutlsContext, InvalidAlpnNameIsRefused) {
    tls::ContextConfig c;
    c.alpn = {""};
    EXPECT_EQ(context_error(c).kind(), ErrorKind::config);
}

TEST(GnutlsPriority, StringsForVersionRanges) {
    using tls::gnutls::priority_string;
    EXPECT_EQ(priority_string(TlsVersion::tls1_2, TlsVersion::unspecified), "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2");
    EXPECT_EQ(priority_string(TlsVersion::tls1_3, TlsVersion::tls1_3), "NORMAL:-VERS-ALL:+VERS-TLS1.3");
    EXPECT_EQ(priority_string(TlsVersion::unspecified, TlsVersion::tls1_1),
              "NORMAL:-VERS-ALL:+VERS-TLS1.1:+VERS-TLS1.0");
    EXPECT_THROW(priority_string(TlsVersion::tls1_3, TlsVersion::tls1_0), Error);
}

TEST(GnutlsNames, ProtocolNamesUseOpensslSpelling) {
    EXPECT_EQ(tls::gnutls::protocol_name(GNUTLS_TLS1_3), "TLSv1.3");
    EXPECT_EQ(tls::gnutls::protocol_name(GNUTLS_TLS1_2), "TLSv1.2");
    EXPECT_EQ(tls::gnutls::protocol_name(GNUTLS_TLS1_0), "TLSv1");
}

TEST(GnutlsNames, CipherTableAgreesWithOpensslStdnames) {
    // `openssl ciphers -stdname` prints "IANA name - OpenSSL name ..." for each suite.
    std::unique_ptr<FILE, int (*)(FILE*)> p(::popen("openssl ciphers -stdname 'ALL:@SECLEVEL=0' 2>/dev/null", "r"),
                                           ::pclose);
    ASSERT_NE(p, nullptr);
    std::map<std::string, std::string> openssl;
    char line[512];
    while (std::fgets(line, sizeof line, p.get())) {
        std::string s(line);
        const auto dash = s.find(" - ");
        if (dash == std::string::npos) continue;
        std::string iana = s.substr(0, dash);
        iana.erase(iana.find_last_not_of(' ') + 1);
        const std::string rest = s.substr(dash + 3);
        openssl[iana] = rest.substr(0, rest.find(' '));
    }
    ASSERT_GT(openssl.size(), 20u);
    int checked = 0;
    for (const auto& pair : tls::cipher_name_table()) {
        auto it = openssl.find(std::string(pair.iana));
        if (it == openssl.end()) continue;  // e.g. CCM_8 suites not in this OpenSSL's list
        EXPECT_EQ(it->second, pair.openssl) << pair.iana;
        ++checked;
    }
    EXPECT_GT(checked, 30);
    EXPECT_EQ(tls::openssl_cipher_name("TLS_SOMETHING_NEW"), "TLS_SOMETHING_NEW");
}

}  // namespace
}  // namespace pgtls::test
