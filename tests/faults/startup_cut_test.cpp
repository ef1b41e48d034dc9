// The connection to a real server cut at many points through startup, by a FaultProxy
// between client and server: in the reply to SSLRequest, at several offsets inside the TLS
// handshake, during the SCRAM exchange, after AuthenticationOk before ReadyForQuery — in
// each direction, for sslmode=disable and require, classic and direct negotiation (PG18),
// on every TLS backend, with both drivers (the blocking Client and the AsyncConnection). The cut points come from a recorded clean startup: every flight's
// start, its second and sixth byte (inside a TLS record header), its middle and its last
// byte. Each cut must give a connection or TLS error naming the server, within seconds, with
// no fd or thread left behind; a cut never yields a connection, and never a weaker one than
// sslmode allows.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fault_checks.hpp"
#include "tests/support/proxy/fault_proxy.hpp"

namespace pgtls::test {
namespace {

using namespace std::chrono_literals;
using Direction = FaultProxy::Direction;

const char* direction_name(Direction d) { return d == Direction::client_to_server ? "client->server" : "server->client"; }

// conninfo for scramuser through the proxy (SCRAM gives the startup its most round trips).
std::string via_proxy(const FaultProxy& proxy, const std::string& extra) {
    return "host=127.0.0.1 port=" + std::to_string(proxy.port()) +
           " dbname=pgtls user=scramuser password=scram-secret connect_timeout=10 " + extra;
}

// Offsets in direction d at which to cut: for each chunk, its first byte, second, sixth,
// middle and last; all below the total, so the cut always lands before ReadyForQuery.
std::vector<std::size_t> cut_points(const std::vector<FaultProxy::Chunk>& trace, Direction d) {
    std::set<std::size_t> points;
    std::size_t at = 0;
    for (const auto& c : trace) {
        if (c.direction != d) continue;
        for (std::size_t off : {std::size_t{0}, std::size_t{1}, std::size_t{5}, c.bytes / 2, c.bytes - 1})
            if (off < c.bytes) points.insert(at + off);
        at += c.bytes;
    }
    return {points.begin(), points.end()};
}

// Connects once without a fault and returns the startup's chunks (up to ReadyForQuery).
std::vector<FaultProxy::Chunk> record_startup(FaultProxy& proxy, const Config& config, bool expect_ssl) {
    proxy.set_fault(std::nullopt);
    const std::size_t index = proxy.connections_accepted();
    Client c(config);
    EXPECT_EQ(c.info().ssl, expect_ssl);
    auto trace = proxy.trace(index);
    c.close();
    return trace;
}

// Whether the server sees backend `pid` as a TLS connection (pg_stat_ssl), asked directly by
// the superuser (pg_stat_ssl hides other users' backends from the rest).
std::optional<bool> server_says_ssl(const TestServer& server, int pid) {
    Client admin(test_env().unix_conninfo(server, "postgres", "postgres"));
    auto r = admin.query("SELECT ssl FROM pg_stat_ssl WHERE pid = " + std::to_string(pid));
    if (r.empty()) return std::nullopt;
    return r[0][0].as<bool>();
}

struct Target {
    std::string label;
    std::string server;  // test-servers.sh name
    std::string options;
    bool ssl;
};

// Cuts the startup of `target` at every cut point in both directions; each must fail.
void cut_everywhere(const Target& t, const std::string& backend, DriverKind driver) {
    const TestServer& server = test_env().server(t.server);
    const ResourceBaseline baseline;
    std::size_t cuts = 0;
    {
        FaultProxy proxy("127.0.0.1", server.port);
        const Config config = config_for(via_proxy(proxy, t.options), backend);
        const auto trace = record_startup(proxy, config, t.ssl);
        ASSERT_FALSE(trace.empty()) << t.label;
        for (Direction d : {Direction::client_to_server, Direction::server_to_client}) {
            for (std::size_t at : cut_points(trace, d)) {
                const std::string where = t.label + " [" + backend + (driver == DriverKind::async ? " async" : "") +
                                          "] cut " + direction_name(d) + " after " + std::to_string(at) + " bytes";
                proxy.set_fault(FaultProxy::Fault{d, at, FaultProxy::Action::cut});
                bool ssl = false;
                const Failure f = run_failing([&] {
                    DriverConnection c(driver, config);
                    ssl = c.info().ssl;
                });
                if (!f.threw) {
                    ADD_FAILURE() << where << ": connected (ssl=" << ssl << ") through a cut connection";
                    continue;
                }
                ++cuts;
                expect_failure(f, {ErrorKind::connection, ErrorKind::tls}, {"closed", "EOF", "eof", "reset", "terminated", "Broken pipe", "unexpected"}, 5000ms, where);
                // The message says which server: "connection to server at ... failed: ..."
                EXPECT_NE(f.message.find("connection to server at \"127.0.0.1\", port " + std::to_string(proxy.port())),
                          std::string::npos)
                    << where << ": " << f.message;
            }
        }
        EXPECT_TRUE(proxy.wait_until_closed(5s)) << t.label << ": connections still open after the cuts";
    }
    EXPECT_GT(cuts, 6u) << t.label;
    ::testing::Test::RecordProperty(t.label + "_cuts", static_cast<int>(cuts));
    baseline.expect_unchanged(t.label + " [" + backend + "]");
}

// The parameter: a TLS backend, "_async" appended for the async driver.
class StartupCut : public ::testing::TestWithParam<std::string> {
protected:
    std::string backend() const { return split_driver(GetParam()).first; }
    DriverKind driver() const { return split_driver(GetParam()).second; }
};

TEST(StartupCutPlain, SslModeDisableOnEveryServer) {
    for (const DriverKind driver : {DriverKind::blocking, DriverKind::async})
        for (const auto& s : test_env().servers)
            cut_everywhere({s.name + " sslmode=disable", s.name, "sslmode=disable", false}, "none", driver);
}

TEST_P(StartupCut, SslModeRequireClassicNegotiation) {
    if (backend() == "none") GTEST_SKIP() << "no TLS backend in this build";
    for (const TestServer* s : test_env().ssl_servers())
        cut_everywhere({s->name + " sslmode=require", s->name, "sslmode=require sslnegotiation=postgres", true}, backend(),
                       driver());
}

TEST_P(StartupCut, SslModeRequireDirectNegotiationPg18) {
    if (backend() == "none") GTEST_SKIP() << "no TLS backend in this build";
    cut_everywhere({"pg18 sslmode=require direct", "pg18", "sslmode=require sslnegotiation=direct", true}, backend(), driver());
}

// "The server must be PostgreSQL 17 or later" only when nothing (or no TLS) came back: a
// server before 17 closes on a ClientHello without a word. A cut after PostgreSQL 18 answered
// in TLS is a network failure, not a version problem.
TEST_P(StartupCut, DirectNegotiationHintsAtOldServersOnlyWhenNoTlsCameBack) {
    if (backend() == "none") GTEST_SKIP() << "no TLS backend in this build";
    const TestServer& server = test_env().server("pg18");
    FaultProxy proxy("127.0.0.1", server.port);
    const Config config = config_for(via_proxy(proxy, "sslmode=require sslnegotiation=direct"), backend());
    const auto trace = record_startup(proxy, config, true);
    ASSERT_FALSE(trace.empty());
    const Direction d = Direction::server_to_client;
    for (std::size_t at : cut_points(trace, d)) {
        const std::string where = "[" + backend() + "] cut " + direction_name(d) + " after " + std::to_string(at) + " bytes";
        proxy.set_fault(FaultProxy::Fault{d, at, FaultProxy::Action::cut});
        const Failure f = run_failing([&] { DriverConnection c(driver(), config); });
        ASSERT_TRUE(f.threw) << where;
        const bool hint = f.message.find("PostgreSQL 17 or later") != std::string::npos;
        EXPECT_EQ(hint, at == 0) << where << ": " << f.message;
    }
}

// prefer and allow may settle for plaintext where libpq does (prefer: the TLS handshake
// failed after the server accepted SSLRequest; allow: plaintext first), but a cut never
// yields a connection that claims more or less than the server sees, and a cut before the
// server agreed to TLS never makes prefer fall back to plaintext.
TEST_P(StartupCut, PreferAndAllowNeverReportAWeakerConnectionThanTheServerHas) {
    if (backend() == "none") GTEST_SKIP() << "no TLS backend in this build";
    const TestServer& server = test_env().server("pg18");
    const ResourceBaseline baseline;
    {
        FaultProxy proxy("127.0.0.1", server.port);
        for (const char* mode : {"prefer", "allow"}) {
            const bool tls_first = std::string(mode) == "prefer";
            const Config config = config_for(via_proxy(proxy, std::string("sslmode=") + mode), backend());
            const auto trace = record_startup(proxy, config, tls_first);
            std::size_t connected = 0, failed = 0;
            for (Direction d : {Direction::client_to_server, Direction::server_to_client}) {
                // The last flight each way is past the TLS handshake (the SCRAM final message;
                // ParameterStatus .. ReadyForQuery).
                std::size_t last_flight = 0, total = 0;
                for (const auto& c : trace)
                    if (c.direction == d) {
                        last_flight = total;
                        total += c.bytes;
                    }
                for (std::size_t at : cut_points(trace, d)) {
                    const std::string where = std::string("sslmode=") + mode + " [" + backend() + "] cut " +
                                              direction_name(d) + " after " + std::to_string(at) + " bytes";
                    proxy.set_fault(FaultProxy::Fault{d, at, FaultProxy::Action::cut});
                    std::optional<ConnectionInfo> info;
                    const Failure f = run_failing([&] {
                        DriverConnection c(driver(), config);
                        info = c.info();
                        // Keep it open while the server is asked what it sees.
                        const auto ssl = server_says_ssl(server, info->backend_pid);
                        ASSERT_TRUE(ssl.has_value()) << where << ": backend " << info->backend_pid << " unknown";
                        EXPECT_EQ(*ssl, info->ssl) << where << ": client and server disagree on TLS";
                    });
                    if (tls_first && at >= last_flight) {
                        EXPECT_TRUE(f.threw) << where << ": a TLS connection lost after its handshake was retried in plaintext";
                    }
                    if (f.threw) {
                        ++failed;
                        expect_failure(f, {ErrorKind::connection, ErrorKind::tls}, {}, 5000ms, where);
                    } else {
                        ++connected;
                        // A plaintext connection after a cut: only prefer's libpq fallback, and only
                        // once the server had accepted TLS (the cut fell past its 'S').
                        if (tls_first && !info->ssl) {
                            EXPECT_FALSE(d == Direction::server_to_client && at == 0)
                                << where << ": fell back to plaintext though the server never agreed to TLS";
                        }
                    }
                }
            }
            RecordProperty(std::string(mode) + "_connected", static_cast<int>(connected));
            RecordProperty(std::string(mode) + "_failed", static_cast<int>(failed));
            EXPECT_GT(failed, 0u) << mode;
        }
    }
    baseline.expect_unchanged(std::string("prefer/allow [") + backend() + "]");
}

// A cut in the reply to SSLRequest (no 'S' or 'N' arrives): prefer does not retry in
// plaintext (an unauthenticated EOF is no reason to downgrade), require fails alike.
TEST_P(StartupCut, CutBeforeTheSslReplyNeverDowngrades) {
    if (backend() == "none") GTEST_SKIP() << "no TLS backend in this build";
    const ResourceBaseline baseline;
    {
        FaultProxy proxy("127.0.0.1", test_env().server("pg15").port);
        proxy.set_fault(FaultProxy::Fault{Direction::server_to_client, 0, FaultProxy::Action::cut});
        for (const char* mode : {"prefer", "require", "verify-full"}) {
            std::string ci = via_proxy(proxy, std::string("sslmode=") + mode);
            if (std::string(mode) == "verify-full") ci += " host=localhost hostaddr=127.0.0.1 sslrootcert=" + quote_conninfo_value(pki("ca.crt"));
            const std::size_t before = proxy.connections_accepted();
            const Failure f = run_failing([&] { DriverConnection c(driver(), config_for(ci, backend())); });
            expect_failure(f, {ErrorKind::connection}, {"closed"}, 5000ms, mode);
            EXPECT_EQ(proxy.connections_accepted(), before + 1) << mode << ": retried after the cut";
        }
    }
    baseline.expect_unchanged("ssl reply cut");
}

INSTANTIATE_TEST_SUITE_P(Backends, StartupCut, ::testing::ValuesIn(tls_backend_and_driver_names()), param_name);

}  // namespace
}  // namespace pgtls::test
