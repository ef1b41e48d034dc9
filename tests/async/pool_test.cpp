// The asynchronous pool (pgtls/async_pool.hpp) against the real test servers, on every TLS
// backend, driven by a plain poll() loop the way an application's event loop would: acquire,
// release and reuse, FIFO order, timeouts, cancellation, the health check, retirement by uses
// and lifetime, rollback on release, after_connect, min_size, close and destruction with
// acquires and leases in flight.
#include "pgtls/async_pool.hpp"

#include <gtest/gtest.h>

#include <poll.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <thread>

#include "pgtls/client.hpp"
#include "tests/integration/driver_pool.hpp"
#include "tests/integration/integration_fixture.hpp"
#include "tests/support/proxy/silent_listener.hpp"
#include "tests/support/trace/recording_tracer.hpp"

using namespace pgtls;
using namespace pgtls::test;
using namespace std::chrono_literals;

namespace {

// Runs `pool`'s loop until `finished()` or `limit`; false on the limit.
bool run_loop(AsyncPool& pool, const std::function<bool()>& finished, std::chrono::milliseconds limit = 20s) {
    return run_async_loop(pool, finished, limit);
}

// One acquire's outcome.
struct Got {
    bool done = false;
    std::exception_ptr error;
    AsyncPool::Lease lease;
    void set(std::exception_ptr e, AsyncPool::Lease l) {
        done = true;
        error = e;
        lease = std::move(l);
    }
    AsyncPool::AcquireCallback callback() {
        return [this](std::exception_ptr e, AsyncPool::Lease l) { set(e, std::move(l)); };
    }
};

class AsyncPoolTest : public BackendTest {
protected:
    AsyncPoolOptions small(std::size_t max) const {
        AsyncPoolOptions o;
        o.max_size = max;
        o.acquire_timeout = 20s;
        return o;
    }
    // The callbacks of acquire() and query() keep what they write alive (a shared_ptr): a helper
    // that returns on the loop's time limit leaves its operation pending, and the pool or the
    // connection completes it later (advanced, or destroyed) — not into the helper's returned
    // stack frame.
    // Acquires one connection, running the loop; fails the test on an error.
    AsyncPool::Lease acquire(AsyncPool& pool) {
        const auto g = std::make_shared<Got>();
        pool.acquire([g](std::exception_ptr e, AsyncPool::Lease l) { g->set(e, std::move(l)); });
        EXPECT_TRUE(run_loop(pool, [&] { return g->done; })) << "acquire did not finish";
        EXPECT_FALSE(g->error) << what(g->error);
        return std::move(g->lease);
    }
    // Runs `sql` on the lease's connection through the pool's loop.
    std::vector<Result> query(AsyncPool& pool, AsyncPool::Lease& lease, const std::string& sql) {
        struct Outcome {
            bool done = false;
            std::vector<Result> results;
            std::exception_ptr error;
        };
        const auto out = std::make_shared<Outcome>();
        lease->query(sql, [out](std::exception_ptr e, std::vector<Result> r) {
            out->error = e;
            out->results = std::move(r);
            out->done = true;
        });
        EXPECT_TRUE(run_loop(pool, [&] { return out->done; }));
        EXPECT_FALSE(out->error) << what(out->error);
        return std::move(out->results);
    }
    // Lets the pool carry out what is due (a release, a close) without waiting for anything.
    void settle(AsyncPool& pool, const std::function<bool()>& until) { EXPECT_TRUE(run_loop(pool, until)); }
};
PGTLS_INSTANTIATE_PER_BACKEND(AsyncPoolTest);

}  // namespace

