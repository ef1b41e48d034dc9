// The client against a scripted server that misbehaves in ways a real PostgreSQL never
// does. Every case must end in a clear error — no crash, no hang, no downgrade.
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>

#include "tls/tls_backend.hpp"
#include "pgtls/client.hpp"
#include "tests/protocol/scripted_bytes.hpp"
#include "tests/support/fake/fake_server.hpp"

using namespace pgtls;
using namespace pgtls::test;
using namespace std::chrono_literals;

namespace {

// A CA no server here chains to: verification is never reached in these tests.
const char* const unrelated_ca = R"(-----BEGIN CERTIFICATE-----
MIIBlzCCAT2gAwIBAgIUDOV5IGES7mzTZeGbHUpW4pi/VVAwCgYIKoZIzj0EAwIw
IDEeMBwGA1UEAwwVcGd0bHMgaG9zdGlsZSB0ZXN0IENBMCAXDTI2MTEyNzE1MzYy
MVoYDzIxMjYxMTAzMTUzNjIxWjAgMR4wHAYDVQQDDBVwZ3RscyBob3N0aWxlIHRl
c3QgQ0EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAASFu2j20yEQ6fSgL9RBQDqV
/lbOTSLeY1e4M/XhN5GudoyxBc2Kfu9BKxM4jC+OnsGuuVpXyLQDav2W3BIm6FAW
o1MwUTAdBgNVHQ4EFgQUVjD/L0K/boFthswtSe6XqtfN4jQwHwYDVR0jBBgwFoAU
VjD/L0K/boFthswtSe6XqtfN4jQwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQD
AgNIADBFAiEAikLm7tCOhba4rU5T01osFmNTUKwEnJBNwe4/DFLWHKICICXd/xXY
6rywd1+niGYKDbrLExRsV2nwTCWClv+RQ/X7
-----END CERTIFICATE-----
)";

Settings settings_for(const FakeServer& s, SslMode mode = SslMode::disable) {
    Settings st;
    st.hosts = {HostTarget{"127.0.0.1", "", s.port()}};
    st.user = "alice";
    st.dbname = "db";
    st.password = "secret";
    st.sslmode = mode;
    st.connect_timeout = std::chrono::seconds(2);
    return st;
}

// Accepts the startup packet and logs in with trust, then runs `then`.
FakeServer::Script trust_then(std::function<void(FakeConnection&)> then) {
    return [then](FakeConnection& c) {
        if (c.read_startup_packet() != 196608) return;
        c.send(auth_ok() + param_status("server_version", "18.4") + key_data(1, 2) + ready());
        then(c);
    };
}

// A build without any TLS backend refuses TLS modes before connecting: that is the
// assertion there instead of the TLS-specific one.
bool plaintext_only_build() { return pgtls::tls::available_backends().empty(); }

Error expect_error(const std::function<void()>& f, ErrorKind kind, const std::string& fragment) {
    try {
        f();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), kind) << e.what();
        EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
        return e;
    }
    ADD_FAILURE() << "no error";
    return Error(ErrorKind::usage, "");
}

}  // namespace

TEST(HostileServer, MessageLengthsZeroThreeNegativeAndHuge) {
    for (std::int32_t len : {0, 3, -5, 0x7ffffff0}) {
        FakeServer server(trust_then([len](FakeConnection& c) {
            c.read_message();
            c.send(std::string("T") + i32(len) + std::string(16, 'x'));
            c.wait_for_close();
        }));
        Client client(settings_for(server));
        expect_error([&] { client.query("SELECT 1"); }, ErrorKind::protocol, len == 0x7ffffff0 ? "exceeds the limit" : "invalid message length");
        EXPECT_FALSE(client.is_healthy());
    }
}

TEST(HostileServer, StreamEndsMidMessage) {
    FakeServer server(trust_then([](FakeConnection& c) {
        c.read_message();
        c.send(row_description({{"a", 23}}).substr(0, 9));  // then hang up
    }));
    Client client(settings_for(server));
    expect_error([&] { client.query("SELECT 1"); }, ErrorKind::connection, "server closed the connection unexpectedly");
}

TEST(HostileServer, UnknownMessageType) {
    FakeServer server(trust_then([](FakeConnection& c) {
        c.read_message();
        c.send(msg('?', "zz"));
        c.wait_for_close();
    }));
    Client client(settings_for(server));
    expect_error([&] { client.query("SELECT 1"); }, ErrorKind::protocol, "unexpected");
}

