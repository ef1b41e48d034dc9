// GSSAPI encryption in the connect policy, the startup and the cancel request, scripted: no
// socket, no Kerberos. The reference is libpq 15 (fe-connect.c, CONNECTION_GSS_STARTUP and
// pqsecure_open_gss): with gssencmode prefer or require and credentials, GSSENCRequest goes
// first; 'G' runs the GSSAPI handshake and then no TLS; 'N' goes on with the sslmode
// negotiation on the same socket (require fails); an error reply retries without GSSAPI; with
// prefer a failed handshake or a server error over GSSAPI encryption retries without it.
#include <gtest/gtest.h>

#include "crypto/builtin_crypto.hpp"
#include "protocol/cancel_flow.hpp"
#include "protocol/connect_flow.hpp"
#include "tls/tls_backend.hpp"
#include "scripted_io.hpp"

using namespace pgtls;
using namespace pgtls::test;
using protocol::Action;
using protocol::ConnectFlow;
using protocol::ConnectOptions;
using protocol::TlsStart;

namespace {

ConnectOptions options(GssEncMode gss, SslMode mode, bool credentials = true, std::string host = "db1") {
    ConnectOptions o;
    o.hosts.push_back(HostTarget{std::move(host), "", 5432});
    o.sslmode = mode;
    o.gssencmode = gss;
    o.gss_credentials = [credentials] { return credentials; };
    o.startup_options = [mode](const HostTarget& t, TlsStart how) {
        protocol::StartupOptions s;
        s.tls = how;
        s.tls_required = mode >= SslMode::require;
        s.sni = t.host;
        s.startup_params = {{"user", "alice"}, {"database", "db"}};
        s.auth.user = "alice";
        s.auth.crypto = &tls::builtin_crypto();
        s.auth.gss_host = t.host;
        s.auth.get_password = [] { return std::optional<std::string>("secret"); };
        return s;
    };
    return o;
}

struct Connect {
    TestWire w;
    ConnectFlow flow;
    explicit Connect(ConnectOptions o) : flow(std::move(o), w.wire) {}
};

std::string gssenc_request_bytes() { return i32(8) + i32(80877104); }
std::string ssl_request_bytes() { return i32(8) + i32(80877103); }
std::string startup_bytes() {
    return i32(4 + 4 + 5 + 6 + 9 + 3 + 1) + i32(196608) + cstr("user") + cstr("alice") + cstr("database") + cstr("db") +
           std::string(1, '\0');
}
std::string login() { return auth_ok() + param_status("server_version", "15.20") + key_data(7, 42) + ready('I'); }
std::string hba_refusal(std::string_view encryption) {
    return msg('E', std::string("SFATAL") + '\0' + "VFATAL" + '\0' + "C" + cstr("28000") + "M" +
                        cstr("no pg_hba.conf entry for host \"127.0.0.1\", user \"alice\", database \"db\", " +
                             std::string(encryption)) +
                        '\0');
}
protocol::TlsUp gss_up() {
    protocol::TlsUp up;
    up.info.protocol = "GSSAPI";
    return up;
}
protocol::TlsUp tls_up() {
    protocol::TlsUp up = ScriptedIo::default_tls_up();
    tls::PeerCertificate c;
    c.san_dns = {"db1"};
    up.peer = std::move(c);
    return up;
}

ScriptedIo& gss_login(ScriptedIo& s, const std::string& replies = login()) {
    return s.expect_open("db1")
        .expect_write(gssenc_request_bytes())
        .feed("G")
        .expect_tls(TlsStart::gss, gss_up())
        .expect_write(startup_bytes())
        .feed(replies);
}
ScriptedIo& tls_login(ScriptedIo& s) {
    return s.expect_open("db1")
        .expect_write(ssl_request_bytes())
        .feed("S")
        .expect_tls(TlsStart::ssl_request, tls_up())
        .expect_write(startup_bytes())
        .feed(login());
}

void expect_connected(const Action& end, const Connect& c, TlsStart how) {
    ASSERT_EQ(end.kind, Action::Kind::done);
    if (end.error) {
        try {
            std::rethrow_exception(end.error);
        } catch (const Error& e) {
            FAIL() << e.what();
        }
    }
    EXPECT_EQ(c.flow.tls(), how);
}

}  // namespace

