// Authentication downgrades through the Client, end to end against the scripted fake server:
// the client must refuse what its policy forbids before any password-derived byte leaves it
// (asserted on what the fake server received), and must reject every malformed or forged
// SCRAM exchange.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "pgtls/client.hpp"
#include "tests/protocol/scripted_bytes.hpp"
#include "tests/hostile/hostile_target.hpp"
#include "tests/support/fake/fake_server.hpp"

using namespace pgtls;
using namespace pgtls::test;
using namespace std::chrono_literals;

namespace {

constexpr const char* kPassword = "pw-Secret-7781";

// What the fake server received after the startup packet (frontend messages, type + body).
struct Received {
    std::mutex mu;
    std::string bytes;
    void add(char type, const std::string& body) {
        std::lock_guard<std::mutex> lock(mu);
        bytes += type;
        bytes += body;
    }
    std::string get() {
        std::lock_guard<std::mutex> lock(mu);
        return bytes;
    }
};

Settings settings_for(const FakeServer& s) {
    Settings st;
    st.hosts = {HostTarget{"127.0.0.1", "", s.port()}};
    st.user = "alice";
    st.dbname = "db";
    st.password = kPassword;
    st.sslmode = SslMode::disable;
    st.connect_timeout = std::chrono::seconds(3);
    return st;
}

// Sends `request` after the startup packet, then records every message until the client closes.
FakeServer::Script request_then_record(std::string request, std::shared_ptr<Received> got) {
    return [request, got](FakeConnection& c) {
        if (c.read_startup_packet() != 196608) return;
        c.send(request);
        std::string body;
        while (char t = c.read_message(&body)) {
            got->add(t, body);
            c.send(auth_ok() + ready());  // a password reply would be "accepted"
        }
    };
}

Error connect_error(const Settings& st) {
    try {
        Client client(st);
    } catch (const Error& e) {
        return e;
    }
    ADD_FAILURE() << "connected despite the policy";
    return Error(ErrorKind::usage, "");
}

std::string md5_request() { return msg('R', i32(5) + std::string("\x01\x02\x03\x04", 4)); }
std::string cleartext_request() { return msg('R', i32(3)); }

// The client-nonce of a SASLInitialResponse body: mechanism\0 int32 len, "n,,n=,r=NONCE".
std::string client_nonce(const std::string& body) {
    auto r = body.find("r=");
    if (r == std::string::npos) return {};
    return body.substr(r + 2);
}

// A SCRAM server: SASL mechanisms, then server-first built from the client nonce by `first`,
// then `final_msg` (if the client sent client-final), then AuthenticationOk + ReadyForQuery.
struct ScramScript {
    std::string mechanisms = std::string("SCRAM-SHA-256") + '\0' + '\0';
    std::function<std::string(const std::string& client_nonce)> first = [](const std::string& n) {
        return "r=" + n + "srvpart,s=QSXCR+Q6sek8bf92,i=4096";
    };
    std::string final_msg = "v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";  // 32 zero bytes: wrong
    bool skip_final = false;  // AuthenticationOk right after client-final, no SASLFinal
    bool skip_continue = false;  // AuthenticationOk right after client-first
};

FakeServer::Script scram_server(ScramScript s, std::shared_ptr<Received> got) {
    return [s, got](FakeConnection& c) {
        if (c.read_startup_packet() != 196608) return;
        c.send(msg('R', i32(10) + s.mechanisms));
        std::string body;
        char t = c.read_message(&body);
        if (!t) return;
        got->add(t, body);
        if (s.skip_continue) {
            c.send(auth_ok() + ready());
            while ((t = c.read_message(&body))) got->add(t, body);
            return;
        }
        c.send(msg('R', i32(11) + s.first(client_nonce(body))));
        t = c.read_message(&body);
        if (!t) return;
        got->add(t, body);
        if (s.skip_final)
            c.send(auth_ok() + ready());
        else
            c.send(msg('R', i32(12) + s.final_msg) + auth_ok() + ready());
        while ((t = c.read_message(&body))) got->add(t, body);
    };
}

void expect_auth_error(const Error& e, const std::string& fragment) {
    EXPECT_EQ(e.kind(), ErrorKind::authentication) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find(kPassword), std::string::npos) << e.what();
}

}  // namespace

TEST(AuthDowngrade, CleartextAndMd5RefusedByRequireAuthScram) {
    for (const auto& request : {cleartext_request(), md5_request()}) {
        auto got = std::make_shared<Received>();
        {
            FakeServer server(request_then_record(request, got));
            auto st = settings_for(server);
            st.require_auth = "scram-sha-256";
            Error e = connect_error(st);
            EXPECT_EQ(e.kind(), ErrorKind::authentication) << e.what();
            EXPECT_NE(std::string(e.what()).find("authentication method requirement"), std::string::npos) << e.what();
        }
        EXPECT_EQ(got->get(), "") << "the client answered a forbidden password request";
    }
}

