// require_auth parsing with libpq 16's rules (pqConnectOptions2).
#include <gtest/gtest.h>

#include "auth/require_auth.hpp"
#include "pgtls/error.hpp"

namespace pgtls::test {
namespace {

using namespace auth;

std::string parse_error(std::string_view text) {
    try {
        RequireAuth::parse(text);
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::config);
        return e.what();
    }
    ADD_FAILURE() << "accepted require_auth=" << text;
    return {};
}

TEST(RequireAuth, EmptyMeansAnything) {
    auto r = RequireAuth::parse("");
    EXPECT_FALSE(r.active());
    for (std::uint32_t c = 0; c <= auth_req_max; ++c) EXPECT_TRUE(r.allows(c));
}

TEST(RequireAuth, PositiveList) {
    auto r = RequireAuth::parse("password,scram-sha-256");
    EXPECT_TRUE(r.active());
    EXPECT_TRUE(r.auth_required());
    EXPECT_TRUE(r.allows(auth_req_password));
    EXPECT_TRUE(r.allows(auth_req_sasl));
    EXPECT_TRUE(r.allows(auth_req_sasl_cont));
    EXPECT_TRUE(r.allows(auth_req_sasl_fin));
    EXPECT_FALSE(r.allows(auth_req_md5));
    EXPECT_FALSE(r.allows(auth_req_gss));
    EXPECT_FALSE(r.allows(auth_req_krb5));
}

TEST(RequireAuth, NoneAllowsSkippingAuthentication) {
    auto r = RequireAuth::parse("none");
    EXPECT_FALSE(r.auth_required());
    EXPECT_FALSE(r.allows(auth_req_password));
    auto s = RequireAuth::parse("md5,none");
    EXPECT_FALSE(s.auth_required());
    EXPECT_TRUE(s.allows(auth_req_md5));
}

TEST(RequireAuth, NegatedList) {
    auto r = RequireAuth::parse("!password,!md5");
    EXPECT_FALSE(r.auth_required());
    EXPECT_FALSE(r.allows(auth_req_password));
    EXPECT_FALSE(r.allows(auth_req_md5));
    EXPECT_TRUE(r.allows(auth_req_sasl));
    EXPECT_TRUE(r.allows(auth_req_gss));
    auto n = RequireAuth::parse("!none");
    EXPECT_TRUE(n.auth_required());
    EXPECT_TRUE(n.allows(auth_req_password));
}

TEST(RequireAuth, GssAndSspiShareTheContinueCode) {
    auto r = RequireAuth::parse("gss,sspi");  // not a duplicate although both include GSS_CONT
    EXPECT_TRUE(r.allows(auth_req_gss_cont));
    auto n = RequireAuth::parse("!gss,!sspi");
    EXPECT_FALSE(n.allows(auth_req_gss_cont));
    EXPECT_TRUE(n.allows(auth_req_password));
}

TEST(RequireAuth, Errors) {
    EXPECT_NE(parse_error("password,!md5").find("negative require_auth method \"!md5\" cannot be mixed with non-negative"),
              std::string::npos);
    EXPECT_NE(parse_error("!password,md5").find("require_auth method \"md5\" cannot be mixed with negative"),
              std::string::npos);
    EXPECT_NE(parse_error("password,password").find("\"password\" is specified more than once"), std::string::npos);
    EXPECT_NE(parse_error("!md5,!md5").find("\"!md5\" is specified more than once"), std::string::npos);
    EXPECT_NE(parse_error("none,none").find("more than once"), std::string::npos);
    EXPECT_NE(parse_error("scram-sha-256,scram-sha-256").find("more than once"), std::string::npos);
    EXPECT_NE(parse_error("kerberos").find("invalid require_auth value: \"kerberos\""), std::string::npos);
    EXPECT_NE(parse_error("password, md5").find("invalid require_auth value: \" md5\""), std::string::npos);  // no trimming
    EXPECT_NE(parse_error("password,").find("invalid require_auth value: \"\""), std::string::npos);
    EXPECT_NE(parse_error("SCRAM-SHA-256").find("invalid"), std::string::npos);  // case-sensitive like libpq
    EXPECT_NE(parse_error("!").find("invalid"), std::string::npos);
}

}  // namespace
}  // namespace pgtls::test
