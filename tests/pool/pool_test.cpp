// BasicPool logic with fake connections and a fake clock: every option, FIFO fairness,
// dirty/broken releases, connect backoff, close with outstanding leases.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <future>
#include <set>
#include <thread>
#include <vector>

#include "fake_connection.hpp"

namespace pgtls::test {
namespace {

using namespace std::chrono_literals;
using Lease = FakePool::Lease;

class PoolTest : public ::testing::Test {
protected:
    std::shared_ptr<FakeServer> server = std::make_shared<FakeServer>();
    std::shared_ptr<FakeClock> clock = std::make_shared<FakeClock>();

    FakePool::Options options() {
        FakePool::Options o;
        o.max_size = 4;
        o.idle_timeout = 0ms;
        o.max_lifetime = 0ms;
        o.health_check_after = -1ms;
        o.acquire_timeout = 250ms;
        return o;
    }
    std::unique_ptr<FakePool> make(FakePool::Options o) {
        return std::make_unique<FakePool>(fake_connector(server), std::move(o), clock);
    }
    // Runs acquire on another thread; the fake clock must be advanced for it to time out.
    std::future<Lease> acquire_async(FakePool& pool, std::chrono::milliseconds timeout) {
        return std::async(std::launch::async, [&pool, timeout] { return pool.acquire(timeout); });
    }
    void wait_waiting(FakePool& pool, std::size_t n) {
        ASSERT_TRUE(eventually([&] { return pool.stats().waiting == n; })) << "waiting " << pool.stats().waiting;
    }
};

// ---- sizes ---------------------------------------------------------------------------------

TEST_F(PoolTest, OpensLazilyAndReusesIdleConnections) {
    auto pool = make(options());
    EXPECT_EQ(pool->stats().total, 0u);
    int first;
    {
        auto lease = pool->acquire();
        first = lease->id();
        EXPECT_EQ(pool->stats().in_use, 1u);
    }
    auto s = pool->stats();
    EXPECT_EQ(s.idle, 1u);
    EXPECT_EQ(s.in_use, 0u);
    auto again = pool->acquire();
    EXPECT_EQ(again->id(), first);
    EXPECT_EQ(again.uses(), 2u);
    EXPECT_EQ(server->connect_attempts, 1);
}

TEST_F(PoolTest, NeverOpensMoreThanMaxSizeAndTimesOutWithClearMessage) {
    auto pool = make(options());
    std::vector<Lease> held;
    for (int i = 0; i < 4; ++i) held.push_back(pool->acquire());
    EXPECT_EQ(server->connect_attempts, 4);
    auto f = acquire_async(*pool, 250ms);
    wait_waiting(*pool, 1);
    clock->advance(249ms);
    EXPECT_EQ(f.wait_for(20ms), std::future_status::timeout);
    clock->advance(1ms);
    try {
        f.get();
        FAIL() << "acquired past max_size";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::pool);
        EXPECT_STREQ(e.what(), "pool exhausted: 4 of 4 connections in use, waited 250 ms");
    }
    EXPECT_EQ(server->connect_attempts, 4);
    auto s = pool->stats();
    EXPECT_EQ(s.acquire_timeouts, 1u);
    EXPECT_EQ(s.waiting, 0u);
}

TEST_F(PoolTest, MinSizeIsFilledInTheBackgroundAndRefilled) {
    auto o = options();
    o.min_size = 2;
    auto pool = make(o);
    ASSERT_TRUE(eventually([&] { return pool->stats().idle == 2; }));
    {
        auto lease = pool->acquire();
        lease->break_connection();  // discarded on release
    }
    ASSERT_TRUE(eventually([&] { return pool->stats().idle == 2 && server->connect_attempts == 3; }));
    EXPECT_EQ(pool->stats().destroyed, 1u);
}

TEST_F(PoolTest, RejectsInvalidOptions) {
    auto o = options();
    o.max_size = 0;
    EXPECT_THROW(make(o), Error);
    o = options();
    o.min_size = 5;
    try {
        make(o);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::usage);
        EXPECT_NE(std::string(e.what()).find("min_size (5) exceeds max_size (4)"), std::string::npos);
    }
}

