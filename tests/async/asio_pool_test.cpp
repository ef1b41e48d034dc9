// pgtls::AsioPool (pgtls/asio_pool.hpp) against the real servers on every backend: acquire
// with use_awaitable and with a plain callback, the lease's coroutine operations, the
// timeout, cancellation of a waiting acquire through the awaitable operators (the connection
// goes to the next waiter), and many coroutines on one io_context sharing four connections.
#include "pgtls/asio_pool.hpp"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "tests/integration/integration_fixture.hpp"
#include "tests/support/proxy/silent_listener.hpp"

using namespace pgtls;
using namespace pgtls::test;
using namespace std::chrono_literals;
using namespace std::string_literals;  // GCC 12: a string literal in a co_await argument fails to compile
using namespace asio::experimental::awaitable_operators;

namespace {

class AsioPoolTest : public BackendTest {
protected:
    AsyncPoolOptions small(std::size_t max) const {
        AsyncPoolOptions o;
        o.max_size = max;
        o.acquire_timeout = 20s;
        return o;
    }
    // Runs the coroutines `spawn` starts on a fresh io_context until they all finish.
    void run(const std::function<void(asio::io_context&, std::function<void(std::exception_ptr)>)>& spawn,
             int coroutines = 1, std::chrono::seconds limit = 60s) {
        asio::io_context io;
        int finished = 0;
        std::exception_ptr failure;
        spawn(io, [&](std::exception_ptr e) {
            if (e && !failure) failure = e;
            ++finished;
        });
        const auto end = std::chrono::steady_clock::now() + limit;
        while (finished < coroutines && std::chrono::steady_clock::now() < end) io.run_for(100ms);
        ASSERT_EQ(finished, coroutines) << "the coroutines did not finish in time";
        if (failure) std::rethrow_exception(failure);
    }
};
PGTLS_INSTANTIATE_PER_BACKEND(AsioPoolTest);

}  // namespace

TEST_P(AsioPoolTest, ACoroutineAcquiresQueriesAndGivesBack) {
    run([this](asio::io_context& io, auto done) {
        asio::co_spawn(
            io,
            [this, &io]() -> asio::awaitable<void> {
                AsioPool pool(io.get_executor(), pg18_verified(), small(2));
                {
                    AsioPool::Lease db = co_await pool.async_acquire(asio::use_awaitable);
                    EXPECT_EQ(db.connection().info().ssl, has_tls());
                    std::vector<Param> params{to_param(14)};  // GCC 12: no braced lists inside co_await
                    Result r = co_await db.async_execute("SELECT $1::int * 3"s, std::move(params), asio::use_awaitable);
                    EXPECT_EQ(r[0][0].as<int>(), 42);
                    EXPECT_EQ(db.connection_id(), 1u);
                }
                AsioPool::Lease again = co_await pool.async_acquire(asio::use_awaitable);
                EXPECT_EQ(again.connection_id(), 1u) << "the released connection is reused";
                EXPECT_EQ(again.uses(), 2u);
                // A running query cancelled through its slot: 57014, and the lease stays usable.
                asio::steady_timer timer(io, 200ms);
                auto first = co_await (again.async_query("SELECT pg_sleep(30)"s, asio::use_awaitable) ||
                                       timer.async_wait(asio::use_awaitable));
                EXPECT_EQ(first.index(), 1u);
                auto rs = co_await again.async_query("SELECT 'still usable'"s, asio::use_awaitable);
                EXPECT_EQ(rs.at(0)[0][0].view(), "still usable");
            },
            done);
    });
}

TEST_P(AsioPoolTest, APlainCallbackIsAToken) {
    asio::io_context io;
    AsioPool pool(io.get_executor(), pg18_verified(), small(1));
    bool called = false;
    pool.async_acquire([&](std::exception_ptr e, AsioPool::Lease l) {
        called = true;
        EXPECT_FALSE(e);
        EXPECT_TRUE(l);
    });
    EXPECT_FALSE(called) << "posted, never run inside the initiating call";
    const auto end = std::chrono::steady_clock::now() + 20s;
    while (!called && std::chrono::steady_clock::now() < end) io.run_one_for(100ms);
    EXPECT_TRUE(called);
}

TEST_P(AsioPoolTest, AnExhaustedPoolTimesOutAndACancelledWaiterPassesItsTurnOn) {
    run([this](asio::io_context& io, auto done) {
        asio::co_spawn(
            io,
            [this, &io]() -> asio::awaitable<void> {
                AsioPool pool(io.get_executor(), pg18_verified(), small(1));
                AsioPool::Lease held = co_await pool.async_acquire(asio::use_awaitable);
                try {
                    (void)co_await pool.async_acquire(200ms, asio::use_awaitable);
                    ADD_FAILURE() << "acquired from an exhausted pool";
                } catch (const Error& e) {
                    EXPECT_EQ(e.kind(), ErrorKind::pool);
                    EXPECT_NE(std::string(e.what()).find("pool exhausted"), std::string::npos) << e.what();
                }
                // A waiter that gives up after 100 ms (cancel through the slot)...
                asio::steady_timer timer(io, 100ms);
                auto first = co_await (pool.async_acquire(asio::use_awaitable) || timer.async_wait(asio::use_awaitable));
                EXPECT_EQ(first.index(), 1u);
                EXPECT_EQ(pool.stats().waiting, 0u) << "the cancelled acquire left the queue";
                // ... and the next one gets the connection when it comes back.
                asio::steady_timer later(io, 50ms);
                later.async_wait([&](const asio::error_code&) { held.release(); });
                AsioPool::Lease next = co_await pool.async_acquire(asio::use_awaitable);
                EXPECT_EQ(next.connection_id(), 1u);
            },
            done);
    });
}

