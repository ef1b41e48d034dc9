// The startup flow driven with scripted server bytes: no socket, no server.
#include "crypto/builtin_crypto.hpp"
#include "protocol/startup_flow.hpp"

#include <gtest/gtest.h>

#include "tls/tls_backend.hpp"
#include "scripted_bytes.hpp"

using namespace pgtls;
using namespace pgtls::test;

namespace {

// What the flow asks for next, after the writes (which the harness performs itself).
enum class Step { read, start_tls, done };

// Drives the flow through its Algorithm interface the way a driver does, stopping whenever
// the test must act: feed server bytes (read), complete a handshake (start_tls), or look at
// the outcome (done; a failure is rethrown).
struct Harness {
    protocol::SessionState session;
    protocol::MessageReader in;
    std::string out;
    protocol::StartupFlow flow;
    protocol::Event next = protocol::Event::start();
    protocol::TlsUp up;
    explicit Harness(protocol::StartupOptions o) : flow(std::move(o), protocol::Wire{in, out, session}) {}

    Step run() {
        while (true) {
            const protocol::Action a = flow.resume(next);
            switch (a.kind) {
                case protocol::Action::Kind::write:
                    written += out;
                    out.clear();
                    next = protocol::Event::of(protocol::Event::Kind::written);
                    continue;
                case protocol::Action::Kind::read: next = protocol::Event::of(protocol::Event::Kind::read); return Step::read;
                case protocol::Action::Kind::start_tls: return Step::start_tls;
                case protocol::Action::Kind::done:
                    if (a.error) std::rethrow_exception(a.error);
                    return Step::done;
                default: ADD_FAILURE() << "unexpected action"; return Step::done;
            }
        }
    }
    // The handshake the flow asked for completed (no peer certificate).
    void tls_up() {
        next = protocol::Event::of(protocol::Event::Kind::tls_up);
        next.tls = &up;
    }
    void server(const std::string& bytes) { in.feed(test::bytes(bytes)); }
    std::string written;
};

protocol::StartupOptions options(protocol::TlsStart tls = protocol::TlsStart::none) {
    protocol::StartupOptions o;
    o.tls = tls;
    o.startup_params = {{"user", "alice"}, {"database", "db"}};
    o.auth.user = "alice";
    o.auth.crypto = &tls::builtin_crypto();
    o.auth.get_password = [] { return std::optional<std::string>("secret"); };
    return o;
}

}  // namespace

TEST(StartupFlow, TrustLoginCollectsParametersKeyAndStatus) {
    Harness h(options());
    EXPECT_EQ(h.run(), Step::read);
    EXPECT_EQ(h.written.substr(4, 4), std::string("\0\3\0\0", 4));  // protocol 3.0
    h.server(auth_ok() + param_status("server_version", "18.4") + key_data(1234, 99));
    EXPECT_EQ(h.run(), Step::read);
    h.server(ready('I'));
    EXPECT_EQ(h.run(), Step::done);
    EXPECT_EQ(h.session.parameters.at("server_version"), "18.4");
    EXPECT_EQ(h.flow.backend_key().pid, 1234);
    EXPECT_EQ(h.session.transaction_status, TransactionStatus::idle);
    EXPECT_FALSE(h.flow.tls_active());
}

TEST(StartupFlow, CleartextPasswordIsSentWhenAsked) {
    Harness h(options());
    h.run();
    h.written.clear();
    h.server(msg('R', i32(3)));
    h.run();
    EXPECT_EQ(h.written, std::string("p\0\0\0\x0bsecret\0", 12));
}

TEST(StartupFlow, SslRequestThenTls) {
    Harness h(options(protocol::TlsStart::ssl_request));
    EXPECT_EQ(h.run(), Step::read);
    EXPECT_EQ(h.written.size(), 8u);
    h.server("S");
    EXPECT_EQ(h.run(), Step::start_tls);
    h.tls_up();
    h.written.clear();
    EXPECT_EQ(h.run(), Step::read);
    EXPECT_TRUE(h.flow.tls_active());
    EXPECT_EQ(h.written.substr(4, 4), std::string("\0\3\0\0", 4));
}

TEST(StartupFlow, BytesAfterSslAcceptAreRefused) {
    // CVE-2021-23222: data injected after 'S' must never be processed.
    Harness h(options(protocol::TlsStart::ssl_request));
    h.run();
    h.server("S" + auth_ok());
    try {
        h.run();
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::protocol);
        EXPECT_STREQ(e.what(), "received unencrypted data after SSL response");
    }
}

