// The cancel request, scripted: socket to the connected address, the session's TLS
// negotiation with its checks, CancelRequest with a key of any length, the bounded wait for
// the server's close, and a fault at every step. No socket, no TLS library, no clock.
#include "protocol/cancel_flow.hpp"

#include <gtest/gtest.h>

#include "scripted_io.hpp"

using namespace pgtls;
using namespace pgtls::test;
using protocol::Action;
using protocol::TlsStart;

namespace {

protocol::CancelOptions options(TlsStart how, std::size_t key_len = 4) {
    protocol::CancelOptions o;
    o.target.host = "db.example";
    o.target.hostaddr = "192.0.2.7";
    o.target.port = 5432;
    o.tls = how;
    o.host = "db.example";
    o.sni = "db.example";
    o.pid = 4242;
    for (std::size_t i = 0; i < key_len; ++i) o.secret.push_back(static_cast<std::uint8_t>(i + 1));
    o.grace = std::chrono::milliseconds(2500);
    return o;
}

std::string cancel_bytes(const protocol::CancelOptions& o) {
    std::string key(o.secret.begin(), o.secret.end());
    return i32(static_cast<std::int32_t>(16 + key.size() - 4)) + i32(80877102) + i32(o.pid) + key;
}

// Up to and including the CancelRequest; the server's close comes after.
ScriptedIo up_to_cancel(const protocol::CancelOptions& o, protocol::TlsUp up = ScriptedIo::default_tls_up()) {
    ScriptedIo s;
    s.expect_open("db.example", "192.0.2.7");
    if (o.tls == TlsStart::ssl_request) s.expect_write(i32(8) + i32(80877103)).feed("S");
    if (o.tls != TlsStart::none) s.expect_tls(o.tls, std::move(up));
    s.expect_write(cancel_bytes(o));
    return s;
}

// Runs `s` and then has the server close the connection (EOF at the next read).
Action run_to_server_close(ScriptedIo s, protocol::CancelFlow& flow, TestWire& w) {
    s.feed("");
    const std::size_t eof_at = s.steps();
    s.feed("");
    return s.run_with_fault(flow, w, eof_at, ScriptedIo::Fault::network_error);
}


}  // namespace

TEST(CancelFlow, EveryNegotiationSendsTheKeyAndWaitsForTheServersClose) {
    for (TlsStart how : {TlsStart::none, TlsStart::ssl_request, TlsStart::direct}) {
        TestWire w;
        protocol::CancelFlow flow(options(how), w.wire);
        const Action end = run_to_server_close(up_to_cancel(options(how)), flow, w);
        EXPECT_EQ(end.kind, Action::Kind::done);
        EXPECT_FALSE(end.error);
    }
}

TEST(CancelFlow, AProtocol32KeyOfAnyLengthIsSentWhole) {
    for (std::size_t len : {4u, 32u, 256u}) {
        TestWire w;
        protocol::CancelFlow flow(options(TlsStart::none, len), w.wire);
        EXPECT_FALSE(run_to_server_close(up_to_cancel(options(TlsStart::none, len)), flow, w).error);
    }
}

TEST(CancelFlow, OpensTheConnectedAddressWithinTheGraceTimer) {
    TestWire w;
    protocol::CancelFlow flow(options(TlsStart::none), w.wire);
    const Action a = flow.resume(protocol::Event::start());
    ASSERT_EQ(a.kind, Action::Kind::open_socket);
    ASSERT_NE(a.target, nullptr);
    EXPECT_EQ(a.target->hostaddr, "192.0.2.7");
    EXPECT_EQ(a.timer.kind, protocol::Timer::Kind::set);
    EXPECT_EQ(a.timer.after, std::chrono::milliseconds(2500));
}

TEST(CancelFlow, AnEncryptedSessionsKeyNeverTravelsInPlaintext) {
    for (const char* reply : {"N", "E", "X"}) {
        TestWire w;
        protocol::CancelFlow flow(options(TlsStart::ssl_request), w.wire);
        ScriptedIo s;
        s.expect_open("db.example", "192.0.2.7").expect_write(i32(8) + i32(80877103)).feed(reply).expect_close();
        const Action end = s.run(flow, w);
        with_error(end, [](const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::tls);
            EXPECT_EQ(e.cause(), ErrorCause::ssl_refused);
            EXPECT_STREQ(e.what(), "server refused SSL for the cancel request");
        });
    }
}

TEST(CancelFlow, BytesAfterTheSslAcceptAreRefused) {
    TestWire w;
    protocol::CancelFlow flow(options(TlsStart::ssl_request), w.wire);
    ScriptedIo s;
    s.expect_open("db.example", "192.0.2.7").expect_write(i32(8) + i32(80877103)).feed("S" + auth_ok()).expect_close();
    with_error(s.run(flow, w), [](const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::protocol);
        EXPECT_STREQ(e.what(), "received unencrypted data after SSL response");
    });
}

TEST(CancelFlow, TheSessionsTlsChecksApplyToTheCancelConnection) {
    protocol::TlsUp no_alpn = ScriptedIo::default_tls_up();
    no_alpn.info.alpn.clear();
    TestWire w;
    protocol::CancelFlow flow(options(TlsStart::direct), w.wire);
    ScriptedIo s;
    s.expect_open("db.example", "192.0.2.7").expect_tls(TlsStart::direct, no_alpn).expect_close();
    with_error(s.run(flow, w), [](const Error& e) { EXPECT_EQ(e.cause(), ErrorCause::tls_alpn); });

    auto full = options(TlsStart::ssl_request);
    full.verify_full = true;
    protocol::TlsUp wrong = ScriptedIo::default_tls_up();
    tls::PeerCertificate cert;
    cert.san_dns = {"other.example"};
    wrong.peer = cert;
    TestWire w2;
    protocol::CancelFlow flow2(full, w2.wire);
    ScriptedIo s2;
    s2.expect_open("db.example", "192.0.2.7").expect_write(i32(8) + i32(80877103)).feed("S").expect_tls(TlsStart::ssl_request, wrong).expect_close();
    with_error(s2.run(flow2, w2), [](const Error& e) { EXPECT_EQ(e.cause(), ErrorCause::tls_host_name); });
}