TEST_P(AsyncPoolTest, AcquiresReleasesAndReusesAConnection) {
    AsyncPool pool(pg18_verified(), small(2));
    auto lease = acquire(pool);
    ASSERT_TRUE(lease);
    EXPECT_EQ(lease.connection_id(), 1u);
    EXPECT_EQ(lease.uses(), 1u);
    EXPECT_EQ(lease->info().ssl, has_tls());
    if (has_tls()) {
        EXPECT_EQ(lease->info().backend, backend());
    }
    EXPECT_EQ(query(pool, lease, "SELECT 41 + 1").at(0)[0][0].as<int>(), 42);
    EXPECT_EQ(pool.stats().in_use, 1u);
    lease.release();
    EXPECT_FALSE(lease);
    settle(pool, [&] { return pool.stats().idle == 1; });

    auto again = acquire(pool);
    EXPECT_EQ(again.connection_id(), 1u) << "the idle connection is reused";
    EXPECT_EQ(again.uses(), 2u);
    const PoolStats s = pool.stats();
    EXPECT_EQ(s.created, 1u);
    EXPECT_EQ(s.acquire_count, 2u);
    EXPECT_EQ(s.total, 1u);
}

TEST_P(AsyncPoolTest, CallbacksRunOnlyFromAdvance) {
    Got g;  // outlives the pool, whose destructor may complete the acquire
    AsyncPool pool(pg18_verified(), small(1));
    auto lease = acquire(pool);
    lease.release();
    settle(pool, [&] { return pool.stats().idle == 1; });
    pool.acquire(g.callback());
    EXPECT_FALSE(g.done) << "an idle connection is handed over from advance(), not from acquire()";
    ASSERT_TRUE(pool.deadline());
    EXPECT_LE(*pool.deadline(), AsyncPool::Clock::now()) << "the hand-over is due at once";
    settle(pool, [&] { return g.done; });
    EXPECT_TRUE(g.lease);
}

// The event hooks too: an acquire() that takes back a lease given back just before and hands
// the connection straight on (release, then lend) calls no hook itself; advance() calls them,
// in order, before the acquire's completion.
TEST_P(AsyncPoolTest, HooksRunOnlyFromAdvance) {
    AsyncPoolOptions o = small(1);
    std::vector<std::string> heard;
    bool completed = false;
    Got g;  // outlives the pool, whose destructor may complete the acquire
    o.on_acquire = [&](const PoolEvent&) { heard.push_back(completed ? "acquire after completion" : "acquire"); };
    o.on_release = [&](const PoolEvent&) { heard.push_back("release"); };
    AsyncPool pool(pg18_verified(), o);
    auto lease = acquire(pool);
    EXPECT_EQ(heard, std::vector<std::string>{"acquire"});
    lease.release();
    pool.acquire([&](std::exception_ptr e, AsyncPool::Lease l) {
        completed = true;
        g.callback()(e, std::move(l));
    });
    EXPECT_EQ(heard, std::vector<std::string>{"acquire"}) << "no hook runs inside acquire()";
    settle(pool, [&] { return g.done; });
    EXPECT_EQ(heard, (std::vector<std::string>{"acquire", "release", "acquire"}));
}

TEST_P(AsyncPoolTest, WaitersAreServedInTheOrderTheyAsked) {
    std::vector<int> order;  // order and ids outlive the pool's callbacks
    std::vector<std::uint64_t> ids;
    AsyncPool pool(pg18_verified(), small(1));
    auto held = acquire(pool);
    for (int i = 1; i <= 3; ++i)
        pool.acquire([&, i](std::exception_ptr e, AsyncPool::Lease l) {
            ASSERT_FALSE(e) << what(e);
            order.push_back(i);
            ids.push_back(l.connection_id());
            // The lease goes back as `l` is destroyed: the next waiter's turn.
        });
    settle(pool, [&] { return pool.stats().waiting == 3; });
    EXPECT_TRUE(order.empty());
    held.release();
    settle(pool, [&] { return order.size() == 3; });
    EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
    EXPECT_EQ(ids, (std::vector<std::uint64_t>{1, 1, 1})) << "one connection handed from waiter to waiter";
}