// ---- waiters -------------------------------------------------------------------------------

TEST_F(PoolTest, WaitersAreServedInFifoOrder) {
    auto o = options();
    o.max_size = 1;
    auto pool = make(o);
    auto holder = pool->acquire();
    std::mutex m;
    std::vector<int> order;
    std::vector<std::thread> threads;
    for (int i = 0; i < 6; ++i) {
        threads.emplace_back([&, i] {
            auto lease = pool->acquire(0ms);
            std::lock_guard lk(m);
            order.push_back(i);
        });
        wait_waiting(*pool, std::size_t(i) + 1);  // i-th thread is queued before the next starts
    }
    holder.release();
    for (auto& t : threads) t.join();
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5}));
    EXPECT_EQ(server->connect_attempts, 1);
}

TEST_F(PoolTest, LateArrivalDoesNotOvertakeAWaiter) {
    auto o = options();
    o.max_size = 1;
    auto pool = make(o);
    auto holder = pool->acquire();
    auto waiter = acquire_async(*pool, 0ms);
    wait_waiting(*pool, 1);
    holder.release();
    auto got = waiter.get();
    EXPECT_TRUE(got);
    // The waiter holds it now; a newcomer must wait.
    auto f = acquire_async(*pool, 10ms);
    wait_waiting(*pool, 1);
    clock->advance(10ms);
    EXPECT_THROW(f.get(), Error);
}

// The releasing thread asking again at once must not take back what it just handed over.
TEST_F(PoolTest, ReleaseHandsTheConnectionToTheOldestWaiterNotBackToTheReleaser) {
    auto o = options();
    o.max_size = 1;
    auto pool = make(o);
    auto holder = pool->acquire();
    auto waiter = acquire_async(*pool, 0ms);
    wait_waiting(*pool, 1);
    holder.release();
    auto again = acquire_async(*pool, 10ms);  // the releaser comes straight back
    auto got = waiter.get();
    EXPECT_EQ(got->id(), 1);
    wait_waiting(*pool, 1);
    clock->advance(10ms);
    EXPECT_THROW(again.get(), Error);
    auto s = pool->stats();
    EXPECT_EQ(s.acquire_count, 2u);
    EXPECT_EQ(s.in_use, 1u);
    EXPECT_EQ(s.idle, 0u);
}

TEST_F(PoolTest, WaiterIsWokenWhenADiscardFreesASlot) {
    auto o = options();
    o.max_size = 1;
    auto pool = make(o);
    auto holder = pool->acquire();
    auto waiter = acquire_async(*pool, 0ms);
    wait_waiting(*pool, 1);
    holder->break_connection();
    holder.release();
    auto lease = waiter.get();
    EXPECT_EQ(lease->id(), 2);  // a fresh connection in the freed slot
}

TEST_F(PoolTest, AcquireWaitTimeIsMeasured) {
    auto o = options();
    o.max_size = 1;
    auto pool = make(o);
    auto holder = pool->acquire();
    auto waiter = acquire_async(*pool, 0ms);
    wait_waiting(*pool, 1);
    clock->advance(40ms);
    holder.release();
    waiter.get().release();
    auto s = pool->stats();
    EXPECT_EQ(s.acquire_count, 2u);
    EXPECT_EQ(s.acquire_wait_max, std::chrono::nanoseconds(40ms));
    EXPECT_EQ(s.acquire_wait_total, std::chrono::nanoseconds(40ms));
}

// ---- lease ---------------------------------------------------------------------------------

