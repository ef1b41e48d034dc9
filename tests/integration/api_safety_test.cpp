// API safety against real servers on every backend (issue 14): whatever a user callback
// throws, the protocol stays in step and the caller gets that exception unchanged; misuse
// (a moved-from client, the client used from its own callback, a statement while a CopyIn is
// open, a nested Transaction) is Error(usage) before anything is sent, the connection unharmed.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <stdexcept>
#include <string>

#include "integration_fixture.hpp"
#include "pgtls/pool.hpp"
#include "tests/support/env/expect_error.hpp"
#include "tests/support/proxy/silent_listener.hpp"

namespace pgtls::test {
namespace {

// What a callback throws: not a pgtls::Error, so nothing in the library may mistake it.
struct AppError {
    int row;
};

class ApiSafety : public BackendTest {
protected:
    std::string conninfo() const {
        return env().conninfo(env().server("pg18"), "scramuser") + (has_tls() ? " sslmode=require" : " sslmode=disable");
    }
    Client open() const { return connect(conninfo()); }
    static void make_table(Client& c) {
        c.query("CREATE TEMP TABLE acct(id int primary key, bal int)");
        c.query("INSERT INTO acct SELECT g, g * 100 FROM generate_series(1, 50) g");
    }
};

// The repro: the stream callback throws at the first row of a two-row reply; the
// next query returns its own rows, not the rest of the previous reply.
TEST_P(ApiSafety, StreamCallbackThrowKeepsProtocolInStep) {
    auto c = open();
    make_table(c);
    try {
        c.stream("select id from acct where id in (1, 2) order by id", {}, [](const Row& r) {
            throw AppError{r[0].as<int>()};
        });
        ADD_FAILURE() << "the callback's exception did not reach the caller";
    } catch (const AppError& e) {
        EXPECT_EQ(e.row, 1);
    }
    EXPECT_TRUE(c.is_healthy());
    EXPECT_EQ(c.transaction_status(), TransactionStatus::idle);
    auto r = c.query("select bal from acct where id = 2");
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0][0].as<int>(), 200);
    EXPECT_EQ(c.exec("select bal from acct where id = $1", 3)[0][0].as<int>(), 300);
}

// The drain after a callback's exception is bounded: a reply far larger than 16 MiB is not
// read to its end; the connection is closed instead, and the caller still gets its exception.
TEST_P(ApiSafety, CallbackThrowOnHugeReplyClosesInsteadOfDraining) {
    auto c = open();
    EXPECT_THROW(c.stream("select repeat('x', 1000) from generate_series(1, 200000)", {},
                          [](const Row&) { throw AppError{1}; }),
                 AppError);
    EXPECT_FALSE(c.is_healthy());
    c.connect(config(conninfo()));
    EXPECT_EQ(c.query("select 1")[0][0].as<int>(), 1);
}

TEST_P(ApiSafety, NoticeHandlerThrowKeepsProtocolInStep) {
    auto c = open();
    c.set_notice_handler([](const Notice&) { throw std::runtime_error("handler says no"); });
    try {
        c.query("DO $$ BEGIN RAISE NOTICE 'one'; RAISE NOTICE 'two'; END $$; SELECT 41");
        ADD_FAILURE() << "the handler's exception did not reach the caller";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "handler says no");
    }
    c.set_notice_handler({});
    EXPECT_TRUE(c.is_healthy());
    EXPECT_EQ(c.query("SELECT 42")[0][0].as<int>(), 42);
}

TEST_P(ApiSafety, CopyOutCallbackThrowKeepsProtocolInStep) {
    auto c = open();
    int chunks = 0;
    EXPECT_THROW(c.copy_out("COPY (SELECT g FROM generate_series(1, 1000) g) TO STDOUT",
                            [&](std::string_view) {
                                ++chunks;
                                throw AppError{chunks};
                            }),
                 AppError);
    EXPECT_EQ(chunks, 1);
    EXPECT_TRUE(c.is_healthy());
    EXPECT_EQ(c.query("SELECT 'after'")[0][0].as<std::string>(), "after");
}

