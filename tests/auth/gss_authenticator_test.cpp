// The Authenticator's GSSAPI branch without a KDC: the checks made before any GSSAPI call
// (host name, message order, policy) and a real credential failure from MIT krb5. The full
// exchange against a KDC is tests/integration/gss_test.cpp.
#include "pgtls_gssapi_config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "auth/authenticator.hpp"
#include "crypto/builtin_crypto.hpp"
#include "pgtls/error.hpp"

namespace pgtls::test {
namespace {

using auth::Authenticator;
using auth::AuthParams;

std::vector<std::uint8_t> request(std::uint32_t code, std::string_view payload = {}) {
    std::string s = {char(code >> 24), char(code >> 16), char(code >> 8), char(code)};
    s.append(payload);
    return {s.begin(), s.end()};
}

AuthParams params(std::string host, std::string require_auth = {}, ChannelBinding cb = ChannelBinding::prefer) {
    AuthParams p;
    p.crypto = &tls::builtin_crypto();
    p.user = "test1";
    p.gss_host = std::move(host);
    p.require_auth = std::move(require_auth);
    p.channel_binding = cb;
    p.get_password = []() -> std::optional<std::string> {
        ADD_FAILURE() << "GSSAPI authentication asked for a password";
        return std::nullopt;
    };
    return p;
}

// Runs one request; returns the error text (empty when accepted) and checks nothing was sent
// on failure.
std::string refuse(Authenticator& a, std::uint32_t code, std::string_view payload, ErrorKind kind) {
    std::string out;
    try {
        a.on_request(request(code, payload), out);
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), kind) << e.what();
        EXPECT_TRUE(out.empty()) << "bytes emitted although the request was refused";
        return e.what();
    }
    ADD_FAILURE() << "request " << code << " accepted";
    return {};
}

#if PGTLS_HAVE_GSSAPI

// Points KRB5CCNAME at a cache that does not exist for the test's duration.
struct NoCredentials {
    std::optional<std::string> saved;
    NoCredentials() {
        if (const char* v = std::getenv("KRB5CCNAME")) saved = v;
        ::setenv("KRB5CCNAME", "FILE:/nonexistent/pgtls-gss-authenticator-test", 1);
    }
    ~NoCredentials() {
        if (saved) ::setenv("KRB5CCNAME", saved->c_str(), 1);
        else ::unsetenv("KRB5CCNAME");
    }
};

TEST(GssAuthenticator, NeedsAHostName) {
    Authenticator a(params(""));
    EXPECT_NE(refuse(a, 7, {}, ErrorKind::authentication).find("host name must be specified"), std::string::npos);
}

TEST(GssAuthenticator, ContinueWithoutStartIsAProtocolError) {
    Authenticator a(params("localhost"));
    EXPECT_NE(refuse(a, 8, "token", ErrorKind::protocol).find("AuthenticationGSSContinue without AuthenticationGSS"),
              std::string::npos);
}

TEST(GssAuthenticator, MissingCredentialsNameTheCauseAndTheCache) {
    NoCredentials none;
    Authenticator a(params("localhost", "gss"));
    const std::string text = refuse(a, 7, {}, ErrorKind::authentication);
    EXPECT_EQ(text.rfind("GSSAPI continuation error: No credentials were supplied", 0), 0u) << text;
    EXPECT_NE(text.find("/nonexistent/pgtls-gss-authenticator-test"), std::string::npos) << text;
    EXPECT_NE(text.find("run kinit"), std::string::npos) << text;
}

TEST(GssAuthenticator, RequireAuthRefusesGssBeforeAnyGssapiCall) {
    Authenticator a(params("localhost", "scram-sha-256"));
    const std::string text = refuse(a, 7, {}, ErrorKind::authentication);
    EXPECT_NE(text.find("authentication method requirement \"scram-sha-256\" failed: server requested GSSAPI"),
              std::string::npos)
        << text;
    Authenticator negated(params("localhost", "!gss"));
    EXPECT_NE(refuse(negated, 7, {}, ErrorKind::authentication).find("server requested GSSAPI authentication"),
              std::string::npos);
}

TEST(GssAuthenticator, ChannelBindingRequireRefusesGss) {
    Authenticator a(params("localhost", {}, ChannelBinding::require));
    EXPECT_NE(refuse(a, 7, {}, ErrorKind::authentication)
                  .find("channel binding required but not supported by server's authentication request"),
              std::string::npos);
}

TEST(GssAuthenticator, RequireAuthGssRefusesTrust) {
    Authenticator a(params("localhost", "gss"));
    EXPECT_NE(refuse(a, 0, {}, ErrorKind::authentication).find("server did not complete authentication"),
              std::string::npos);
}

#else

TEST(GssAuthenticator, RefusedWithoutTheFeature) {
    Authenticator a(params("localhost", "gss"));
    EXPECT_NE(refuse(a, 7, {}, ErrorKind::authentication).find("GSSAPI authentication not supported"),
              std::string::npos);
    Authenticator c(params("localhost"));
    EXPECT_NE(refuse(c, 8, {}, ErrorKind::authentication).find("GSSAPI authentication not supported"),
              std::string::npos);
}

#endif

}  // namespace
}  // namespace pgtls::test