TEST_F(PoolTest, LeaseIsMoveOnlyAndReleaseIsIdempotent) {
    static_assert(!std::is_copy_constructible_v<Lease>);
    static_assert(std::is_nothrow_move_constructible_v<Lease>);
    auto pool = make(options());
    Lease a = pool->acquire();
    Lease b = std::move(a);
    EXPECT_FALSE(a);
    EXPECT_THROW(a->id(), Error);
    EXPECT_EQ(pool->stats().in_use, 1u);
    b.release();
    b.release();
    EXPECT_FALSE(b);
    EXPECT_EQ(pool->stats().in_use, 0u);
    EXPECT_EQ(pool->stats().idle, 1u);
    Lease c = pool->acquire();
    c = pool->acquire();  // move-assign returns the first connection
    EXPECT_EQ(pool->stats().in_use, 1u);
    EXPECT_EQ((*c).id(), c->id());
}

TEST_F(PoolTest, OneOffQueryAndExec) {
    auto pool = make(options());
    EXPECT_EQ(pool->query("SELECT 1"), "SELECT 1");
    EXPECT_EQ(pool->exec("SELECT $1, $2", 7, 8), "SELECT $1, $2|7|8");
    EXPECT_EQ(pool->stats().in_use, 0u);
    EXPECT_EQ(pool->stats().total, 1u);
}

// ---- expiry --------------------------------------------------------------------------------

TEST_F(PoolTest, IdleTimeoutClosesSurplusIdleConnectionsButKeepsMinSize) {
    auto o = options();
    o.min_size = 1;
    o.idle_timeout = 30s;
    o.maintenance_interval = 1s;
    auto pool = make(o);
    ASSERT_TRUE(eventually([&] { return pool->stats().idle == 1; }));  // min_size, opened in the background
    {
        std::vector<Lease> held;
        for (int i = 0; i < 3; ++i) held.push_back(pool->acquire());
    }
    EXPECT_EQ(pool->stats().idle, 3u);
    clock->advance(29s);
    std::this_thread::sleep_for(20ms);
    EXPECT_EQ(pool->stats().total, 3u);
    clock->advance(2s);
    ASSERT_TRUE(eventually([&] { return pool->stats().total == 1; }));
    std::this_thread::sleep_for(20ms);
    EXPECT_EQ(pool->stats().total, 1u);  // min_size survives idleness
    EXPECT_EQ(server->open, 1);
}

TEST_F(PoolTest, MaxLifetimeWithJitterStaysWithinBounds) {
    auto o = options();
    o.max_size = 24;
    o.max_lifetime = 10s;
    o.max_lifetime_jitter = 4s;
    o.maintenance_interval = 100ms;
    auto pool = make(o);
    {
        std::vector<Lease> held;
        for (int i = 0; i < 24; ++i) held.push_back(pool->acquire());
    }
    clock->advance(9999ms);
    std::this_thread::sleep_for(30ms);
    EXPECT_EQ(pool->stats().total, 24u) << "expired before max_lifetime";
    clock->advance(2001ms);  // 12 s: half way through the jitter window
    std::this_thread::sleep_for(50ms);
    auto mid = pool->stats().total;
    EXPECT_GT(mid, 0u) << "jitter did not spread expiries";
    EXPECT_LT(mid, 24u) << "jitter did not spread expiries";
    clock->advance(2001ms);  // past max_lifetime + jitter
    ASSERT_TRUE(eventually([&] { return pool->stats().total == 0; }));
}

TEST_F(PoolTest, ExpiredConnectionIsClosedOnReleaseNotReused) {
    auto o = options();
    o.max_lifetime = 10s;
    o.maintenance_interval = 1h;
    auto pool = make(o);
    {
        auto lease = pool->acquire();
        clock->advance(11s);
    }
    EXPECT_EQ(pool->stats().total, 0u);
    EXPECT_EQ(server->closed, 1);
    auto lease = pool->acquire();
    EXPECT_EQ(lease->id(), 2);
}

TEST_F(PoolTest, ExpiredIdleConnectionIsNotHandedOut) {
    auto o = options();
    o.max_lifetime = 10s;
    o.maintenance_interval = 1h;  // only the acquire-time check can catch it
    auto pool = make(o);
    // The maintenance thread's first pass is over: it sleeps until its next, an hour away. (A
    // thread started late on a loaded machine made that pass after the clock moved, closed the
    // connection itself, on its own thread, and the check below raced with it.)
    ASSERT_TRUE(eventually([&] { return clock->waits() > 0; }));
    pool->acquire().release();
    clock->advance(10s);
    auto lease = pool->acquire();
    EXPECT_EQ(lease->id(), 2);
    EXPECT_EQ(server->closed, 1);
}

