// A hostile server in the GSSAPI encryption negotiation (the scripted fake server): an answer
// to GSSENCRequest other than 'G'/'N', bytes after the 'G', a context token announced larger
// than a 16 KiB packet (before anything is allocated for it), an error where a token belongs,
// and a close mid-exchange. The client must fail with an error naming the violation, never
// crash, loop or allocate what the server announces.
//
// GSSENCRequest is sent only when Kerberos credentials can be had: the cases use the KDC rig
// (scripts/test-kerberos.sh start) for them and skip, saying so, without its krb-env.
#include "pgtls_gssapi_config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <string>

#include "pgtls/client.hpp"
#include "tests/protocol/scripted_bytes.hpp"
#include "tests/support/fake/fake_server.hpp"

using namespace pgtls;
using namespace pgtls::test;

namespace {

constexpr std::int32_t kGssEncRequest = 80877104;

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

Settings settings_for(const FakeServer& s, GssEncMode mode = GssEncMode::require) {
    Settings st;
    st.hosts = {HostTarget{"localhost", "127.0.0.1", s.port()}};
    st.user = "test1";
    st.dbname = "db";
    st.sslmode = SslMode::disable;
    st.gssencmode = mode;
    st.connect_timeout = std::chrono::seconds(5);
    return st;
}

// After a GSSENCRequest: answers 'G', reads the client's first context token (4-byte length,
// then the token), then sends `next` and waits for the client to hang up.
void accept_and_answer(FakeConnection& c, const std::string& next) {
    c.send("G");
    std::string len;
    if (!c.read_exact(len, 4)) return;
    const auto* p = reinterpret_cast<const unsigned char*>(len.data());
    const std::size_t n = (std::size_t{p[0]} << 24) | (std::size_t{p[1]} << 16) | (std::size_t{p[2]} << 8) | p[3];
    std::string token;
    if (n > 16380 || !c.read_exact(token, n)) return;
    c.send(next);
    c.wait_for_close();
}

FakeServer::Script accept_then(std::string next) {
    return [next](FakeConnection& c) {
        if (c.read_startup_packet() == kGssEncRequest) accept_and_answer(c, next);
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

class GssEncHostile : public ::testing::Test {
protected:
    void SetUp() override {
#if !PGTLS_HAVE_GSSAPI
        GTEST_SKIP() << "built without the gssapi feature (meson -Dgssapi=enabled)";
#endif
        if (!use_krb_rig())
            GTEST_SKIP() << "needs Kerberos credentials: the KDC rig's krb-env is absent (run scripts/test-kerberos.sh start)";
    }
};

TEST_F(GssEncHostile, AnAnswerOtherThanGOrNIsAProtocolError) {
    FakeServer server([](FakeConnection& c) {
        if (c.read_startup_packet() != kGssEncRequest) return;
        c.send("S");  // an SSL answer to a GSSAPI request
        c.wait_for_close();
    });
    expect_error(connect_error(settings_for(server)), ErrorKind::protocol,
                 "received invalid response to GSSAPI negotiation: S");
    // prefer does not downgrade on it either (libpq: a hard failure).
    expect_error(connect_error(settings_for(server, GssEncMode::prefer)), ErrorKind::protocol,
                 "received invalid response to GSSAPI negotiation: S");
    EXPECT_EQ(server.connections(), 2);
}

TEST_F(GssEncHostile, BytesAfterTheAcceptAreRefused) {
    FakeServer server([](FakeConnection& c) {
        if (c.read_startup_packet() != kGssEncRequest) return;
        c.send("G" + auth_ok());
        c.wait_for_close();
    });
    expect_error(connect_error(settings_for(server)), ErrorKind::protocol,
                 "received unencrypted data after GSSAPI encryption response");
}

TEST_F(GssEncHostile, AnOversizedTokenIsRefusedBeforeItIsRead) {
    // 1 MiB, then 4 GiB - 1 announced: refused from the length word alone.
    for (std::string length : {i32(1 << 20), std::string("\xff\xff\xff\xff", 4), i32(16381)}) {
        FakeServer server(accept_then(length + std::string(64, '\x60')));
        const Error e = connect_error(settings_for(server));
        expect_error(e, ErrorKind::protocol, "oversize GSSAPI packet sent by the server (");
        expect_error(e, ErrorKind::protocol, " > 16380)");
    }
}

TEST_F(GssEncHostile, PreferRetriesWithoutGssapiAfterAFailedHandshake) {
    // libpq: a failed GSSAPI negotiation with gssencmode=prefer is retried on a new
    // connection without it; here the retry meets a server that ends the session at once.
    FakeServer server([](FakeConnection& c) {
        const std::int32_t code = c.read_startup_packet();
        if (code == kGssEncRequest) {
            accept_and_answer(c, i32(1 << 20));
            return;
        }
        c.send(msg('E', std::string("SFATAL") + '\0' + "C28000" + '\0' + "Mplaintext refused" + '\0' + '\0'));
    });
    const Error e = connect_error(settings_for(server, GssEncMode::prefer));
    expect_error(e, ErrorKind::authentication, "plaintext refused");
    EXPECT_EQ(server.connections(), 2);
    ASSERT_EQ(e.attempts().size(), 2u);
    EXPECT_EQ(e.attempts()[0].encryption, "gss");
    EXPECT_EQ(e.attempts()[1].encryption, "plaintext");
}

TEST_F(GssEncHostile, AnErrorInPlaceOfATokenIsNotShown) {
    // Not authenticated yet: its text is not trusted (as for SSL's 'E').
    FakeServer server(accept_then(msg('E', std::string("SFATAL") + '\0' + "Mtrust me" + '\0' + '\0')));
    const Error e = connect_error(settings_for(server));
    expect_error(e, ErrorKind::connection, "server sent an error response during GSSAPI encryption negotiation");
    EXPECT_EQ(std::string(e.what()).find("trust me"), std::string::npos);
}

TEST_F(GssEncHostile, ACloseMidExchangeIsAConnectionError) {
    FakeServer server([](FakeConnection& c) {
        if (c.read_startup_packet() != kGssEncRequest) return;
        c.send("G");
        std::string len;
        c.read_exact(len, 4);
    });
    expect_error(connect_error(settings_for(server)), ErrorKind::connection,
                 "server closed the connection unexpectedly during GSSAPI encryption negotiation");
}

TEST_F(GssEncHostile, AGarbageTokenFailsInGssapi) {
    FakeServer server(accept_then(i32(24) + std::string("\x60\x16garbage-not-an-ap-rep", 24)));
    expect_error(connect_error(settings_for(server)), ErrorKind::authentication,
                 "could not initiate GSSAPI security context");
}

}  // namespace
