// StartupFlow in the Algorithm shape, driven by scripted I/O: the SSL negotiation answers
// (S/N/E/garbage/extra bytes/EOF), TLS and plaintext logins, errors during authentication,
// and a fault at every step. No socket, no TLS library, no clock.
#include <gtest/gtest.h>

#include "crypto/builtin_crypto.hpp"
#include "protocol/startup_flow.hpp"
#include "tls/tls_backend.hpp"
#include "scripted_io.hpp"

using namespace pgtls;
using namespace pgtls::test;
using protocol::Action;
using protocol::TlsStart;

namespace {

protocol::StartupOptions options(TlsStart tls, bool required = false) {
    protocol::StartupOptions o;
    o.tls = tls;
    o.tls_required = required;
    o.sni = "db.example";
    o.startup_params = {{"user", "alice"}, {"database", "db"}};
    o.auth.user = "alice";
    o.auth.crypto = &tls::builtin_crypto();
    o.auth.get_password = [] { return std::optional<std::string>("secret"); };
    return o;
}

std::string ssl_request_bytes() { return i32(8) + i32(80877103); }
std::string startup_bytes() {
    return i32(4 + 4 + 5 + 6 + 9 + 3 + 1) + i32(196608) + cstr("user") + cstr("alice") + cstr("database") + cstr("db") +
           std::string(1, '\0');
}
std::string login_replies() { return auth_ok() + param_status("server_version", "18.4") + key_data(7, 42) + ready('I'); }

struct Startup {
    TestWire w;
    protocol::StartupFlow flow;
    explicit Startup(protocol::StartupOptions o) : flow(std::move(o), w.wire) {}
};


}  // namespace

TEST(StartupAlgorithm, PlaintextLoginEndsReadyWithTheConnectionKept) {
    Startup r(options(TlsStart::none));
    ScriptedIo s;
    s.expect_write(startup_bytes()).feed(login_replies());
    const Action end = s.run(r.flow, r.w);
    EXPECT_FALSE(end.error);
    EXPECT_EQ(end.connection, Action::Connection::kept);
    EXPECT_EQ(r.flow.backend_key().pid, 7);
    EXPECT_EQ(r.w.session.parameters.at("server_version"), "18.4");
    EXPECT_FALSE(r.flow.tls_active());
}

TEST(StartupAlgorithm, SslRequestAcceptedAsksForTlsWithTheServerName) {
    Startup r(options(TlsStart::ssl_request, true));
    ScriptedIo s;
    s.expect_write(ssl_request_bytes()).feed("S").expect_tls(TlsStart::ssl_request).expect_write(startup_bytes()).feed(login_replies());
    EXPECT_FALSE(s.run(r.flow, r.w).error);
    EXPECT_TRUE(r.flow.tls_active());

    Startup again(options(TlsStart::ssl_request, true));
    Action a = again.flow.resume(protocol::Event::start());
    ASSERT_EQ(a.kind, Action::Kind::write);
    again.w.out.clear();
    again.w.in.feed(bytes("S"));
    a = again.flow.resume(protocol::Event::of(protocol::Event::Kind::read));
    ASSERT_EQ(a.kind, Action::Kind::start_tls);
    EXPECT_EQ(a.tls.how, TlsStart::ssl_request);
    EXPECT_EQ(a.tls.sni, "db.example");
}

TEST(StartupAlgorithm, RefusalContinuesInPlaintextOnlyWhenTlsIsNotRequired) {
    Startup allowed(options(TlsStart::ssl_request, false));
    ScriptedIo s;
    s.expect_write(ssl_request_bytes()).feed("N").expect_write(startup_bytes()).feed(login_replies());
    EXPECT_FALSE(s.run(allowed.flow, allowed.w).error);
    EXPECT_TRUE(allowed.flow.ssl_refused());
    EXPECT_FALSE(allowed.flow.tls_active());

    Startup required(options(TlsStart::ssl_request, true));
    ScriptedIo refused;
    refused.expect_write(ssl_request_bytes()).feed("N");
    const Action end = refused.run(required.flow, required.w);
    EXPECT_EQ(end.connection, Action::Connection::retired);
    with_error(end, [](const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::tls);
        EXPECT_EQ(e.cause(), ErrorCause::ssl_refused);
        EXPECT_STREQ(e.what(), "server does not support SSL, but SSL was required");
    });
}

TEST(StartupAlgorithm, BytesAfterTheSslReplyAreRefusedWhateverTheReply) {
    // CVE-2021-23222: bytes buffered with 'S' or 'N' were never protected by the handshake.
    for (bool required : {false, true}) {
        for (const char* reply : {"S", "N"}) {
            Startup r(options(TlsStart::ssl_request, required));
            ScriptedIo s;
            s.expect_write(ssl_request_bytes()).feed(std::string(reply) + auth_ok());
            const Action end = s.run(r.flow, r.w);
            EXPECT_EQ(end.connection, Action::Connection::retired);
            with_error(end, [&](const Error& e) {
                EXPECT_EQ(e.kind(), ErrorKind::protocol);
                EXPECT_EQ(e.cause(), ErrorCause::protocol_violation);
                EXPECT_STREQ(e.what(), reply[0] == 'S' ? "received unencrypted data after SSL response"
                                                        : "received unexpected data after SSL refusal");
            });
        }
    }
}