TEST_F(PoolTest, MaxUsesRetiresAConnection) {
    auto o = options();
    o.max_uses = 3;
    auto pool = make(o);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(pool->acquire()->id(), 1);
    EXPECT_EQ(pool->acquire()->id(), 2);
    EXPECT_EQ(server->closed, 1);
}

// ---- health check --------------------------------------------------------------------------

TEST_F(PoolTest, HealthCheckPingsOnlyConnectionsIdleLongerThanTheThreshold) {
    auto o = options();
    o.health_check_after = 5s;
    auto pool = make(o);
    pool->acquire().release();
    clock->advance(4999ms);
    pool->acquire().release();
    EXPECT_EQ(server->count("1:;"), 0);
    clock->advance(5s);
    pool->acquire().release();
    EXPECT_EQ(server->count("1:;"), 1);
}

TEST_F(PoolTest, FailedHealthCheckDiscardsAndHandsOutAFreshConnection) {
    auto o = options();
    o.health_check_after = 0ms;
    std::vector<std::string> removed;
    std::mutex m;
    o.on_remove = [&](const PoolEvent& e) {
        std::lock_guard lk(m);
        removed.push_back(e.reason);
    };
    auto pool = make(o);
    pool->acquire().release();
    server->fail_pings = true;
    // New connections are not pinged (they are not idle), so this acquire succeeds.
    auto l = pool->acquire();
    EXPECT_EQ(l->id(), 2);
    std::lock_guard lk(m);
    ASSERT_EQ(removed.size(), 1u);
    EXPECT_EQ(removed[0], "health check failed: server closed the connection unexpectedly");
}

TEST_F(PoolTest, HealthCheckCanBeDisabled) {
    auto o = options();
    o.health_check_after = -1ms;
    auto pool = make(o);
    pool->acquire().release();
    clock->advance(1h);
    pool->acquire().release();
    EXPECT_TRUE(server->queries().empty());
}

TEST_F(PoolTest, BrokenIdleConnectionIsReplacedWithoutPing) {
    auto o = options();
    o.health_check_after = 1h;
    auto pool = make(o);
    FakeConnection* first;
    {
        auto l = pool->acquire();
        first = &*l;
    }
    first->break_connection();  // died while idle (the pool notices is_healthy() == false)
    auto l = pool->acquire();
    EXPECT_EQ(l->id(), 2);
    EXPECT_EQ(server->closed, 1);
}

TEST_F(PoolTest, CustomPingStatement) {
    auto o = options();
    o.health_check_after = 0ms;
    o.ping_sql = "SELECT 1";
    auto pool = make(o);
    pool->acquire().release();
    pool->acquire().release();
    EXPECT_EQ(server->count("1:SELECT 1"), 1);
}

// ---- hooks ---------------------------------------------------------------------------------

TEST_F(PoolTest, AfterConnectRunsOncePerConnection) {
    auto o = options();
    o.after_connect = [](FakeConnection& c) { c.query("SET application_name = 'pool'"); };
    auto pool = make(o);
    pool->acquire().release();
    pool->acquire().release();
    EXPECT_EQ(server->count("1:SET application_name = 'pool'"), 1);
}

TEST_F(PoolTest, AfterConnectFailureFailsTheAcquireAndClosesTheConnection) {
    auto o = options();
    o.after_connect = [](FakeConnection& c) { c.query("ERROR"); };
    auto pool = make(o);
    try {
        pool->acquire();
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::server);
        EXPECT_STREQ(e.what(), "ERROR:  syntax error");
    }
    EXPECT_EQ(server->open, 0);
    EXPECT_EQ(pool->stats().total, 0u);
}