TEST_P(AsyncPoolTest, AnAcquireTimesOutWhenThePoolIsExhausted) {
    Got g;  // outlives the pool, whose destructor may complete the acquire
    AsyncPool pool(pg18_verified(), small(1));
    auto held = acquire(pool);
    const auto start = AsyncPool::Clock::now();
    pool.acquire(200ms, g.callback());
    settle(pool, [&] { return g.done; });
    const auto took = AsyncPool::Clock::now() - start;
    EXPECT_GE(took, 200ms);
    EXPECT_LT(took, 10s);
    ASSERT_TRUE(g.error);
    try {
        std::rethrow_exception(g.error);
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::pool);
        EXPECT_NE(std::string(e.what()).find("pool exhausted: 1 of 1 connections in use"), std::string::npos) << e.what();
    }
    EXPECT_EQ(pool.stats().acquire_timeouts, 1u);
    EXPECT_TRUE(held) << "the lease held is unaffected";
}

TEST_P(AsyncPoolTest, CancellingAWaitingAcquireHandsTheConnectionToTheNext) {
    Got first, second;  // outlive the pool, whose destructor may complete the acquires
    AsyncPool pool(pg18_verified(), small(1));
    auto held = acquire(pool);
    const auto id = pool.acquire(first.callback());
    pool.acquire(second.callback());
    settle(pool, [&] { return pool.stats().waiting == 2; });
    pool.cancel(id);
    settle(pool, [&] { return first.done; });
    ASSERT_TRUE(first.error);
    EXPECT_NE(what(first.error).find("acquire cancelled"), std::string::npos) << what(first.error);
    EXPECT_FALSE(first.lease);
    pool.cancel(id);  // already completed: nothing
    held.release();
    settle(pool, [&] { return second.done; });
    EXPECT_FALSE(second.error) << what(second.error);
    EXPECT_EQ(second.lease.connection_id(), 1u);
}

// An acquire cancelled while the connection lent to it is being health-checked: the
// connection goes back idle, and the stats count no acquisition for it.
TEST_P(AsyncPoolTest, AnAcquireCancelledDuringItsHealthCheckIsNotCounted) {
    Got cancelled;  // outlives the pool, whose destructor may complete the acquire
    AsyncPoolOptions o = small(1);
    o.health_check_after = 0ms;  // every lend of an idle connection is pinged
    AsyncPool pool(pg18_verified(), o);
    acquire(pool).release();
    settle(pool, [&] { return pool.stats().idle == 1; });
    const auto id = pool.acquire(cancelled.callback());  // lent at once, its ping started
    ASSERT_EQ(pool.stats().in_use, 1u);
    pool.cancel(id);
    settle(pool, [&] { return cancelled.done && pool.stats().idle == 1; });
    EXPECT_TRUE(cancelled.error);
    const PoolStats s = pool.stats();
    EXPECT_EQ(s.acquire_count, 1u) << "the cancelled acquire was counted as served";
    auto again = acquire(pool);
    EXPECT_EQ(again.uses(), 2u);
}

TEST_P(AsyncPoolTest, ATerminatedIdleConnectionIsReplacedByTheHealthCheck) {
    AsyncPoolOptions o = small(2);
    std::vector<std::string> removed;
    o.on_remove = [&](const PoolEvent& e) { removed.push_back(e.reason); };
    AsyncPool pool(pg18_verified(), o);
    auto lease = acquire(pool);
    const int pid = query(pool, lease, "SELECT pg_backend_pid()").at(0)[0][0].as<int>();
    lease.release();
    settle(pool, [&] { return pool.stats().idle == 1; });

    Client admin(pg18_verified());
    admin.exec("SELECT pg_terminate_backend($1, 5000)", pid);
    std::this_thread::sleep_for(20ms);  // idle for at least the 1 ms after which the socket is probed

    auto fresh = acquire(pool);
    ASSERT_TRUE(fresh);
    EXPECT_EQ(fresh.connection_id(), 2u) << "the dead connection was not handed out";
    EXPECT_NE(query(pool, fresh, "SELECT pg_backend_pid()").at(0)[0][0].as<int>(), pid);
    ASSERT_EQ(removed.size(), 1u);
    EXPECT_NE(removed[0].find("health check failed"), std::string::npos) << removed[0];
}