TEST_P(ApiSafety, PasswordCallbackThrowReachesCallerUnchanged) {
    std::string ci = env().conninfo(env().server("pg18"), "scramuser");
    ci = ci.substr(0, ci.find(" password=")) + (has_tls() ? " sslmode=require" : " sslmode=disable");
    Config cfg = config(ci);
    cfg.password_callback = [](const std::string&, const std::string&, const std::string&) -> std::string {
        throw AppError{7};
    };
    Client c;
    try {
        c.connect(cfg);
        ADD_FAILURE() << "connected";
    } catch (const AppError& e) {
        EXPECT_EQ(e.row, 7);
    }
    EXPECT_FALSE(c.is_open());
}

// Through the pool: the borrower after the one whose callback threw gets correct data.
TEST_P(ApiSafety, PoolNextBorrowerGetsCorrectRowsAfterCallbackThrow) {
    PoolOptions o;
    o.max_size = 1;
    Pool pool(config(conninfo()), o);
    {
        auto lease = pool.acquire();
        lease->query("CREATE TABLE IF NOT EXISTS api_safety_acct(id int primary key, bal int)");
        lease->query("INSERT INTO api_safety_acct SELECT g, g * 100 FROM generate_series(1, 5) g ON CONFLICT DO NOTHING");
        EXPECT_THROW(lease->stream("select id from api_safety_acct where id in (1, 2) order by id", {},
                                   [](const Row& r) { throw AppError{r[0].as<int>()}; }),
                     AppError);
    }
    auto lease = pool.acquire();
    auto r = lease->query("select bal from api_safety_acct where id = 2");
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0][0].as<int>(), 200);
}

// A stream callback throwing at a random row of a random query, then a checksum query whose
// answer is known: 10,000 rounds on one connection.
TEST_P(ApiSafety, PropertyRandomThrowThenChecksum) {
    auto c = open();
    std::mt19937 rng(14);
    const std::string kinds[] = {
        "select g from generate_series(1, %n) g",
        "select g, repeat('x', g % 50) from generate_series(1, %n) g",
        "select g from generate_series(1, %n) g union all select -g from generate_series(1, %n) g",
    };
    for (int i = 0; i < 10'000; ++i) {
        const int n = std::uniform_int_distribution<int>(1, 40)(rng);
        std::string sql = kinds[std::uniform_int_distribution<int>(0, 2)(rng)];
        for (std::size_t p; (p = sql.find("%n")) != std::string::npos;) sql.replace(p, 2, std::to_string(n));
        const int at = std::uniform_int_distribution<int>(1, n)(rng);
        int seen = 0;
        try {
            c.stream(sql, {}, [&](const Row&) {
                if (++seen == at) throw AppError{at};
            });
            ADD_FAILURE() << "round " << i << ": no exception";
        } catch (const AppError& e) {
            ASSERT_EQ(e.row, at) << "round " << i;
        }
        const int k = std::uniform_int_distribution<int>(1, 1000)(rng);
        // sum(1..k) = k(k+1)/2; a desync would hand back the previous reply's rows instead.
        const auto sum = c.exec("select sum(g)::int8, $1::int from generate_series(1, $1::int) g", k);
        ASSERT_EQ(sum.size(), 1u) << "round " << i;
        ASSERT_EQ(sum[0][0].as<std::int64_t>(), std::int64_t{k} * (k + 1) / 2) << "round " << i;
        ASSERT_EQ(sum[0][1].as<int>(), k) << "round " << i;
    }
}

// issue 15 point 5: the client used from inside its own callback is refused before anything
// is sent; the outer call gets that usage error and the connection is unharmed.
TEST_P(ApiSafety, ReentrantCallFromCallbackIsUsageError) {
    auto c = open();
    expect_usage(
        [&] {
            c.stream("select g from generate_series(1, 3) g", {}, [&](const Row&) { c.query("select 1"); });
        },
        "another command is already in progress");
    c.set_notice_handler([&](const Notice&) { c.query("select 1"); });
    expect_usage([&] { c.query("DO $$ BEGIN RAISE NOTICE 'n'; END $$"); }, "another command is already in progress");
    c.set_notice_handler({});
    EXPECT_TRUE(c.is_healthy());
    EXPECT_EQ(c.query("select 5")[0][0].as<int>(), 5);
}

TEST_P(ApiSafety, StatementWhileCopyInOpenIsUsageError) {
    auto c = open();
    c.query("CREATE TEMP TABLE cp(x int)");
    auto in = c.copy_in("COPY cp FROM STDIN");
    in.write("1\n2\n");
    expect_usage([&] { c.query("select 1"); }, "COPY FROM STDIN is in progress");
    expect_usage([&] { c.exec("select $1::int", 1); }, "COPY FROM STDIN is in progress");
    in.write("3\n");
    EXPECT_EQ(in.finish(), 3u);
    EXPECT_EQ(c.query("select count(*)::int from cp")[0][0].as<int>(), 3);
}

