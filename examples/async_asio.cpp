// The Asio coroutine API (pgtls/asio.hpp, pgtls/asio_pool.hpp): connect, a query with
// parameters, streamed rows, a query cancelled by a timer (a real CancelRequest; the
// connection stays usable), several coroutines sharing one connection, and a pool of two
// connections shared by more coroutines, with an acquire that gives up after a timeout.
//
//   async_asio CONNINFO
#include <pgtls/asio.hpp>
#include <pgtls/asio_pool.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <iostream>
#include <string>

using asio::use_awaitable;
using namespace asio::experimental::awaitable_operators;
using namespace std::chrono_literals;

asio::awaitable<void> session(pgtls::AsioConnection& db, std::string conninfo) {
    pgtls::Config config;
    config.conninfo = std::move(conninfo);
    co_await db.async_connect(config, use_awaitable);
    std::cout << "connected: TLS " << (db.connection().info().ssl ? db.connection().info().tls_version : "off") << '\n';

    std::vector<pgtls::Param> args{pgtls::to_param(21)};
    const pgtls::Result r = co_await db.async_execute(std::string("SELECT $1::int * 2"), std::move(args), use_awaitable);
    std::cout << "answer " << r[0][0].as<int>() << '\n';

    long sum = 0;
    const auto rows = co_await db.async_stream(std::string("SELECT g FROM generate_series(1, 1000) g"), {},
                                               [&](const pgtls::Row& row) { sum += row[0].as<int>(); }, use_awaitable);
    std::cout << "streamed " << rows << " rows, sum " << sum << '\n';

    // Whichever finishes first wins; the loser is cancelled through its cancellation slot.
    asio::steady_timer timer(co_await asio::this_coro::executor, 200ms);
    auto first = co_await (db.async_query(std::string("SELECT pg_sleep(60)"), use_awaitable) ||
                           timer.async_wait(use_awaitable));
    std::cout << (first.index() == 1 ? "slow query cancelled after 200 ms" : "query finished first") << '\n';
    const auto again = co_await db.async_query(std::string("SELECT 'still usable'"), use_awaitable);
    std::cout << again.at(0)[0][0].as<std::string>() << '\n';
}

asio::awaitable<void> worker(pgtls::AsioConnection& db, int id, int& done) {
    std::vector<pgtls::Param> args{pgtls::to_param(id)};
    const pgtls::Result r = co_await db.async_execute(std::string("SELECT $1::int + 100"), std::move(args), use_awaitable);
    if (r[0][0].as<int>() == id + 100) ++done;
}

// Borrows a connection from the pool (waiting its turn, FIFO), runs one query, gives it back.
asio::awaitable<void> pooled(pgtls::AsioPool& pool, int id, int& done) {
    pgtls::AsioPool::Lease db = co_await pool.async_acquire(std::chrono::milliseconds(5000), use_awaitable);
    std::vector<pgtls::Param> args{pgtls::to_param(id)};
    const pgtls::Result r = co_await db.async_execute(std::string("SELECT $1::int * 10"), std::move(args), use_awaitable);
    if (r[0][0].as<int>() == id * 10) ++done;
}  // the lease goes back to the pool here

int main(int argc, char** argv) {
    asio::io_context io;
    pgtls::AsioConnection db(io.get_executor());
    int status = 1;
    asio::co_spawn(io, session(db, argc > 1 ? argv[1] : ""), [&](std::exception_ptr e) {
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& x) {
                std::cerr << "error: " << x.what() << '\n';
            }
            return;
        }
        status = 0;
    });
    io.run();
    if (status != 0) return status;

    // Several coroutines on one connection: their queries run in order, each gets its own.
    int done = 0;
    for (int i = 0; i < 8; ++i) asio::co_spawn(io, worker(db, i, done), asio::detached);
    io.restart();
    io.run();
    std::cout << done << " of 8 coroutines answered\n";
    if (done != 8) return 1;

    // A pool of at most two connections for eight coroutines: they take turns.
    pgtls::Config config;
    config.conninfo = argc > 1 ? argv[1] : "";
    pgtls::AsyncPoolOptions options;
    options.max_size = 2;
    pgtls::AsioPool pool(io.get_executor(), config, options);
    int pooled_done = 0;
    for (int i = 0; i < 8; ++i) asio::co_spawn(io, pooled(pool, i, pooled_done), asio::detached);
    io.restart();
    while (pooled_done < 8 && io.run_one_for(std::chrono::seconds(10)) > 0) {
    }
    const pgtls::PoolStats stats = pool.stats();
    std::cout << pooled_done << " of 8 pooled coroutines answered over " << stats.created << " connections\n";
    return pooled_done == 8 ? 0 : 1;
}
