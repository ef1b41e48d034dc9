// pgtls::AsioConnection (pgtls/asio.hpp) against the real servers on every backend: C++20
// coroutines with use_awaitable, plain callbacks, errors as exceptions, per-operation
// cancellation through the awaitable operators (a real CancelRequest; the connection stays
// usable), and many coroutines sharing one connection.
#include "pgtls/asio.hpp"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "tests/integration/integration_fixture.hpp"

using namespace pgtls;
using namespace pgtls::test;
using namespace std::chrono_literals;
using namespace std::string_literals;  // GCC 12: a string literal in a co_await argument fails to compile
using namespace asio::experimental::awaitable_operators;

namespace {

class AsioConnectionTest : public BackendTest {
protected:
    // Runs `body` as a coroutine on a fresh io_context until it finishes; rethrows its error.
    void run(std::function<asio::awaitable<void>(asio::io_context&)> body, std::chrono::seconds limit = 30s) {
        asio::io_context io;
        std::exception_ptr failure;
        bool finished = false;
        asio::co_spawn(io, body(io), [&](std::exception_ptr e) {
            failure = e;
            finished = true;
        });
        io.run_for(limit);
        ASSERT_TRUE(finished) << "the coroutine did not finish in time";
        if (failure) std::rethrow_exception(failure);
    }
};
PGTLS_INSTANTIATE_PER_BACKEND(AsioConnectionTest);

}  // namespace

TEST_P(AsioConnectionTest, CoroutinesRunEveryOperation) {
    run([this](asio::io_context& io) -> asio::awaitable<void> {
        AsioConnection conn(io.get_executor());
        co_await conn.async_connect(pg18_verified(), asio::use_awaitable);
        EXPECT_EQ(conn.connection().info().ssl, has_tls());
        auto rs = co_await conn.async_query("SELECT 'hello'"s, asio::use_awaitable);
        EXPECT_EQ(rs.at(0)[0][0].view(), "hello");
        std::vector<Param> params{to_param(14)};  // GCC 12: no braced lists inside co_await either
        Result r = co_await conn.async_execute("SELECT $1::int * 3"s, std::move(params), asio::use_awaitable);
        EXPECT_EQ(r[0][0].as<int>(), 42);
        PreparedStatement ps = co_await conn.async_prepare("asio_s"s, "SELECT $1::text"s, asio::use_awaitable);
        params = {to_param(std::string("x"))};
        r = co_await conn.async_execute(ps, std::move(params), asio::use_awaitable);
        EXPECT_EQ(r[0][0].view(), "x");
        std::uint64_t sum = 0;
        const auto n = co_await conn.async_stream("SELECT g FROM generate_series(1, 100) g"s, std::vector<Param>(),
                                                  [&](const Row& row) { sum += row[0].as<int>(); }, asio::use_awaitable);
        EXPECT_EQ(n, 100u);
        EXPECT_EQ(sum, 5050u);
        std::vector<PipelineQuery> queries(2);
        queries[0].sql = "SELECT 1";
        queries[1].sql = "SELECT 2";
        auto pr = co_await conn.async_pipeline(std::move(queries), asio::use_awaitable);
        EXPECT_EQ(pr.size(), 2u);
        co_await conn.async_query("CREATE TEMP TABLE t (n int)"s, asio::use_awaitable);
        EXPECT_EQ(co_await conn.async_copy_in("COPY t FROM STDIN"s, "1\n2\n"s, asio::use_awaitable), 2u);
        std::string out;
        co_await conn.async_copy_out("COPY t TO STDOUT"s, [&](std::string_view d) { out += d; }, asio::use_awaitable);
        EXPECT_EQ(out, "1\n2\n");
        co_await conn.async_close(asio::use_awaitable);
        EXPECT_FALSE(conn.connection().is_open());
    });
}