TEST(StartupFlow, RefusalIsFatalWhenTlsIsRequired) {
    auto o = options(protocol::TlsStart::ssl_request);
    o.tls_required = true;
    Harness h(std::move(o));
    h.run();
    h.server("N");
    try {
        h.run();
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::tls);
        EXPECT_STREQ(e.what(), "server does not support SSL, but SSL was required");
    }
}

TEST(StartupFlow, RefusalContinuesInPlaintextWhenAllowed) {
    Harness h(options(protocol::TlsStart::ssl_request));
    h.run();
    h.written.clear();
    h.server("N");
    EXPECT_EQ(h.run(), Step::read);
    EXPECT_TRUE(h.flow.ssl_refused());
    EXPECT_EQ(h.written.substr(4, 4), std::string("\0\3\0\0", 4));
}

TEST(StartupFlow, ErrorReplyToSslRequestIsNotTrustedOrShown) {
    // CVE-2024-10977: the unauthenticated server's text must not reach the user.
    Harness h(options(protocol::TlsStart::ssl_request));
    h.run();
    h.server("E" + std::string("\0\0\0\x20", 4) + "SFATAL\0Mplease send your password\0\0");
    try {
        h.run();
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::connection);
        EXPECT_EQ(std::string(e.what()).find("password"), std::string::npos);
    }
}

TEST(StartupFlow, GarbageReplyToSslRequest) {
    Harness h(options(protocol::TlsStart::ssl_request));
    h.run();
    h.server("X");
    EXPECT_THROW(h.run(), Error);
}

TEST(StartupFlow, DirectStartsTlsAtOnce) {
    Harness h(options(protocol::TlsStart::direct));
    EXPECT_EQ(h.run(), Step::start_tls);
    EXPECT_TRUE(h.written.empty());
}

TEST(StartupFlow, ServerErrorDuringAuthIsAnAuthenticationError) {
    Harness h(options());
    h.run();
    h.server(error_response("28P01", "password authentication failed for user \"alice\""));
    try {
        h.run();
        FAIL();
    } catch (const ServerError& e) {
        EXPECT_EQ(e.kind(), ErrorKind::authentication);
        EXPECT_EQ(e.sqlstate(), "28P01");
    }
}

TEST(StartupFlow, DatabaseMissingIsAConnectionError) {
    Harness h(options());
    h.run();
    h.server(auth_ok() + error_response("3D000", "database \"nope\" does not exist"));
    try {
        h.run();
        FAIL();
    } catch (const ServerError& e) {
        EXPECT_EQ(e.kind(), ErrorKind::connection);
        EXPECT_EQ(e.fields().message, "database \"nope\" does not exist");
    }
}

TEST(StartupFlow, SecondAuthenticationOkIsAProtocolError) {
    Harness h(options());
    h.run();
    h.server(auth_ok() + auth_ok());
    try {
        h.run();
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::protocol);
    }
}

TEST(StartupFlow, UnexpectedMessageDuringAuthentication) {
    Harness h(options());
    h.run();
    h.server(data_row({"1"}));
    try {
        h.run();
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::protocol);
        EXPECT_NE(std::string(e.what()).find("DataRow"), std::string::npos);
    }
}

TEST(StartupFlow, NoticesDuringStartupReachTheHandler) {
    Harness h(options());
    int notices = 0;
    h.session.notice_handler = [&](const Notice& n) {
        ++notices;
        EXPECT_EQ(n.fields.message, "hello");
    };
    h.run();
    h.server(auth_ok() + msg('N', std::string("SNOTICE\0Mhello\0\0", 16)) + ready());
    EXPECT_EQ(h.run(), Step::done);
    EXPECT_EQ(notices, 1);
}

// Protocol 3.2 (PostgreSQL 18): asked for with max_protocol_version, a longer cancel key.
TEST(StartupFlow, Protocol32AsksFor32AndTakesALongCancelKey) {
    auto o = options();
    o.protocol_version = protocol::protocol_version_3_2;
    Harness h(std::move(o));
    EXPECT_EQ(h.run(), Step::read);
    EXPECT_EQ(h.written.substr(4, 4), std::string("\0\3\0\2", 4));
    const std::string key(32, '\x5a');
    h.server(auth_ok() + msg('K', i32(77) + key) + ready('I'));
    EXPECT_EQ(h.run(), Step::done);
    EXPECT_EQ(h.flow.protocol_version(), protocol::protocol_version_3_2);
    EXPECT_EQ(h.flow.backend_key().secret.size(), 32u);
}

