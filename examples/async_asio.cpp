// The Asio coroutine API (pgtls/asio.hpp): connect, a query with parameters, streamed rows,
// a query cancelled by a timer (a real CancelRequest; the connection stays usable), and
// several coroutines sharing one connection.
//
//   async_asio CONNINFO
#include <pgtls/asio.hpp>

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
    return done == 8 ? 0 : 1;
}
