// ConnectFlow (libpq's whole connect policy as a sans-I/O algorithm) driven by scripted I/O:
// no socket, no TLS library, no clock. The reference for every expectation is libpq 15
// (fe-connect.c, PQconnectPoll); where pgtls differs on purpose the test says so.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "crypto/builtin_crypto.hpp"
#include "protocol/connect_flow.hpp"
#include "tls/tls_backend.hpp"
#include "scripted_io.hpp"

using namespace pgtls;
using namespace pgtls::test;
using protocol::Action;
using protocol::ConnectFlow;
using protocol::ConnectOptions;
using protocol::TlsStart;
using Kind = Action::Kind;

namespace {

ConnectOptions options(SslMode mode, std::vector<std::string> hosts = {"db1"}) {
    ConnectOptions o;
    for (auto& h : hosts) o.hosts.push_back(HostTarget{std::move(h), "", 5432});
    o.sslmode = mode;
    o.verify_full = mode == SslMode::verify_full;
    // As the drivers derive them (src/client/session_setup.cpp): 'N' is fatal from require up.
    o.startup_options = [mode](const HostTarget& t, TlsStart how) {
        protocol::StartupOptions s;
        s.tls = how;
        s.tls_required = mode >= SslMode::require;
        s.sni = t.host;
        s.startup_params = {{"user", "alice"}, {"database", "db"}};
        s.auth.user = "alice";
        s.auth.crypto = &tls::builtin_crypto();
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

std::string ssl_request_bytes() { return i32(8) + i32(80877103); }
std::string startup_bytes() {
    return i32(4 + 4 + 5 + 6 + 9 + 3 + 1) + i32(196608) + cstr("user") + cstr("alice") + cstr("database") + cstr("db") +
           std::string(1, '\0');
}
// A trust login; `params` are extra ParameterStatus messages (in_hot_standby, ...).
std::string login(const std::vector<std::pair<std::string, std::string>>& params = {}) {
    std::string s = auth_ok() + param_status("server_version", "15.20");
    for (const auto& [k, v] : params) s += param_status(k, v);
    return s + key_data(7, 42) + ready('I');
}
std::string fatal(std::string_view sqlstate, std::string_view message) {
    return msg('E', std::string("SFATAL") + '\0' + "VFATAL" + '\0' + "C" + cstr(sqlstate) + "M" + cstr(message) + '\0');
}
std::string hba_refusal(std::string_view encryption) {
    return fatal("28000", "no pg_hba.conf entry for host \"127.0.0.1\", user \"alice\", database \"db\", " +
                              std::string(encryption));
}
// What the transport reports for EOF and for a failed handshake.
Error eof() { return Error(ErrorKind::connection, ErrorCause::connection_closed, "server closed the connection unexpectedly"); }
Error handshake_failure() {
    return Error(ErrorKind::tls, ErrorCause::tls_handshake, "SSL error: certificate verify failed");
}
Error refused(std::string_view host) {
    return Error(ErrorKind::connection, ErrorCause::connect_failed,
                 "connection to server at \"" + std::string(host) + "\", port 5432 failed: Connection refused");
}

// The handshake's result; verify-full needs a certificate that names the host.
protocol::TlsUp tls_up_for(const std::string& host) {
    protocol::TlsUp up = ScriptedIo::default_tls_up();
    tls::PeerCertificate c;
    c.san_dns = {host};
    up.peer = std::move(c);
    return up;
}

// One host's classic TLS login (SSLRequest, 'S', handshake, StartupMessage, login).
ScriptedIo& tls_login(ScriptedIo& s, const std::string& host, const std::string& replies = login()) {
    return s.expect_open(host)
        .expect_write(ssl_request_bytes())
        .feed("S")
        .expect_tls(TlsStart::ssl_request, tls_up_for(host))
        .expect_write(startup_bytes())
        .feed(replies);
}
ScriptedIo& plain_login(ScriptedIo& s, const std::string& host, const std::string& replies = login()) {
    return s.expect_open(host).expect_write(startup_bytes()).feed(replies);
}

std::string prefix(std::string_view host = "db1") {
    return "connection to server at \"" + std::string(host) + "\", port 5432 failed: ";
}

void expect_connected(const Action& end, const Connect& c, TlsStart tls) {
    ASSERT_EQ(end.kind, Kind::done);
    ASSERT_FALSE(end.error);
    EXPECT_EQ(c.flow.tls(), tls);
    EXPECT_EQ(c.flow.tls_up() != nullptr, tls != TlsStart::none);
}

const SslMode kAllModes[] = {SslMode::disable, SslMode::allow,     SslMode::prefer,
                             SslMode::require, SslMode::verify_ca, SslMode::verify_full};

}  // namespace

// ---------------------------------------------------------------------------------------------
// sslmode x the server's answer to SSLRequest (classic negotiation, one host)

TEST(ConnectFlowSslmode, DisableAndAllowNeverSendAnSslRequestToAServerThatTakesPlaintext) {
    for (SslMode mode : {SslMode::disable, SslMode::allow}) {
        SCOPED_TRACE(to_string(mode));
        Connect c(options(mode));
        ScriptedIo s;
        plain_login(s, "db1");
        expect_connected(s.run(c.flow, c.w), c, TlsStart::none);
        EXPECT_EQ(c.flow.address(), "127.0.0.1");
    }
}

TEST(ConnectFlowSslmode, AnSAnswerStartsTlsForPreferAndStronger) {
    for (SslMode mode : {SslMode::prefer, SslMode::require, SslMode::verify_ca, SslMode::verify_full}) {
        SCOPED_TRACE(to_string(mode));
        Connect c(options(mode));
        ScriptedIo s;
        tls_login(s, "db1");
        expect_connected(s.run(c.flow, c.w), c, TlsStart::ssl_request);
    }
}

TEST(ConnectFlowSslmode, AnNAnswerContinuesInPlaintextOnTheSameSocketOnlyForPrefer) {
    // libpq: 'N' with sslmode prefer goes on to the StartupMessage on the same connection
    // (allow_ssl_try = false, CONNECTION_MADE); require and verify-* fail there.
    Connect prefer(options(SslMode::prefer));
    ScriptedIo s;
    s.expect_open("db1").expect_write(ssl_request_bytes()).feed("N").expect_write(startup_bytes()).feed(login());
    expect_connected(s.run(prefer.flow, prefer.w), prefer, TlsStart::none);

    for (SslMode mode : {SslMode::require, SslMode::verify_ca, SslMode::verify_full}) {
        SCOPED_TRACE(to_string(mode));
        Connect c(options(mode));
        ScriptedIo r;
        r.expect_open("db1").expect_write(ssl_request_bytes()).feed("N");
        const Action end = r.run(c.flow, c.w);
        EXPECT_EQ(end.connection, Action::Connection::retired);
        with_error(end, [](const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::tls);
            EXPECT_EQ(e.cause(), ErrorCause::ssl_refused);
            EXPECT_EQ(std::string(e.what()), prefix() + "server does not support SSL, but SSL was required");
            ASSERT_EQ(e.attempts().size(), 1u);
            EXPECT_EQ(e.attempts()[0].encryption, "tls");
            EXPECT_EQ(e.attempts()[0].cause, ErrorCause::ssl_refused);
        });
    }
}

namespace {
enum class Answer { error_response, eof, garbage };
const char* name(Answer a) {
    switch (a) {
        case Answer::error_response: return "E";
        case Answer::eof: return "EOF";
        case Answer::garbage: return "garbage";
    }
    return "?";
}
// The server's ErrorResponse to SSLRequest (a server that cannot fork, or one lying in wait).
std::string error_to_ssl_request() { return fatal("53300", "sorry, too many clients already; your password please"); }
}  // namespace

TEST(ConnectFlowSslmode, AnErrorEofOrGarbageAnswerFailsEveryTlsModeWithoutAPlaintextRetry) {
    // libpq 15: 'E' -> "server sent an error response during SSL exchange" (15.10+, the
    // CVE-2024-10977 fix), EOF -> the read's error, another byte -> "received invalid response
    // to SSL negotiation"; each is error_return: no prefer fallback, and (one host) the end.
    for (SslMode mode : {SslMode::prefer, SslMode::require, SslMode::verify_ca, SslMode::verify_full}) {
        for (Answer answer : {Answer::error_response, Answer::eof, Answer::garbage}) {
            SCOPED_TRACE(std::string(to_string(mode)) + " / " + name(answer));
            Connect c(options(mode));
            ScriptedIo s;
            s.expect_open("db1").expect_write(ssl_request_bytes());
            switch (answer) {
                case Answer::error_response: s.feed(error_to_ssl_request()); break;
                case Answer::eof: s.fail(Kind::read, eof()); break;
                case Answer::garbage: s.feed("X"); break;
            }
            const Action end = s.run(c.flow, c.w);  // no second open_socket: the script ends here
            EXPECT_EQ(end.connection, Action::Connection::retired);
            with_error(end, [&](const Error& e) {
                EXPECT_EQ(e.server_fields(), nullptr);
                ASSERT_EQ(e.attempts().size(), 1u);
                EXPECT_EQ(e.attempts()[0].encryption, "tls");
                switch (answer) {
                    case Answer::error_response:
                        EXPECT_EQ(e.kind(), ErrorKind::connection);
                        EXPECT_EQ(std::string(e.what()), prefix() + "server sent an error response during SSL exchange");
                        break;
                    case Answer::eof:
                        EXPECT_EQ(e.kind(), ErrorKind::connection);
                        EXPECT_EQ(e.cause(), ErrorCause::connection_closed);
                        EXPECT_EQ(std::string(e.what()), prefix() + "server closed the connection unexpectedly");
                        break;
                    case Answer::garbage:
                        EXPECT_EQ(e.kind(), ErrorKind::protocol);
                        EXPECT_EQ(e.cause(), ErrorCause::protocol_violation);
                        EXPECT_EQ(std::string(e.what()), prefix() + "received invalid response to SSL negotiation: X");
                        break;
                }
            });
        }
    }
}

TEST(ConnectFlowSslmode, ANonPrintableGarbageByteIsNamedByItsValue) {
    Connect c(options(SslMode::require));
    ScriptedIo s;
    s.expect_open("db1").expect_write(ssl_request_bytes()).feed(std::string(1, '\x01'));
    with_error(s.run(c.flow, c.w), [](const Error& e) {
        EXPECT_EQ(std::string(e.what()), prefix() + "received invalid response to SSL negotiation: byte 1");
    });
}

// ---------------------------------------------------------------------------------------------
// The fallbacks: allow (plaintext, then TLS) and prefer (TLS, then plaintext)

TEST(ConnectFlowFallback, AllowRetriesWithTlsWhenThePlaintextLoginIsRefused) {
    // libpq: an ErrorResponse while awaiting the authentication response with sslmode allow
    // and no TLS tried yet -> a new connection with SSL (e.g. a hostssl-only pg_hba line).
    Connect c(options(SslMode::allow));
    ScriptedIo s;
    plain_login(s, "db1", hba_refusal("no encryption"));
    tls_login(s, "db1");
    expect_connected(s.run(c.flow, c.w), c, TlsStart::ssl_request);
}

TEST(ConnectFlowFallback, AllowsTlsRetryStopsAtAnN) {
    // libpq 17+ (PostgreSQL 15's libpq went on in plaintext and logged in a second time with
    // the credentials just refused): allow's TLS retry is its last method, so an 'N' ends the
    // host. The caller sees the plaintext login's server error; the 'N' is the second attempt.
    Connect c(options(SslMode::allow));
    ScriptedIo s;
    plain_login(s, "db1", fatal("28P01", "password authentication failed for user \"u\""));
    s.expect_open("db1").expect_write(ssl_request_bytes()).feed("N");
    with_error(s.run(c.flow, c.w), [](const Error& e) {
        ASSERT_NE(e.server_fields(), nullptr);
        EXPECT_EQ(e.server_fields()->sqlstate, "28P01");
        EXPECT_EQ(e.kind(), ErrorKind::authentication);
        ASSERT_EQ(e.attempts().size(), 2u);
        EXPECT_EQ(e.attempts()[0].encryption, "plaintext");
        EXPECT_NE(e.attempts()[0].server, nullptr);
        EXPECT_EQ(e.attempts()[1].encryption, "tls");
        EXPECT_EQ(e.attempts()[1].server, nullptr);
        EXPECT_EQ(e.attempts()[1].message, "server does not support SSL, but SSL was required");
    });
}

TEST(ConnectFlowFallback, AllowDoesNotRetryAfterANetworkFaultOrAProtocolViolation) {
    // libpq retries allow only on an ErrorResponse; EOF and garbage are error_return.
    for (bool garbage : {false, true}) {
        Connect c(options(SslMode::allow));
        ScriptedIo s;
        s.expect_open("db1").expect_write(startup_bytes());
        if (garbage) {
            s.feed(msg('D', ""));
        } else {
            s.fail(Kind::read, eof());
        }
        with_error(s.run(c.flow, c.w), [&](const Error& e) {
            EXPECT_EQ(e.kind(), garbage ? ErrorKind::protocol : ErrorKind::connection);
            ASSERT_EQ(e.attempts().size(), 1u);
            EXPECT_EQ(e.attempts()[0].encryption, "plaintext");
        });
    }
}

TEST(ConnectFlowFallback, PreferRetriesInPlaintextWhenTheHandshakeFails) {
    // libpq: pqsecure_open_client failed with sslmode prefer -> one new connection without SSL.
    Connect c(options(SslMode::prefer));
    ScriptedIo s;
    s.expect_open("db1").expect_write(ssl_request_bytes()).feed("S").fail(Kind::start_tls, handshake_failure());
    plain_login(s, "db1");
    expect_connected(s.run(c.flow, c.w), c, TlsStart::none);
}

TEST(ConnectFlowFallback, PreferRetriesInPlaintextWhenTheServerRefusesTheTlsLogin) {
    // libpq: an ErrorResponse on the SSL connection with sslmode prefer (a hostnossl line).
    Connect c(options(SslMode::prefer));
    ScriptedIo s;
    tls_login(s, "db1", hba_refusal("SSL encryption"));
    plain_login(s, "db1");
    expect_connected(s.run(c.flow, c.w), c, TlsStart::none);
}

TEST(ConnectFlowFallback, PreferDoesNotRetryWhenTheTlsSessionIsLostOrTimesOut) {
    // After the handshake, EOF, a timeout or a protocol violation are no reason to downgrade:
    // a network attacker could provoke any of them.
    for (int fault = 0; fault < 3; ++fault) {
        SCOPED_TRACE(fault);
        Connect c(options(SslMode::prefer));
        ScriptedIo s;
        s.expect_open("db1").expect_write(ssl_request_bytes()).feed("S").expect_tls(TlsStart::ssl_request).expect_write(startup_bytes());
        if (fault == 0) s.fail(Kind::read, eof());
        if (fault == 1) s.time_out(Kind::read);
        if (fault == 2) s.feed(msg('D', ""));
        with_error(s.run(c.flow, c.w), [&](const Error& e) {
            EXPECT_EQ(e.kind(), fault == 0 ? ErrorKind::connection : fault == 1 ? ErrorKind::timeout : ErrorKind::protocol);
            ASSERT_EQ(e.attempts().size(), 1u);
            EXPECT_EQ(e.attempts()[0].encryption, "tls");
        });
    }
}

TEST(ConnectFlowFallback, PreferDoesNotRetryAfterAHandshakeTimeout) {
    // connect_timeout covers the host: its expiry moves on, never to a plaintext retry.
    Connect c(options(SslMode::prefer));
    ScriptedIo s;
    s.expect_open("db1").expect_write(ssl_request_bytes()).feed("S").time_out(Kind::start_tls);
    with_error(s.run(c.flow, c.w), [](const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::timeout);
        EXPECT_EQ(e.cause(), ErrorCause::connect_timeout);
        EXPECT_EQ(std::string(e.what()), prefix() + "timeout expired");
    });
}