// A statement, statement name or COPY abort reason with a NUL byte is Error(usage) with
// nothing sent: the connection goes on, and an open COPY keeps the rows written to it.
TEST_P(ApiSafety, NulByteInTextIsUsageErrorWithSessionIntact) {
    auto c = open();
    const std::string nul("select 1\0; select 2", 19);
    expect_usage([&] { c.query(nul); }, "NUL byte");
    expect_usage([&] { c.close_statement(nul); }, "NUL byte");
    c.query("CREATE TEMP TABLE cpn(x int)");
    auto in = c.copy_in("COPY cpn FROM STDIN");
    in.write("1\n");
    expect_usage([&] { in.abort(nul); }, "NUL byte");
    in.write("2\n");
    EXPECT_EQ(in.finish(), 2u);
    EXPECT_EQ(c.query("select count(*)::int from cpn")[0][0].as<int>(), 2);
}

TEST_P(ApiSafety, NestedTransactionIsUsageError) {
    auto c = open();
    c.query("CREATE TEMP TABLE tx(x int)");
    Transaction outer(c);
    c.query("INSERT INTO tx VALUES (1)");
    expect_usage([&] { Transaction inner(c); }, "savepoint");
    EXPECT_EQ(c.transaction_status(), TransactionStatus::in_transaction);
    outer.commit();
    EXPECT_EQ(c.query("select count(*)::int from tx")[0][0].as<int>(), 1);
}

TEST_P(ApiSafety, MovedFromClientIsUsageErrorAndCanReconnect) {
    auto x = open();
    Client y(std::move(x));
    expect_usage([&] { x.query("select 1"); }, "moved from");
    expect_usage([&] { x.exec("select $1::int", 1); }, "moved from");
    expect_usage([&] { x.stream("select 1", {}, [](const Row&) {}); }, "moved from");
    expect_usage([&] { x.copy_in("COPY t FROM STDIN"); }, "moved from");
    expect_usage([&] { x.prepare("p", "select 1"); }, "moved from");
    expect_usage([&] { x.wait_for_notification(std::chrono::milliseconds(1)); }, "moved from");
    expect_usage([&] { x.cancel(); }, "moved from");
    expect_usage([&] { Pipeline p(x); p.add("select 1"); }, "moved from");
    EXPECT_FALSE(x.is_open());
    EXPECT_FALSE(x.is_healthy());
    EXPECT_EQ(x.transaction_status(), TransactionStatus::unknown);
    EXPECT_EQ(x.socket(), -1);
    x.close();
    EXPECT_EQ(y.query("select 2")[0][0].as<int>(), 2);
    x.connect(config(conninfo()));
    EXPECT_EQ(x.query("select 3")[0][0].as<int>(), 3);
}

TEST_P(ApiSafety, NeverConnectedClientIsUsageError) {
    Client c;
    expect_usage([&] { c.query("select 1"); }, "closed");
    expect_usage([&] { c.exec("select $1::int", 1); }, "closed");
    Pipeline p(c);
    p.add("select 1");
    expect_usage([&] { p.run(); }, "closed");
}

// Whether the connection survived is told by the error, not by a SQLSTATE table.
TEST_P(ApiSafety, ConnectionLostTellsTerminatedFromSqlErrors) {
    auto c = open();
    auto admin = open();
    try {
        c.query("select 1/0");
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_FALSE(e.connection_lost()) << e.what();
    }
    c.set_query_timeout(std::chrono::milliseconds(200));
    try {
        c.query("select pg_sleep(5)");
        ADD_FAILURE() << "no timeout";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::timeout);
        EXPECT_FALSE(e.connection_lost()) << e.what();  // cancelled, connection kept
    }
    c.set_query_timeout(std::chrono::milliseconds(0));
    expect_usage([&] { Transaction t(c); Transaction u(c); }, "savepoint");
    ASSERT_TRUE(c.is_healthy());
    const int pid = c.query("select pg_backend_pid()")[0][0].as<int>();
    admin.exec("select pg_terminate_backend($1)", pid);
    try {
        for (int i = 0; i < 50; ++i) {
            c.query("select 1");
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        ADD_FAILURE() << "the terminated connection kept working";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::server) << e.what();  // kinds unchanged: 57P01 is a server error
        EXPECT_TRUE(e.connection_lost()) << e.what();
    }
    EXPECT_FALSE(c.is_healthy());
}