TEST(AuthDowngrade, NegatedRequireAuthRefusesThatMethod) {
    struct Case { std::string request, require; };
    for (const auto& c : {Case{cleartext_request(), "!password"}, Case{md5_request(), "!md5"},
                          Case{md5_request(), "password"}, Case{cleartext_request(), "md5,scram-sha-256"}}) {
        auto got = std::make_shared<Received>();
        {
            FakeServer server(request_then_record(c.request, got));
            auto st = settings_for(server);
            st.require_auth = c.require;
            Error e = connect_error(st);
            EXPECT_EQ(e.kind(), ErrorKind::authentication) << c.require << ": " << e.what();
        }
        EXPECT_EQ(got->get(), "") << c.require;
    }
}

TEST(AuthDowngrade, CleartextAndMd5RefusedWhenChannelBindingRequired) {
    for (const auto& request : {cleartext_request(), md5_request()}) {
        auto got = std::make_shared<Received>();
        {
            FakeServer server(request_then_record(request, got));
            auto st = settings_for(server);
            st.channel_binding = ChannelBinding::require;
            Error e = connect_error(st);
            EXPECT_NE(std::string(e.what()).find("channel binding"), std::string::npos) << e.what();
            EXPECT_EQ(std::string(e.what()).find(kPassword), std::string::npos);
        }
        EXPECT_EQ(got->get(), "");
    }
}

TEST(AuthDowngrade, AuthenticationOkWithoutChallengeWhenScramRequired) {
    for (const std::string policy : {"scram-sha-256", "password", "md5"}) {
        auto got = std::make_shared<Received>();
        {
            FakeServer server([got](FakeConnection& c) {
                if (c.read_startup_packet() != 196608) return;
                c.send(auth_ok() + param_status("server_version", "18.4") + key_data(1, 2) + ready());
                c.wait_for_close();
            });
            auto st = settings_for(server);
            st.require_auth = policy;
            Error e = connect_error(st);
            EXPECT_EQ(e.kind(), ErrorKind::authentication) << policy << ": " << e.what();
        }
    }
    // channel_binding=require is not satisfied by a server that skips authentication either.
    FakeServer server([](FakeConnection& c) {
        if (c.read_startup_packet() != 196608) return;
        c.send(auth_ok() + ready());
        c.wait_for_close();
    });
    auto st = settings_for(server);
    st.channel_binding = ChannelBinding::require;
    (void)connect_error(st);
}

TEST(AuthDowngrade, ScramNonceThatDoesNotExtendTheClients) {
    auto got = std::make_shared<Received>();
    ScramScript s;
    s.first = [](const std::string&) { return std::string("r=someoneElsesNonce123,s=QSXCR+Q6sek8bf92,i=4096"); };
    FakeServer server(scram_server(s, got));
    expect_auth_error(connect_error(settings_for(server)), "server nonce does not extend the client nonce");
}

TEST(AuthDowngrade, ScramNonceEqualToTheClientsIsRefused) {
    // RFC 5802: the server appends its own part; an echo is a replay.
    auto got = std::make_shared<Received>();
    ScramScript s;
    s.first = [](const std::string& n) { return "r=" + n + ",s=QSXCR+Q6sek8bf92,i=4096"; };
    FakeServer server(scram_server(s, got));
    Error e = connect_error(settings_for(server));
    EXPECT_EQ(e.kind(), ErrorKind::authentication) << e.what();
}

TEST(AuthDowngrade, ScramInvalidSalt) {
    for (const std::string salt : {"", "!!!!", "QSXCR+Q6sek8bf9", "====", "QQ==QQ=="}) {
        auto got = std::make_shared<Received>();
        ScramScript s;
        s.first = [salt](const std::string& n) { return "r=" + n + "x,s=" + salt + ",i=4096"; };
        FakeServer server(scram_server(s, got));
        Error e = connect_error(settings_for(server));
        EXPECT_EQ(e.kind(), ErrorKind::authentication) << salt << ": " << e.what();
        EXPECT_NE(std::string(e.what()).find("salt"), std::string::npos) << salt << ": " << e.what();
    }
}

