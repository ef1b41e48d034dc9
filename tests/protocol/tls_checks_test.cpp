// The post-handshake checks (src/protocol/tls_checks.hpp), on handshake results built in
// memory: ALPN on direct and classic negotiation, verify-full host names, sslcertmode=require,
// and the direct-negotiation hint. The texts are libpq's.
#include "protocol/tls_checks.hpp"

#include <gtest/gtest.h>

#include <optional>

using namespace pgtls;
using protocol::TlsChecks;
using protocol::TlsStart;
using protocol::TlsUp;

namespace {

TlsUp up_with(std::string alpn, std::vector<std::string> names = {}, bool client_cert = false,
              bool cert_requested = true) {
    TlsUp up;
    up.info.protocol = "TLSv1.3";
    up.info.alpn = std::move(alpn);
    if (!names.empty()) {
        tls::PeerCertificate c;
        c.san_dns = std::move(names);
        up.peer = std::move(c);
    }
    up.client_certificate_sent = client_cert;
    up.client_certificate_requested = cert_requested;
    return up;
}

// The error check_tls_up throws, or a failed test when it throws none.
Error refusal(const TlsUp& up, const TlsChecks& checks) {
    try {
        protocol::check_tls_up(up, checks);
    } catch (const Error& e) {
        return e;
    }
    ADD_FAILURE() << "check_tls_up accepted the connection";
    return Error(ErrorKind::usage, "accepted");
}

}  // namespace

TEST(TlsChecks, DirectNeedsAlpnPostgresql) {
    EXPECT_NO_THROW(protocol::check_tls_up(up_with("postgresql"), {TlsStart::direct, false, "", false}));
    const Error none = refusal(up_with(""), {TlsStart::direct, false, "", false});
    EXPECT_EQ(none.kind(), ErrorKind::tls);
    EXPECT_EQ(none.cause(), ErrorCause::tls_alpn);
    EXPECT_STREQ(none.what(), "direct SSL connection was established without ALPN protocol negotiation extension");
    const Error other = refusal(up_with("http/1.1"), {TlsStart::direct, false, "", false});
    EXPECT_EQ(other.cause(), ErrorCause::tls_alpn);
    EXPECT_STREQ(other.what(), "SSL connection was established with unexpected ALPN protocol \"http/1.1\"");
}

TEST(TlsChecks, ClassicNegotiationTakesNoAlpnButNeverAnotherProtocol) {
    EXPECT_NO_THROW(protocol::check_tls_up(up_with(""), {TlsStart::ssl_request, false, "", false}));
    EXPECT_NO_THROW(protocol::check_tls_up(up_with("postgresql"), {TlsStart::ssl_request, false, "", false}));
    const Error other = refusal(up_with("h2"), {TlsStart::ssl_request, false, "", false});
    EXPECT_EQ(other.cause(), ErrorCause::tls_alpn);
    EXPECT_STREQ(other.what(), "SSL connection was established with unexpected ALPN protocol \"h2\"");
}

TEST(TlsChecks, VerifyFullNeedsACertificateNamingTheHost) {
    TlsChecks full{TlsStart::ssl_request, true, "db.example", false};
    EXPECT_NO_THROW(protocol::check_tls_up(up_with("", {"db.example"}), full));
    EXPECT_NO_THROW(protocol::check_tls_up(up_with("", {"*.example"}), full));
    const Error wrong = refusal(up_with("", {"other.example"}), full);
    EXPECT_EQ(wrong.kind(), ErrorKind::tls);
    EXPECT_EQ(wrong.cause(), ErrorCause::tls_host_name);
    EXPECT_STREQ(wrong.what(), "server certificate for \"other.example\" does not match host name \"db.example\"");
    const Error missing = refusal(up_with(""), full);
    EXPECT_EQ(missing.cause(), ErrorCause::tls_host_name);
    EXPECT_STREQ(missing.what(), "server did not present a certificate");
    // Without verify-full the name is not looked at.
    EXPECT_NO_THROW(protocol::check_tls_up(up_with("", {"other.example"}), {TlsStart::ssl_request, false, "db.example", false}));
}