TEST(ConnectFlowFallback, RequireAndStrongerNeverRetryInPlaintext) {
    for (SslMode mode : {SslMode::require, SslMode::verify_ca, SslMode::verify_full}) {
        SCOPED_TRACE(to_string(mode));
        for (bool server_refusal : {false, true}) {
            Connect c(options(mode));
            ScriptedIo s;
            if (server_refusal) {
                tls_login(s, "db1", hba_refusal("SSL encryption"));
            } else {
                s.expect_open("db1").expect_write(ssl_request_bytes()).feed("S").fail(Kind::start_tls, handshake_failure());
            }
            with_error(s.run(c.flow, c.w), [&](const Error& e) {
                ASSERT_EQ(e.attempts().size(), 1u);
                EXPECT_EQ(e.attempts()[0].encryption, "tls");
                EXPECT_EQ(e.server_fields() != nullptr, server_refusal);
            });
        }
    }
}

TEST(ConnectFlowFallback, BothAttemptsOfAFallbackAreListedInAttempts) {
    Connect c(options(SslMode::prefer));
    ScriptedIo s;
    tls_login(s, "db1", hba_refusal("SSL encryption"));
    plain_login(s, "db1", hba_refusal("no encryption"));
    with_error(s.run(c.flow, c.w), [](const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::authentication);
        ASSERT_NE(e.server_fields(), nullptr);  // one host: the server's fields are kept
        EXPECT_NE(std::string(e.what()).find("no encryption"), std::string::npos) << e.what();
        ASSERT_EQ(e.attempts().size(), 2u);
        EXPECT_EQ(e.attempts()[0].encryption, "tls");
        EXPECT_NE(e.attempts()[0].message.find("SSL encryption"), std::string::npos);
        ASSERT_TRUE(e.attempts()[0].server);
        EXPECT_EQ(e.attempts()[0].server->sqlstate, "28000");
        EXPECT_EQ(e.attempts()[1].encryption, "plaintext");
        EXPECT_EQ(e.attempts()[1].address, "127.0.0.1");
        EXPECT_EQ(e.attempts()[1].port, 5432);
    });
}