TEST_P(AsioConnectionTest, AServerErrorIsAnExceptionAndTheConnectionStaysUsable) {
    run([this](asio::io_context& io) -> asio::awaitable<void> {
        AsioConnection conn(io.get_executor());
        co_await conn.async_connect(pg18_verified(), asio::use_awaitable);
        std::string state;
        try {
            co_await conn.async_query("SELECT nosuchcolumn"s, asio::use_awaitable);
        } catch (const ServerError& e) {
            state = e.sqlstate();
        }
        EXPECT_EQ(state, "42703");
        auto rs = co_await conn.async_query("SELECT 1"s, asio::use_awaitable);
        EXPECT_EQ(rs.size(), 1u);
    });
}

TEST_P(AsioConnectionTest, CancellingThroughTheAwaitableOperatorsSendsACancelRequest) {
    run([this](asio::io_context& io) -> asio::awaitable<void> {
        AsioConnection conn(io.get_executor());
        co_await conn.async_connect(pg18_verified(), asio::use_awaitable);
        asio::steady_timer timer(io, 300ms);
        const auto t0 = std::chrono::steady_clock::now();
        auto winner = co_await (conn.async_query("SELECT pg_sleep(30)", asio::use_awaitable) ||
                                timer.async_wait(asio::use_awaitable));
        EXPECT_EQ(winner.index(), 1u) << "the timer won; the query was cancelled";
        EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s) << "the server stopped the query";
        EXPECT_TRUE(conn.connection().is_healthy());
        auto rs = co_await conn.async_query("SELECT 'still usable'"s, asio::use_awaitable);
        EXPECT_EQ(rs.at(0)[0][0].view(), "still usable");
    });
}

TEST_P(AsioConnectionTest, PlainCallbacksAreCompletionTokensToo) {
    asio::io_context io;
    AsioConnection conn(io.get_executor());
    std::string got;
    conn.async_connect(pg18_verified(), [&](std::exception_ptr e) {
        ASSERT_FALSE(e);
        conn.async_query("SELECT 'cb'", [&](std::exception_ptr e2, std::vector<Result> rs) {
            ASSERT_FALSE(e2);
            got = std::string(rs.at(0)[0][0].view());
        });
    });
    EXPECT_EQ(got, "") << "nothing completes inside the initiating call";
    io.run_for(20s);
    EXPECT_EQ(got, "cb");
}

// 16 coroutines issuing queries on one connection: their queries go out together (implicit
// pipelining), with the statement cache off and on.
TEST_P(AsioConnectionTest, ManyCoroutinesShareOneConnection) {
    for (const std::size_t cache : {0, 8}) {
        SCOPED_TRACE("statement cache " + std::to_string(cache));
        asio::io_context io;
        AsioConnection conn(io.get_executor());
        int ok = 0, wrong = 0, finished = 0;
        bool connected = false;
        asio::co_spawn(io, [&]() -> asio::awaitable<void> {
            co_await conn.async_connect(pg18_verified(), asio::use_awaitable);
            co_await conn.async_set_statement_cache_capacity(cache, asio::use_awaitable);
            connected = true;
        }, asio::detached);
        for (int w = 0; w < 16; ++w)
            asio::co_spawn(io, [&, w]() -> asio::awaitable<void> {
                for (int i = 0; i < 25; ++i) {
                    std::vector<Param> p(1, to_param(w * 1000 + i));
                    Result r = co_await conn.async_execute("SELECT $1::int"s, std::move(p), asio::use_awaitable);
                    (r[0][0].as<int>() == w * 1000 + i ? ok : wrong)++;
                }
                ++finished;
            }, asio::detached);
        io.run_for(60s);
        EXPECT_TRUE(connected);
        EXPECT_EQ(finished, 16);
        EXPECT_EQ(ok, 16 * 25);
        EXPECT_EQ(wrong, 0);
        EXPECT_GE(conn.connection().stats().pipelined_queries, 16u * 25u * 9u / 10u);
    }
}

