// A hostile server in the GSSAPI exchange (the scripted fake server): AuthenticationGSSContinue
// out of order, empty, oversized or garbage, a repeated AuthenticationGSS, and an
// AuthenticationOk that skips mutual authentication. The client must fail with a protocol or
// authentication error naming the violation, never crash or loop.
//
// All but the first case need real Kerberos credentials for the client's first token: they
// use the KDC rig (scripts/test-kerberos.sh start) and skip, saying so, without its krb-env.
#include "pgtls_gssapi_config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "pgtls/client.hpp"
#include "tests/protocol/scripted_bytes.hpp"
#include "tests/support/fake/fake_server.hpp"

using namespace pgtls;
using namespace pgtls::test;

namespace {

// The rig's krb5.conf and ccache, installed into the environment; false without the rig.
bool use_krb_rig() {
    const char* d = std::getenv("PGTLS_TEST_DIR");
    std::ifstream in(std::string(d && *d ? d : "/tmp/pgtls-test") + "/krb-env");
    if (!in) return false;
    std::map<std::string, std::string> kv;
    std::string line;
    while (std::getline(in, line))
        if (auto eq = line.find('='); eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
    ::setenv("KRB5_CONFIG", kv["KRB5_CONFIG"].c_str(), 1);
    ::setenv("KRB5CCNAME", kv["KRB5CCNAME"].c_str(), 1);
    return true;
}

// host=localhost (the rig's service principal is postgres/localhost), address 127.0.0.1.
Settings settings_for(const FakeServer& s) {
    Settings st;
    st.hosts = {HostTarget{"localhost", "127.0.0.1", s.port()}};
    st.user = "test1";
    st.dbname = "db";
    st.sslmode = SslMode::disable;
    st.connect_timeout = std::chrono::seconds(5);
    return st;
}

std::string gss_request() { return msg('R', i32(7)); }
std::string gss_continue(const std::string& token) { return msg('R', i32(8) + token); }

// Sends AuthenticationGSS, reads the client's first token, then sends `next`; records what
// the client sent after that.
struct Recorded {
    std::mutex mu;
    std::string first_type;
    std::size_t first_size = 0;
    std::string after;
};

FakeServer::Script gss_then(std::string next, std::shared_ptr<Recorded> rec) {
    return [next, rec](FakeConnection& c) {
        if (c.read_startup_packet() != 196608) return;
        c.send(gss_request());
        std::string body;
        char t = c.read_message(&body);
        {
            std::lock_guard<std::mutex> lock(rec->mu);
            rec->first_type = t ? std::string(1, t) : std::string();
            rec->first_size = body.size();
        }
        if (!t) return;
        c.send(next);
        while ((t = c.read_message(&body))) {
            std::lock_guard<std::mutex> lock(rec->mu);
            rec->after += t;
            rec->after += body;
        }
    };
}

Error connect_error(const Settings& st) {
    try {
        Client client(st);
    } catch (const Error& e) {
        return e;
    }
    ADD_FAILURE() << "connected to a hostile server";
    return Error(ErrorKind::usage, "");
}

void expect_error(const Error& e, ErrorKind kind, const std::string& fragment) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
}

class GssHostile : public ::testing::Test {
protected:
    void SetUp() override {
#if !PGTLS_HAVE_GSSAPI
        GTEST_SKIP() << "built without the gssapi feature (meson -Dgssapi=enabled)";
#endif
    }
    // Skips the calling test without the rig; true when it may go on.
    bool need_credentials() {
        if (use_krb_rig()) return true;
        return false;
    }
    // The client's first token went out as a GSSResponse ('p').
    static void expect_first_token(Recorded& rec) {
        std::lock_guard<std::mutex> lock(rec.mu);
        EXPECT_EQ(rec.first_type, "p");
        EXPECT_GT(rec.first_size, 100u) << "a Kerberos AP-REQ is hundreds of bytes";
    }
};

#define NEED_KDC_RIG()                                                                                             \
    if (!need_credentials())                                                                                       \
    GTEST_SKIP() << "needs Kerberos credentials: the KDC rig's krb-env is absent (run scripts/test-kerberos.sh start)"

TEST_F(GssHostile, ContinueBeforeGssIsAProtocolError) {
    FakeServer server([](FakeConnection& c) {
        if (c.read_startup_packet() != 196608) return;
        c.send(gss_continue("token"));
        std::string body;
        while (c.read_message(&body)) {
        }
    });
    expect_error(connect_error(settings_for(server)), ErrorKind::protocol,
                 "AuthenticationGSSContinue without AuthenticationGSS");
}

TEST_F(GssHostile, OversizedContinueIsRefusedBeforeGssapiSeesIt) {
    NEED_KDC_RIG();
    auto rec = std::make_shared<Recorded>();
    // libpq's cap on Authentication messages before the session is up is 2000 bytes.
    FakeServer server(gss_then(gss_continue(std::string(70'000, '\x60')), rec));
    expect_error(connect_error(settings_for(server)), ErrorKind::protocol,
                 "exceeds the limit of 2000 bytes for Authentication messages");
    expect_first_token(*rec);
    EXPECT_EQ(rec->after, "");
}

TEST_F(GssHostile, LargestAllowedGarbageContinueFailsInGssapi) {
    NEED_KDC_RIG();
    auto rec = std::make_shared<Recorded>();
    FakeServer server(gss_then(gss_continue(std::string(1'992, '\x60')), rec));  // 2000 with code and length
    expect_error(connect_error(settings_for(server)), ErrorKind::authentication, "GSSAPI continuation error");
    expect_first_token(*rec);
}

TEST_F(GssHostile, EmptyContinueIsAProtocolError) {
    NEED_KDC_RIG();
    auto rec = std::make_shared<Recorded>();
    FakeServer server(gss_then(gss_continue(""), rec));
    expect_error(connect_error(settings_for(server)), ErrorKind::protocol, "empty GSSAPI token");
    expect_first_token(*rec);
}

TEST_F(GssHostile, GarbageContinueFailsInGssapi) {
    NEED_KDC_RIG();
    auto rec = std::make_shared<Recorded>();
    FakeServer server(gss_then(gss_continue(std::string("\x60\x05garbage-not-an-ap-rep", 24)), rec));
    expect_error(connect_error(settings_for(server)), ErrorKind::authentication, "GSSAPI continuation error");
    expect_first_token(*rec);
    EXPECT_EQ(rec->after, "");
}

TEST_F(GssHostile, RepeatedGssRequestIsAProtocolError) {
    NEED_KDC_RIG();
    auto rec = std::make_shared<Recorded>();
    FakeServer server(gss_then(gss_request(), rec));
    expect_error(connect_error(settings_for(server)), ErrorKind::protocol, "duplicate GSS authentication request");
}

TEST_F(GssHostile, OkBeforeMutualAuthenticationFailsRequireAuthGss) {
    NEED_KDC_RIG();
    auto rec = std::make_shared<Recorded>();
    FakeServer server(gss_then(auth_ok() + ready(), rec));
    Settings st = settings_for(server);
    st.require_auth = "gss";
    expect_error(connect_error(st), ErrorKind::authentication, "server did not complete authentication");
}

TEST_F(GssHostile, OkBeforeMutualAuthenticationIsReportedAsIncomplete) {
    NEED_KDC_RIG();
    auto rec = std::make_shared<Recorded>();
    FakeServer server(gss_then(auth_ok() + msg('K', i32(1) + i32(2)) + ready(), rec));
    Client c(settings_for(server));
    EXPECT_EQ(c.info().auth_method, "gss (incomplete: server skipped to AuthenticationOk before mutual authentication)");
}

}  // namespace