TEST_P(AsioPoolTest, ManyCoroutinesShareFourConnections) {
    constexpr int kCoroutines = 32, kQueries = 10;
    asio::io_context io;
    AsioPool pool(io.get_executor(), pg18_verified(), small(4));
    std::size_t most_in_use = 0;
    int answered = 0, finished = 0;
    std::exception_ptr failure;
    for (int i = 0; i < kCoroutines; ++i)
        asio::co_spawn(
            io,
            [&, i]() -> asio::awaitable<void> {
                for (int q = 0; q < kQueries; ++q) {
                    AsioPool::Lease db = co_await pool.async_acquire(asio::use_awaitable);
                    most_in_use = std::max(most_in_use, pool.stats().in_use);
                    std::vector<Param> params{to_param(i * 100 + q)};
                    Result r = co_await db.async_execute("SELECT $1::int + 1"s, std::move(params), asio::use_awaitable);
                    if (r[0][0].as<int>() == i * 100 + q + 1) ++answered;
                }
            },
            [&](std::exception_ptr e) {
                if (e && !failure) failure = e;
                ++finished;
            });
    const auto end = std::chrono::steady_clock::now() + 60s;
    while (finished < kCoroutines && std::chrono::steady_clock::now() < end) io.run_for(100ms);
    ASSERT_EQ(finished, kCoroutines);
    if (failure) std::rethrow_exception(failure);
    EXPECT_EQ(answered, kCoroutines * kQueries);
    EXPECT_LE(most_in_use, 4u);
    const PoolStats s = pool.stats();
    EXPECT_LE(s.created, 4u);
    EXPECT_EQ(s.acquire_count, static_cast<std::uint64_t>(kCoroutines * kQueries));
}

TEST_P(AsioPoolTest, DestroyingThePoolFailsTheAcquiresInFlight) {
    asio::io_context io;
    std::exception_ptr error;
    bool called = false;
    // The connect goes to a listener that never answers, so it is surely still in flight when
    // the pool goes: against the real server a fast handshake sometimes finished within
    // poll() and the acquire succeeded before the destructor ran.
    SilentListener silent;
    {
        AsioPool pool(io.get_executor(),
                      config("host=127.0.0.1 port=" + std::to_string(silent.port()) +
                             " dbname=pgtls user=scramuser sslmode=disable"),
                      small(1));
        pool.async_acquire([&](std::exception_ptr e, AsioPool::Lease) {
            called = true;
            error = e;
        });
        io.poll();  // the connect starts
        EXPECT_FALSE(called);
    }
    const auto end = std::chrono::steady_clock::now() + 5s;
    while (!called && std::chrono::steady_clock::now() < end) io.run_one_for(100ms);
    EXPECT_TRUE(called);
    EXPECT_TRUE(error);
}

// reload_tls() on the Asio pool: on_tls_reload hears it from the executor (the pump runs the
// pool's advance()), and with retire_on_tls_reload a connection opened before the reload is
// closed when its lease goes back, while one opened after is kept.
TEST_P(AsioPoolTest, ReloadTlsIsReportedOnTheExecutorAndRetiresOldConnections) {
    if (!has_tls()) GTEST_SKIP() << "no TLS backend";
    run([this](asio::io_context& io, auto done) {
        asio::co_spawn(
            io,
            [this, &io]() -> asio::awaitable<void> {
                std::vector<std::string> reloads, removed;
                AsyncPoolOptions o = small(2);
                o.retire_on_tls_reload = true;
                o.on_tls_reload = [&](const PoolEvent& e) { reloads.push_back(e.reason); };
                o.on_remove = [&](const PoolEvent& e) { removed.push_back(e.reason); };
                AsioPool pool(io.get_executor(), pg18_verified(), o);
                AsioPool::Lease old = co_await pool.async_acquire(asio::use_awaitable);
                pool.reload_tls();
                EXPECT_TRUE(reloads.empty()) << "reported from the executor, not inside reload_tls()";
                AsioPool::Lease fresh = co_await pool.async_acquire(asio::use_awaitable);
                EXPECT_EQ(reloads, std::vector<std::string>{""});
                const std::uint64_t fresh_id = fresh.connection_id();
                old.release();
                fresh.release();
                asio::steady_timer tick(io);
                while (pool.stats().in_use != 0) {  // the releases run on the executor
                    tick.expires_after(1ms);
                    co_await tick.async_wait(asio::use_awaitable);
                }
                EXPECT_EQ(removed, std::vector<std::string>{"retired: TLS material reloaded"});
                AsioPool::Lease again = co_await pool.async_acquire(asio::use_awaitable);
                EXPECT_EQ(again.connection_id(), fresh_id) << "the connection made after the reload is kept";
            },
            done);
    });
}