TEST(TlsChecks, SslcertmodeRequireNeedsTheClientCertificateSent) {
    TlsChecks require{TlsStart::ssl_request, false, "db.example", true};
    EXPECT_NO_THROW(protocol::check_tls_up(up_with("", {}, true), require));
    const Error e = refusal(up_with("", {}, false), require);
    EXPECT_EQ(e.cause(), ErrorCause::tls_client_certificate);
    EXPECT_STREQ(e.what(), "server accepted connection without a valid SSL certificate");
    // libpq names a server that never asked differently from one that let the connection in
    // without the certificate it asked for.
    const Error unasked = refusal(up_with("", {}, false, false), require);
    EXPECT_EQ(unasked.cause(), ErrorCause::tls_client_certificate);
    EXPECT_STREQ(unasked.what(), "server did not request an SSL certificate");
}

TEST(TlsChecks, ChecksRunInLibpqsOrder) {
    // A direct connection without ALPN, to the wrong name, without a client certificate:
    // ALPN is reported first, then the host name.
    TlsChecks all{TlsStart::direct, true, "db.example", true};
    EXPECT_EQ(refusal(up_with("", {"x.example"}), all).cause(), ErrorCause::tls_alpn);
    EXPECT_EQ(refusal(up_with("postgresql", {"x.example"}), all).cause(), ErrorCause::tls_host_name);
    EXPECT_EQ(refusal(up_with("postgresql", {"db.example"}), all).cause(), ErrorCause::tls_client_certificate);
}

TEST(TlsChecks, TheDirectNegotiationHintIsAddedToDirectFailuresOnly) {
    EXPECT_EQ(protocol::with_direct_negotiation_hint("handshake failed", TlsStart::direct),
              "handshake failed (with sslnegotiation=direct the server must be PostgreSQL 17 or later; older "
              "servers need sslnegotiation=postgres)");
    EXPECT_EQ(protocol::with_direct_negotiation_hint("handshake failed", TlsStart::ssl_request), "handshake failed");
}

TEST(TlsChecks, TheDirectNegotiationHintNeedsAServerThatDidNotAnswerInTls) {
    using protocol::tls_handshake_error;
    using protocol::TlsPeerAnswer;
    EXPECT_TRUE(protocol::direct_hint_applies(tls_handshake_error("EOF", TlsPeerAnswer::nothing)));
    EXPECT_TRUE(protocol::direct_hint_applies(tls_handshake_error("wrong version number", TlsPeerAnswer::not_tls)));
    EXPECT_FALSE(protocol::direct_hint_applies(tls_handshake_error("EOF", TlsPeerAnswer::tls)));
    // A transport that cannot tell keeps the hint.
    EXPECT_TRUE(protocol::direct_hint_applies(Error(ErrorKind::tls, ErrorCause::tls_handshake, "EOF")));
}

// The answer travels in the Error itself, not in a subclass: the async driver hands a failed
// cancel's error on by value (std::optional<Error>), which sliced the old TlsHandshakeError and
// so added the "server must be PostgreSQL 17" hint to a cut after the server had answered in TLS.
TEST(TlsChecks, TheServersAnswerSurvivesACopyOfTheError) {
    const Error thrown = protocol::tls_handshake_error("SSL SYSCALL error: EOF detected", protocol::TlsPeerAnswer::tls);
    std::optional<Error> held;
    try {
        throw thrown;
    } catch (const Error& e) {
        held.emplace(e);
    }
    EXPECT_EQ(held->kind(), ErrorKind::tls);
    EXPECT_EQ(held->cause(), ErrorCause::tls_handshake);
    EXPECT_EQ(held->tls_peer_answer(), protocol::TlsPeerAnswer::tls);
    EXPECT_FALSE(protocol::direct_hint_applies(*held));
}