TEST_P(AsyncPoolTest, ConnectionsRetireAfterMaxUsesAndAfterTheirLifetime) {
    AsyncPoolOptions o = small(1);
    o.max_uses = 2;
    std::vector<std::string> removed;
    o.on_remove = [&](const PoolEvent& e) { removed.push_back(e.reason); };
    {
        AsyncPool pool(pg18_verified(), o);
        std::vector<std::uint64_t> ids;
        for (int i = 0; i < 3; ++i) {
            auto l = acquire(pool);
            ids.push_back(l.connection_id());
        }
        EXPECT_EQ(ids, (std::vector<std::uint64_t>{1, 1, 2}));
        ASSERT_FALSE(removed.empty());
        EXPECT_EQ(removed[0], "max uses reached");
    }
    removed.clear();
    o.max_uses = 0;
    o.max_lifetime = 300ms;
    AsyncPool pool(pg18_verified(), o);
    acquire(pool).release();
    std::this_thread::sleep_for(400ms);
    auto l = acquire(pool);
    EXPECT_EQ(l.connection_id(), 2u);
    ASSERT_FALSE(removed.empty());
    EXPECT_EQ(removed[0], "max lifetime reached");
}

TEST_P(AsyncPoolTest, ATransactionLeftOpenIsRolledBackAndAfterConnectRunsFirst) {
    AsyncPoolOptions o = small(1);
    o.after_connect = [](AsyncConnection& c) {
        c.query("SET application_name = 'pooled'", [](std::exception_ptr, std::vector<Result>) {});
    };
    AsyncPool pool(pg18_verified(), o);
    auto lease = acquire(pool);
    EXPECT_EQ(query(pool, lease, "SHOW application_name").at(0)[0][0].view(), "pooled");
    query(pool, lease, "BEGIN; CREATE TEMP TABLE pooled_t (n int)");
    EXPECT_EQ(lease->transaction_status(), TransactionStatus::in_transaction);
    lease.release();
    auto again = acquire(pool);
    EXPECT_EQ(again.connection_id(), 1u);
    EXPECT_EQ(again->transaction_status(), TransactionStatus::idle);
    EXPECT_EQ(query(pool, again, "SELECT to_regclass('pooled_t') IS NULL").at(0)[0][0].view(), "t");
}

TEST_P(AsyncPoolTest, MinSizeIsFilledByTheLoop) {
    AsyncPoolOptions o = small(3);
    o.min_size = 2;
    AsyncPool pool(pg18_verified(), o);
    settle(pool, [&] { return pool.stats().idle == 2; });
    EXPECT_EQ(pool.stats().created, 2u);
}

TEST_P(AsyncPoolTest, CloseFailsWaitersAndClosesLeasesAsTheyComeBack) {
    Got a, b, late;  // outlive the pool, whose destructor may complete the acquires
    AsyncPool pool(pg18_verified(), small(1));
    auto held = acquire(pool);
    pool.acquire(a.callback());
    pool.acquire(b.callback());
    pool.close();
    EXPECT_TRUE(pool.is_closed());
    settle(pool, [&] { return a.done && b.done; });
    for (Got* g : {&a, &b}) EXPECT_NE(what(g->error).find("pool is closed"), std::string::npos) << what(g->error);
    EXPECT_EQ(query(pool, held, "SELECT 1").size(), 1u) << "a lease out keeps working";
    held.release();
    settle(pool, [&] { return pool.stats().total == 0; });
    pool.acquire(late.callback());
    settle(pool, [&] { return late.done; });
    EXPECT_NE(what(late.error).find("pool is closed"), std::string::npos);
}