TEST_F(PoolTest, EventHooksReportConnectAcquireReleaseRemoveAndError) {
    std::mutex m;
    std::vector<std::string> events;
    auto rec = [&](std::string what) {
        return [&, what](const PoolEvent& e) {
            std::lock_guard lk(m);
            events.push_back(what + " " + std::to_string(e.connection_id) + (e.reason.empty() ? "" : " " + e.reason));
        };
    };
    auto o = options();
    o.on_connect = rec("connect");
    o.on_acquire = rec("acquire");
    o.on_release = rec("release");
    o.on_remove = rec("remove");
    o.on_error = rec("error");
    auto pool = make(o);
    {
        auto l = pool->acquire();
    }
    {
        auto l = pool->acquire();
        l->break_connection();
    }
    server->refuse = true;
    EXPECT_THROW(pool->acquire(), Error);
    pool->close();
    EXPECT_EQ(events, (std::vector<std::string>{"connect 1", "acquire 1", "release 1", "acquire 1",
                                                "remove 1 connection broken", "error 0 connection refused"}));
}

TEST_F(PoolTest, ThrowingEventHookDoesNotBreakThePool) {
    auto o = options();
    o.on_acquire = [](const PoolEvent&) { throw std::runtime_error("hook"); };
    auto pool = make(o);
    EXPECT_NO_THROW(pool->acquire().release());
    EXPECT_EQ(pool->stats().idle, 1u);
}

// ---- release / reset policy ----------------------------------------------------------------

TEST_F(PoolTest, ReleaseInsideATransactionRollsBack) {
    auto pool = make(options());
    {
        auto l = pool->acquire();
        l->query("BEGIN");
    }
    EXPECT_EQ(server->count("1:ROLLBACK"), 1);
    auto l = pool->acquire();
    EXPECT_EQ(l->id(), 1);
    EXPECT_EQ(l->transaction_status(), TransactionStatus::idle);
}

TEST_F(PoolTest, ReleaseInsideAFailedTransactionRollsBack) {
    auto pool = make(options());
    {
        auto l = pool->acquire();
        l->query("BEGIN");
        EXPECT_THROW(l->query("ERROR"), Error);
        EXPECT_EQ(l->transaction_status(), TransactionStatus::failed);
    }
    EXPECT_EQ(server->count("1:ROLLBACK"), 1);
    EXPECT_EQ(pool->stats().idle, 1u);
}

TEST_F(PoolTest, ReleaseInsideATransactionDiscardsWhenRollbackIsOff) {
    auto o = options();
    o.rollback_on_release = false;
    auto pool = make(o);
    {
        auto l = pool->acquire();
        l->query("BEGIN");
    }
    EXPECT_EQ(server->count("1:ROLLBACK"), 0);
    EXPECT_EQ(pool->stats().total, 0u);
    EXPECT_EQ(server->closed, 1);
}

TEST_F(PoolTest, ReleaseMidCopyOrBrokenDiscards) {
    auto pool = make(options());
    {
        auto l = pool->acquire();
        l->query("COPY");
    }
    {
        auto l = pool->acquire();
        EXPECT_THROW(l->query("KILL"), Error);
    }
    EXPECT_EQ(server->closed, 2);
    EXPECT_EQ(pool->stats().total, 0u);
    EXPECT_EQ(pool->stats().destroyed, 2u);
}

TEST_F(PoolTest, ResetStatementRunsOnEveryCleanRelease) {
    auto o = options();
    o.reset_sql = "DISCARD ALL";
    auto pool = make(o);
    pool->acquire().release();
    pool->acquire().release();
    EXPECT_EQ(server->count("1:DISCARD ALL"), 2);
    server->fail_reset = true;
    pool->acquire().release();
    EXPECT_EQ(pool->stats().total, 0u);
    EXPECT_EQ(server->closed, 1);
}

// ---- connect failures ----------------------------------------------------------------------