// A streamed COPY from a coroutine: chunks written as produced (each awaited: back-pressure),
// a bad row's error as an exception that ends the COPY, abort, and a writer dropped while open
// aborts its COPY; the connection goes on each time.
TEST_P(AsioConnectionTest, AStreamedCopyInFromACoroutine) {
    run([this](asio::io_context& io) -> asio::awaitable<void> {
        AsioConnection conn(io.get_executor());
        co_await conn.async_connect(pg18_verified(), asio::use_awaitable);
        co_await conn.async_query("CREATE TEMP TABLE s (n int)"s, asio::use_awaitable);
        AsioCopyIn w = co_await conn.async_open_copy_in("COPY s FROM STDIN"s, asio::use_awaitable);
        for (int i = 0; i < 99; ++i) co_await w.async_write(std::to_string(i) + "\n", asio::use_awaitable);
        // An operation initiated when awaited, after its writer moved: it still finds the COPY.
        auto last = w.async_write("99\n"s, asio::use_awaitable);
        AsioCopyIn moved = std::move(w);
        co_await std::move(last);
        EXPECT_EQ(co_await moved.async_finish(asio::use_awaitable), 100u);
        EXPECT_FALSE(moved.is_open());

        AsioCopyIn bad = co_await conn.async_open_copy_in("COPY s FROM STDIN"s, asio::use_awaitable);
        co_await bad.async_write("oops\n"s, asio::use_awaitable);
        std::string state;
        try {
            co_await bad.async_finish(asio::use_awaitable);
        } catch (const ServerError& e) {
            state = e.sqlstate();
        }
        EXPECT_EQ(state, "22P02");

        AsioCopyIn aborted = co_await conn.async_open_copy_in("COPY s FROM STDIN"s, asio::use_awaitable);
        co_await aborted.async_write("1000\n"s, asio::use_awaitable);
        co_await aborted.async_abort("no"s, asio::use_awaitable);
        {
            AsioCopyIn dropped = co_await conn.async_open_copy_in("COPY s FROM STDIN"s, asio::use_awaitable);
            co_await dropped.async_write("2000\n"s, asio::use_awaitable);
        }
        auto rs = co_await conn.async_query("SELECT count(*), max(n) FROM s"s, asio::use_awaitable);
        EXPECT_EQ(rs.at(0)[0][0].view(), "100");
        EXPECT_EQ(rs.at(0)[0][1].view(), "99");
    });
}

TEST_P(AsioConnectionTest, DescribesAndClosesStatementsWithPlainCallbacks) {
    asio::io_context io;
    AsioConnection conn(io.get_executor());
    std::string got;
    conn.async_connect(pg18_verified(), [&](std::exception_ptr e) {
        ASSERT_FALSE(e);
        conn.async_prepare("cb_s", "SELECT $1::int8", [&](std::exception_ptr e2, PreparedStatement) {
            ASSERT_FALSE(e2);
            conn.async_describe_statement("cb_s", [&](std::exception_ptr e3, PreparedStatement ps) {
                ASSERT_FALSE(e3);
                got = std::to_string(ps.param_types.at(0));
                conn.async_close_statement("cb_s", [&](std::exception_ptr e4) {
                    got += e4 ? "!" : " closed";
                    conn.async_describe_statement("cb_s", [&](std::exception_ptr e5, PreparedStatement) {
                        try {
                            if (e5) std::rethrow_exception(e5);
                        } catch (const ServerError& s) {
                            got += " " + s.sqlstate();
                        }
                    });
                });
            });
        });
    });
    io.run_for(20s);
    EXPECT_EQ(got, "20 closed 26000");
}