TEST(ConnectFlowFallback, AUnixSocketNeverUsesTlsWhateverSslmodeSays) {
    for (SslMode mode : kAllModes) {
        SCOPED_TRACE(to_string(mode));
        ConnectOptions o = options(mode, {"/run/postgresql"});
        Connect c(std::move(o));
        ScriptedIo s;
        plain_login(s, "/run/postgresql");
        expect_connected(s.run(c.flow, c.w), c, TlsStart::none);
    }
}

// ---------------------------------------------------------------------------------------------
// The CVE classes

TEST(ConnectFlowCve, BytesBufferedAfterTheSAreRefusedNeverReadAfterTheHandshake_CVE_2021_23222) {
    // A man in the middle appends a forged AuthenticationOk + ReadyForQuery to the 'S'. libpq
    // (14.1+) refuses what was buffered before the handshake: "received unencrypted data after
    // SSL response". Whatever the sslmode, nothing of it is processed, no handshake is even
    // started on that socket, and prefer does not fall back to plaintext for it.
    for (SslMode mode : {SslMode::prefer, SslMode::require, SslMode::verify_ca, SslMode::verify_full}) {
        SCOPED_TRACE(to_string(mode));
        Connect c(options(mode));
        ScriptedIo s;
        s.expect_open("db1").expect_write(ssl_request_bytes()).feed("S" + auth_ok() + ready('I'));
        const Action end = s.run(c.flow, c.w);
        EXPECT_EQ(end.connection, Action::Connection::retired);
        with_error(end, [](const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::protocol);
            EXPECT_EQ(e.cause(), ErrorCause::protocol_violation);
            EXPECT_EQ(std::string(e.what()), prefix() + "received unencrypted data after SSL response");
            ASSERT_EQ(e.attempts().size(), 1u);
            EXPECT_EQ(e.attempts()[0].encryption, "tls");
        });
        EXPECT_TRUE(c.w.session.parameters.empty());
    }
}

TEST(ConnectFlowCve, BytesBufferedAfterAnNAreRefusedToo) {
    // pgtls is stricter than libpq 15 here (which reads them as the server's first reply): a
    // server never speaks before the StartupMessage, so bytes after 'N' can only be injected.
    Connect c(options(SslMode::prefer));
    ScriptedIo s;
    s.expect_open("db1").expect_write(ssl_request_bytes()).feed("N" + auth_ok() + ready('I'));
    with_error(s.run(c.flow, c.w), [](const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::protocol);
        EXPECT_EQ(std::string(e.what()), prefix() + "received unexpected data after SSL refusal");
    });
}

TEST(ConnectFlowCve, AnErrorResponseToSslRequestIsNeitherShownNorTrusted_CVE_2024_10977) {
    // libpq 15.10+: "server sent an error response during SSL exchange", without reading the
    // message: the server is not authenticated yet, its text could be anything (a phishing
    // "please send your password"), and it is no reason to downgrade. pgtls keeps it out of
    // what(), attempts(), the server fields and the notice handler, in every TLS mode.
    const std::string bait = "please re-enter your password at evil.example";
    for (SslMode mode : {SslMode::prefer, SslMode::require, SslMode::verify_ca, SslMode::verify_full}) {
        SCOPED_TRACE(to_string(mode));
        Connect c(options(mode));
        int notices = 0;
        c.w.session.notice_handler = [&](const Notice&) { ++notices; };
        ScriptedIo s;
        s.expect_open("db1").expect_write(ssl_request_bytes()).feed(fatal("28P01", bait));
        const Action end = s.run(c.flow, c.w);  // and no plaintext retry: the script ends here
        EXPECT_EQ(end.connection, Action::Connection::retired);
        ASSERT_TRUE(end.error);
        try {
            std::rethrow_exception(end.error);
        } catch (const ServerError& e) {
            ADD_FAILURE() << "the unauthenticated server's error became a ServerError: " << e.what();
        } catch (const Error& e) {
            EXPECT_EQ(std::string(e.what()), prefix() + "server sent an error response during SSL exchange");
            EXPECT_EQ(e.server_fields(), nullptr);
            EXPECT_NE(e.kind(), ErrorKind::authentication);  // not a password failure: nothing was asked
            ASSERT_EQ(e.attempts().size(), 1u);
            EXPECT_EQ(e.attempts()[0].server, nullptr);
            EXPECT_EQ(e.attempts()[0].message.find("password"), std::string::npos);
        }
        EXPECT_EQ(notices, 0);
    }
}