TEST_F(PoolTest, ConnectErrorReachesTheCaller) {
    server->refuse = true;
    auto pool = make(options());
    try {
        pool->acquire();
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::connection);
        EXPECT_STREQ(e.what(), "connection refused");
    }
    EXPECT_EQ(pool->stats().connect_errors, 1u);
    EXPECT_EQ(pool->stats().total, 0u);
}

TEST_F(PoolTest, ConnectFailuresBackOffExponentiallyWithACap) {
    server->refuse = true;
    auto o = options();
    o.connect_backoff_initial = 100ms;
    o.connect_backoff_max = 400ms;
    auto pool = make(o);
    EXPECT_THROW(pool->acquire(), Error);  // attempt 1 -> backoff 100 ms
    EXPECT_EQ(server->connect_attempts, 1);

    // Within the backoff nobody connects; the waiter learns why when it gives up.
    auto f = acquire_async(*pool, 50ms);
    wait_waiting(*pool, 1);
    clock->advance(50ms);
    try {
        f.get();
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::pool);
        EXPECT_NE(std::string(e.what()).find("last connect error: connection refused"), std::string::npos) << e.what();
    }
    EXPECT_EQ(server->connect_attempts, 1);

    // A waiter in the backoff connects as soon as it ends.
    auto g = acquire_async(*pool, 0ms);
    wait_waiting(*pool, 1);
    clock->advance(49ms);
    std::this_thread::sleep_for(10ms);
    EXPECT_EQ(server->connect_attempts, 1);
    clock->advance(1ms);
    EXPECT_THROW(g.get(), Error);  // attempt 2 -> backoff 200 ms
    EXPECT_EQ(server->connect_attempts, 2);

    auto expect_next_attempt_after = [&](std::chrono::milliseconds gap, int attempt) {
        auto h = acquire_async(*pool, 0ms);
        wait_waiting(*pool, 1);
        clock->advance(gap - 1ms);
        std::this_thread::sleep_for(10ms);
        EXPECT_EQ(server->connect_attempts, attempt - 1) << "retried before " << gap.count() << " ms";
        clock->advance(1ms);
        EXPECT_THROW(h.get(), Error);
        EXPECT_EQ(server->connect_attempts, attempt);
    };
    expect_next_attempt_after(200ms, 3);
    expect_next_attempt_after(400ms, 4);
    expect_next_attempt_after(400ms, 5);  // capped

    // Success resets the backoff.
    server->refuse = false;
    clock->advance(400ms);
    pool->acquire().release();
    server->refuse = true;
    pool->acquire().release();  // idle connection, no connect
    EXPECT_EQ(server->connect_attempts, 6);
}

TEST_F(PoolTest, MaintenanceDoesNotSpinAgainstADeadServer) {
    server->refuse = true;
    auto o = options();
    o.min_size = 2;
    o.connect_backoff_initial = 100ms;
    o.connect_backoff_max = 1s;
    auto pool = make(o);
    ASSERT_TRUE(eventually([&] { return server->connect_attempts >= 1; }));
    std::this_thread::sleep_for(30ms);
    EXPECT_EQ(server->connect_attempts, 1);  // fake time did not move: no retry
    clock->advance(100ms);
    ASSERT_TRUE(eventually([&] { return server->connect_attempts >= 2; }));
    server->refuse = false;
    clock->advance(200ms);
    ASSERT_TRUE(eventually([&] { return pool->stats().idle == 2; }));
}

// Without a backoff (connect_backoff_initial = 0) the maintenance thread retries min_size at its
// regular pass, not in a tight loop against the dead server.
TEST_F(PoolTest, MaintenanceWithoutBackoffDoesNotSpinAgainstADeadServer) {
    server->refuse = true;
    auto o = options();
    o.min_size = 1;
    o.connect_backoff_initial = 0ms;
    auto pool = make(o);
    ASSERT_TRUE(eventually([&] { return server->connect_attempts >= 1; }));
    std::this_thread::sleep_for(30ms);
    EXPECT_EQ(server->connect_attempts, 1);  // fake time did not move: no retry
    server->refuse = false;
    clock->advance(o.maintenance_interval);
    ASSERT_TRUE(eventually([&] { return pool->stats().idle == 1; }));
}