TEST_P(AsyncPoolTest, DestroyingThePoolCompletesEverythingInFlight) {
    Got waiting, connecting;
    bool query_done = false;
    std::exception_ptr query_error;
    AsyncPool::Lease survivor;
    SilentListener silent;  // a connect to it stays in flight
    {
        AsyncPool hanging(config("host=127.0.0.1 port=" + std::to_string(silent.port()) +
                                 " dbname=pgtls user=scramuser sslmode=disable"),
                          small(1));
        hanging.acquire(connecting.callback());
        hanging.advance();
        EXPECT_FALSE(connecting.done);
        AsyncPool pool(pg18_verified(), small(1));
        survivor = acquire(pool);
        survivor->query("SELECT pg_sleep(5)", [&](std::exception_ptr e, std::vector<Result>) {
            query_done = true;
            query_error = e;
        });
        pool.acquire(waiting.callback());
        pool.advance();  // the query sent, the acquire waiting for the one connection
        EXPECT_FALSE(waiting.done);
    }
    for (Got* g : {&waiting, &connecting}) {
        EXPECT_TRUE(g->done) << "completed by the destructor";
        EXPECT_TRUE(g->error);
    }
    EXPECT_TRUE(query_done) << "the lent connection's query completed by the destructor";
    EXPECT_TRUE(query_error);
    EXPECT_FALSE(survivor) << "a lease that outlives its pool is empty";
    EXPECT_THROW((void)survivor.get(), Error);
}

TEST_P(AsyncPoolTest, ACallbackMayDestroyThePool) {
    bool called = false;  // outlives the pool's callback
    auto pool = std::make_unique<AsyncPool>(pg18_verified(), small(1));
    pool->acquire([&](std::exception_ptr e, AsyncPool::Lease l) {
        called = true;
        EXPECT_FALSE(e) << what(e);
        l.release();
        pool.reset();
    });
    const auto end = AsyncPool::Clock::now() + 20s;
    while (pool && AsyncPool::Clock::now() < end) {
        std::vector<pollfd> fds;
        for (const AsyncWatch& w : pool->watches())
            fds.push_back({w.fd, static_cast<short>((w.read ? POLLIN : 0) | (w.write ? POLLOUT : 0)), 0});
        ::poll(fds.data(), fds.size(), 10);
        pool->advance();
    }
    EXPECT_TRUE(called);
    EXPECT_FALSE(pool);
    // If the loop gave up, the pool is destroyed here, not by pool's destructor: that completes
    // the acquire, whose pool.reset() would delete the pool a second time from inside its
    // destruction; with pool empty it does nothing.
    delete pool.release();
}

TEST_P(AsyncPoolTest, AFailedConnectReachesItsAcquirerWithItsOwnError) {
    Config bad = pg18_verified();
    bad.conninfo += " password=wrong";
    AsyncPoolOptions o = small(1);
    int errors = 0;
    o.on_error = [&](const PoolEvent&) { ++errors; };
    Got g;  // outlives the pool, whose destructor may complete the acquire
    AsyncPool pool(bad, o);
    pool.acquire(g.callback());
    settle(pool, [&] { return g.done; });
    ASSERT_TRUE(g.error);
    try {
        std::rethrow_exception(g.error);
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::authentication) << e.what();
    }
    EXPECT_EQ(errors, 1);
    EXPECT_EQ(pool.stats().connect_errors, 1u);
}

TEST_P(AsyncPoolTest, ALeaseGivenBackJustBeforeAnAcquireIsReused) {
    AsyncPool pool(pg18_verified(), small(2));
    auto lease = acquire(pool);
    lease.release();
    auto next = acquire(pool);  // no advance() between: the return is taken first
    EXPECT_EQ(next.connection_id(), 1u);
    EXPECT_EQ(pool.stats().created, 1u);
}