TEST(GssNegotiation, PreferAndRequireTryGssapiEncryptionBeforeAnyTls) {
    for (GssEncMode gss : {GssEncMode::prefer, GssEncMode::require}) {
        for (SslMode mode : {SslMode::disable, SslMode::prefer, SslMode::require, SslMode::verify_full}) {
            SCOPED_TRACE(std::string(to_string(gss)) + " / " + to_string(mode));
            Connect c(options(gss, mode));
            ScriptedIo s;
            gss_login(s);
            expect_connected(s.run(c.flow, c.w), c, TlsStart::gss);
            EXPECT_EQ(c.flow.tls_up(), nullptr);  // no TLS, no certificate
            EXPECT_TRUE(c.flow.startup().gss_active());
        }
    }
}

TEST(GssNegotiation, DisableOrNoCredentialsGoStraightToTheSslmodeNegotiation) {
    for (auto [gss, creds] : {std::pair{GssEncMode::disable, true}, std::pair{GssEncMode::prefer, false}}) {
        Connect c(options(gss, SslMode::prefer, creds));
        ScriptedIo s;
        tls_login(s);
        expect_connected(s.run(c.flow, c.w), c, TlsStart::ssl_request);
    }
}

TEST(GssNegotiation, ARefusalGoesOnWithTheSslmodeNegotiationOnTheSameSocket) {
    Connect c(options(GssEncMode::prefer, SslMode::prefer));
    ScriptedIo s;
    s.expect_open("db1")
        .expect_write(gssenc_request_bytes())
        .feed("N")
        .expect_write(ssl_request_bytes())
        .feed("S")
        .expect_tls(TlsStart::ssl_request, tls_up())
        .expect_write(startup_bytes())
        .feed(login());
    expect_connected(s.run(c.flow, c.w), c, TlsStart::ssl_request);

    // ... and sslmode's own fallback (prefer: plaintext after a TLS failure) never asks for
    // GSSAPI again: libpq tries it once per host.
    Connect d(options(GssEncMode::prefer, SslMode::prefer));
    ScriptedIo r;
    r.expect_open("db1")
        .expect_write(gssenc_request_bytes())
        .feed("N")
        .expect_write(ssl_request_bytes())
        .feed("S")
        .fail(Action::Kind::start_tls, Error(ErrorKind::tls, ErrorCause::tls_handshake, "SSL error: handshake"))
        .expect_open("db1")
        .expect_write(startup_bytes())
        .feed(login());
    expect_connected(r.run(d.flow, d.w), d, TlsStart::none);
}

TEST(GssNegotiation, ARefusalBeforeDirectTlsOpensANewSocket) {
    // libpq 17+ (encryption_negotiation_failed): "an existing connection cannot be reused for
    // direct SSL" — a server that answered GSSENCRequest waits for a startup packet or an
    // SSLRequest, never a ClientHello, so the direct handshake needs a fresh connection.
    ConnectOptions o = options(GssEncMode::prefer, SslMode::require);
    o.negotiation = SslNegotiation::direct;
    Connect c(std::move(o));
    ScriptedIo s;
    s.expect_open("db1")
        .expect_write(gssenc_request_bytes())
        .feed("N")
        .expect_open("db1")
        .expect_tls(TlsStart::direct, [] {
            protocol::TlsUp up = tls_up();
            up.info.alpn = "postgresql";
            return up;
        }())
        .expect_write(startup_bytes())
        .feed(login());
    const auto result = s.run(c.flow, c.w);
    expect_connected(result, c, TlsStart::direct);
}