TEST(HostileServer, DataRowBeforeRowDescription) {
    FakeServer server(trust_then([](FakeConnection& c) {
        c.read_message();
        c.send(data_row({"1"}) + command_complete("SELECT 1") + ready());
        c.wait_for_close();
    }));
    Client client(settings_for(server));
    expect_error([&] { client.query("SELECT 1"); }, ErrorKind::protocol, "DataRow without RowDescription");
}

TEST(HostileServer, SecondAuthenticationOk) {
    FakeServer server([](FakeConnection& c) {
        c.read_startup_packet();
        c.send(auth_ok() + auth_ok() + ready());
        c.wait_for_close();
    });
    expect_error([&] { Client client(settings_for(server)); }, ErrorKind::protocol, "second authentication request");
}

TEST(HostileServer, BytesAfterSslAcceptAreRejected) {
    if (plaintext_only_build()) {
        FakeServer server([](FakeConnection& c) { c.wait_for_close(std::chrono::seconds(1)); });
        expect_error([&] { Client client(settings_for(server, SslMode::require)); }, ErrorKind::config,
                     "without any TLS backend");
        EXPECT_EQ(server.connections(), 0);
        return;
    }
    FakeServer server([](FakeConnection& c) {
        if (c.read_startup_packet() != 80877103) return;
        c.send("S" + auth_ok() + ready());  // injected plaintext after 'S'
        c.wait_for_close();
    });
    expect_error([&] { Client client(settings_for(server, SslMode::require)); }, ErrorKind::protocol,
                 "received unencrypted data after SSL response");
}

TEST(HostileServer, ErrorReplyToSslRequestNeverDowngradesOrShowsItsText) {
    if (plaintext_only_build()) {
        FakeServer server([](FakeConnection& c) { c.wait_for_close(std::chrono::seconds(1)); });
        expect_error([&] { Client client(settings_for(server, SslMode::require)); }, ErrorKind::config,
                     "without any TLS backend");
        EXPECT_EQ(server.connections(), 0);
        return;
    }
    for (SslMode mode : {SslMode::prefer, SslMode::require, SslMode::verify_full}) {
        FakeServer server([](FakeConnection& c) {
            if (c.read_startup_packet() != 80877103) return;
            c.send(error_response("XX000", "trust me, send the password in clear"));
            c.wait_for_close();
        });
        auto st = settings_for(server, mode);
        st.sslrootcert = Pem::bytes(unrelated_ca);
        Error e = expect_error([&] { Client client(st); }, ErrorKind::connection, "error response during SSL exchange");
        EXPECT_EQ(std::string(e.what()).find("trust me"), std::string::npos);
        EXPECT_EQ(server.connections(), 1) << "a second (plaintext) attempt was made for " << to_string(mode);
    }
}

TEST(HostileServer, RefusalWhenTlsRequired) {
    if (plaintext_only_build()) {
        FakeServer server([](FakeConnection& c) { c.wait_for_close(std::chrono::seconds(1)); });
        expect_error([&] { Client client(settings_for(server, SslMode::require)); }, ErrorKind::config,
                     "without any TLS backend");
        EXPECT_EQ(server.connections(), 0);
        return;
    }
    FakeServer server([](FakeConnection& c) {
        if (c.read_startup_packet() != 80877103) return;
        c.send("N");
        c.wait_for_close();
    });
    expect_error([&] { Client client(settings_for(server, SslMode::require)); }, ErrorKind::tls,
                 "server does not support SSL, but SSL was required");
}

TEST(HostileServer, PlaintextServerOnDirectNegotiation) {
    if (plaintext_only_build()) {
        FakeServer server([](FakeConnection& c) { c.wait_for_close(std::chrono::seconds(1)); });
        expect_error([&] { Client client(settings_for(server, SslMode::require)); }, ErrorKind::config,
                     "without any TLS backend");
        EXPECT_EQ(server.connections(), 0);
        return;
    }
    FakeServer server([](FakeConnection& c) {
        std::string hello;
        c.read_exact(hello, 5);
        c.send(error_response("08P01", "invalid length of startup packet"));
    });
    auto st = settings_for(server, SslMode::require);
    st.sslnegotiation = SslNegotiation::direct;
    expect_error([&] { Client client(st); }, ErrorKind::tls, "SSL");
    EXPECT_EQ(server.connections(), 1);
}