TEST(AuthDowngrade, ScramIterationCountZeroNegativeAndAbsurd) {
    for (const std::string it : {"0", "-1", "1000000000", "99999999999999999999", "4096x", ""}) {
        auto got = std::make_shared<Received>();
        ScramScript s;
        s.first = [it](const std::string& n) { return "r=" + n + "x,s=QSXCR+Q6sek8bf92,i=" + it; };
        FakeServer server(scram_server(s, got));
        const auto t0 = std::chrono::steady_clock::now();
        Error e = connect_error(settings_for(server));
        EXPECT_EQ(e.kind(), ErrorKind::authentication) << it << ": " << e.what();
        EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s) << "PBKDF2 ran with " << it << " iterations";
        // No proof was computed or sent: only the SASLInitialResponse reached the server.
        EXPECT_EQ(got->get().find("p=", 0), std::string::npos) << it;
    }
}

TEST(AuthDowngrade, ScramWrongServerSignatureThenOkIsRefused) {
    auto got = std::make_shared<Received>();
    ScramScript s;  // default final_msg: a well-formed but wrong signature
    FakeServer server(scram_server(s, got));
    expect_auth_error(connect_error(settings_for(server)), "server signature");
}

TEST(AuthDowngrade, ScramServerErrorAndMalformedFinal) {
    for (const std::string final_msg : {"e=other-error", "v=", "v=!!!", "x=1", "v=AAAA"}) {
        auto got = std::make_shared<Received>();
        ScramScript s;
        s.final_msg = final_msg;
        FakeServer server(scram_server(s, got));
        Error e = connect_error(settings_for(server));
        EXPECT_EQ(e.kind(), ErrorKind::authentication) << final_msg << ": " << e.what();
    }
}

TEST(AuthDowngrade, ScramAuthenticationOkWithoutServerFinalIsRefusedUnderRequireAuth) {
    // Without a policy libpq accepts this (a server may skip authentication altogether, as
    // with trust); require_auth=scram-sha-256 demands a completed, verified exchange.
    auto got = std::make_shared<Received>();
    ScramScript s;
    s.skip_final = true;
    FakeServer server(scram_server(s, got));
    auto st = settings_for(server);
    st.require_auth = "scram-sha-256";
    expect_auth_error(connect_error(st), "server did not complete authentication");
}

TEST(AuthDowngrade, UnexpectedSaslMechanismLists) {
    struct Case { std::string list; };
    const std::string z(1, '\0');
    for (const auto& c : {Case{"SCRAM-SHA-1" + z + z}, Case{z}, Case{"SCRAM-SHA-256-PLUS" + z + z},
                          Case{"OAUTHBEARER" + z + z}, Case{"SCRAM-SHA-256"} /* unterminated */}) {
        auto got = std::make_shared<Received>();
        {
            FakeServer server(request_then_record(msg('R', i32(10) + c.list), got));
            Error e = connect_error(settings_for(server));
            EXPECT_TRUE(e.kind() == ErrorKind::authentication || e.kind() == ErrorKind::protocol) << e.what();
        }
        EXPECT_EQ(got->get(), "") << "answered mechanism list [" << c.list << "]";
    }
}

TEST(AuthDowngrade, PlusOnlyWithoutTlsAndChannelBindingRequire) {
    // Channel binding required over plaintext: no SCRAM exchange may start at all.
    auto got = std::make_shared<Received>();
    {
        const std::string z(1, '\0');
        FakeServer server(request_then_record(msg('R', i32(10) + "SCRAM-SHA-256" + z + z), got));
        auto st = settings_for(server);
        st.channel_binding = ChannelBinding::require;
        (void)connect_error(st);
    }
    EXPECT_EQ(got->get(), "");
}

// Without a policy that forbids it (require_auth, channel_binding=require) a server may end
// SCRAM early with AuthenticationOk, as libpq allows; the connection info must then say that
// the exchange did not complete, not that SCRAM authenticated the server. Over TLS the server
// offers SCRAM-SHA-256-PLUS, which the client picks.
class AuthMethodReport : public PerTransport {};

TEST_P(AuthMethodReport, SaysWhenTheServerSkippedTheScramExchange) {
    const bool tls = GetParam() != "plaintext";
    for (const bool after_client_first : {true, false}) {
        auto got = std::make_shared<Received>();
        ScramScript s;
        if (tls) s.mechanisms = std::string("SCRAM-SHA-256-PLUS") + '\0' + "SCRAM-SHA-256" + '\0' + '\0';
        s.skip_continue = after_client_first;
        s.skip_final = !after_client_first;
        auto server = target(scram_server(s, got));
        auto st = server.settings();
        st.password = kPassword;
        Client client(st);
        EXPECT_EQ(client.info().auth_method, std::string(tls ? "SCRAM-SHA-256-PLUS" : "SCRAM-SHA-256") +
                                                 " (incomplete: server skipped to AuthenticationOk)")
            << "after client-first: " << after_client_first;
        EXPECT_FALSE(client.info().channel_binding);
    }
}

PGTLS_INSTANTIATE_PER_TRANSPORT(AuthMethodReport);