TEST(GssNegotiation, RequireFailsOnARefusalWithLibpqsText) {
    Connect c(options(GssEncMode::require, SslMode::prefer));
    ScriptedIo s;
    s.expect_open("db1").expect_write(gssenc_request_bytes()).feed("N");
    with_error(s.run(c.flow, c.w), [](const Error& e) {
        EXPECT_NE(std::string(e.what()).find("server doesn't support GSSAPI encryption, but it was required"),
                  std::string::npos)
            << e.what();
    });
}

TEST(GssNegotiation, RequireWithoutCredentialsOrOverAUnixSocketIsImpossible) {
    const std::string text =
        "GSSAPI encryption required but was impossible (possibly no credential cache, no server support, or using a "
        "local socket)";
    Connect none(options(GssEncMode::require, SslMode::prefer, false));
    ScriptedIo s;  // no socket is opened at all
    with_error(s.run(none.flow, none.w), [&](const Error& e) {
        EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
        ASSERT_EQ(e.attempts().size(), 1u);
    });
    Connect unix_socket(options(GssEncMode::require, SslMode::disable, true, "/var/run/postgresql"));
    ScriptedIo u;
    with_error(u.run(unix_socket.flow, unix_socket.w),
               [&](const Error& e) { EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what(); });
    // prefer over a Unix socket: plaintext, no GSSENCRequest.
    Connect p(options(GssEncMode::prefer, SslMode::prefer, true, "/var/run/postgresql"));
    ScriptedIo q;
    q.expect_open("/var/run/postgresql").expect_write(startup_bytes()).feed(login());
    expect_connected(q.run(p.flow, p.w), p, TlsStart::none);
}

TEST(GssNegotiation, AnErrorReplyRetriesWithoutGssapiOnANewSocket) {
    Connect c(options(GssEncMode::prefer, SslMode::prefer));
    ScriptedIo s;
    s.expect_open("db1").expect_write(gssenc_request_bytes()).feed("E");
    tls_login(s);
    expect_connected(s.run(c.flow, c.w), c, TlsStart::ssl_request);
    // require: the retry has no GSSAPI left to try.
    Connect r(options(GssEncMode::require, SslMode::prefer));
    ScriptedIo t;
    t.expect_open("db1").expect_write(gssenc_request_bytes()).feed("E");
    with_error(t.run(r.flow, r.w), [](const Error& e) {
        EXPECT_NE(std::string(e.what()).find("GSSAPI encryption required but was impossible"), std::string::npos);
    });
}

TEST(GssNegotiation, PreferRetriesAfterAFailedHandshakeOrAServerErrorOverGssapi) {
    const Error ctx_failure(ErrorKind::authentication, ErrorCause::auth_failed,
                            "could not initiate GSSAPI security context: Unspecified GSS failure");
    Connect c(options(GssEncMode::prefer, SslMode::prefer));
    ScriptedIo s;
    s.expect_open("db1").expect_write(gssenc_request_bytes()).feed("G").fail(Action::Kind::start_tls, ctx_failure);
    tls_login(s);
    expect_connected(s.run(c.flow, c.w), c, TlsStart::ssl_request);

    // A hostnogssenc-only server: the login over GSSAPI encryption is refused, TLS follows.
    Connect d(options(GssEncMode::prefer, SslMode::prefer));
    ScriptedIo r;
    gss_login(r, hba_refusal("GSS encryption"));
    tls_login(r);
    expect_connected(r.run(d.flow, d.w), d, TlsStart::ssl_request);
}

TEST(GssNegotiation, RequireNeverFallsBack) {
    Connect c(options(GssEncMode::require, SslMode::prefer));
    ScriptedIo s;
    gss_login(s, hba_refusal("GSS encryption"));
    with_error(s.run(c.flow, c.w), [](const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::authentication);
        EXPECT_NE(std::string(e.what()).find("GSS encryption"), std::string::npos);
        ASSERT_EQ(e.attempts().size(), 1u);
        EXPECT_EQ(e.attempts()[0].encryption, "gss");
    });
}

