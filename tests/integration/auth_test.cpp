// Authentication policy against real PostgreSQL 15 and 18 on every backend, with both drivers: the
// channel_binding × server-method matrix and require_auth lists. Downgrades a real server
// would not attempt are in tests/hostile and tests/auth (scripted servers).
#include <gtest/gtest.h>

#include "integration_fixture.hpp"

namespace pgtls::test {
namespace {

class Auth : public BackendTest {};

struct MethodCase {
    const char* user;
    const char* method;  // what the server asks for on a host line
};
const MethodCase kMethods[] = {
    {"trustuser", "trust"}, {"pwuser", "password"}, {"md5user", "md5"}, {"scramuser", "scram-sha-256"}};

TEST_P(Auth, ChannelBindingMatrix) {
    for (const auto& server : env().servers) {
        const bool tls = server.ssl && has_tls();
        for (const auto& m : kMethods) {
            for (const char* cb : {"disable", "prefer", "require"}) {
                SCOPED_TRACE(server.name + " " + m.user + " channel_binding=" + cb + (tls ? " tls" : " plain"));
                const std::string ci = env().conninfo(server, m.user) + (tls ? " sslmode=require" : " sslmode=disable") +
                                       " channel_binding=" + cb;
                const bool scram = std::string(m.method) == "scram-sha-256";
                const bool should_work = std::string(cb) != "require" || (tls && scram);
                if (!should_work) {
                    try {
                        auto c = open(ci);
                        ADD_FAILURE() << "connected although channel binding was required";
                    } catch (const Error& e) {
                        // Without TLS it is refused before connecting (config) or at auth; either way clear.
                        EXPECT_TRUE(e.kind() == ErrorKind::authentication || e.kind() == ErrorKind::config) << e.what();
                        EXPECT_NE(std::string(e.what()).find("channel binding"), std::string::npos) << e.what();
                    }
                    continue;
                }
                auto c = open(ci);
                const bool bound = tls && scram && std::string(cb) != "disable";
                EXPECT_EQ(c.info().channel_binding, bound);
                EXPECT_EQ(c.info().auth_method,
                          scram ? (bound ? "SCRAM-SHA-256-PLUS" : "SCRAM-SHA-256")
                                : (std::string(m.method) == "trust" ? "trust" : m.method));
                EXPECT_EQ(c.query("SELECT current_user")[0][0].as<std::string>(), m.user);
            }
        }
    }
}

TEST_P(Auth, RequireAuthLists) {
    const auto& server = env().server("pg18");
    const std::string tls = has_tls() ? " sslmode=require" : " sslmode=disable";
    struct Case {
        const char* user;
        const char* list;
        bool ok;
    } cases[] = {
        {"scramuser", "scram-sha-256", true},  {"scramuser", "md5,scram-sha-256", true},
        {"scramuser", "password", false},      {"scramuser", "!scram-sha-256", false},
        {"md5user", "scram-sha-256", false},   {"md5user", "!password", true},
        {"pwuser", "!password", false},        {"pwuser", "password,md5", true},
        {"trustuser", "scram-sha-256", false}, {"trustuser", "none", true},
        {"trustuser", "!none", false},         {"scramuser", "none", false},
    };
    for (const auto& k : cases) {
        SCOPED_TRACE(std::string(k.user) + " require_auth=" + k.list);
        const std::string ci = env().conninfo(server, k.user) + tls + " require_auth=" + k.list;
        if (k.ok) {
            auto c = open(ci);
            EXPECT_EQ(c.query("SELECT 1")[0][0].as<int>(), 1);
        } else {
            try {
                auto c = open(ci);
                ADD_FAILURE() << "connected despite require_auth";
            } catch (const Error& e) {
                EXPECT_EQ(e.kind(), ErrorKind::authentication) << e.what();
                // Refused before any password left the client: the message names the policy.
                EXPECT_NE(std::string(e.what()).find("authentication method requirement"), std::string::npos) << e.what();
            }
        }
    }
}

TEST_P(Auth, PasswordCallbackIsAskedOnlyWhenNeeded) {
    const auto& server = env().server("pg15");
    const std::string tls = has_tls() ? " sslmode=require" : " sslmode=disable";
    int calls = 0;
    auto with_callback = [&](const std::string& user) {
        Config c = config(env().conninfo(server, user).substr(0) + tls);
        c.password = std::nullopt;
        c.conninfo = "host=127.0.0.1 port=" + std::to_string(server.port) + " dbname=pgtls user=" + user + tls +
                     " passfile=/nonexistent";
        c.password_callback = [&](const std::string& host, const std::string& port, const std::string& u) {
            ++calls;
            EXPECT_EQ(host, "127.0.0.1");
            EXPECT_EQ(port, std::to_string(server.port));
            return password_of(u);
        };
        return open(c);
    };
    with_callback("trustuser");
    EXPECT_EQ(calls, 0);
    EXPECT_EQ(with_callback("scramuser").query("SELECT current_user")[0][0].as<std::string>(), "scramuser");
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(with_callback("md5user").query("SELECT 1")[0][0].as<int>(), 1);
    EXPECT_EQ(calls, 2);
}

TEST_P(Auth, MissingPasswordIsAClearError) {
    const auto& server = env().server("pg15");
    try {
        open(config("host=127.0.0.1 port=" + std::to_string(server.port) +
                        " dbname=pgtls user=scramuser passfile=/nonexistent sslmode=" + (has_tls() ? "require" : "disable")));
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::authentication);
        EXPECT_NE(std::string(e.what()).find("password"), std::string::npos) << e.what();
    }
}

PGTLS_INSTANTIATE_PER_BACKEND_AND_DRIVER(Auth);

}  // namespace
}  // namespace pgtls::test