// A 3.0 server answers a 3.2 request with NegotiateProtocolVersion: accepted down to the minimum.
TEST(StartupFlow, NegotiateProtocolVersionDowngradesWithinTheRange) {
    auto o = options();
    o.protocol_version = protocol::protocol_version_3_2;
    Harness h(std::move(o));
    h.run();
    h.server(negotiate_version(protocol::protocol_version_3_0, 0) + auth_ok() + key_data(5, 6) + ready('I'));
    EXPECT_EQ(h.run(), Step::done);
    EXPECT_EQ(h.flow.protocol_version(), protocol::protocol_version_3_0);
}

// Every malformed or unacceptable NegotiateProtocolVersion is a protocol error with libpq 18's text.
TEST(StartupFlow, BadNegotiateProtocolVersionIsAProtocolErrorAsInLibpq18) {
    const std::int32_t v30 = protocol::protocol_version_3_0, v32 = protocol::protocol_version_3_2;
    struct Case {
        std::int32_t asked, min;
        std::string reply;
        const char* error;
    };
    const Case cases[] = {
        {v30, v30, negotiate_version(v32, 0), "server requested downgrade to a higher-numbered version"},
        {v32, v30, negotiate_version(2 << 16, 0), "server requested downgrade to pre-3.0 protocol version"},
        {v32, v30, negotiate_version((3 << 16) | 1, 0), "server requested downgrade to non-existent 3.1 protocol version"},
        {v32, v30, negotiate_version(v30, -1), "server reported negative number of unsupported parameters"},
        {v32, v30, negotiate_version(v32, 0), "server negotiated but asks for no changes"},
        {v32, v32, negotiate_version(v30, 0),
         "server only supports protocol version 3.0, but \"min_protocol_version\" was set to 3.2"},
        {v32, v30, negotiate_version(v30, 1, {"search_path"}), "unsupported parameter name without a \"_pq_.\" prefix"},
        {v32, v30, negotiate_version(v32, 1, {"_pq_.compression"}),
         "server reported an unsupported parameter that was not requested (\"_pq_.compression\")"},
        {v32, v30, negotiate_version(v30, 0) + negotiate_version(v30, 0), "received duplicate protocol negotiation message"},
        {v32, v30, msg('v', i32(v30)), "NegotiateProtocolVersion"},  // truncated
        {v32, v30, negotiate_version(v30, 1), "NegotiateProtocolVersion"},  // an option name missing
    };
    for (const auto& c : cases) {
        auto o = options();
        o.protocol_version = c.asked;
        o.min_protocol_version = c.min;
        Harness h(std::move(o));
        h.run();
        h.server(c.reply);
        try {
            h.run();
            ADD_FAILURE() << "accepted: " << c.error;
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::protocol) << e.what();
            EXPECT_NE(std::string(e.what()).find(c.error), std::string::npos) << e.what();
        }
    }
}

// BackendKeyData: 4 bytes under 3.0; 4 to 256 under 3.2; never an overflow.
TEST(StartupFlow, BackendKeyDataLengthFollowsTheProtocolVersion) {
    struct Case {
        std::int32_t version;
        std::size_t key_len;
        const char* error;  // nullptr: accepted
    };
    const Case cases[] = {
        {protocol::protocol_version_3_0, 4, nullptr},
        {protocol::protocol_version_3_0, 32, "cancel key with length 32 not allowed in protocol version 3.0 (must be 4 bytes)"},
        {protocol::protocol_version_3_2, 3, "cancel key with length 3 is too short (minimum 4 bytes)"},
        {protocol::protocol_version_3_2, 256, nullptr},
        {protocol::protocol_version_3_2, 257, "cancel key with length 257 is too long (maximum 256 bytes)"},
        // The reader's cap for a type that may not be long (30,000 bytes) refuses it first.
        {protocol::protocol_version_3_2, 100000, "exceeds the limit of 30000 bytes for BackendKeyData messages"},
    };
    for (const auto& c : cases) {
        auto o = options();
        o.protocol_version = c.version;
        Harness h(std::move(o));
        h.run();
        h.server(auth_ok() + msg('K', i32(9) + std::string(c.key_len, 'k')) + ready('I'));
        if (c.error == nullptr) {
            EXPECT_EQ(h.run(), Step::done);
            EXPECT_EQ(h.flow.backend_key().secret.size(), c.key_len);
            continue;
        }
        try {
            h.run();
            ADD_FAILURE() << "accepted a key of " << c.key_len << " bytes";
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::protocol) << e.what();
            EXPECT_NE(std::string(e.what()).find(c.error), std::string::npos) << e.what();
        }
    }
}
