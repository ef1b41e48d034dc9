// The pool's spans (acquire, release, create, destroy) and metrics with fake connections and a
// fake clock: outcomes, reasons, parent links, and a tracer that throws.
#include <gtest/gtest.h>

#include <future>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "fake_connection.hpp"
#include "tests/support/trace/recording_tracer.hpp"

namespace pgtls::test {
namespace {

using namespace std::chrono_literals;

class PoolTraceTest : public ::testing::Test {
protected:
    std::shared_ptr<FakeServer> server = std::make_shared<FakeServer>();
    std::shared_ptr<FakeClock> clock = std::make_shared<FakeClock>();
    std::shared_ptr<RecordingTracer> tracer = std::make_shared<RecordingTracer>();

    FakePool::Options options() {
        FakePool::Options o;
        o.max_size = 2;
        o.idle_timeout = 0ms;
        o.max_lifetime = 0ms;
        o.health_check_after = -1ms;
        o.acquire_timeout = 250ms;
        o.name = "orders";
        o.tracer = tracer;
        return o;
    }
    std::unique_ptr<FakePool> make(FakePool::Options o) {
        return std::make_unique<FakePool>(fake_connector(server), std::move(o), clock);
    }
};

TEST_F(PoolTraceTest, AcquireOfANewConnectionIsTheParentOfItsCreate) {
    auto pool = make(options());
    auto lease = pool->acquire();
    auto acquires = tracer->named("pgtls.pool.acquire");
    auto creates = tracer->named("pgtls.pool.create");
    ASSERT_EQ(acquires.size(), 1u);
    ASSERT_EQ(creates.size(), 1u);
    const Span& a = acquires[0];
    const Span& c = creates[0];
    EXPECT_TRUE(a.ok);
    EXPECT_EQ(a.parent_id, 0u);
    EXPECT_EQ(c.parent_id, a.id);
    EXPECT_EQ(text_of(a, "db.client.connection.pool.name"), "orders");
    EXPECT_EQ(text_of(a, "db.system.name"), "postgresql");
    EXPECT_EQ(text_of(a, "pgtls.pool.acquire.outcome"), "acquired");
    EXPECT_EQ(flag_of(a, "pgtls.pool.connection.created"), true);
    EXPECT_EQ(number_of(a, "pgtls.pool.connection.id"), 1);
    EXPECT_EQ(number_of(a, "pgtls.pool.connection.uses"), 1);
    ASSERT_NE(a.find("db.client.connection.wait_time"), nullptr);
    EXPECT_EQ(std::get<double>(*a.find("db.client.connection.wait_time")), 0.0);  // the fake clock stood still
    EXPECT_EQ(text_of(c, "pgtls.pool.create.trigger"), "acquire");
    EXPECT_EQ(number_of(c, "pgtls.pool.connection.id"), 1);
    EXPECT_TRUE(c.ok);

    lease.release();
    tracer->clear();
    auto again = pool->acquire();
    auto reuse = tracer->named("pgtls.pool.acquire");
    ASSERT_EQ(reuse.size(), 1u);
    EXPECT_EQ(flag_of(reuse[0], "pgtls.pool.connection.created"), false);
    EXPECT_EQ(number_of(reuse[0], "pgtls.pool.connection.uses"), 2);
    EXPECT_TRUE(tracer->named("pgtls.pool.create").empty());
}

TEST_F(PoolTraceTest, ReleaseSaysKeptResetOrDiscardedAndWhy) {
    auto pool = make(options());
    pool->acquire().release();
    auto kept = tracer->named("pgtls.pool.release");
    ASSERT_EQ(kept.size(), 1u);
    EXPECT_EQ(text_of(kept[0], "pgtls.pool.release.outcome"), "kept");
    EXPECT_EQ(text_of(kept[0], "pgtls.pool.release.reason"), "<absent>");

    tracer->clear();
    {
        auto l = pool->acquire();
        l->query("BEGIN");
    }
    auto reset = tracer->named("pgtls.pool.release");
    ASSERT_EQ(reset.size(), 1u);
    EXPECT_EQ(text_of(reset[0], "pgtls.pool.release.outcome"), "reset");  // ROLLBACK ran

    tracer->clear();
    {
        auto l = pool->acquire();
        l->break_connection();
    }
    auto discarded = tracer->named("pgtls.pool.release");
    auto destroyed = tracer->named("pgtls.pool.destroy");
    ASSERT_EQ(discarded.size(), 1u);
    ASSERT_EQ(destroyed.size(), 1u);
    EXPECT_EQ(text_of(discarded[0], "pgtls.pool.release.outcome"), "discarded");
    EXPECT_EQ(text_of(discarded[0], "pgtls.pool.release.reason"), "connection broken");
    EXPECT_EQ(text_of(discarded[0], "pgtls.pool.destroy.reason"), "broken");
    EXPECT_EQ(destroyed[0].parent_id, discarded[0].id) << "the close happened inside the release";
    EXPECT_EQ(text_of(destroyed[0], "pgtls.pool.destroy.reason"), "broken");
    EXPECT_EQ(text_of(destroyed[0], "pgtls.pool.destroy.detail"), "connection broken");
    EXPECT_EQ(number_of(destroyed[0], "pgtls.pool.connection.id"), 1);
    EXPECT_EQ(number_of(destroyed[0], "pgtls.pool.connection.uses"), 3);
    EXPECT_EQ(pool->stats().destroyed_for(PoolCloseReason::broken), 1u);
}

TEST_F(PoolTraceTest, DestroyReasonsOfHealthCheckMaxUsesIdleTimeoutAndPoolClosed) {
    auto o = options();
    o.health_check_after = 0ms;
    o.max_uses = 2;
    o.idle_timeout = 1s;
    o.maintenance_interval = 1ms;
    auto pool = make(o);
    pool->acquire().release();
    server->fail_pings = true;
    auto l = pool->acquire();  // connection 1 fails its ping; 2 is opened
    EXPECT_EQ(l->id(), 2);
    auto acquire = tracer->named("pgtls.pool.acquire").back();
    EXPECT_EQ(number_of(acquire, "pgtls.pool.acquire.checks_failed"), 1);
    EXPECT_EQ(flag_of(acquire, "pgtls.pool.connection.created"), true);
    auto destroyed = tracer->named("pgtls.pool.destroy");
    ASSERT_EQ(destroyed.size(), 1u);
    EXPECT_EQ(text_of(destroyed[0], "pgtls.pool.destroy.reason"), "health_check_failed");
    EXPECT_EQ(destroyed[0].parent_id, acquire.id);
    server->fail_pings = false;
    l.release();
    pool->acquire().release();  // its second use: closed on release
    destroyed = tracer->named("pgtls.pool.destroy");
    ASSERT_EQ(destroyed.size(), 2u);
    EXPECT_EQ(text_of(destroyed[1], "pgtls.pool.destroy.reason"), "max_uses");

    pool->acquire().release();  // connection 3, idle from now
    clock->advance(2s);
    ASSERT_TRUE(eventually([&] { return tracer->named("pgtls.pool.destroy").size() == 3; }));
    auto idle = tracer->named("pgtls.pool.destroy")[2];
    EXPECT_EQ(text_of(idle, "pgtls.pool.destroy.reason"), "idle_timeout");
    EXPECT_EQ(idle.parent_id, 0u) << "the maintenance thread's own close";

    auto last = pool->acquire();
    pool->close(0ms);
    last.release();
    destroyed = tracer->named("pgtls.pool.destroy");
    ASSERT_EQ(destroyed.size(), 4u);
    EXPECT_EQ(text_of(destroyed[3], "pgtls.pool.destroy.reason"), "pool_closed");
    auto s = pool->stats();
    EXPECT_EQ(s.destroyed, 4u);
    EXPECT_EQ(s.destroyed_for(PoolCloseReason::health_check_failed), 1u);
    EXPECT_EQ(s.destroyed_for(PoolCloseReason::max_uses), 1u);
    EXPECT_EQ(s.destroyed_for(PoolCloseReason::idle_timeout), 1u);
    EXPECT_EQ(s.destroyed_for(PoolCloseReason::pool_closed), 1u);
}

TEST_F(PoolTraceTest, FailedAcquiresSayTimeoutConnectFailedOrClosed) {
    server->refuse = true;
    auto pool = make(options());
    EXPECT_THROW(pool->acquire(), Error);
    auto a = tracer->named("pgtls.pool.acquire");
    auto c = tracer->named("pgtls.pool.create");
    ASSERT_EQ(a.size(), 1u);
    ASSERT_EQ(c.size(), 1u);
    EXPECT_FALSE(a[0].ok);
    EXPECT_EQ(text_of(a[0], "pgtls.pool.acquire.outcome"), "connect_failed");
    EXPECT_EQ(text_of(a[0], "error.type"), "connection");
    EXPECT_FALSE(c[0].ok);
    EXPECT_EQ(c[0].error, "connection refused");
    EXPECT_EQ(c[0].parent_id, a[0].id);

    server->refuse = false;
    tracer->clear();
    clock->advance(1s);  // past the connect backoff
    auto o = options();
    o.max_size = 1;
    auto small = make(o);
    auto held = small->acquire();
    auto f = std::async(std::launch::async, [&] { return small->acquire(100ms); });
    ASSERT_TRUE(eventually([&] { return small->stats().waiting == 1; }));
    clock->advance(100ms);
    EXPECT_THROW(f.get(), Error);
    auto timeouts = tracer->named("pgtls.pool.acquire");
    ASSERT_EQ(timeouts.size(), 2u);
    EXPECT_EQ(text_of(timeouts[1], "pgtls.pool.acquire.outcome"), "timeout");
    EXPECT_EQ(text_of(timeouts[1], "error.type"), "pool");

    small->close(0ms);
    EXPECT_THROW(small->acquire(), Error);
    EXPECT_EQ(text_of(tracer->named("pgtls.pool.acquire").back(), "pgtls.pool.acquire.outcome"), "closed");
}

TEST_F(PoolTraceTest, MinSizeOpensAreRootCreateSpans) {
    auto o = options();
    o.min_size = 1;
    auto pool = make(o);
    ASSERT_TRUE(eventually([&] { return !tracer->named("pgtls.pool.create").empty(); }));
    auto c = tracer->named("pgtls.pool.create")[0];
    EXPECT_EQ(text_of(c, "pgtls.pool.create.trigger"), "min_size");
    EXPECT_EQ(c.parent_id, 0u);
}

TEST_F(PoolTraceTest, AThrowingTracerNeverDisturbsThePool) {
    tracer->throws = true;
    auto o = options();
    o.health_check_after = 0ms;
    auto pool = make(o);
    {
        auto l = pool->acquire();
        l->query("BEGIN");
    }
    server->fail_pings = true;
    auto l = pool->acquire();
    EXPECT_EQ(l->id(), 2);
    l.release();
    auto s = pool->stats();
    EXPECT_EQ(s.created, 2u);
    EXPECT_EQ(s.destroyed, 1u);
    EXPECT_EQ(s.idle, 1u);
    EXPECT_EQ(s.acquire_count, 2u);
    EXPECT_GE(tracer->all().size(), 7u);  // every span was still offered
}

TEST_F(PoolTraceTest, NoTracerNoSpans) {
    auto o = options();
    o.tracer = nullptr;
    auto pool = make(o);
    pool->acquire().release();
    EXPECT_TRUE(tracer->all().empty());
}

}  // namespace
}  // namespace pgtls::test