TEST_P(AsyncPoolTest, ReleaseResetsTheLeaseAndIdleConnectionsExpire) {
    AsyncPoolOptions o = small(1);
    o.reset_sql = "RESET application_name";
    o.idle_timeout = 200ms;
    o.maintenance_interval = 50ms;
    int connects = 0, acquires = 0, releases = 0;
    std::vector<std::string> removed;
    o.on_connect = [&](const PoolEvent&) { ++connects; };
    o.on_acquire = [&](const PoolEvent&) { ++acquires; };
    o.on_release = [&](const PoolEvent&) { ++releases; };
    o.on_remove = [&](const PoolEvent& e) { removed.push_back(e.reason); };
    AsyncPool pool(pg18_verified(), o);
    auto lease = acquire(pool);
    query(pool, lease, "SET application_name = 'borrower'");
    lease->set_notice_handler([](const Notice&) {});
    lease->set_query_timeout(5s);
    lease.release();
    auto again = acquire(pool);
    EXPECT_EQ(again.connection_id(), 1u);
    EXPECT_NE(query(pool, again, "SHOW application_name").at(0)[0][0].view(), "borrower") << "reset_sql ran";
    EXPECT_FALSE(again->notice_handler()) << "the borrower's notice handler does not outlive its lease";
    EXPECT_EQ(again->query_timeout(), 0ms);
    again.release();
    settle(pool, [&] { return pool.stats().total == 0; });
    ASSERT_EQ(removed.size(), 1u);
    EXPECT_EQ(removed[0], "idle timeout");
    EXPECT_EQ(connects, 1);
    EXPECT_EQ(acquires, 2);
    EXPECT_EQ(releases, 2);
}

TEST_P(AsyncPoolTest, AConnectToASilentServerEndsByTheAcquireTimeout) {
    SilentListener silent;
    Config cfg = config("host=127.0.0.1 port=" + std::to_string(silent.port()) +
                        " dbname=pgtls user=scramuser password=scram-secret" +
                        (has_tls() ? " sslmode=verify-full" + ca() : std::string(" sslmode=disable")));
    Got g;  // outlives the pool, whose destructor may complete the acquire
    AsyncPool pool(cfg, small(1));
    const auto start = AsyncPool::Clock::now();
    pool.acquire(300ms, g.callback());
    settle(pool, [&] { return g.done; });
    const auto took = AsyncPool::Clock::now() - start;
    ASSERT_TRUE(g.error);
    EXPECT_GE(took, 300ms);
    EXPECT_LT(took, 5s) << "bounded by the acquire timeout, not by a connect_timeout";
    try {
        std::rethrow_exception(g.error);
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::timeout) << e.what();
    }
    EXPECT_EQ(pool.stats().total, 0u);
    EXPECT_EQ(pool.stats().connect_errors, 1u);
}

TEST_P(AsyncPoolTest, ABrokenOrBusyConnectionIsClosedOnRelease) {
    AsyncPoolOptions o = small(1);
    std::vector<std::string> removed;
    o.on_remove = [&](const PoolEvent& e) { removed.push_back(e.reason); };
    // What the queries' callbacks capture outlives the pool, which owns their connections.
    bool failed = false;
    bool done = false;
    std::exception_ptr error;
    AsyncPool pool(pg18_verified(), o);
    auto lease = acquire(pool);
    const int pid = query(pool, lease, "SELECT pg_backend_pid()").at(0)[0][0].as<int>();
    Client admin(pg18_verified());
    admin.exec("SELECT pg_terminate_backend($1, 5000)", pid);
    lease->query("SELECT 1", [&](std::exception_ptr e, std::vector<Result>) { failed = e != nullptr; });
    settle(pool, [&] { return failed; });
    lease.release();
    auto fresh = acquire(pool);
    EXPECT_EQ(fresh.connection_id(), 2u);
    ASSERT_EQ(removed.size(), 1u);
    EXPECT_EQ(removed[0], "connection broken");

    fresh->query("SELECT pg_sleep(5)", [&](std::exception_ptr e, std::vector<Result>) {
        done = true;
        error = e;
    });
    fresh.release();  // with the query in flight
    settle(pool, [&] { return done && pool.stats().total == 0; });
    EXPECT_TRUE(error) << "the query in flight ended with the connection";
    ASSERT_EQ(removed.size(), 2u);
    EXPECT_EQ(removed[1], "released mid-query, mid-COPY or not connected");
}