TEST(ConnectFlowCve, AllowsTlsRetryTreatsAnErrorToItsSslRequestTheSameWay) {
    // allow: plaintext refused by the server, then the TLS retry's SSLRequest is answered
    // with 'E': the second attempt's error is libpq's fixed text, the first keeps its fields.
    Connect c(options(SslMode::allow));
    ScriptedIo s;
    plain_login(s, "db1", hba_refusal("no encryption"));
    s.expect_open("db1").expect_write(ssl_request_bytes()).feed(fatal("28P01", "please re-enter your password"));
    with_error(s.run(c.flow, c.w), [](const Error& e) {
        EXPECT_EQ(std::string(e.what()).find("re-enter"), std::string::npos) << e.what();
        ASSERT_EQ(e.attempts().size(), 2u);
        EXPECT_TRUE(e.attempts()[0].server);
        EXPECT_EQ(e.attempts()[1].server, nullptr);
        EXPECT_EQ(e.attempts()[1].message, "server sent an error response during SSL exchange");
    });
}

// ---------------------------------------------------------------------------------------------
// Direct negotiation (sslnegotiation=direct, PostgreSQL 17+)

namespace {
ConnectOptions direct(SslMode mode, std::vector<std::string> hosts = {"db1"}) {
    ConnectOptions o = options(mode, std::move(hosts));
    o.negotiation = SslNegotiation::direct;
    return o;
}
protocol::TlsUp with_alpn(std::string alpn) {
    protocol::TlsUp up = tls_up_for("db1");
    up.info.alpn = std::move(alpn);
    return up;
}
}  // namespace

TEST(ConnectFlowDirect, StartsTlsAtOnceAndConnectsWhenAlpnIsAgreed) {
    for (SslMode mode : {SslMode::require, SslMode::verify_ca, SslMode::verify_full}) {
        SCOPED_TRACE(to_string(mode));
        Connect c(direct(mode));
        ScriptedIo s;  // no SSLRequest: the handshake is the first thing on the socket
        s.expect_open("db1").expect_tls(TlsStart::direct, with_alpn("postgresql")).expect_write(startup_bytes()).feed(login());
        expect_connected(s.run(c.flow, c.w), c, TlsStart::direct);
        EXPECT_EQ(c.flow.tls_up()->info.alpn, "postgresql");
    }
}

TEST(ConnectFlowDirect, AHandshakeWithoutAlpnIsRefusedBeforeAnyByteIsSent) {
    // libpq 17: "direct SSL connection was established without ALPN protocol negotiation
    // extension"; the StartupMessage (user, database) never goes out.
    Connect c(direct(SslMode::require));
    ScriptedIo s;
    s.expect_open("db1").expect_tls(TlsStart::direct, with_alpn(""));
    const Action end = s.run(c.flow, c.w);
    EXPECT_EQ(end.connection, Action::Connection::retired);
    with_error(end, [](const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::tls);
        EXPECT_EQ(e.cause(), ErrorCause::tls_alpn);
        EXPECT_EQ(std::string(e.what()),
                  prefix() + "direct SSL connection was established without ALPN protocol negotiation extension");
    });
}

TEST(ConnectFlowDirect, AnotherAlpnProtocolIsRefusedWithDirectAndClassicNegotiation) {
    for (bool is_direct : {true, false}) {
        Connect c(is_direct ? direct(SslMode::require) : options(SslMode::require));
        ScriptedIo s;
        s.expect_open("db1");
        if (!is_direct) s.expect_write(ssl_request_bytes()).feed("S");
        s.expect_tls(is_direct ? TlsStart::direct : TlsStart::ssl_request, with_alpn("http/1.1"));
        with_error(s.run(c.flow, c.w), [](const Error& e) {
            EXPECT_EQ(e.cause(), ErrorCause::tls_alpn);
            EXPECT_EQ(std::string(e.what()), prefix() + "SSL connection was established with unexpected ALPN protocol \"http/1.1\"");
        });
    }
}

TEST(ConnectFlowDirect, ClassicNegotiationAcceptsAServerWithoutAlpn) {
    // Servers before 17 negotiate no ALPN; with SSLRequest that is fine.
    Connect c(options(SslMode::require));
    ScriptedIo s;
    s.expect_open("db1").expect_write(ssl_request_bytes()).feed("S").expect_tls(TlsStart::ssl_request, with_alpn(""));
    s.expect_write(startup_bytes()).feed(login());
    expect_connected(s.run(c.flow, c.w), c, TlsStart::ssl_request);
}

TEST(ConnectFlowDirect, AFailedDirectHandshakeNamesTheLikelyCauseAndIsNotRetried) {
    Connect c(direct(SslMode::require));
    ScriptedIo s;
    s.expect_open("db1").fail(Kind::start_tls, handshake_failure());
    with_error(s.run(c.flow, c.w), [](const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::tls);
        EXPECT_EQ(e.cause(), ErrorCause::tls_handshake);
        EXPECT_EQ(std::string(e.what()), prefix() + "SSL error: certificate verify failed (with sslnegotiation=direct the "
                                                    "server must be PostgreSQL 17 or later; older servers need "
                                                    "sslnegotiation=postgres)");
        ASSERT_EQ(e.attempts().size(), 1u);
    });
}

TEST(ConnectFlowDirect, VerifyFullChecksTheHostNameOnTheDirectHandshake) {
    Connect c(direct(SslMode::verify_full));
    ScriptedIo s;
    protocol::TlsUp up = with_alpn("postgresql");
    up.peer->san_dns = {"other.example"};
    s.expect_open("db1").expect_tls(TlsStart::direct, up);
    with_error(s.run(c.flow, c.w), [](const Error& e) {
        EXPECT_EQ(e.cause(), ErrorCause::tls_host_name);
        EXPECT_NE(std::string(e.what()).find("other.example"), std::string::npos) << e.what();
    });
}

TEST(ConnectFlowDirect, BelowRequireIsRefusedBeforeAnyConnectAsLibpqDoes) {
    // libpq 17 refuses sslnegotiation=direct with disable/allow/prefer when it parses the
    // options (a failed direct handshake must never fall back to plaintext); pgtls does it in
    // resolve(), so ConnectFlow is never built with such options. Without an sslmode, direct
    // means require: one attempt, TLS, no plaintext plan.
    const Environment no_env = [](const std::string&) { return std::optional<std::string>(); };
    for (const char* weak : {"disable", "allow", "prefer"}) {
        Config cfg;
        cfg.conninfo = std::string("host=db1 sslnegotiation=direct sslmode=") + weak;
        try {
            (void)resolve(cfg, no_env);
            ADD_FAILURE() << weak << " accepted with sslnegotiation=direct";
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::config);
            EXPECT_NE(std::string(e.what()).find("may not be used with sslnegotiation=direct"), std::string::npos) << e.what();
        }
    }
    Config cfg;
    cfg.conninfo = "host=db1 sslnegotiation=direct";
    const Settings s = resolve(cfg, no_env);
    EXPECT_EQ(s.sslmode, SslMode::require);
    Connect c(direct(s.sslmode));
    ScriptedIo script;
    script.expect_open("db1").fail(Kind::start_tls, handshake_failure());  // and nothing after it
    with_error(script.run(c.flow, c.w), [](const Error& e) { EXPECT_EQ(e.attempts().size(), 1u); });
}