// ---- close ---------------------------------------------------------------------------------

TEST_F(PoolTest, CloseWaitsForOutstandingLeasesThenClosesEverything) {
    auto pool = make(options());
    auto lease = pool->acquire();
    pool->acquire().release();  // one idle
    ASSERT_EQ(pool->stats().total, 2u);
    auto closing = std::async(std::launch::async, [&] { pool->close(10s); });
    ASSERT_TRUE(eventually([&] { return server->closed == 1; }));  // the idle one at once
    EXPECT_EQ(closing.wait_for(20ms), std::future_status::timeout);
    EXPECT_THROW(pool->acquire(), Error);
    lease.release();
    closing.get();
    EXPECT_EQ(server->open, 0);
    EXPECT_TRUE(pool->is_closed());
}

TEST_F(PoolTest, CloseGivesUpAfterTheDeadlineAndLateLeasesCloseTheirConnection) {
    auto o = options();
    o.close_timeout = 0ms;  // the destructor must not wait for the lease either
    auto pool = make(o);
    auto lease = pool->acquire();
    auto closing = std::async(std::launch::async, [&] { pool->close(1s); });
    // close() has taken its deadline once the pool reads closed; advancing earlier would
    // move the deadline along with the clock.
    ASSERT_TRUE(eventually([&] { return pool->is_closed(); }));
    EXPECT_EQ(closing.wait_for(20ms), std::future_status::timeout);
    clock->advance(1s);
    closing.get();
    EXPECT_EQ(server->open, 1);
    pool.reset();  // the lease keeps the pool's state alive
    lease->query("SELECT 1");
    lease.release();
    EXPECT_EQ(server->open, 0);
}

TEST_F(PoolTest, CloseWakesWaitersWithAnError) {
    auto o = options();
    o.max_size = 1;
    auto pool = make(o);
    auto lease = pool->acquire();
    auto waiter = acquire_async(*pool, 0ms);
    wait_waiting(*pool, 1);
    auto closing = std::async(std::launch::async, [&] { pool->close(10s); });
    try {
        waiter.get();
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::pool);
        EXPECT_STREQ(e.what(), "pool is closed");
    }
    lease.release();
    closing.get();
    EXPECT_EQ(server->open, 0);
}

// A thread still blocked in acquire() when the pool is destroyed gets "pool is closed" (the
// destructor closes the pool), and must not touch the pool's state once it is gone: the clock
// below holds that thread's wait (the pool's lock released) until the destructor returned.
// Without the acquire keeping the state alive this is a heap-use-after-free under ASan.
TEST_F(PoolTest, AThreadWaitingWhileThePoolIsDestroyedFailsWithoutTouchingIt) {
    struct HeldClock final : PoolClock {
        std::shared_ptr<FakeClock> inner;
        std::atomic<std::thread::id> held_thread{};
        mutable std::mutex gate_m;
        mutable std::condition_variable gate_cv;
        mutable bool waiting_at_gate = false, open = false;
        explicit HeldClock(std::shared_ptr<FakeClock> c) : inner(std::move(c)) {}
        time_point now() const override { return inner->now(); }
        void wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                        time_point deadline) const override {
            if (std::this_thread::get_id() != held_thread.load()) return inner->wait_until(cv, lock, deadline);
            lock.unlock();
            {
                std::unique_lock g(gate_m);
                waiting_at_gate = true;
                gate_cv.notify_all();
                gate_cv.wait(g, [&] { return open; });
            }
            lock.lock();  // the pool's mutex: freed memory unless acquire() keeps the pool alive
        }
    };
    auto held = std::make_shared<HeldClock>(clock);
    server->refuse = true;
    auto o = options();
    o.max_size = 1;
    o.connect_backoff_initial = 10s;  // fake time stands still: the second acquire waits it out
    o.connect_backoff_max = 10s;
    auto pool = std::make_unique<FakePool>(fake_connector(server), o, held);
    EXPECT_THROW(pool->acquire(0ms), Error);  // refused: the backoff runs, nothing is lent
    std::promise<std::thread::id> started;
    std::promise<void> go;
    auto waiter = std::async(std::launch::async, [&, p = pool.get()] {
        started.set_value(std::this_thread::get_id());
        go.get_future().wait();
        return p->acquire(0ms);
    });
    held->held_thread = started.get_future().get();
    go.set_value();
    {
        std::unique_lock g(held->gate_m);
        held->gate_cv.wait(g, [&] { return held->waiting_at_gate; });
    }
    pool.reset();  // closes: the waiter's acquire is failed, then the pool is gone
    {
        std::lock_guard g(held->gate_m);
        held->open = true;
    }
    held->gate_cv.notify_all();
    try {
        waiter.get();
        FAIL() << "the waiter got a connection";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::pool);
        EXPECT_STREQ(e.what(), "pool is closed");
    }
}