// As the blocking pool (PoolLeaseIsolation): a borrower's statement cache capacity is put back
// on release, and the statements the cache held closed on the server.
TEST_P(AsyncPoolTest, StatementCacheCapacityIsRestoredAndItsStatementsClosed) {
    bool set = false;  // outlives the pool, which owns the connection its callback is queued on
    AsyncPool pool(pg18_verified(), small(1));
    auto a = acquire(pool);
    a->set_statement_cache_capacity(4, [&set](std::exception_ptr e) { set = !e; });
    for (int i = 1; i <= 3; ++i)
        a->execute_args("SELECT $1::int + " + std::to_string(i), [](std::exception_ptr, Result) {}, 1);
    EXPECT_EQ(query(pool, a, "SELECT count(*) FROM pg_prepared_statements").at(0)[0][0].as<int>(), 3);
    EXPECT_TRUE(set);
    a.release();
    auto b = acquire(pool);
    EXPECT_EQ(b.connection_id(), 1u);
    EXPECT_EQ(b->statement_cache_capacity(), 0u);
    EXPECT_EQ(query(pool, b, "SELECT count(*) FROM pg_prepared_statements").at(0)[0][0].as<int>(), 0)
        << "statements cached for A are left prepared on the session";
}

// A lease given back while a COPY FROM STDIN it opened is still open: no operation of the
// connection runs, yet it is mid-COPY; the next borrower must not get it (its queries would wait
// behind the COPY, and the abandoned writer could still write).
TEST_P(AsyncPoolTest, AConnectionReleasedMidCopyIsNotLentAgain) {
    const auto writer = std::make_shared<AsyncCopyIn>();  // outlives the pool: its COPY is dropped with it
    bool opened = false;
    AsyncPool pool(pg18_verified(), small(2));
    auto lease = acquire(pool);
    query(pool, lease, "CREATE TEMP TABLE copy_left_open (n int)");
    lease->open_copy_in("COPY copy_left_open FROM STDIN", [writer, &opened](std::exception_ptr e, AsyncCopyIn w) {
        *writer = std::move(w);
        opened = !e;
    });
    settle(pool, [&] { return opened; });
    ASSERT_TRUE(writer->is_open());
    lease.release();
    auto next = acquire(pool);
    EXPECT_EQ(next.connection_id(), 2u) << "the connection left mid-COPY was lent again";
    settle(pool, [&] { return pool.stats().total == 1; });
    EXPECT_EQ(pool.stats().destroyed_for(PoolCloseReason::unclean_release), 1u);
}