// ---------------------------------------------------------------------------------------------
// Multi-host failover, target_session_attrs, load_balance_hosts, connect_timeout, attempts()

namespace {
ConnectOptions wanting(TargetSessionAttrs want, std::vector<std::string> hosts, SslMode mode = SslMode::disable) {
    ConnectOptions o = options(mode, std::move(hosts));
    o.target_session_attrs = want;
    return o;
}
// What a server reports at startup: PostgreSQL 14+ sends in_hot_standby and
// default_transaction_read_only as ParameterStatus; older servers send neither.
struct Server {
    bool standby = false;
    bool read_only = false;  // default_transaction_read_only (always on in effect on a standby)
    bool reports = true;
    std::string replies() const {
        if (!reports) return login();
        return login({{"default_transaction_read_only", read_only ? "on" : "off"}, {"in_hot_standby", standby ? "on" : "off"}});
    }
};
const Server kPrimary{false, false}, kReadOnlyPrimary{false, true}, kStandby{true, true};

std::string query_bytes(std::string_view sql) { return msg('Q', cstr(sql)); }
std::string one_value(std::string_view column, const char* value, std::string_view tag) {
    return row_description({{std::string(column), 25}}) + data_row({value}) + command_complete(tag) + ready('I');
}
// libpq 14+ asks a server that did not report what it needs: SHOW transaction_read_only for
// read-write / read-only, SELECT pg_catalog.pg_is_in_recovery() for primary / standby /
// prefer-standby.
void answer_check(ScriptedIo& s, TargetSessionAttrs want, const Server& srv) {
    if (srv.reports || want == TargetSessionAttrs::any) return;
    if (want == TargetSessionAttrs::read_write || want == TargetSessionAttrs::read_only) {
        s.expect_write(query_bytes("SHOW transaction_read_only"))
            .feed(one_value("transaction_read_only", srv.read_only || srv.standby ? "on" : "off", "SHOW"));
    } else {
        s.expect_write(query_bytes("SELECT pg_catalog.pg_is_in_recovery()"))
            .feed(one_value("pg_is_in_recovery", srv.standby ? "t" : "f", "SELECT 1"));
    }
}
bool accepts(TargetSessionAttrs want, const Server& srv) {
    switch (want) {
        case TargetSessionAttrs::any: return true;
        case TargetSessionAttrs::read_write: return !srv.read_only && !srv.standby;
        case TargetSessionAttrs::read_only: return srv.read_only || srv.standby;
        case TargetSessionAttrs::primary: return !srv.standby;
        case TargetSessionAttrs::standby:
        case TargetSessionAttrs::prefer_standby: return srv.standby;
    }
    return false;
}
std::string refusal(TargetSessionAttrs want, const Server& srv) {
    switch (want) {
        case TargetSessionAttrs::read_write: return "session is read-only";
        case TargetSessionAttrs::read_only: return "session is not read-only";
        case TargetSessionAttrs::primary: return "server is in hot standby mode";
        default: return srv.standby ? "" : "server is not in hot standby mode";
    }
}
const TargetSessionAttrs kAllAttrs[] = {TargetSessionAttrs::any,     TargetSessionAttrs::read_write,
                                        TargetSessionAttrs::read_only, TargetSessionAttrs::primary,
                                        TargetSessionAttrs::standby, TargetSessionAttrs::prefer_standby};
}  // namespace

TEST(ConnectFlowMultihost, ARefusedHostIsSkippedAndTheNextOneUsed) {
    Connect c(options(SslMode::disable, {"db1", "db2"}));
    ScriptedIo s;
    s.fail_open("db1", refused("db1"));
    plain_login(s, "db2");
    expect_connected(s.run(c.flow, c.w), c, TlsStart::none);
    EXPECT_EQ(c.flow.target().host, "db2");
}

TEST(ConnectFlowMultihost, AHostThatFailsAfterConnectingIsAlsoSkipped) {
    // pgtls moves on after any failure of a host, as it did before ConnectFlow. libpq 15 does
    // not: once a connection is made, an authentication failure, an 'N' with sslmode=require,
    // EOF or garbage end the whole connect (error_return; checked with psql 15.20). The
    // integration suite relies on this (Multihost.SslmodeFallbackAppliesPerHost).
    for (int failure = 0; failure < 3; ++failure) {
        SCOPED_TRACE(failure);
        Connect c(options(SslMode::require, {"db1", "db2"}));
        ScriptedIo s;
        if (failure == 0) tls_login(s, "db1", fatal("28P01", "password authentication failed for user \"alice\""));
        if (failure == 1) s.expect_open("db1").expect_write(ssl_request_bytes()).feed("N");
        if (failure == 2) s.expect_open("db1").expect_write(ssl_request_bytes()).fail(Kind::read, eof());
        tls_login(s, "db2");
        expect_connected(s.run(c.flow, c.w), c, TlsStart::ssl_request);
        EXPECT_EQ(c.flow.target().host, "db2");
    }
}

TEST(ConnectFlowMultihost, TargetSessionAttrsAgainstServersThatReportTheirState) {
    // PostgreSQL 14+: the ParameterStatus values decide, no query is sent.
    for (TargetSessionAttrs want : kAllAttrs) {
        for (const Server& srv : {kPrimary, kReadOnlyPrimary, kStandby}) {
            SCOPED_TRACE(std::string(to_string(want)) + " standby=" + std::to_string(srv.standby) +
                         " read_only=" + std::to_string(srv.read_only));
            Connect c(wanting(want, {"db1"}));
            ScriptedIo s;
            plain_login(s, "db1", srv.replies());
            if (accepts(want, srv)) {
                expect_connected(s.run(c.flow, c.w), c, TlsStart::none);
                continue;
            }
            s.expect_close();
            if (want == TargetSessionAttrs::prefer_standby) {  // second pass: any server will do
                plain_login(s, "db1", srv.replies());
                expect_connected(s.run(c.flow, c.w), c, TlsStart::none);
                continue;
            }
            with_error(s.run(c.flow, c.w), [&](const Error& e) {
                EXPECT_EQ(e.kind(), ErrorKind::connection);
                EXPECT_EQ(e.cause(), ErrorCause::session_attrs_mismatch);
                EXPECT_EQ(std::string(e.what()),
                          prefix() + refusal(want, srv) + " (target_session_attrs=" + to_string(want) + ")");
                ASSERT_EQ(e.attempts().size(), 1u);
                EXPECT_EQ(e.attempts()[0].cause, ErrorCause::session_attrs_mismatch);
            });
        }
    }
}