// The pool's retry helper: the first run loses its connection (terminated from another
// one), the second runs on a fresh connection.
TEST_P(ApiSafety, PoolRunRetryingRetriesOnceOnLostConnection) {
    auto admin = open();
    PoolOptions o;
    o.max_size = 2;
    Pool pool(config(conninfo()), o);
    int calls = 0;
    const int v = pool.run_retrying([&](Client& c) {
        if (++calls == 1) {
            admin.exec("select pg_terminate_backend($1)", c.query("select pg_backend_pid()")[0][0].as<int>());
            for (int i = 0; i < 50; ++i) {
                c.query("select 1");
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
        }
        return c.query("select 7")[0][0].as<int>();
    });
    EXPECT_EQ(v, 7);
    EXPECT_EQ(calls, 2);
    // Not retried: an SQL error, the connection fine.
    calls = 0;
    EXPECT_THROW(pool.run_retrying([&](Client& c) {
        ++calls;
        return c.query("select 1/0");
    }),
                 ServerError);
    EXPECT_EQ(calls, 1);
}

// Issue 14 point 6: a verification failure says "SSL error:" once, on every backend.
TEST_P(ApiSafety, TlsErrorPrefixNotDoubled) {
    if (!has_tls()) GTEST_SKIP() << "no TLS backend";
    try {
        connect(env().conninfo(env().server("pg18"), "scramuser") +
                " sslmode=verify-ca sslrootcert=" + quote_conninfo_value(pki("other-ca.crt")));
        ADD_FAILURE() << "connected with the wrong root certificate";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::tls) << e.what();
        EXPECT_NE(std::string(e.what()).find("SSL error: "), std::string::npos) << e.what();
        EXPECT_EQ(std::string(e.what()).find("SSL error: SSL error:"), std::string::npos) << e.what();
    }
}

// Issue 14 point 6: with only hostaddr, verify-full's failure names the address as libpq 15
// does: connection to server at "127.0.0.1", port N failed: host name must be specified ...
TEST_P(ApiSafety, VerifyFullWithOnlyHostaddrNamesTheAddress) {
    if (!has_tls()) GTEST_SKIP() << "no TLS backend";
    const int port = env().server("pg18").port;
    expect_failure("hostaddr=127.0.0.1 port=" + std::to_string(port) +
                       " dbname=pgtls user=trustuser sslmode=verify-full" + ca(),
                   ErrorKind::tls,
                   "connection to server at \"127.0.0.1\", port " + std::to_string(port) +
                       " failed: host name must be specified for a verified SSL connection");
}

// acquire_timeout bounds opening a connection to a server that accepts and never answers
// (no connect_timeout anywhere: before, acquire() waited for the connect's own limit).
TEST_P(ApiSafety, PoolAcquireTimeoutBoundsConnect) {
    SilentListener silent;
    // Ends the wait of a client that ignores the acquire timeout, so a failing test ends.
    std::atomic<bool> done{false};
    std::thread stopper([&] {
        for (int i = 0; i < 300 && !done; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        silent.close();
    });
    PoolOptions o;
    o.max_size = 1;
    o.acquire_timeout = std::chrono::milliseconds(1500);
    Pool pool(config("host=127.0.0.1 port=" + std::to_string(silent.port()) + " dbname=pgtls user=trustuser" +
                     (has_tls() ? " sslmode=require" : " sslmode=disable")),
              o);
    const auto t0 = std::chrono::steady_clock::now();
    try {
        pool.acquire();
        ADD_FAILURE() << "acquired a connection from a silent server";
    } catch (const Error& e) {
        EXPECT_TRUE(e.kind() == ErrorKind::timeout || e.kind() == ErrorKind::pool) << to_string(e.kind()) << ": " << e.what();
    }
    const auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_LT(took, std::chrono::milliseconds(3000))
        << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
    done = true;
    stopper.join();
}

PGTLS_INSTANTIATE_PER_BACKEND(ApiSafety);

}  // namespace
}  // namespace pgtls::test