// The coroutine form of a transaction: commit, and an exception leaving the scope rolls back;
// the statement cache as Client's.
TEST_P(AsioConnectionTest, TransactionsAndTheStatementCacheFromACoroutine) {
    run([this](asio::io_context& io) -> asio::awaitable<void> {
        AsioConnection conn(io.get_executor());
        co_await conn.async_connect(pg18_verified(), asio::use_awaitable);
        co_await conn.async_query("CREATE TEMP TABLE tx (v int)"s, asio::use_awaitable);
        {
            TransactionOptions o;
            o.isolation = TransactionOptions::Isolation::repeatable_read;
            AsioTransaction tx = co_await conn.async_begin(o, asio::use_awaitable);
            auto rs = co_await conn.async_query("INSERT INTO tx VALUES (1); SHOW transaction_isolation"s, asio::use_awaitable);
            EXPECT_EQ(rs.at(1)[0][0].view(), "repeatable read");
            co_await tx.async_commit(asio::use_awaitable);
            EXPECT_FALSE(tx.is_open());
        }
        bool thrown = false;
        try {
            AsioTransaction tx = co_await conn.async_begin({}, asio::use_awaitable);
            co_await conn.async_query("INSERT INTO tx VALUES (2)"s, asio::use_awaitable);
            co_await conn.async_query("SELECT 1/0"s, asio::use_awaitable);
        } catch (const ServerError&) {
            thrown = true;
        }
        EXPECT_TRUE(thrown);
        auto rs = co_await conn.async_query("SELECT string_agg(v::text, ',') FROM tx"s, asio::use_awaitable);
        EXPECT_EQ(rs.at(0)[0][0].view(), "1") << "the transaction left by the exception was rolled back";
        EXPECT_EQ(conn.connection().transaction_status(), TransactionStatus::idle);

        co_await conn.async_set_statement_cache_capacity(4, asio::use_awaitable);
        for (int i = 0; i < 3; ++i) {
            std::vector<Param> p(1, to_param(i));
            Result r = co_await conn.async_execute("SELECT $1::int + 100"s, std::move(p), asio::use_awaitable);
            EXPECT_EQ(r[0][0].as<int>(), 100 + i);
        }
        rs = co_await conn.async_query("SELECT count(*) FROM pg_prepared_statements"s, asio::use_awaitable);
        EXPECT_EQ(rs.at(0)[0][0].view(), "1") << "prepared once, reused";
    });
}

// Cancelling a COPY's finish through the awaitable operators: a real CancelRequest, the COPY
// ends with 57014 and the connection stays usable.
TEST_P(AsioConnectionTest, CancellingACopyFinishThroughTheAwaitableOperators) {
    run([this](asio::io_context& io) -> asio::awaitable<void> {
        AsioConnection conn(io.get_executor());
        co_await conn.async_connect(pg18_verified(), asio::use_awaitable);
        co_await conn.async_query("CREATE TEMP TABLE slow_copy (v int); "
                                  "CREATE FUNCTION pg_temp.slow() RETURNS trigger LANGUAGE plpgsql AS "
                                  "$$BEGIN PERFORM pg_sleep(30); RETURN NEW; END$$; "
                                  "CREATE TRIGGER slow BEFORE INSERT ON slow_copy FOR EACH ROW EXECUTE FUNCTION pg_temp.slow()"s,
                                  asio::use_awaitable);
        AsioCopyIn w = co_await conn.async_open_copy_in("COPY slow_copy FROM STDIN"s, asio::use_awaitable);
        co_await w.async_write("1\n"s, asio::use_awaitable);
        asio::steady_timer timer(io, 300ms);
        auto winner = co_await (w.async_finish(asio::use_awaitable) || timer.async_wait(asio::use_awaitable));
        EXPECT_EQ(winner.index(), 1u);
        EXPECT_FALSE(w.is_open());
        EXPECT_TRUE(conn.connection().is_healthy());
        auto rs = co_await conn.async_query("SELECT count(*) FROM slow_copy"s, asio::use_awaitable);
        EXPECT_EQ(rs.at(0)[0][0].view(), "0");
    });
}