TEST(ConnectFlowMultihost, TargetSessionAttrsAsksServersThatDoNotReport) {
    // Servers before 14: libpq asks, with the query that answers the question (a read-only
    // primary is read-only but not in hot standby).
    for (TargetSessionAttrs want : kAllAttrs) {
        for (Server srv : {kPrimary, kReadOnlyPrimary, kStandby}) {
            srv.reports = false;
            SCOPED_TRACE(std::string(to_string(want)) + " standby=" + std::to_string(srv.standby) +
                         " read_only=" + std::to_string(srv.read_only));
            Connect c(wanting(want, {"db1"}));
            ScriptedIo s;
            plain_login(s, "db1", srv.replies());
            answer_check(s, want, srv);
            if (accepts(want, srv)) {
                expect_connected(s.run(c.flow, c.w), c, TlsStart::none);
                continue;
            }
            s.expect_close();
            if (want == TargetSessionAttrs::prefer_standby) {
                plain_login(s, "db1", srv.replies());  // the second pass checks nothing
                expect_connected(s.run(c.flow, c.w), c, TlsStart::none);
                continue;
            }
            with_error(s.run(c.flow, c.w), [&](const Error& e) {
                EXPECT_EQ(std::string(e.what()),
                          prefix() + refusal(want, srv) + " (target_session_attrs=" + to_string(want) + ")");
            });
        }
    }
}

TEST(ConnectFlowMultihost, TargetSessionAttrsWithOnlyInHotStandbyReported) {
    // A server (or pooler) that reports in_hot_standby but not default_transaction_read_only:
    // primary/standby are decided by the report alone; read-write/read-only ask (libpq).
    for (TargetSessionAttrs want : kAllAttrs) {
        for (bool standby : {false, true}) {
            SCOPED_TRACE(std::string(to_string(want)) + " standby=" + std::to_string(standby));
            Connect c(wanting(want, {"db1"}));
            ScriptedIo s;
            plain_login(s, "db1", login({{"in_hot_standby", standby ? "on" : "off"}}));
            const bool asks_read_only = want == TargetSessionAttrs::read_write || want == TargetSessionAttrs::read_only;
            if (asks_read_only && !standby)
                s.expect_write(query_bytes("SHOW transaction_read_only"))
                    .feed(one_value("transaction_read_only", "off", "SHOW"));
            const Server srv{standby, standby};
            if (accepts(want, srv)) {
                expect_connected(s.run(c.flow, c.w), c, TlsStart::none);
                continue;
            }
            s.expect_close();
            if (want == TargetSessionAttrs::prefer_standby) {
                plain_login(s, "db1", login({{"in_hot_standby", "off"}}));
                expect_connected(s.run(c.flow, c.w), c, TlsStart::none);
                continue;
            }
            with_error(s.run(c.flow, c.w), [&](const Error& e) {
                EXPECT_EQ(std::string(e.what()),
                          prefix() + refusal(want, srv) + " (target_session_attrs=" + to_string(want) + ")");
            });
        }
    }
}

TEST(ConnectFlowMultihost, TargetSessionAttrsPicksTheRightHostInEitherOrder) {
    for (bool standby_first : {false, true}) {
        for (TargetSessionAttrs want : {TargetSessionAttrs::read_write, TargetSessionAttrs::primary,
                                        TargetSessionAttrs::standby, TargetSessionAttrs::read_only,
                                        TargetSessionAttrs::prefer_standby}) {
            SCOPED_TRACE(std::string(to_string(want)) + (standby_first ? " standby first" : " primary first"));
            const Server& first = standby_first ? kStandby : kPrimary;
            const Server& second = standby_first ? kPrimary : kStandby;
            Connect c(wanting(want, {"db1", "db2"}));
            ScriptedIo s;
            plain_login(s, "db1", first.replies());
            if (accepts(want, first)) {
                expect_connected(s.run(c.flow, c.w), c, TlsStart::none);
                EXPECT_EQ(c.flow.target().host, "db1");
                continue;
            }
            s.expect_close();
            plain_login(s, "db2", second.replies());
            expect_connected(s.run(c.flow, c.w), c, TlsStart::none);
            EXPECT_EQ(c.flow.target().host, "db2");
        }
    }
}

TEST(ConnectFlowMultihost, PreferStandbyTakesAPrimaryOnlyInItsSecondPass) {
    // libpq: no standby among the hosts -> start over from the first host accepting any
    // server; a host that was down in the first pass is tried again.
    Connect c(wanting(TargetSessionAttrs::prefer_standby, {"db1", "db2"}));
    ScriptedIo s;
    s.fail_open("db1", refused("db1"));
    plain_login(s, "db2", kPrimary.replies()).expect_close();
    plain_login(s, "db1", kReadOnlyPrimary.replies());  // second pass: db1 is back, and any server will do
    expect_connected(s.run(c.flow, c.w), c, TlsStart::none);
    EXPECT_EQ(c.flow.target().host, "db1");
}

TEST(ConnectFlowMultihost, PreferStandbyWithNoHostReachableListsBothPasses) {
    Connect c(wanting(TargetSessionAttrs::prefer_standby, {"db1", "db2"}));
    ScriptedIo s;
    s.fail_open("db1", refused("db1")).fail_open("db2", refused("db2")).fail_open("db1", refused("db1")).fail_open("db2", refused("db2"));
    with_error(s.run(c.flow, c.w), [](const Error& e) {
        EXPECT_EQ(e.attempts().size(), 4u);
        EXPECT_EQ(e.server_fields(), nullptr);
    });
}

TEST(ConnectFlowMultihost, AFailingCheckQueryMovesToTheNextHostWithoutATlsDowngrade) {
    // libpq: "SHOW transaction_read_only" failing -> the next host, never a plaintext retry of
    // the same host (the prefer fallback is for the login, not for a logged-in session).
    Connect c(wanting(TargetSessionAttrs::read_write, {"db1", "db2"}, SslMode::prefer));
    ScriptedIo s;
    tls_login(s, "db1");  // reports nothing: asked
    s.expect_write(query_bytes("SHOW transaction_read_only"))
        .feed(error_response("42704", "unrecognized configuration parameter \"transaction_read_only\"") + ready('I'));
    tls_login(s, "db2", kPrimary.replies());
    expect_connected(s.run(c.flow, c.w), c, TlsStart::ssl_request);
    EXPECT_EQ(c.flow.target().host, "db2");
}

namespace {
// The hosts a connect opens sockets to, in order, when every connect is refused.
std::vector<std::string> open_order(ConnectOptions o) {
    TestWire w;
    ConnectFlow flow(std::move(o), w.wire);
    std::vector<std::string> order;
    Action a = flow.resume(protocol::Event::start());
    while (a.kind == Kind::open_socket) {
        order.push_back(a.target->host);
        const Error e = refused(a.target->host);
        a = flow.resume(protocol::Event::failed(e));
    }
    EXPECT_EQ(a.kind, Kind::done);
    return order;
}
}  // namespace

TEST(ConnectFlowMultihost, LoadBalanceRandomIsASeededShuffleOfTheHostList) {
    const std::vector<std::string> hosts = {"h1", "h2", "h3", "h4", "h5", "h6"};
    EXPECT_EQ(open_order(options(SslMode::disable, hosts)), hosts);  // load_balance_hosts=disable
    std::set<std::vector<std::string>> orders;
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
        ConnectOptions o = options(SslMode::disable, hosts);
        o.shuffle_hosts = true;
        o.seed = seed;
        ConnectOptions again = o;
        const auto order = open_order(std::move(o));
        EXPECT_EQ(open_order(std::move(again)), order) << "seed " << seed << ": the same seed, the same order";
        auto sorted = order;
        std::sort(sorted.begin(), sorted.end());
        EXPECT_EQ(sorted, hosts) << "seed " << seed << ": every host exactly once";
        orders.insert(order);
    }
    EXPECT_GT(orders.size(), 10u) << "20 seeds should give many different orders of 6 hosts";
}