TEST(GssNegotiation, AnEstablishedGssapiConnectionLostDuringLoginIsNotRetried) {
    // libpq retries only on the server's ErrorResponse: a network fault gets no downgrade.
    Connect c(options(GssEncMode::prefer, SslMode::prefer));
    ScriptedIo s;
    s.expect_open("db1")
        .expect_write(gssenc_request_bytes())
        .feed("G")
        .expect_tls(TlsStart::gss, gss_up())
        .expect_write(startup_bytes())
        .fail(Action::Kind::read, Error(ErrorKind::connection, ErrorCause::connection_closed, "server closed"));
    with_error(s.run(c.flow, c.w), [](const Error& e) { EXPECT_EQ(e.cause(), ErrorCause::connection_closed); });
}

TEST(GssNegotiation, AnAnswerOtherThanGOrNIsAProtocolViolation) {
    for (GssEncMode gss : {GssEncMode::prefer, GssEncMode::require}) {
        Connect c(options(gss, SslMode::prefer));
        ScriptedIo s;
        s.expect_open("db1").expect_write(gssenc_request_bytes()).feed("X");
        with_error(s.run(c.flow, c.w), [](const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::protocol);
            EXPECT_NE(std::string(e.what()).find("received invalid response to GSSAPI negotiation: X"), std::string::npos)
                << e.what();
        });
    }
}

TEST(GssNegotiation, BytesAfterTheAcceptAreRefused) {
    // Sent before any protection: a man in the middle's (CVE-2021-23222, as for SSL).
    Connect c(options(GssEncMode::prefer, SslMode::prefer));
    ScriptedIo s;
    s.expect_open("db1").expect_write(gssenc_request_bytes()).feed("G" + auth_ok());
    with_error(s.run(c.flow, c.w), [](const Error& e) {
        EXPECT_NE(std::string(e.what()).find("received unencrypted data after GSSAPI encryption response"),
                  std::string::npos)
            << e.what();
    });
}

TEST(GssNegotiation, RequireAuthGssIsSatisfiedByGssapiEncryption) {
    // libpq 16+: the GSSAPI context of the encryption authenticated the client.
    ConnectOptions o = options(GssEncMode::require, SslMode::disable);
    auto base = o.startup_options;
    o.startup_options = [base](const HostTarget& t, TlsStart how) {
        auto s = base(t, how);
        s.auth.require_auth = "gss";
        return s;
    };
    Connect c(std::move(o));
    ScriptedIo s;
    gss_login(s);
    expect_connected(s.run(c.flow, c.w), c, TlsStart::gss);
    EXPECT_EQ(c.flow.startup().authenticator()->method_used(), "gss");
}

TEST(GssNegotiation, TheCancelRequestOfAGssapiSessionTravelsEncrypted) {
    protocol::CancelOptions o;
    o.target.host = "db1";
    o.target.hostaddr = "192.0.2.7";
    o.target.port = 5432;
    o.tls = TlsStart::gss;
    o.host = "db1";
    o.pid = 4242;
    o.secret = {1, 2, 3, 4};
    TestWire w;
    protocol::CancelFlow flow(o, w.wire);
    ScriptedIo s;
    s.expect_open("db1", "192.0.2.7")
        .expect_write(gssenc_request_bytes())
        .feed("G")
        .expect_tls(TlsStart::gss, gss_up())
        .expect_write(i32(16) + i32(80877102) + i32(4242) + std::string("\1\2\3\4", 4))
        .feed("");
    const std::size_t eof_at = s.steps();
    s.feed("");
    const Action end = s.run_with_fault(flow, w, eof_at, ScriptedIo::Fault::network_error);
    ASSERT_EQ(end.kind, Action::Kind::done);
    EXPECT_FALSE(end.error);

    // A server that will not encrypt never sees the key.
    TestWire w2;
    protocol::CancelFlow refused(o, w2.wire);
    ScriptedIo r;
    r.expect_open("db1", "192.0.2.7").expect_write(gssenc_request_bytes()).feed("N").expect_close();
    with_error(r.run(refused, w2), [](const Error& e) {
        EXPECT_NE(std::string(e.what()).find("server refused GSSAPI encryption for the cancel request"),
                  std::string::npos);
    });
}