TEST(StartupAlgorithm, AnErrorReplyToSslRequestIsNeitherShownNorADowngrade) {
    // CVE-2024-10977: the unauthenticated server's text never reaches the user.
    for (bool required : {false, true}) {
        Startup r(options(TlsStart::ssl_request, required));
        ScriptedIo s;
        s.expect_write(ssl_request_bytes()).feed("E" + std::string("\0\0\0\x20", 4) + "SFATAL\0Mplease send your password\0\0");
        const Action end = s.run(r.flow, r.w);
        EXPECT_EQ(end.connection, Action::Connection::retired);
        EXPECT_FALSE(r.flow.ssl_refused());
        with_error(end, [](const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::connection);
            EXPECT_EQ(std::string(e.what()).find("password"), std::string::npos);
        });
    }
}

TEST(StartupAlgorithm, GarbageReplyToSslRequestIsAProtocolViolation) {
    Startup r(options(TlsStart::ssl_request));
    ScriptedIo s;
    s.expect_write(ssl_request_bytes()).feed("X");
    with_error(s.run(r.flow, r.w), [](const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::protocol);
        EXPECT_EQ(e.cause(), ErrorCause::protocol_violation);
        EXPECT_STREQ(e.what(), "received invalid response to SSL negotiation: X");
    });
}

TEST(StartupAlgorithm, DirectNegotiationStartsTlsBeforeAnyByte) {
    Startup r(options(TlsStart::direct, true));
    ScriptedIo s;
    s.expect_tls(TlsStart::direct).expect_write(startup_bytes()).feed(login_replies());
    EXPECT_FALSE(s.run(r.flow, r.w).error);
    EXPECT_TRUE(r.flow.tls_active());
}

TEST(StartupAlgorithm, AuthenticationErrorsKeepTheServerFieldsOverTlsAndPlaintext) {
    for (TlsStart how : {TlsStart::none, TlsStart::ssl_request, TlsStart::direct}) {
        Startup r(options(how));
        ScriptedIo s;
        if (how == TlsStart::ssl_request) s.expect_write(ssl_request_bytes()).feed("S");
        if (how != TlsStart::none) s.expect_tls(how);
        s.expect_write(startup_bytes()).feed(error_response("28P01", "password authentication failed for user \"alice\""));
        const Action end = s.run(r.flow, r.w);
        EXPECT_EQ(end.connection, Action::Connection::retired);
        ASSERT_TRUE(end.error);
        try {
            std::rethrow_exception(end.error);
        } catch (const ServerError& e) {
            EXPECT_EQ(e.kind(), ErrorKind::authentication);
            EXPECT_EQ(e.cause(), ErrorCause::auth_failed);
            EXPECT_EQ(e.fields().sqlstate, "28P01");
        }
    }
}

TEST(StartupAlgorithm, AFatalOutsideClass28IsAConnectionError) {
    Startup r(options(TlsStart::none));
    ScriptedIo s;
    s.expect_write(startup_bytes()).feed(error_response("3D000", "database \"db\" does not exist"));
    with_error(s.run(r.flow, r.w), [](const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::connection);
        EXPECT_EQ(e.cause(), ErrorCause::server_fatal);
    });
}

TEST(StartupAlgorithm, EveryFaultEndsWithAnErrorAndTheConnectionRetired) {
    for (TlsStart how : {TlsStart::none, TlsStart::ssl_request, TlsStart::direct}) {
        ScriptedIo s;
        if (how == TlsStart::ssl_request) s.expect_write(ssl_request_bytes()).feed("S");
        if (how != TlsStart::none) s.expect_tls(how);
        // The replies one message per read, so a fault can land between any two of them.
        s.expect_write(startup_bytes()).feed(auth_ok()).feed(param_status("server_version", "18.4")).feed(key_data(7, 42)).feed(ready('I'));
        for_every_fault(
            s, [&](TestWire& w) { return std::make_unique<protocol::StartupFlow>(options(how), w.wire); },
            [](const FaultRun& run, TestWire&) {
                EXPECT_EQ(run.end.connection, Action::Connection::retired);
                try {
                    std::rethrow_exception(run.end.error);
                } catch (const Error& e) {
                    switch (run.fault) {
                        case ScriptedIo::Fault::network_error:
                            EXPECT_EQ(e.kind(), ErrorKind::connection);
                            EXPECT_EQ(e.cause(), ErrorCause::connection_closed);
                            break;
                        case ScriptedIo::Fault::timeout:
                            EXPECT_EQ(e.kind(), ErrorKind::timeout);
                            EXPECT_EQ(e.cause(), ErrorCause::connect_timeout);
                            break;
                        case ScriptedIo::Fault::malformed:
                            EXPECT_EQ(e.kind(), ErrorKind::protocol);
                            EXPECT_EQ(e.cause(), ErrorCause::protocol_violation);
                            break;
                    }
                }
            });
    }
}

TEST(StartupAlgorithm, AnEventItNeverAskedForIsTheDriversMisuse) {
    TestWire w;
    protocol::StartupFlow flow(options(TlsStart::none), w.wire);
    (void)flow.resume(protocol::Event::start());
    EXPECT_THROW(flow.resume(protocol::Event::of(protocol::Event::Kind::socket_open)), Error);
}