TEST(ConnectFlowMultihost, ConnectTimeoutIsArmedPerHostAndCoversItsFallback) {
    ConnectOptions o = options(SslMode::prefer, {"db1", "db2"});
    o.connect_timeout = std::chrono::seconds(5);
    TestWire w;
    ConnectFlow flow(std::move(o), w.wire);
    Action a = flow.resume(protocol::Event::start());
    ASSERT_EQ(a.kind, Kind::open_socket);
    EXPECT_EQ(a.target->host, "db1");
    EXPECT_EQ(a.timer.kind, protocol::Timer::Kind::set);
    EXPECT_EQ(a.timer.after, std::chrono::seconds(5));

    // db1: TLS handshake fails -> the plaintext retry runs within the same host's timer.
    protocol::Event opened = protocol::Event::of(protocol::Event::Kind::socket_open);
    opened.address = "10.0.0.1";
    a = flow.resume(opened);
    ASSERT_EQ(a.kind, Kind::write);
    w.out.clear();
    w.in.feed(bytes("S"));
    a = flow.resume(protocol::Event::of(protocol::Event::Kind::read));
    ASSERT_EQ(a.kind, Kind::start_tls);
    const Error hs = handshake_failure();
    a = flow.resume(protocol::Event::failed(hs));
    ASSERT_EQ(a.kind, Kind::open_socket);
    EXPECT_EQ(a.target->host, "db1");
    EXPECT_EQ(a.timer.kind, protocol::Timer::Kind::keep);

    // The timer expires: db1 is given up (no further fallback), db2 gets a timer of its own.
    a = flow.resume(protocol::Event::of(protocol::Event::Kind::timeout));
    ASSERT_EQ(a.kind, Kind::open_socket);
    EXPECT_EQ(a.target->host, "db2");
    EXPECT_EQ(a.timer.kind, protocol::Timer::Kind::set);
    EXPECT_EQ(a.timer.after, std::chrono::seconds(5));
    a = flow.resume(protocol::Event::of(protocol::Event::Kind::timeout));
    ASSERT_EQ(a.kind, Kind::done);
    with_error(a, [](const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::timeout);
        EXPECT_EQ(e.cause(), ErrorCause::connect_timeout);
        EXPECT_EQ(std::string(e.what()), prefix("db1") + "timeout expired\n" + prefix("db2") + "timeout expired");
        ASSERT_EQ(e.attempts().size(), 3u);  // db1 TLS (handshake), db1 plaintext (timeout), db2
        EXPECT_EQ(e.attempts()[0].cause, ErrorCause::tls_handshake);
        EXPECT_EQ(e.attempts()[1].cause, ErrorCause::connect_timeout);
        EXPECT_EQ(e.attempts()[2].cause, ErrorCause::connect_timeout);
    });
}

TEST(ConnectFlowMultihost, ConnectTimeoutBelowTwoSecondsIsRaisedToTwoAndZeroMeansNone) {
    // libpq: "It is not recommended to use a timeout of less than 2 seconds" -> it raises it.
    for (auto [given, armed] : {std::pair{std::chrono::milliseconds(1000), std::chrono::milliseconds(2000)},
                                std::pair{std::chrono::milliseconds(0), std::chrono::milliseconds(0)}}) {
        ConnectOptions o = options(SslMode::disable);
        o.connect_timeout = given;
        TestWire w;
        ConnectFlow flow(std::move(o), w.wire);
        const Action a = flow.resume(protocol::Event::start());
        ASSERT_EQ(a.kind, Kind::open_socket);
        if (armed.count() == 0) {
            EXPECT_EQ(a.timer.kind, protocol::Timer::Kind::clear);
        } else {
            EXPECT_EQ(a.timer.kind, protocol::Timer::Kind::set);
            EXPECT_EQ(a.timer.after, armed);
        }
    }
}

TEST(ConnectFlowMultihost, AttemptsListEveryHostWithWhatHappenedThere) {
    Connect c(options(SslMode::require, {"db1", "db2", "db3"}));
    ScriptedIo s;
    s.fail_open("db1", refused("db1"));
    tls_login(s, "db2", fatal("28P01", "password authentication failed for user \"alice\""));
    s.expect_open("db3", "10.0.0.3").expect_write(ssl_request_bytes()).time_out(Kind::read);
    with_error(s.run(c.flow, c.w), [](const Error& e) {
        // Several hosts: the server's error is one line among others, not a ServerError.
        EXPECT_EQ(e.server_fields(), nullptr);
        EXPECT_EQ(e.kind(), ErrorKind::timeout);  // the last attempt's
        EXPECT_EQ(std::string(e.what()),
                  "connection to server at \"db1\", port 5432 failed: Connection refused\n" + prefix("db2") +
                      "FATAL:  password authentication failed for user \"alice\"\n" + prefix("db3") + "timeout expired");
        const auto& at = e.attempts();
        ASSERT_EQ(at.size(), 3u);
        EXPECT_EQ(at[0].host, "db1");
        EXPECT_EQ(at[0].address, "");  // never reached
        EXPECT_EQ(at[0].cause, ErrorCause::connect_failed);
        EXPECT_EQ(at[1].host, "db2");
        EXPECT_EQ(at[1].address, "127.0.0.1");
        EXPECT_EQ(at[1].encryption, "tls");
        EXPECT_EQ(at[1].kind, ErrorKind::authentication);
        EXPECT_EQ(at[1].cause, ErrorCause::auth_failed);
        ASSERT_TRUE(at[1].server);
        EXPECT_EQ(at[1].server->sqlstate, "28P01");
        EXPECT_EQ(at[2].host, "db3");
        EXPECT_EQ(at[2].address, "10.0.0.3");
        EXPECT_EQ(at[2].port, 5432);
        EXPECT_EQ(at[2].kind, ErrorKind::timeout);
        EXPECT_EQ(at[2].message, "timeout expired");
    });
}

TEST(ConnectFlowMultihost, NoHostIsAConfigError) {
    Connect c(options(SslMode::prefer, {}));
    with_error(c.flow.resume(protocol::Event::start()), [](const Error& e) { EXPECT_EQ(e.kind(), ErrorKind::config); });
}

// ---------------------------------------------------------------------------------------------
// A fault at every step

namespace {
ScriptedIo::Fault kFaults[] = {ScriptedIo::Fault::network_error, ScriptedIo::Fault::timeout, ScriptedIo::Fault::malformed};

void expect_fault_error(const FaultRun& run) {
    EXPECT_EQ(run.end.connection, Action::Connection::retired);
    try {
        std::rethrow_exception(run.end.error);
    } catch (const Error& e) {
        switch (run.fault) {
            case ScriptedIo::Fault::network_error: EXPECT_EQ(e.kind(), ErrorKind::connection) << e.what(); break;
            case ScriptedIo::Fault::timeout:
                EXPECT_EQ(e.kind(), ErrorKind::timeout) << e.what();
                EXPECT_EQ(e.cause(), ErrorCause::connect_timeout);
                break;
            case ScriptedIo::Fault::malformed: EXPECT_EQ(e.kind(), ErrorKind::protocol) << e.what(); break;
        }
        EXPECT_FALSE(e.attempts().empty());
        EXPECT_EQ(std::string(e.what()).rfind("connection to server at \"db1\"", 0), 0u) << e.what();
    } catch (...) {
        ADD_FAILURE() << "not a pgtls::Error";
    }
}
}  // namespace