TEST(CancelFlow, AServerThatTalksInsteadOfClosingIsReadAtMostTheDrainLimit) {
    TestWire w;
    protocol::CancelFlow flow(options(TlsStart::none), w.wire);
    ScriptedIo s = up_to_cancel(options(TlsStart::none));
    s.feed(std::string(200, 'x')).feed(std::string(200, 'x')).expect_close();
    const Action end = s.run(flow, w);
    EXPECT_FALSE(end.error);
}

TEST(CancelFlow, ATimeoutWhileWaitingForTheCloseIsNotAFailure) {
    TestWire w;
    protocol::CancelFlow flow(options(TlsStart::none), w.wire);
    ScriptedIo s = up_to_cancel(options(TlsStart::none));
    const std::size_t at = s.steps();
    s.feed("");
    const Action end = s.run_with_fault(flow, w, at, ScriptedIo::Fault::timeout);
    EXPECT_EQ(end.kind, Action::Kind::done);
    EXPECT_FALSE(end.error);
}

TEST(CancelFlow, EveryFaultBeforeTheRequestIsSentFailsAndClosesTheSocket) {
    for (TlsStart how : {TlsStart::none, TlsStart::ssl_request, TlsStart::direct}) {
        const auto o = options(how);
        for_every_fault(
            up_to_cancel(o), [&](TestWire& w) { return std::make_unique<protocol::CancelFlow>(o, w.wire); },
            [](const FaultRun& run, TestWire&) {
                try {
                    std::rethrow_exception(run.end.error);
                } catch (const Error& e) {
                    if (run.fault == ScriptedIo::Fault::timeout) {
                        EXPECT_EQ(e.kind(), ErrorKind::timeout);
                    } else if (run.fault == ScriptedIo::Fault::network_error) {
                        EXPECT_EQ(e.cause(), ErrorCause::connection_closed);
                    } else {
                        EXPECT_EQ(e.cause(), ErrorCause::ssl_refused);  // a malformed SSL reply is not 'S'
                    }
                }
            });
    }
}

TEST(CancelFlow, EveryFailureClosesTheSocketBeforeItEnds) {
    TestWire w;
    protocol::CancelFlow flow(options(TlsStart::none), w.wire);
    Action a = flow.resume(protocol::Event::start());
    ASSERT_EQ(a.kind, Action::Kind::open_socket);
    const Error refused(ErrorKind::connection, ErrorCause::connect_failed, "connection refused");
    a = flow.resume(protocol::Event::failed(refused));
    EXPECT_EQ(a.kind, Action::Kind::close);
    a = flow.resume(protocol::Event::of(protocol::Event::Kind::closed));
    EXPECT_EQ(a.kind, Action::Kind::done);
    with_error(a, [](const Error& e) { EXPECT_EQ(e.cause(), ErrorCause::connect_failed); });
}

TEST(CancelFlow, NoKeyIsTheCallersMisuse) {
    TestWire w;
    auto o = options(TlsStart::none);
    o.secret.clear();
    EXPECT_THROW(protocol::CancelFlow(o, w.wire), Error);
}

TEST(CancelFlow, ADirectHandshakeCutAfterTheServerAnsweredInTlsHasNoVersionHint) {
    TestWire w;
    protocol::CancelFlow flow(options(TlsStart::direct), w.wire);
    Action a = flow.resume(protocol::Event::start());
    a = flow.resume(protocol::Event::of(protocol::Event::Kind::socket_open));
    ASSERT_EQ(a.kind, Action::Kind::start_tls);
    const Error cut = protocol::tls_handshake_error("SSL SYSCALL error: EOF detected", protocol::TlsPeerAnswer::tls);
    a = flow.resume(protocol::Event::failed(cut));
    ASSERT_EQ(a.kind, Action::Kind::close);
    a = flow.resume(protocol::Event::of(protocol::Event::Kind::closed));
    with_error(a, [](const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::tls);
        EXPECT_NE(std::string(e.what()).find("EOF detected"), std::string::npos) << e.what();
        EXPECT_EQ(std::string(e.what()).find("PostgreSQL 17"), std::string::npos) << e.what();
    });
}

// The hint the connect gives for a failed direct handshake is the cancel's too (it ran in the
// blocking client's own loop before; the async driver had none).
TEST(CancelFlow, AFailedDirectHandshakeSaysWhichServersSupportIt) {
    TestWire w;
    protocol::CancelFlow flow(options(TlsStart::direct), w.wire);
    Action a = flow.resume(protocol::Event::start());
    a = flow.resume(protocol::Event::of(protocol::Event::Kind::socket_open));
    ASSERT_EQ(a.kind, Action::Kind::start_tls);
    const Error alert(ErrorKind::tls, ErrorCause::tls_handshake, "handshake failed: unexpected message");
    a = flow.resume(protocol::Event::failed(alert));
    ASSERT_EQ(a.kind, Action::Kind::close);
    a = flow.resume(protocol::Event::of(protocol::Event::Kind::closed));
    with_error(a, [](const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::tls);
        EXPECT_NE(std::string(e.what()).find("handshake failed: unexpected message"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("PostgreSQL 17 or later"), std::string::npos) << e.what();
    });
}