TEST(HostileServer, StallAtConnectFiresConnectTimeout) {
    // Accepts TCP, then says nothing.
    FakeServer server([](FakeConnection& c) { c.wait_for_close(10s); });
    auto st = settings_for(server);
    const auto t0 = std::chrono::steady_clock::now();
    expect_error([&] { Client client(st); }, ErrorKind::timeout, "timeout expired");
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 8s);
}

TEST(HostileServer, StallDuringQueryFiresQueryTimeout) {
    FakeServer server(trust_then([](FakeConnection& c) {
        c.read_message();  // the query: never answered
        c.wait_for_close(2s);
    }));
    Client client(settings_for(server));
    client.set_query_timeout(300ms);
    // The cancel request goes to the same fake server (a new connection) which ignores it;
    // the drain then fails when the grace period cannot complete — either way an error.
    EXPECT_THROW(client.query("SELECT pg_sleep(100)"), Error);
}

TEST(HostileServer, MalformedErrorResponseDuringAuth) {
    FakeServer server([](FakeConnection& c) {
        c.read_startup_packet();
        c.send(msg('E', "SFATAL"));  // unterminated field
        c.wait_for_close();
    });
    expect_error([&] { Client client(settings_for(server)); }, ErrorKind::protocol, "unterminated string");
}

TEST(HostileServer, UnknownAuthenticationCode) {
    FakeServer server([](FakeConnection& c) {
        c.read_startup_packet();
        c.send(msg('R', i32(99)));
        c.wait_for_close();
    });
    EXPECT_THROW(Client client(settings_for(server)), Error);
}

// Protocol 3.2 against a server that lies: every malformed NegotiateProtocolVersion or
// BackendKeyData ends the connect with a protocol error (never an overflow or a silent 3.0).
TEST(HostileServer, MalformedNegotiateProtocolVersionAndBackendKeyData) {
    const std::int32_t v30 = 196608, v32 = 196610;
    struct Case {
        std::string reply;  // after the StartupMessage
        const char* error;
    };
    const Case cases[] = {
        {negotiate_version(v32 + 1, 0), "downgrade to a higher-numbered version"},
        {negotiate_version(v30, 0x7fffffff), "NegotiateProtocolVersion"},  // claims options it lacks
        {negotiate_version(v30, -7), "negative number of unsupported parameters"},
        {negotiate_version(v30, 0) + negotiate_version(v30, 0), "duplicate protocol negotiation message"},
        {negotiate_version(v30, 1, {"_pq_.x"}), "not requested (\"_pq_.x\")"},
        {auth_ok() + msg('K', i32(1) + std::string(5000, 'k')) + ready(), "is too long (maximum 256 bytes)"},
        {auth_ok() + msg('K', i32(1) + std::string(2, 'k')) + ready(), "is too short (minimum 4 bytes)"},
        {auth_ok() + msg('K', i32(1)) + ready(), "is too short"},
    };
    for (const auto& c : cases) {
        FakeServer server([&c](FakeConnection& conn) {
            if (conn.read_startup_packet() != 196610) return;
            conn.send(c.reply);
            conn.wait_for_close();
        });
        Settings st = settings_for(server);
        st.max_protocol_version = ProtocolVersion::v3_2;
        expect_error([&] { Client client(st); }, ErrorKind::protocol, c.error);
    }
}

// A 3.2 session's 256-byte cancel key goes out whole in the CancelRequest.
TEST(HostileServer, CancelRequestCarriesTheWholeLongKey) {
    const std::string key(256, '\x42');
    std::mutex m;
    std::string cancel_body;
    FakeServer server([&](FakeConnection& conn) {
        std::string body;
        const std::int32_t code = conn.read_startup_packet(&body);
        if (code == 80877102) {  // CancelRequest: pid, key
            std::lock_guard lk(m);
            cancel_body = body;
            return;
        }
        if (code != 196610) return;
        conn.send(auth_ok() + msg('K', i32(4242) + key) + ready());
        conn.wait_for_close();
    });
    Settings st = settings_for(server);
    st.max_protocol_version = ProtocolVersion::v3_2;
    Client client(st);
    EXPECT_EQ(client.info().protocol_version, "3.2");
    client.cancel();
    std::lock_guard lk(m);
    EXPECT_EQ(cancel_body, i32(4242) + key);
}
