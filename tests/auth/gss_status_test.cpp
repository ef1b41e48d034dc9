// libpq's layout of GSSAPI failure texts, on statuses whose messages MIT krb5 fixes.
#include "pgtls_gssapi_config.h"

#include <gtest/gtest.h>

#if PGTLS_HAVE_GSSAPI
#include <gssapi/gssapi.h>

#include <cstdlib>

#include "auth/gssapi/gss_status.hpp"

namespace {

using pgtls::auth::gssapi::format_gss_error;

TEST(GssStatus, MajorThenMinorAfterThePrefix) {
    std::string text = format_gss_error("GSSAPI continuation error", GSS_S_NO_CRED, 0);
    EXPECT_EQ(text.rfind("GSSAPI continuation error: No credentials were supplied", 0), 0u) << text;
    // The minor part follows the second ':'; status 0 still yields a message.
    EXPECT_NE(text.find(": ", text.find("supplied")), std::string::npos) << text;
}

TEST(GssStatus, RealFailureNamesTheMechanismCause) {
    // A minor status means something only as the library returned it (MIT maps mechanism
    // codes), so provoke a real one: initiator credentials from a ccache that does not exist.
    ::setenv("KRB5CCNAME", "FILE:/nonexistent/pgtls-gss-status-test", 1);
    OM_uint32 minor = 0;
    gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
    OM_uint32 major = gss_acquire_cred(&minor, GSS_C_NO_NAME, GSS_C_INDEFINITE, GSS_C_NO_OID_SET, GSS_C_INITIATE,
                                       &cred, nullptr, nullptr);
    ::unsetenv("KRB5CCNAME");
    ASSERT_TRUE(GSS_ERROR(major));
    std::string text = format_gss_error("GSSAPI continuation error", major, minor);
    EXPECT_EQ(text.rfind("GSSAPI continuation error: No credentials were supplied", 0), 0u) << text;
    EXPECT_NE(text.find("/nonexistent/pgtls-gss-status-test"), std::string::npos) << text;
    if (cred != GSS_C_NO_CREDENTIAL) gss_release_cred(&minor, &cred);
}

}  // namespace
#else
TEST(GssStatus, NotCompiledIn) { GTEST_SKIP() << "built without the gssapi feature (-Dgssapi)"; }
#endif
