// Direct TLS negotiation against a TLS server that selects no ALPN or a wrong one (refused,
// libpq's messages), and a server that stalls at each connection phase (every timeout fires,
// within a bound).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>

#include "tls/tls_backend.hpp"
#include "pgtls/client.hpp"
#include "tests/protocol/scripted_bytes.hpp"
#include "tests/support/env/test_env.hpp"
#include "tests/support/fake/fake_server.hpp"
#include "tests/support/tls/tls_test_server.hpp"

using namespace pgtls;
using namespace pgtls::test;
using namespace std::chrono_literals;

namespace {

Settings base(std::uint16_t port) {
    Settings st;
    st.hosts = {HostTarget{"127.0.0.1", "", port}};
    st.user = "alice";
    st.dbname = "db";
    st.password = "secret";
    st.sslmode = SslMode::disable;
    st.connect_timeout = std::chrono::seconds(2);
    return st;
}

Error connect_error(const Settings& st) {
    try {
        Client client(st);
    } catch (const Error& e) {
        return e;
    }
    ADD_FAILURE() << "connected";
    return Error(ErrorKind::usage, "");
}

class DirectAlpn : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        if (!std::filesystem::exists(pki("server.crt"))) GTEST_SKIP() << "no test PKI (scripts/make-pki.sh)";
        if (GetParam() == "none") GTEST_SKIP() << "no TLS backend built";
    }
    Error run(TlsServerOptions::Alpn alpn, std::vector<std::string> protocols) {
        TlsServerOptions o;
        o.cert_file = pki("server.crt");
        o.key_file = pki("server.key");
        o.alpn = alpn;
        o.alpn_protocols = std::move(protocols);
        TlsTestServer server(o);
        auto st = base(server.port());
        st.sslmode = SslMode::require;
        st.sslmode_explicit = true;
        st.sslnegotiation = SslNegotiation::direct;
        st.sslbackend = GetParam();
        return connect_error(st);
    }
};

std::vector<std::string> built_backends() {
    std::vector<std::string> names;
    for (const tls::Backend* b : tls::available_backends()) names.emplace_back(b->name());
    if (names.empty()) names.push_back("none");
    return names;
}

}  // namespace

TEST_P(DirectAlpn, NoAlpnSelectedIsRefused) {
    Error e = run(TlsServerOptions::Alpn::ignore, {"postgresql"});
    EXPECT_EQ(e.kind(), ErrorKind::tls) << e.what();
    EXPECT_NE(std::string(e.what()).find("ALPN"), std::string::npos) << e.what();
}

TEST_P(DirectAlpn, WrongAlpnSelectedIsRefused) {
    // The server answers "http/1.1" though the client offered only "postgresql". A TLS stack
    // may abort the handshake itself (RFC 7301) or hand the value up; both must be refusals.
    Error e = run(TlsServerOptions::Alpn::force_wrong, {"http/1.1"});
    EXPECT_EQ(e.kind(), ErrorKind::tls) << e.what();
}

INSTANTIATE_TEST_SUITE_P(Backends, DirectAlpn, ::testing::ValuesIn(built_backends()));

TEST(Stall, TlsHandshakeAfterSslAcceptFiresConnectTimeout) {
    FakeServer server([](FakeConnection& c) {
        if (c.read_startup_packet() != 80877103) return;
        c.send("S");  // then never a ServerHello
        c.wait_for_close(10s);
    });
    auto st = base(server.port());
    st.sslmode = SslMode::require;
    const auto t0 = std::chrono::steady_clock::now();
    Error e = connect_error(st);
    // A build without TLS backends refuses the TLS mode before connecting.
    const ErrorKind expected = pgtls::tls::available_backends().empty() ? ErrorKind::config : ErrorKind::timeout;
    EXPECT_EQ(e.kind(), expected) << e.what();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 6s);
}

TEST(Stall, DirectTlsHandshakeFiresConnectTimeout) {
    FakeServer server([](FakeConnection& c) { c.wait_for_close(10s); });  // reads nothing, says nothing
    auto st = base(server.port());
    st.sslmode = SslMode::require;
    st.sslmode_explicit = true;
    st.sslnegotiation = SslNegotiation::direct;
    const auto t0 = std::chrono::steady_clock::now();
    Error e = connect_error(st);
    const ErrorKind expected = pgtls::tls::available_backends().empty() ? ErrorKind::config : ErrorKind::timeout;
    EXPECT_EQ(e.kind(), expected) << e.what();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 6s);
}

TEST(Stall, AfterStartupPacketFiresConnectTimeout) {
    FakeServer server([](FakeConnection& c) {
        c.read_startup_packet();
        c.wait_for_close(10s);
    });
    const auto t0 = std::chrono::steady_clock::now();
    Error e = connect_error(base(server.port()));
    EXPECT_EQ(e.kind(), ErrorKind::timeout) << e.what();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 6s);
}

TEST(Stall, DuringAuthenticationFiresConnectTimeout) {
    for (int code : {3, 10}) {
        FakeServer server([code](FakeConnection& c) {
            c.read_startup_packet();
            if (code == 10)
                c.send(msg('R', i32(10) + std::string("SCRAM-SHA-256") + '\0' + '\0'));
            else
                c.send(msg('R', i32(code)));
            c.read_message();  // the password / SASLInitialResponse, never answered
            c.wait_for_close(10s);
        });
        const auto t0 = std::chrono::steady_clock::now();
        Error e = connect_error(base(server.port()));
        EXPECT_EQ(e.kind(), ErrorKind::timeout) << code << ": " << e.what();
        EXPECT_LT(std::chrono::steady_clock::now() - t0, 6s);
    }
}

TEST(Stall, AfterAuthenticationOkBeforeReadyFiresConnectTimeout) {
    FakeServer server([](FakeConnection& c) {
        c.read_startup_packet();
        c.send(auth_ok() + param_status("server_version", "18.4"));  // no ReadyForQuery
        c.wait_for_close(10s);
    });
    const auto t0 = std::chrono::steady_clock::now();
    Error e = connect_error(base(server.port()));
    EXPECT_EQ(e.kind(), ErrorKind::timeout) << e.what();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 6s);
}

TEST(Stall, QueryTimeoutFiresAndTheCallReturns) {
    // The server ignores the cancel request and never answers the query. The client then
    // drains for its grace period (30 s, src/client/client.cpp) or until the server hangs up — here
    // after 3 s — and must report an error either way, never hang.
    FakeServer server([](FakeConnection& c) {
        if (c.read_startup_packet() != 196608) return;  // cancel requests: ignored
        c.send(auth_ok() + key_data(1, 2) + ready());
        c.read_message();
        c.wait_for_close(3s);
    });
    Client client(base(server.port()));
    client.set_query_timeout(300ms);
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_THROW(client.query("SELECT 1"), Error);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 35s);
}