// The event hooks run on the maintenance thread for min_size's connects: a hook may close the
// pool there (e.g. on_error giving up on a dead server) without the pool joining its own thread
// or leaving it joinable (std::terminate).
TEST_F(PoolTest, AHookOnTheMaintenanceThreadMayCloseThePool) {
    server->refuse = true;
    auto o = options();
    o.min_size = 1;
    std::atomic<FakePool*> target{nullptr};
    std::atomic<bool> closed_by_hook{false};
    o.on_error = [&](const PoolEvent&) {
        FakePool* p = nullptr;
        while (!(p = target.load())) std::this_thread::yield();
        p->close(0ms);
        closed_by_hook = true;
    };
    auto pool = make(o);
    target = pool.get();
    ASSERT_TRUE(eventually([&] { return closed_by_hook.load(); }));
    EXPECT_TRUE(pool->is_closed());
    EXPECT_THROW(pool->acquire(), Error);
    pool.reset();
    EXPECT_EQ(server->connect_attempts, 1);
}

TEST_F(PoolTest, DestructorClosesEverything) {
    auto o = options();
    o.min_size = 3;
    {
        auto pool = make(o);
        ASSERT_TRUE(eventually([&] { return pool->stats().idle == 3; }));
    }
    EXPECT_EQ(server->open, 0);
    EXPECT_EQ(server->closed, 3);
}

// ---- concurrency ---------------------------------------------------------------------------

// Real clock, many threads, random dirty and broken releases: a connection is never lent to
// two threads at once (FakeConnection throws if it is), counters stay consistent, nothing leaks.
TEST(PoolStress, ManyThreadsShareFewConnections) {
    auto server = std::make_shared<FakeServer>();
    FakePool::Options o;
    o.max_size = 3;
    o.min_size = 1;
    o.acquire_timeout = 0ms;
    o.health_check_after = 0ms;
    o.max_uses = 50;
    o.maintenance_interval = 1ms;
    o.idle_timeout = 2ms;
    std::atomic<int> ok{0};
    {
        FakePool pool(fake_connector(server), o);
        std::vector<std::thread> threads;
        for (int t = 0; t < 8; ++t) {
            threads.emplace_back([&, t] {
                for (int i = 1; i <= 400; ++i) {  // i + t never a multiple of both 29 and 31
                    auto l = pool.acquire();
                    l->query("SELECT");
                    if ((i + t) % 17 == 0) l->query("BEGIN");
                    if ((i + t) % 29 == 0) l->break_connection();
                    if ((i + t) % 31 == 0) l->query("COPY");
                    ++ok;
                    auto s = pool.stats();
                    EXPECT_LE(s.total, 3u);
                    EXPECT_EQ(s.total, s.idle + s.in_use + s.opening);
                }
            });
        }
        for (auto& t : threads) t.join();
        auto s = pool.stats();
        EXPECT_EQ(s.acquire_count, 3200u);
        EXPECT_EQ(s.created - s.destroyed, s.total);
    }
    EXPECT_EQ(ok, 3200);
    EXPECT_EQ(server->open, 0);
}

}  // namespace
}  // namespace pgtls::test