// The pool's spans, as the blocking pool reports them (tests/integration/pool_trace_test.cpp):
// the Config's tracer and the default name, the connection's own spans under create, release
// and acquire (the health check), a failed check's close under the acquire.
TEST_P(AsyncPoolTest, ReportsTheBlockingPoolsSpansWithTheirConnectionsSpansInside) {
    auto tracer = std::make_shared<RecordingTracer>();
    Config cfg = pg18_verified();
    cfg.tracer = tracer;  // the pool's spans go to the Config's tracer when its options name none
    AsyncPoolOptions o = small(1);
    o.health_check_after = 0ms;  // every reuse is pinged: a terminated backend is noticed
    AsyncPool pool(cfg, o);
    const int port = env().server("pg18").port;

    auto lease = acquire(pool);
    const int pid = query(pool, lease, "SELECT pg_backend_pid()").at(0)[0][0].as<int>();
    query(pool, lease, "BEGIN");
    lease.release();
    settle(pool, [&] { return pool.stats().idle == 1; });

    const auto acquires = tracer->named("pgtls.pool.acquire");
    const auto creates = tracer->named("pgtls.pool.create");
    ASSERT_EQ(acquires.size(), 1u);
    ASSERT_EQ(creates.size(), 1u);
    EXPECT_EQ(creates[0].parent_id, acquires[0].id);
    EXPECT_EQ(text_of(creates[0], "pgtls.pool.create.trigger"), "acquire");
    EXPECT_EQ(number_of(creates[0], "pgtls.pool.connection.id"), 1);
    EXPECT_FALSE(tracer->children(creates[0].id).empty()) << "the connect's spans sit under create";
    EXPECT_EQ(text_of(acquires[0], "db.client.connection.pool.name"),
              "scramuser@localhost:" + std::to_string(port) + "/" + resolve(cfg).dbname);
    EXPECT_EQ(text_of(acquires[0], "pgtls.pool.acquire.outcome"), "acquired");
    EXPECT_EQ(flag_of(acquires[0], "pgtls.pool.connection.created"), true);
    EXPECT_EQ(number_of(acquires[0], "pgtls.pool.connection.id"), 1);
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
        admin.exec("SELECT pg_terminate_backend($1, 5000)", pid);
    }
    std::this_thread::sleep_for(20ms);
    tracer->clear();
    auto fresh = acquire(pool);
    ASSERT_TRUE(fresh);
    settle(pool, [&] { return tracer->named("pgtls.pool.destroy").size() == 1; });
    const auto second = tracer->named("pgtls.pool.acquire");
    const auto destroyed = tracer->named("pgtls.pool.destroy");
    ASSERT_EQ(second.size(), 1u);
    ASSERT_EQ(destroyed.size(), 1u);
    const std::string reason = text_of(destroyed[0], "pgtls.pool.destroy.reason");
    EXPECT_TRUE(reason == "health_check_failed" || reason == "broken") << reason;
    EXPECT_EQ(destroyed[0].parent_id, second[0].id);
    EXPECT_EQ(number_of(second[0], "pgtls.pool.acquire.checks_failed"), 1);
    EXPECT_TRUE(has_child(*tracer, second[0], "pgtls.pool.create"));

    fresh.release();
    pool.close();
    settle(pool, [&] { return tracer->named("pgtls.pool.destroy").size() == 2; });
    EXPECT_EQ(text_of(tracer->named("pgtls.pool.destroy").back(), "pgtls.pool.destroy.reason"), "pool_closed");
    const PoolStats s = pool.stats();
    EXPECT_EQ(s.created, 2u);
    EXPECT_EQ(s.destroyed, 2u);
}

// Spans go to PoolOptions::tracer under PoolOptions::name; a tracer that throws changes nothing,
// and an acquire that fails is reported with its outcome.
TEST_P(AsyncPoolTest, ATracerThatThrowsDoesNotDisturbThePool) {
    auto tracer = std::make_shared<RecordingTracer>();
    tracer->throws = true;
    AsyncPoolOptions o = small(1);
    o.tracer = tracer;
    o.name = "loop";
    Got second;  // outlives the pool, whose destructor may complete the acquire
    AsyncPool pool(pg18_verified(), o);
    {
        auto lease = acquire(pool);
        EXPECT_EQ(query(pool, lease, "SELECT 1").at(0)[0][0].view(), "1");
        pool.acquire(50ms, second.callback());
        settle(pool, [&] { return second.done; });
        EXPECT_TRUE(second.error) << "the pool has one connection, lent";
    }
    auto again = acquire(pool);
    EXPECT_EQ(again.connection_id(), 1u);
    const auto acquires = tracer->named("pgtls.pool.acquire");
    ASSERT_EQ(acquires.size(), 3u);
    EXPECT_EQ(text_of(acquires[1], "pgtls.pool.acquire.outcome"), "timeout");
    EXPECT_FALSE(acquires[1].ok);
    for (const Span& s : tracer->all()) EXPECT_EQ(text_of(s, "db.client.connection.pool.name"), "loop") << s.name;
    EXPECT_TRUE(tracer->named("pgtls.connect").empty()) << "the connections trace to the Config's tracer only";
}