TEST(ConnectFlowFaults, EveryFaultOfAGoodConnectEndsWithACleanError) {
    struct Case {
        const char* name;
        ConnectOptions options;
        ScriptedIo script;
    };
    std::vector<Case> cases;
    {
        ScriptedIo s;
        plain_login(s, "db1");
        cases.push_back({"disable", options(SslMode::disable), s});
    }
    for (SslMode mode : {SslMode::prefer, SslMode::require, SslMode::verify_full}) {
        ScriptedIo s;
        s.expect_open("db1").expect_write(ssl_request_bytes()).feed("S").expect_tls(TlsStart::ssl_request, tls_up_for("db1"));
        // The login one message per read, so a fault can land between any two of them.
        s.expect_write(startup_bytes()).feed(auth_ok()).feed(param_status("server_version", "13.9")).feed(key_data(7, 42)).feed(ready('I'));
        cases.push_back({to_string(mode), options(mode), s});
    }
    {
        ScriptedIo s;
        s.expect_open("db1").expect_tls(TlsStart::direct, with_alpn("postgresql")).expect_write(startup_bytes()).feed(login());
        cases.push_back({"direct", direct(SslMode::require), s});
    }
    {
        // An old server asked about read-write over a prefer TLS session.
        ScriptedIo s;
        tls_login(s, "db1");
        s.expect_write(query_bytes("SHOW transaction_read_only")).feed(one_value("transaction_read_only", "off", "SHOW"));
        cases.push_back({"prefer read-write", wanting(TargetSessionAttrs::read_write, {"db1"}, SslMode::prefer), s});
    }
    for (auto& c : cases) {
        SCOPED_TRACE(c.name);
        {
            Connect good(c.options);  // the script itself connects
            const Action end = c.script.run(good.flow, good.w);
            EXPECT_EQ(end.kind, Kind::done);
            EXPECT_FALSE(end.error);
        }
        for_every_fault(
            c.script, [&](TestWire& w) { return std::make_unique<ConnectFlow>(c.options, w.wire); },
            [](const FaultRun& run, TestWire&) {
                expect_fault_error(run);
                if (run.fault == ScriptedIo::Fault::timeout) {
                    try {
                        std::rethrow_exception(run.end.error);
                    } catch (const Error& e) {
                        EXPECT_EQ(e.what(), prefix() + "timeout expired");
                    }
                }
            });
    }
}

namespace {
// A server that follows whatever the client asks, answering an SSLRequest with `ssl_answer`
// and a StartupMessage with a login, and that injects `fault` at action number `at` (none when
// `at` is past the end). After the fault it answers 'N' to every SSLRequest: it does its best
// to talk the client into plaintext. Returns the final action; `actions` counts them.
struct FaultWorld {
    std::size_t at = SIZE_MAX;
    ScriptedIo::Fault fault = ScriptedIo::Fault::network_error;
    std::size_t actions = 0;
    Action::Kind faulted_action = Kind::done;

    Action run(ConnectFlow& flow, TestWire& w) {
        const Error net = eof();
        const protocol::TlsUp up = tls_up_for("db1");
        bool ssl_request_sent = false, faulted = false;
        Action a = flow.resume(protocol::Event::start());
        for (; a.kind != Kind::done && actions < 200; ++actions) {
            if (actions == at) {
                faulted = true;
                faulted_action = a.kind;
                // Only a read can bring a malformed message: elsewhere it is a network error.
                if (fault == ScriptedIo::Fault::malformed && a.kind != Kind::read) fault = ScriptedIo::Fault::network_error;
                if (fault == ScriptedIo::Fault::malformed && a.kind == Kind::read) {
                    w.in.feed(bytes(ScriptedIo::malformed_message()));
                    a = flow.resume(protocol::Event::of(protocol::Event::Kind::read));
                } else if (fault == ScriptedIo::Fault::timeout) {
                    a = flow.resume(protocol::Event::of(protocol::Event::Kind::timeout));
                } else {
                    w.out.clear();
                    a = flow.resume(protocol::Event::failed(net));
                }
                continue;
            }
            switch (a.kind) {
                case Kind::open_socket: {
                    protocol::Event e = protocol::Event::of(protocol::Event::Kind::socket_open);
                    e.address = "127.0.0.1";
                    a = flow.resume(e);
                    break;
                }
                case Kind::write:
                case Kind::write_draining:
                    ssl_request_sent = w.out == ssl_request_bytes();
                    w.out.clear();
                    a = flow.resume(protocol::Event::of(protocol::Event::Kind::written));
                    break;
                case Kind::read:
                    w.in.feed(bytes(ssl_request_sent ? std::string(faulted ? "N" : "S") : login()));
                    ssl_request_sent = false;
                    a = flow.resume(protocol::Event::of(protocol::Event::Kind::read));
                    break;
                case Kind::start_tls: {
                    protocol::Event e = protocol::Event::of(protocol::Event::Kind::tls_up);
                    e.tls = &up;
                    a = flow.resume(e);
                    break;
                }
                case Kind::close: a = flow.resume(protocol::Event::of(protocol::Event::Kind::closed)); break;
                default: ADD_FAILURE() << "unexpected action"; return a;
            }
        }
        EXPECT_EQ(a.kind, Kind::done) << "no end after " << actions << " actions";
        return a;
    }
};
}  // namespace

TEST(ConnectFlowFaults, NoFaultAtAnyStepEverEndsInPlaintextWhenTlsIsRequired) {
    for (bool is_direct : {false, true}) {
        for (SslMode mode : {SslMode::prefer, SslMode::require, SslMode::verify_ca, SslMode::verify_full}) {
            if (is_direct && mode == SslMode::prefer) continue;  // refused by resolve()
            SCOPED_TRACE(std::string(to_string(mode)) + (is_direct ? " direct" : " classic"));
            const ConnectOptions o = is_direct ? direct(mode, {"db1", "db2"}) : options(mode, {"db1", "db2"});
            std::size_t steps = 0;
            {
                TestWire w;
                ConnectFlow flow(o, w.wire);
                FaultWorld clean;
                ASSERT_FALSE(clean.run(flow, w).error);
                EXPECT_NE(flow.tls(), TlsStart::none);
                steps = clean.actions;
            }
            for (std::size_t at = 0; at < steps; ++at) {
                for (auto fault : kFaults) {
                    SCOPED_TRACE("fault " + std::to_string(static_cast<int>(fault)) + " at action " + std::to_string(at));
                    TestWire w;
                    ConnectFlow flow(o, w.wire);
                    FaultWorld world{at, fault};
                    const Action end = world.run(flow, w);
                    if (end.error) {
                        EXPECT_EQ(end.connection, Action::Connection::retired);
                        continue;
                    }
                    if (flow.tls() != TlsStart::none) continue;  // recovered on another host, with TLS
                    // Plaintext: only prefer (on db2 the world answers 'N'), and on the faulted host
                    // only after the handshake itself failed (libpq's rule); never after a timeout,
                    // a malformed message or a lost TLS session.
                    EXPECT_EQ(mode, SslMode::prefer) << "a downgrade to plaintext with sslmode>=require";
                    if (flow.target().host == "db1") {
                        EXPECT_EQ(world.faulted_action, Kind::start_tls);
                        EXPECT_EQ(world.fault, ScriptedIo::Fault::network_error);
                    }
                }
            }
        }
    }
}
