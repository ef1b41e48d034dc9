// The pool's spans and metrics against PostgreSQL 18, on every TLS backend: the connect span
// nested under create under acquire, ROLLBACK under release, a terminated backend's failed
// health check under acquire, closes by reason, and the wait histogram.
#include <gtest/gtest.h>

#include <mutex>
#include <numeric>
#include <vector>

#include "integration_fixture.hpp"
#include "pgtls/pool.hpp"
#include "pgtls/trace.hpp"
#include "tests/support/env/test_env.hpp"
#include "tests/support/trace/recording_tracer.hpp"

namespace pgtls::test {
namespace {

using namespace std::chrono_literals;

class PoolTracing : public BackendTest {
protected:
    PoolOptions options() const {
        PoolOptions o;
        o.max_size = 2;
        o.acquire_timeout = 20s;
        o.connect_timeout = 5s;
        o.health_check_after = 0ms;  // every reuse is pinged: a terminated backend is noticed
        return o;
    }
    std::shared_ptr<RecordingTracer> tracer = std::make_shared<RecordingTracer>();
};

TEST_P(PoolTracing, SpansNestTheConnectionsOwnAndMetricsCountByReason) {
    Config cfg = pg18_verified();
    cfg.tracer = tracer;  // the pool's spans go to the Config's tracer when its options name none
    Pool pool(cfg, options());
    const int port = env().server("pg18").port;

    int pid = 0;
    {
        auto lease = pool.acquire();
        pid = lease->query("SELECT pg_backend_pid()")[0][0].as<int>();
        lease->query("BEGIN");
    }
    const auto acquires = tracer->named("pgtls.pool.acquire");
    const auto creates = tracer->named("pgtls.pool.create");
    const auto connects = tracer->named("pgtls.connect");
    ASSERT_EQ(acquires.size(), 1u);
    ASSERT_EQ(creates.size(), 1u);
    ASSERT_EQ(connects.size(), 1u);
    EXPECT_EQ(creates[0].parent_id, acquires[0].id);
    EXPECT_EQ(connects[0].parent_id, creates[0].id) << "the Config tracer's connect span sits under create";
    EXPECT_EQ(text_of(acquires[0], "db.client.connection.pool.name"),
              "scramuser@localhost:" + std::to_string(port) + "/" + resolve(cfg).dbname);
    EXPECT_EQ(text_of(acquires[0], "pgtls.pool.acquire.outcome"), "acquired");
    const auto attempts = tracer->children(connects[0].id);
    ASSERT_FALSE(attempts.empty());
    if (has_tls()) {
        EXPECT_EQ(text_of(attempts.back(), "tls.backend"), backend());
    }
    for (const Span& q : tracer->named("pgtls.query"))
        if (text_of(q, "db.operation.name") == "SELECT") {
            EXPECT_EQ(q.parent_id, 0u) << "the borrower's own query";
        }
    const auto releases = tracer->named("pgtls.pool.release");
    ASSERT_EQ(releases.size(), 1u);
    EXPECT_EQ(text_of(releases[0], "pgtls.pool.release.outcome"), "reset");
    EXPECT_TRUE(has_child(*tracer, releases[0], "pgtls.query")) << "ROLLBACK is the release's child";

    // The idle backend is terminated: the next acquire's health check fails, under it.
    {
        Client admin(pg18_verified());
        admin.query("SELECT pg_terminate_backend(" + std::to_string(pid) + ", 5000)");
    }
    tracer->clear();
    {
        auto lease = pool.acquire();
        EXPECT_NE(lease->query("SELECT pg_backend_pid()")[0][0].as<int>(), pid);
    }
    const auto second = tracer->named("pgtls.pool.acquire");
    const auto destroyed = tracer->named("pgtls.pool.destroy");
    ASSERT_EQ(second.size(), 1u);
    ASSERT_EQ(destroyed.size(), 1u);
    // Terminated while idle: either noticed as broken (the FATAL read) or by its ping.
    const std::string reason = text_of(destroyed[0], "pgtls.pool.destroy.reason");
    EXPECT_TRUE(reason == "health_check_failed" || reason == "broken") << reason;
    EXPECT_EQ(destroyed[0].parent_id, second[0].id);
    EXPECT_TRUE(has_child(*tracer, second[0], "pgtls.pool.create"));

    pool.close();
    const PoolStats s = pool.stats();
    EXPECT_EQ(s.created, 2u);
    EXPECT_EQ(s.destroyed, 2u);
    EXPECT_EQ(s.destroyed_for(PoolCloseReason::pool_closed), 1u);
    EXPECT_EQ(s.destroyed_for(PoolCloseReason::health_check_failed) + s.destroyed_for(PoolCloseReason::broken), 1u);
    EXPECT_EQ(std::accumulate(s.acquire_wait_histogram.begin(), s.acquire_wait_histogram.end(), std::uint64_t{0}),
              s.acquire_count);
    EXPECT_EQ(s.acquire_count, 2u);
    EXPECT_EQ(tracer->named("pgtls.pool.destroy").size(), 2u);
}

TEST_P(PoolTracing, ConnectFailuresAreCountedAndTraced) {
    Config cfg = config("host=127.0.0.1 port=" + std::to_string(closed_port()) + " user=nobody sslmode=disable");
    PoolOptions o = options();
    o.tracer = tracer;
    o.name = "dead";
    Pool pool(cfg, o);
    EXPECT_THROW(pool.acquire(), Error);
    const PoolStats s = pool.stats();
    EXPECT_EQ(s.connect_errors, 1u);
    EXPECT_EQ(s.pending_acquires, 0u);
    const auto creates = tracer->named("pgtls.pool.create");
    ASSERT_EQ(creates.size(), 1u);
    EXPECT_FALSE(creates[0].ok);
    EXPECT_EQ(text_of(creates[0], "db.client.connection.pool.name"), "dead");
    EXPECT_EQ(text_of(tracer->named("pgtls.pool.acquire").at(0), "pgtls.pool.acquire.outcome"), "connect_failed");
}

PGTLS_INSTANTIATE_PER_BACKEND(PoolTracing);

}  // namespace
}  // namespace pgtls::test
