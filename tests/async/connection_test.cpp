// The non-blocking connection (pgtls/async.hpp) against the real test servers, on every TLS
// backend, driven by a plain poll() loop the way an application's event loop would: connect,
// every operation, ordering, cancellation of a running query and of a connect, the query
// timeout, destruction with operations in flight, and many connections on one thread.
// What a callback captures by reference is declared before the connection it is queued on: a
// failing assertion then fails the test instead of running callbacks into destroyed locals.
#include "pgtls/async.hpp"

#include <gtest/gtest.h>

#include <malloc.h>
#include <poll.h>

#include <algorithm>
#include <functional>
#include <memory>

#include "pgtls/client.hpp"
#include "tests/integration/integration_fixture.hpp"
#include "tests/support/env/sanitizers.hpp"
#include "tests/support/proxy/silent_listener.hpp"

using namespace pgtls;
using namespace pgtls::test;
using namespace std::chrono_literals;

namespace {

// Runs the loop for `conns` until `finished()` or `limit`; false on the limit.
bool run_loop(const std::vector<AsyncConnection*>& conns, const std::function<bool()>& finished,
              std::chrono::milliseconds limit = 20s) {
    return run_async_loop(conns, finished, limit);
}
bool run_loop(AsyncConnection& c, const std::function<bool()>& finished, std::chrono::milliseconds limit = 20s) {
    return run_async_loop(c, finished, limit);
}

std::string sqlstate(std::exception_ptr e) {
    try {
        if (e) std::rethrow_exception(e);
    } catch (const ServerError& s) {
        return s.sqlstate();
    } catch (...) {
    }
    return "";
}

class AsyncConnectionTest : public BackendTest {
protected:
    // Connects `c` to PostgreSQL 18 (verify-full over TLS; plaintext for "none"), with the
    // suite's pipeline overlap (test_pipeline_overlap()).
    void connect(AsyncConnection& c) {
        c.set_pipeline_overlap(test_pipeline_overlap());
        const auto out = std::make_shared<AsyncOutcome<bool>>();  // the callback's own: see AsyncOutcome
        c.connect(pg18_verified(), [out](std::exception_ptr e) { out->error = e; });
        ASSERT_TRUE(run_loop(c, [&] { return out->error.has_value(); })) << "connect did not finish";
        ASSERT_FALSE(*out->error) << what(*out->error);
        ASSERT_TRUE(c.is_healthy());
    }
    std::vector<Result> query(AsyncConnection& c, const std::string& sql) {
        const auto out = std::make_shared<AsyncOutcome<std::vector<Result>>>();
        c.query(sql, [out](std::exception_ptr e, std::vector<Result> r) {
            out->value = std::move(r);
            out->error = e;
        });
        if (!run_loop(c, [&] { return out->error.has_value(); })) {
            ADD_FAILURE() << "the query did not complete";
            return {};
        }
        EXPECT_FALSE(*out->error) << what(*out->error);
        return std::move(*out->value);
    }
};
PGTLS_INSTANTIATE_PER_BACKEND(AsyncConnectionTest);

}  // namespace

TEST_P(AsyncConnectionTest, ConnectsOverTheBackendAndRunsEveryOperation) {
    // What the callbacks below capture outlives the connection.
    int step = 0;
    std::string trace;
    PreparedStatement ps;
    std::uint64_t streamed = 0, total = 0;
    std::vector<PipelineResult> pr;
    std::uint64_t copied = 0;
    std::string out;
    bool closed = false;
    AsyncConnection c;
    connect(c);
    EXPECT_EQ(c.info().ssl, has_tls());
    if (has_tls()) {
        EXPECT_EQ(c.info().backend, backend());
        EXPECT_EQ(c.info().auth_method, "SCRAM-SHA-256-PLUS") << "channel binding over the backend";
    }
    EXPECT_EQ(c.transaction_status(), TransactionStatus::idle);

    auto rs = query(c, "SELECT 1; SELECT 'two'");
    ASSERT_EQ(rs.size(), 2u);
    EXPECT_EQ(rs[1][0][0].view(), "two");

    c.execute_args("SELECT $1::int + $2::int", [&](std::exception_ptr e, Result r) {
        trace += e ? "execute failed: " + what(e) : "sum=" + std::string(r[0][0].view());
        ++step;
    }, 40, 2);
    c.prepare("async_s", "SELECT $1::text || '!'", {}, [&](std::exception_ptr e, PreparedStatement p) {
        trace += e ? " prepare failed: " + what(e) : " prepared";
        ps = std::move(p);
        ++step;
    });
    ASSERT_TRUE(run_loop(c, [&] { return step == 2; }));
    c.execute(ps, {to_param(std::string("hi"))}, [&](std::exception_ptr e, Result r) {
        trace += e ? " exec failed: " + what(e) : " " + std::string(r[0][0].view());
        ++step;
    });
    c.stream("SELECT g FROM generate_series(1, 1000) g", {}, [&](const Row& row) { total += row[0].as<int>(); },
             [&](std::exception_ptr e, std::uint64_t n) {
                 trace += e ? " stream failed: " + what(e) : " streamed";
                 streamed = n;
                 ++step;
             });
    ASSERT_TRUE(run_loop(c, [&] { return step == 4; }));
    EXPECT_EQ(trace, "sum=42 prepared hi! streamed");
    EXPECT_EQ(streamed, 1000u);
    EXPECT_EQ(total, 500500u);

    c.pipeline({{"SELECT 1", {}, ResultFormat::text, false},
                {"SELECT nosuchcolumn", {}, ResultFormat::text, false},
                {"SELECT 3", {}, ResultFormat::text, true},
                {"SELECT $1::int", {to_param(4)}, ResultFormat::text, false}},
               [&](std::exception_ptr e, std::vector<PipelineResult> r) {
                   EXPECT_FALSE(e) << what(e);
                   pr = std::move(r);
                   ++step;
               });
    ASSERT_TRUE(run_loop(c, [&] { return step == 5; }));
    ASSERT_EQ(pr.size(), 4u);
    EXPECT_EQ(pr[0].status, PipelineResult::Status::ok);
    EXPECT_EQ(pr[1].status, PipelineResult::Status::error);
    EXPECT_EQ(pr[2].status, PipelineResult::Status::skipped);
    EXPECT_EQ(pr[3].status, PipelineResult::Status::ok);
    EXPECT_EQ(pr[3].result[0][0].view(), "4");

    query(c, "CREATE TEMP TABLE async_copy (n int, t text)");
    c.copy_in("COPY async_copy FROM STDIN", "1\tone\n2\ttwo\n3\tthree\n", [&](std::exception_ptr e, std::uint64_t n) {
        EXPECT_FALSE(e) << what(e);
        copied = n;
        ++step;
    });
    c.copy_out("COPY (SELECT * FROM async_copy ORDER BY n) TO STDOUT", [&](std::string_view d) { out += d; },
               [&](std::exception_ptr e, std::uint64_t) {
                   EXPECT_FALSE(e) << what(e);
                   ++step;
               });
    ASSERT_TRUE(run_loop(c, [&] { return step == 7; }));
    EXPECT_EQ(copied, 3u);
    EXPECT_EQ(out, "1\tone\n2\ttwo\n3\tthree\n");

    c.close([&](std::exception_ptr e) {
        EXPECT_FALSE(e) << what(e);
        closed = true;
    });
    ASSERT_TRUE(run_loop(c, [&] { return closed; }));
    EXPECT_FALSE(c.is_open());
}

TEST_P(AsyncConnectionTest, OperationsRunInOrderAndCallbacksRunOnlyFromAdvance) {
    std::string order;  // order and connected outlive the connection's callbacks
    bool connected = false;
    AsyncConnection c;
    c.connect(pg18_verified(), [&](std::exception_ptr e) {
        EXPECT_FALSE(e) << what(e);
        connected = true;
        order += "c";
    });
    // Queued before the connection exists: they wait for it.
    c.query("SELECT 1", [&](std::exception_ptr e, std::vector<Result>) { order += e ? "!" : "1"; });
    c.query("SELECT nosuch", [&](std::exception_ptr e, std::vector<Result>) { order += sqlstate(e) == "42703" ? "E" : "?"; });
    c.query("SELECT 3", [&](std::exception_ptr e, std::vector<Result>) { order += e ? "!" : "3"; });
    EXPECT_EQ(order, "") << "no callback from the call that queued the operation";
    ASSERT_TRUE(run_loop(c, [&] { return order.size() == 4; }));
    EXPECT_EQ(order, "c1E3") << "a server error fails only its own operation";
    EXPECT_TRUE(c.is_healthy());
    EXPECT_FALSE(c.busy());
}

TEST_P(AsyncConnectionTest, QueriesQueuedTogetherArePipelinedAndEachGetsItsOwnOutcome) {
    constexpr int kQueries = 300;  // more than one pipeline holds (256)
    // What the callbacks below capture outlives the connection.
    std::vector<std::string> got(kQueries);
    int answered = 0;
    std::vector<int> order;
    std::string tx;
    AsyncConnection c;
    connect(c);
    for (int i = 0; i < kQueries; ++i)
        c.execute_args("SELECT 100 / $1::int", [&, i](std::exception_ptr e, Result r) {
            order.push_back(i);
            got[static_cast<std::size_t>(i)] = e ? sqlstate(e) : std::string(r[0][0].view());
            ++answered;
        }, i % 50 == 7 ? 0 : 1);  // a division by zero now and then
    ASSERT_TRUE(run_loop(c, [&] { return answered == kQueries; }));
    for (int i = 0; i < kQueries; ++i) {
        EXPECT_EQ(got[static_cast<std::size_t>(i)], i % 50 == 7 ? "22012" : "100") << "query " << i;
        EXPECT_EQ(order[static_cast<std::size_t>(i)], i) << "callbacks run in submission order";
    }
    const AsyncConnection::Stats st = c.stats();
    // 256 in one write, the rest in another: a pipeline of their own, or (overlapping) joining
    // the first while it is answered.
    EXPECT_GE(st.pipelines + st.pipeline_appends, 2u) << "the first query runs alone only if nothing was queued behind it";
    EXPECT_GE(st.pipelined_queries, static_cast<std::uint64_t>(kQueries - 1));
    EXPECT_TRUE(c.is_healthy());

    // Inside a transaction the pipelined queries behave as run one by one: after an error,
    // the rest of the block fails with 25P02, and ROLLBACK recovers.
    c.query("BEGIN", [&](std::exception_ptr e, std::vector<Result>) { tx += e ? "!" : "B"; });
    c.execute_args("SELECT 1 / $1::int", [&](std::exception_ptr e, Result) { tx += sqlstate(e) == "22012" ? "E" : "?"; }, 0);
    c.execute_args("SELECT $1::int", [&](std::exception_ptr e, Result) { tx += sqlstate(e) == "25P02" ? "A" : "?"; }, 2);
    c.query("ROLLBACK", [&](std::exception_ptr e, std::vector<Result>) { tx += e ? "!" : "R"; });
    c.execute_args("SELECT $1::int", [&](std::exception_ptr e, Result r) { tx += e ? "!" : std::string(r[0][0].view()); }, 5);
    ASSERT_TRUE(run_loop(c, [&] { return tx.size() == 5; }));
    EXPECT_EQ(tx, "BEAR5");
}

// execute() of a prepared statement sends no Describe (its columns are known): queued back to
// back, such executes still go out as one pipeline and each gets its own rows.
TEST_P(AsyncConnectionTest, PreparedStatementsQueuedTogetherArePipelined) {
    // What the callbacks below capture outlives the connection.
    PreparedStatement ps;
    bool prepared = false;
    constexpr int kQueries = 20;
    std::vector<std::string> got(kQueries);
    int answered = 0;
    AsyncConnection c;
    connect(c);
    c.prepare("pipelined_ps", "SELECT $1::int * 2 AS twice", {}, [&](std::exception_ptr e, PreparedStatement p) {
        EXPECT_FALSE(e) << what(e);
        ps = std::move(p);
        prepared = true;
    });
    ASSERT_TRUE(run_loop(c, [&] { return prepared; }));
    for (int i = 0; i < kQueries; ++i)
        c.execute(ps, {to_param(i)}, [&, i](std::exception_ptr e, Result r) {
            got[static_cast<std::size_t>(i)] = e ? what(e) : std::string(r[0][0].view()) + "/" + r.column_info().at(0).name;
            ++answered;
        });
    ASSERT_TRUE(run_loop(c, [&] { return answered == kQueries; }));
    for (int i = 0; i < kQueries; ++i) EXPECT_EQ(got[static_cast<std::size_t>(i)], std::to_string(2 * i) + "/twice") << i;
    EXPECT_GE(c.stats().pipelined_queries, static_cast<std::uint64_t>(kQueries - 1));
    EXPECT_TRUE(c.is_healthy());
}

// With the statement cache off, a run of queries with the same SQL and parameter types in one
// implicit pipeline is parsed once: into a statement the run's queries bind and its last one
// closes. Each query of a run sees that statement in pg_prepared_statements (with a Parse of
// the unnamed statement it would see none); another query ends the run and sees only its own
// statement (see PipelinedQueriesAfterTheFirstParseAStatementOfTheirOwn); nothing is left behind.
TEST_P(AsyncConnectionTest, ARunOfTheSameQueryInAPipelineIsParsedOnce) {
    const std::string counted = "SELECT count(*) FROM pg_prepared_statements WHERE $1::int > 0";
    const std::string other = "SELECT count(*) FROM pg_prepared_statements WHERE $1::int > -1";
    const std::string sqls[] = {counted, counted, counted, other, counted, counted, counted};
    // What the callbacks below capture outlives the connection.
    std::vector<std::string> got(std::size(sqls));
    std::size_t answered = 0;
    AsyncConnection c;
    connect(c);
    const auto before = c.stats();
    for (std::size_t i = 0; i < std::size(sqls); ++i)
        c.execute_args(sqls[i], [&, i](std::exception_ptr e, Result r) {
            got[i] = e ? what(e) : std::string(r[0][0].view());
            ++answered;
        }, 1);
    ASSERT_TRUE(run_loop(c, [&] { return answered == std::size(sqls); }));
    EXPECT_EQ(got, (std::vector<std::string>{"1", "1", "1", "1", "1", "1", "1"}));
    EXPECT_EQ(c.stats().pipelines - before.pipelines, 1u);
    EXPECT_EQ(query(c, "SELECT count(*) FROM pg_prepared_statements")[0][0][0].view(), "0");
    // A parameter of another type is another statement: no run (the first parses the unnamed
    // statement, the second one of its own).
    answered = 0;
    got.assign(2, "");
    c.execute_args(counted + " AND $2::text IS NOT NULL", [&](std::exception_ptr e, Result r) {
        got[0] = e ? what(e) : std::string(r[0][0].view());
        ++answered;
    }, 1, 2);
    c.execute_args(counted + " AND $2::text IS NOT NULL", [&](std::exception_ptr e, Result r) {
        got[1] = e ? what(e) : std::string(r[0][0].view());
        ++answered;
    }, 1, "two");
    ASSERT_TRUE(run_loop(c, [&] { return answered == 2; }));
    EXPECT_EQ(got, (std::vector<std::string>{"0", "1"}));
    EXPECT_EQ(query(c, "SELECT count(*) FROM pg_prepared_statements")[0][0][0].view(), "0");
    EXPECT_TRUE(c.is_healthy());
}

// A run whose first query fails to parse: the others get that error (their own Parse would
// have failed the same way), not the "statement does not exist" of their Binds; in a failed
// transaction each gets 25P02. Queries of a run that fail to execute fail alone; the statement
// of a run whose last query failed (skipping its Close) is closed before the next operation.
TEST_P(AsyncConnectionTest, AFailingQueryOfARunFailsAlone) {
    std::vector<std::string> got;  // each queue_all's outcomes, once all have come
    AsyncConnection c;
    connect(c);
    // A call's callbacks write into a vector of that call's own, which they keep alive: one that
    // gave up on the loop's limit leaves late callbacks that must not write into a later call's.
    struct Run {
        std::vector<std::string> got;
        std::size_t answered = 0;
    };
    auto queue_all = [&](const std::string& sql, std::vector<int> args) {
        const auto run = std::make_shared<Run>();
        run->got.assign(args.size(), "");
        for (std::size_t i = 0; i < args.size(); ++i)
            c.execute_args(sql, [run, i](std::exception_ptr e, Result r) {
                run->got[i] = e ? sqlstate(e) : std::string(r[0][0].view());
                ++run->answered;
            }, args[i]);
        ASSERT_TRUE(run_loop(c, [&] { return run->answered == args.size(); }));
        got = run->got;
    };
    queue_all("SELECT no_such_column, $1::int", {1, 2, 3});
    EXPECT_EQ(got, (std::vector<std::string>{"42703", "42703", "42703"}));
    queue_all("SELECT 10 / $1::int", {0, 5, 2, 0});
    EXPECT_EQ(got, (std::vector<std::string>{"22012", "2", "5", "22012"}));
    EXPECT_EQ(query(c, "SELECT count(*) FROM pg_prepared_statements")[0][0][0].view(), "0");
    query(c, "BEGIN");
    queue_all("SELECT 10 / $1::int", {0, 1, 2});
    EXPECT_EQ(got, (std::vector<std::string>{"22012", "25P02", "25P02"}));
    query(c, "ROLLBACK");
    queue_all("SELECT 10 / $1::int", {1, 2});
    EXPECT_EQ(got, (std::vector<std::string>{"10", "5"}));
    EXPECT_EQ(query(c, "SELECT count(*) FROM pg_prepared_statements")[0][0][0].view(), "0");
    EXPECT_TRUE(c.is_healthy());
}

// The statement of a run is described once, with its first query (before that query's Bind):
// every query of the run takes those columns in its own result format — also when the first
// query's Bind fails, also with no rows —, and a statement that returns no rows has none.
TEST_P(AsyncConnectionTest, QueriesOfARunGetTheStatementsColumnsInTheirOwnFormat) {
    AsyncConnection c;
    connect(c);
    const std::string sql = "SELECT $1::int AS n, 'x'::text AS t FROM generate_series(1, $2::int)";
    struct Case {
        const char* n;
        const char* rows;
        ResultFormat format;
    };
    const Case cases[] = {{"abc", "1", ResultFormat::text},  // the first query's Bind fails: 22P02
                          {"7", "1", ResultFormat::binary},
                          {"8", "1", ResultFormat::text},
                          {"9", "0", ResultFormat::binary},
                          {"10", "2", ResultFormat::text}};
    std::vector<std::string> got(std::size(cases));
    std::size_t answered = 0;
    const auto before = c.stats();
    for (std::size_t i = 0; i < std::size(cases); ++i)
        c.execute(sql, {Param{std::string(cases[i].n), 0, 0}, Param{std::string(cases[i].rows), 0, 0}},
                  [&, i](std::exception_ptr e, Result r) {
                      ++answered;
                      if (e) {
                          got[i] = sqlstate(e);
                          return;
                      }
                      for (const Column& col : r.column_info()) got[i] += col.name + ":" + std::to_string(col.format) + " ";
                      try {
                          for (std::size_t row = 0; row < r.size(); ++row)
                              got[i] += std::to_string(r[row][0].as<int>()) + "," + r[row][1].as<std::string>() + " ";
                      } catch (const std::exception& x) {
                          got[i] += x.what();
                      }
                  }, cases[i].format);
    ASSERT_TRUE(run_loop(c, [&] { return answered == std::size(cases); }));
    EXPECT_EQ(got, (std::vector<std::string>{"22P02", "n:1 t:1 7,x ", "n:0 t:0 8,x ", "n:1 t:1 ", "n:0 t:0 10,x 10,x "}));
    EXPECT_EQ(c.stats().pipelines - before.pipelines, 1u);

    query(c, "CREATE TEMP TABLE run_rows (v int)");
    got.assign(3, "");
    answered = 0;
    for (std::size_t i = 0; i < 3; ++i)
        c.execute_args("INSERT INTO run_rows VALUES ($1::int)", [&, i](std::exception_ptr e, Result r) {
            got[i] = e ? what(e) : r.command_tag() + "/" + std::to_string(r.columns());
            ++answered;
        }, static_cast<int>(i));
    ASSERT_TRUE(run_loop(c, [&] { return answered == 3; }));
    EXPECT_EQ(got, (std::vector<std::string>(3, "INSERT 0 1/0")));
    EXPECT_EQ(query(c, "SELECT count(*) FROM pg_prepared_statements")[0][0][0].view(), "0");
    EXPECT_TRUE(c.is_healthy());
}

namespace {
void set_cache(AsyncConnection& c, std::size_t capacity) {
    const auto out = std::make_shared<AsyncOutcome<bool>>();
    c.set_statement_cache_capacity(capacity, [out](std::exception_ptr e) { out->error = e; });
    ASSERT_TRUE(run_loop(c, [&] { return out->error.has_value(); }));
    EXPECT_FALSE(*out->error) << what(*out->error);
}
}  // namespace

// A query of an implicit pipeline after its first, outside a run, parses a statement of its
// own unique name (closed before its Sync, or after the query when it failed), never the
// unnamed statement: behind a transaction pooler that hands the server connection over in
// the middle of a Sync group (pgbouncer#759) its Bind fails with 26000 rather than running
// another client's unnamed statement. Seen from the server: a pipelined query finds its own
// statement in pg_prepared_statements; the pipeline's first query and DEALLOCATE find none.
TEST_P(AsyncConnectionTest, PipelinedQueriesAfterTheFirstParseAStatementOfTheirOwn) {
    // Each counts the server's statements whose text is its own SQL (given as its argument).
    auto own = [](int k) {
        return "SELECT count(*) FROM pg_prepared_statements WHERE statement = $1::text AND " + std::to_string(k) +
               " > 0";
    };
    for (const std::size_t cache : {std::size_t{0}, std::size_t{4}}) {
        SCOPED_TRACE("statement cache " + std::to_string(cache));
        // Without the cache: distinct SQL each (a run would share one named statement). With
        // it: the second query repeats the first while the cache's statement is pending.
        const std::vector<std::string> sqls{own(1), cache > 0 ? own(1) : own(2), "SELECT 1 / $1::int", own(4)};
        std::vector<std::string> got(sqls.size());  // got and answered outlive the connection's callbacks
        std::size_t answered = 0;
        AsyncConnection c;
        connect(c);
        if (cache > 0) set_cache(c, cache);
        const auto before = c.stats();
        for (std::size_t i = 0; i < sqls.size(); ++i)
            c.execute(sqls[i], {Param{i == 2 ? std::string("0") : sqls[i], 0, 0}}, [&, i](std::exception_ptr e, Result r) {
                got[i] = e ? sqlstate(e) : std::string(r[0][0].view());
                ++answered;
            });
        ASSERT_TRUE(run_loop(c, [&] { return answered == sqls.size(); }));
        EXPECT_EQ(c.stats().pipelines - before.pipelines, 1u);
        if (cache == 0)  // the pipeline's first query: the unnamed statement
            EXPECT_EQ(got, (std::vector<std::string>{"0", "1", "22012", "1"}));
        else  // the cache's statement, then it and the second query's own
            EXPECT_EQ(got, (std::vector<std::string>{"1", "2", "22012", "1"}));
        // Nothing is left behind but the cache's: the failed query's statement was closed after it.
        EXPECT_EQ(query(c, "SELECT count(*) FROM pg_prepared_statements")[0][0][0].view(), cache > 0 ? "2" : "0");
        EXPECT_TRUE(c.is_healthy());
    }
}


// Overlapping pipelines: queries queued while a pipeline is answered join it once they are as
// many as its unanswered ones — written while the server still sleeps on its first query —,
// answered in order after the others, each with its own outcome (an error only its own).
// Those of one statement form a run of their own write (parsed once, closed by its last); the
// query after them parses a statement of its own name and sees that one on the server, and
// the statement of the failed division of the first write (a failed query skips its Close:
// that statement is closed once the pipeline ended). Nothing is left behind on the server.
TEST_P(AsyncConnectionTest, QueriesQueuedWhileAPipelineIsAnsweredJoinIt) {
    AsyncConnection c;
    connect(c);
    c.set_pipeline_overlap(PipelineOverlap::on);
    const auto before = c.stats();
    EXPECT_EQ(overlap_scenario(c, 3), "a E 2 4 E 3 2 ");
    const auto st = c.stats();
    EXPECT_EQ(st.pipelines - before.pipelines, 1u);
    EXPECT_EQ(st.pipeline_appends - before.pipeline_appends, 1u);
    EXPECT_EQ(st.pipelined_queries - before.pipelined_queries, 7u);
    EXPECT_EQ(query(c, "SELECT count(*) FROM pg_prepared_statements")[0][0][0].view(), "0");
    EXPECT_TRUE(c.is_healthy());
    EXPECT_FALSE(c.busy());
}

// automatic, the default, overlaps only across a network: not to the rig's loopback server
// (see NetnsLoss.PipelinesOverlapAcrossANetworkLinkByDefault for the other side). Off, never.
TEST_P(AsyncConnectionTest, PipelinesDoNotOverlapOnLoopbackByDefault) {
    for (const PipelineOverlap overlap : {PipelineOverlap::automatic, PipelineOverlap::off}) {
        AsyncConnection c;
        EXPECT_EQ(c.pipeline_overlap(), PipelineOverlap::automatic);
        connect(c);
        c.set_pipeline_overlap(overlap);
        EXPECT_EQ(c.pipeline_overlap(), overlap);
        // Once the first pipeline ended (and the failed division's statement was closed),
        // the later queries go out as one of their own.
        EXPECT_EQ(overlap_scenario(c, 3), "a E 2 4 E 3 1 ");
        EXPECT_EQ(c.stats().pipeline_appends, 0u);
        EXPECT_EQ(c.stats().pipelines, 2u);
        EXPECT_TRUE(c.is_healthy());
    }
}

// A DEALLOCATE ALL queued in a pipeline keeps the unnamed statement (a statement of its own
// would be among those it drops) and drops the statements the queries before it parsed.
TEST_P(AsyncConnectionTest, ADeallocateInAPipelineParsesTheUnnamedStatement) {
    const std::vector<std::string> sqls{"SELECT 1", "SELECT count(*) FROM pg_prepared_statements", "DEALLOCATE ALL",
                                        "SELECT count(*) FROM pg_prepared_statements WHERE 2 > 1"};
    std::vector<std::string> got(sqls.size());  // got and answered outlive the connection's callbacks
    std::size_t answered = 0;
    AsyncConnection c;
    connect(c);
    for (std::size_t i = 0; i < sqls.size(); ++i)
        c.execute(sqls[i], {}, [&, i](std::exception_ptr e, Result r) {
            got[i] = e ? what(e) : r.columns() > 0 ? std::string(r[0][0].view()) : r.command_tag();
            ++answered;
        });
    ASSERT_TRUE(run_loop(c, [&] { return answered == sqls.size(); }));
    EXPECT_EQ(got, (std::vector<std::string>{"1", "1", "DEALLOCATE ALL", "1"}));
    EXPECT_EQ(query(c, "SELECT count(*) FROM pg_prepared_statements")[0][0][0].view(), "0");
    EXPECT_TRUE(c.is_healthy());
}

// A statement that drops prepared statements (DEALLOCATE ALL, DISCARD ALL) would drop its own
// run's statement: such queries each parse their own.
TEST_P(AsyncConnectionTest, QueriesThatDropPreparedStatementsFormNoRun) {
    std::vector<std::string> got(4);  // got and answered outlive the connection's callbacks
    std::size_t answered = 0;
    const char* const sqls[] = {"DEALLOCATE ALL", "DEALLOCATE ALL", " discard ALL", " discard ALL"};
    AsyncConnection c;
    connect(c);
    for (std::size_t i = 0; i < std::size(sqls); ++i)
        c.execute(sqls[i], {}, [&, i](std::exception_ptr e, Result r) {
            got[i] = e ? what(e) : r.command_tag();
            ++answered;
        });
    ASSERT_TRUE(run_loop(c, [&] { return answered == std::size(sqls); }));
    EXPECT_EQ(got, (std::vector<std::string>{"DEALLOCATE ALL", "DEALLOCATE ALL", "DISCARD ALL", "DISCARD ALL"}));
    EXPECT_TRUE(c.is_healthy());
}

// With the statement cache on, queries queued together still go out as one pipeline: the
// first of each statement prepares it in the pipeline, the others use the unnamed statement
// until it is answered, later ones only bind and execute. A query that fails (at Parse or at
// execution) leaves no statement behind on the server.
TEST_P(AsyncConnectionTest, CachedExecutesQueuedTogetherArePipelined) {
    const char* const sqls[] = {"SELECT $1::int", "SELECT $1::int + 1000", "SELECT $1::int * 2", "SELECT 1 / ($1::int - $1::int)",
                                "SELEKT $1::int"};
    constexpr int kQueries = 200;
    std::vector<std::string> got(kQueries);  // got and answered outlive the connection's callbacks
    int answered = 0;
    AsyncConnection c;
    connect(c);
    set_cache(c, 8);
    auto expected = [](int i) -> std::string {
        switch (i % 5) {
            case 0: return std::to_string(i);
            case 1: return std::to_string(i + 1000);
            case 2: return std::to_string(2 * i);
            case 3: return "22012";
            default: return "42601";
        }
    };
    for (int round = 0; round < 2; ++round) {  // the second round: every statement cached
        answered = 0;
        const auto before = c.stats();
        for (int i = 0; i < kQueries; ++i)
            c.execute_args(sqls[i % 5], [&, i](std::exception_ptr e, Result r) {
                got[static_cast<std::size_t>(i)] = e ? sqlstate(e) : std::string(r[0][0].view());
                ++answered;
            }, i);
        ASSERT_TRUE(run_loop(c, [&] { return answered == kQueries; }));
        for (int i = 0; i < kQueries; ++i) EXPECT_EQ(got[static_cast<std::size_t>(i)], expected(i)) << "round " << round << " query " << i;
        EXPECT_GE(c.stats().pipelined_queries - before.pipelined_queries, static_cast<std::uint64_t>(kQueries - 1))
            << "round " << round;
        EXPECT_TRUE(c.is_healthy());
        // The three statements that succeed, each once; none of the failing ones.
        const auto names = query(c, "SELECT string_agg(statement, ' | ' ORDER BY statement) FROM pg_prepared_statements");
        ASSERT_EQ(names.size(), 1u);
        EXPECT_EQ(names[0][0][0].view(), "SELECT $1::int | SELECT $1::int * 2 | SELECT $1::int + 1000") << "round " << round;
    }
}

// A pipelined query that failed may leave its statement on the server: the library closes it
// on its own, which does not make the connection busy for the application (a pool releasing
// it then would call it "released mid-query"); what is queued meanwhile runs after.
TEST_P(AsyncConnectionTest, TheCloseOfALeftoverStatementIsNotTheApplicationsOperation) {
    std::string got;  // got and busy_in_last_callback outlive the connection's callbacks
    bool busy_in_last_callback = true;
    AsyncConnection c;
    connect(c);
    set_cache(c, 4);
    c.execute_args("SELECT 1 / $1::int", [&](std::exception_ptr e, Result) { got += sqlstate(e) == "22012" ? "E" : "?"; }, 0);
    c.execute_args("SELECT $1::int", [&](std::exception_ptr e, Result r) {
        got += e ? "!" : std::string(r[0][0].view());
        busy_in_last_callback = c.busy();
        c.execute_args("SELECT $1::int + 1", [&](std::exception_ptr e2, Result r2) {
            got += e2 ? "!" : std::string(r2[0][0].view());
        }, 5);
    }, 3);
    ASSERT_TRUE(run_loop(c, [&] { return got.size() == 3; }));
    EXPECT_EQ(got, "E36");
    EXPECT_FALSE(busy_in_last_callback);
    EXPECT_EQ(c.stats().pipelines, 1u);
    EXPECT_EQ(query(c, "SELECT string_agg(statement, ' | ' ORDER BY statement) FROM pg_prepared_statements")[0][0][0].view(),
              "SELECT $1::int | SELECT $1::int + 1")
        << "the failed one's statement closed";
}

// A cache smaller than the statements of one pipeline evicts inside it: every query gets its
// own result and the server holds no more statements than the capacity.
TEST_P(AsyncConnectionTest, ACachedPipelineEvictsAndClosesOnTheServer) {
    constexpr int kQueries = 60;
    int answered = 0, wrong = 0;  // outlive the connection's callbacks
    AsyncConnection c;
    connect(c);
    set_cache(c, 2);
    for (int i = 0; i < kQueries; ++i) {
        const std::string sql = "SELECT $1::int + " + std::to_string(i % 6);
        c.execute_args(sql, [&, i](std::exception_ptr e, Result r) {
            if (e || r[0][0].as<int>() != i + i % 6) ++wrong;
            ++answered;
        }, i);
    }
    ASSERT_TRUE(run_loop(c, [&] { return answered == kQueries; }));
    EXPECT_EQ(wrong, 0);
    EXPECT_GE(c.stats().pipelined_queries, static_cast<std::uint64_t>(kQueries - 1));
    EXPECT_EQ(query(c, "SELECT count(*) FROM pg_prepared_statements")[0][0][0].view(), "2");
}

// A cached statement whose result type changed (0A000) fails the pipelined queries that used
// it, is forgotten and closed; the next execute prepares it again.
TEST_P(AsyncConnectionTest, ACachedStatementWhoseResultTypeChangedIsForgottenInAPipeline) {
    std::string got;  // outlives the connection's callbacks
    AsyncConnection c;
    connect(c);
    query(c, "CREATE TEMP TABLE shape (a int); INSERT INTO shape VALUES (1)");
    set_cache(c, 4);
    auto select = [&] {
        c.execute_args("SELECT * FROM shape WHERE a = $1::int", [&](std::exception_ptr e, Result r) {
            got += e ? (sqlstate(e) == "0A000" ? "X" : "?" + what(e)) : std::to_string(r.columns());
        }, 1);
    };
    select();
    ASSERT_TRUE(run_loop(c, [&] { return got.size() == 1; }));
    ASSERT_EQ(got, "1");
    query(c, "ALTER TABLE shape ADD COLUMN b int");
    select();
    select();
    ASSERT_TRUE(run_loop(c, [&] { return got.size() == 3; }));
    EXPECT_EQ(got, "1XX");
    EXPECT_EQ(c.stats().pipelines, 1u);
    select();
    ASSERT_TRUE(run_loop(c, [&] { return got.size() == 4; }));
    EXPECT_EQ(got, "1XX2");
    EXPECT_EQ(query(c, "SELECT count(*) FROM pg_prepared_statements")[0][0][0].view(), "1") << "the old one closed";
    EXPECT_TRUE(c.is_healthy());
}

// A FETCH through the cache in a pipeline describes its own columns (see
// Queries.ACachedFetchHasTheColumnsOfTheCursorItReads): those of the cursor declared again.
TEST_P(AsyncConnectionTest, APipelinedFetchThroughTheCacheHasTheColumnsOfTheCursorItReads) {
    std::string got;  // outlives the connection's callbacks
    AsyncConnection c;
    connect(c);
    set_cache(c, 4);
    query(c, "BEGIN; DECLARE cur CURSOR FOR SELECT 7::int4 AS a");
    auto both = [&] {  // queued together: one pipeline
        c.execute_args("SELECT $1::int", [&](std::exception_ptr e, Result) { got += e ? "!" : "s"; }, 1);
        c.execute("FETCH ALL FROM cur", {}, [&](std::exception_ptr e, Result r) {
            got += e ? "?" + what(e) : r.column_info().at(0).name + ":" + std::to_string(r.column_info()[0].type_oid) + ",";
        }, ResultFormat::binary);
    };
    both();
    ASSERT_TRUE(run_loop(c, [&] { return got.size() >= 2 && got.back() == ','; }));
    query(c, "CLOSE cur; DECLARE cur CURSOR FOR SELECT 'abcd'::text AS b");
    both();
    ASSERT_TRUE(run_loop(c, [&] { return std::count(got.begin(), got.end(), ',') == 2 || !c.is_healthy(); }));
    EXPECT_EQ(got, "sa:23,sb:25,");
    EXPECT_EQ(c.stats().pipelines, 2u);
    query(c, "COMMIT");
}

// execute() of a COPY queued among other executes answers as it does alone (FROM STDIN: 57014
// after a CopyFail; TO STDOUT: its command tag, the data dropped), and the queries around it
// get their own results: in an implicit pipeline the server's CopyInResponse or
// CopyOutResponse was a protocol error that closed the connection under all of them.
TEST_P(AsyncConnectionTest, AQueuedExecuteOfACopyAnswersAsItDoesAlone) {
    std::string got;  // outlives the connection's callbacks
    AsyncConnection c;
    connect(c);
    query(c, "CREATE TEMP TABLE queued_copy (n int); INSERT INTO queued_copy VALUES (1)");
    auto select = [&](int v) {
        c.execute_args("SELECT $1::int", [&](std::exception_ptr e, Result r) { got += e ? "?" + what(e) : std::string(r[0][0].view()); }, v);
    };
    select(1);
    c.execute("COPY queued_copy FROM STDIN", {}, [&](std::exception_ptr e, Result) { got += sqlstate(e) == "57014" ? "F" : "?" + what(e); });
    select(2);
    c.execute("COPY queued_copy TO STDOUT", {}, [&](std::exception_ptr e, Result r) { got += e ? "?" + what(e) : r.command_tag(); });
    select(3);
    ASSERT_TRUE(run_loop(c, [&] { return got.size() >= 10 || got.find('?') != std::string::npos; }));
    EXPECT_EQ(got, "1F2COPY 13");
    EXPECT_TRUE(c.is_healthy());
}

// 64 "coroutines" on one connection, started from the connect's completion, each issuing its
// next query from its callback: what the completions issue goes out together, so every query
// travels in a pipeline (none starts alone ahead of the others).
TEST_P(AsyncConnectionTest, QueriesIssuedFromCallbacksGoOutTogether) {
    constexpr int kChains = 64, kEach = 30;
    // What the callbacks capture, next included (it queues on c: set once c exists), outlives c.
    int answered = 0, wrong = 0;
    std::function<void(int, int)> next;
    AsyncConnection c;
    next = [&](int chain, int k) {
        c.execute_args("SELECT $1::int + $2::int", [&, chain, k](std::exception_ptr e, Result r) {
            if (e || r[0][0].as<int>() != chain * 1000 + k) ++wrong;
            ++answered;
            if (k + 1 < kEach) next(chain, k + 1);
        }, chain * 1000, k);
    };
    c.connect(pg18_verified(), [&](std::exception_ptr e) {
        ASSERT_FALSE(e) << what(e);
        for (int i = 0; i < kChains; ++i) next(i, 0);
    });
    ASSERT_TRUE(run_loop(c, [&] { return answered == kChains * kEach; }, 60s));
    EXPECT_EQ(wrong, 0);
    const auto st = c.stats();
    // Results are delivered as they arrive, so a later pipeline may start before every chain
    // has issued its next query: a few more pipelines than rounds (now and then a query alone),
    // never one per query. Queries that start alone ahead of the rest would be a third or more.
    EXPECT_GE(st.pipelined_queries, static_cast<std::uint64_t>(kChains * kEach * 9 / 10));
    EXPECT_GE(st.pipelines, static_cast<std::uint64_t>(kEach));
    EXPECT_LE(st.pipelines, static_cast<std::uint64_t>(2 * kEach));
}

// A pipelined query's outcome is final only when its Sync is answered: a deferred constraint
// fails at the implicit COMMIT, after the INSERT's CommandComplete. The caller gets the error,
// never a success for a row that was rolled back.
TEST_P(AsyncConnectionTest, APipelinedQueryWhoseCommitFailsGetsTheError) {
    std::string got;  // outlives the connection's callbacks
    AsyncConnection c;
    connect(c);
    query(c, "CREATE TEMP TABLE deferred_u (x int UNIQUE DEFERRABLE INITIALLY DEFERRED)");
    c.execute_args("INSERT INTO deferred_u VALUES ($1), ($1)", [&](std::exception_ptr e, Result) {
        got += sqlstate(e) == "23505" ? "E" : (e ? "?" : "ok!");
    }, 1);
    c.execute_args("INSERT INTO deferred_u VALUES ($1)", [&](std::exception_ptr e, Result) { got += e ? "!" : "2"; }, 2);
    c.execute_args("SELECT count(*)::int FROM deferred_u", [&](std::exception_ptr e, Result r) {
        got += e ? "!" : std::string(r[0][0].view());
    });
    ASSERT_TRUE(run_loop(c, [&] { return got.size() >= 3; }));
    EXPECT_EQ(got, "E21");
    EXPECT_EQ(c.stats().pipelines, 1u);
    EXPECT_TRUE(c.is_healthy());
}

TEST_P(AsyncConnectionTest, CancellingAPipelinedQueryCancelsOnlyThatOne) {
    std::string got;  // outlives the connection's callbacks
    AsyncConnection c;
    connect(c);
    c.execute_args("SELECT pg_sleep($1::float8)::text", [&](std::exception_ptr e, Result) {
        got += e ? "!" : "a";
    }, 0.01);
    const auto slow = c.execute_args("SELECT pg_sleep($1::float8)::text", [&](std::exception_ptr e, Result) {
        got += sqlstate(e) == "57014" ? "x" : "?";
    }, 30.0);
    c.execute_args("SELECT $1::text", [&](std::exception_ptr e, Result r) { got += e ? "!" : std::string(r[0][0].view()); }, "c");
    run_loop(c, [] { return false; }, 500ms);  // the slow query is running on the server
    EXPECT_EQ(got, "a") << "a pipelined query's result arrives without waiting for the ones after it";
    EXPECT_EQ(c.stats().pipelines, 1u);
    c.cancel(slow);
    ASSERT_TRUE(run_loop(c, [&] { return got.size() == 3; }, 10s));
    EXPECT_EQ(got, "axc");
    EXPECT_TRUE(c.is_healthy());
}

// After one query of an implicit pipeline was cancelled, another one the server reaches
// later can be cancelled too: the first cancel is spent once its query is answered (the
// pipeline used to go on draining the rest, ignoring every later cancel — and retiring the
// connection when the rest outlasted the cancel's grace period).
TEST_P(AsyncConnectionTest, EachOfSeveralPipelinedQueriesCanBeCancelled) {
    std::string got;  // outlives the connection's callbacks
    AsyncConnection c;
    connect(c);
    const auto sleep = [&](char name) {
        return c.execute_args("SELECT pg_sleep($1::float8)::text", [&, name](std::exception_ptr e, Result) {
            got += sqlstate(e) == "57014" ? name : '?';
        }, 30.0);
    };
    const auto first = sleep('a');
    const auto second = sleep('b');
    c.execute_args("SELECT $1::text", [&](std::exception_ptr e, Result r) { got += e ? "!" : std::string(r[0][0].view()); }, "c");
    run_loop(c, [] { return false; }, 300ms);  // the first is running on the server
    ASSERT_EQ(c.stats().pipelines, 1u);
    c.cancel(first);
    ASSERT_TRUE(run_loop(c, [&] { return !got.empty(); }, 10s));
    run_loop(c, [] { return false; }, 300ms);  // the second is running on the server
    const auto t0 = std::chrono::steady_clock::now();
    c.cancel(second);
    ASSERT_TRUE(run_loop(c, [&] { return got.size() == 3; }, 10s)) << got;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
    EXPECT_EQ(got, "abc");
    EXPECT_TRUE(c.is_healthy());
    EXPECT_EQ(query(c, "SELECT 'after'")[0][0][0].view(), "after");
}

// cancel() of an id that names no operation does nothing — 0 included (a default OpId, ids
// start at 1), which was the id of the implicit pipeline's own operation: it cancelled the query
// the server was running.
TEST_P(AsyncConnectionTest, CancellingAnIdOfNoOperationCancelsNothing) {
    std::string got;  // outlives the connection's callbacks
    AsyncConnection c;
    connect(c);
    c.execute_args("SELECT pg_sleep($1::float8)::text", [&](std::exception_ptr e, Result) { got += e ? sqlstate(e) : "a"; }, 0.5);
    c.execute_args("SELECT $1::text", [&](std::exception_ptr e, Result r) { got += e ? "!" : std::string(r[0][0].view()); }, "b");
    run_loop(c, [] { return false; }, 200ms);  // the first is running on the server
    ASSERT_EQ(c.stats().pipelines, 1u);
    c.cancel(0);
    c.cancel(AsyncConnection::OpId{1} << 40);
    ASSERT_TRUE(run_loop(c, [&] { return !c.busy(); }, 10s));
    EXPECT_EQ(got, "ab");
    EXPECT_TRUE(c.is_healthy());
}

TEST_P(AsyncConnectionTest, WithAQueryTimeoutQueriesRunOneByOne) {
    int answered = 0;  // outlives the connection's callbacks
    AsyncConnection c;
    connect(c);
    c.set_query_timeout(5s);
    for (int i = 0; i < 10; ++i)
        c.execute_args("SELECT $1::int", [&](std::exception_ptr e, Result) { answered += e ? 100 : 1; }, i);
    ASSERT_TRUE(run_loop(c, [&] { return answered >= 10; }));
    EXPECT_EQ(answered, 10);
    EXPECT_EQ(c.stats().pipelines, 0u);
}

// A loop that reads its clock first and advances the connections whose deadline has passed
// must see queued work and waiting completions as due (the deadline is not "now" at the time
// deadline() was called, which would be later than the loop's reading).
TEST_P(AsyncConnectionTest, WorkThatIsDueHasADeadlineInThePastOfAnyLoopClock) {
    bool done = false;  // outlives the connection's callback
    AsyncConnection c;
    connect(c);
    const auto before = AsyncConnection::Clock::now();
    c.query("SELECT 1", [&](std::exception_ptr, std::vector<Result>) { done = true; });
    ASSERT_TRUE(c.deadline().has_value());
    EXPECT_LE(*c.deadline(), before) << "queued: due for a loop whose clock reading came first";
    // A loop that only advances what is due, by its own earlier reading, still gets there.
    for (int i = 0; i < 2000 && !done; ++i) {
        const auto now = AsyncConnection::Clock::now();
        std::vector<pollfd> fds;
        for (const AsyncWatch& w : c.watches())
            if (w.fd >= 0) fds.push_back({w.fd, static_cast<short>((w.read ? POLLIN : 0) | (w.write ? POLLOUT : 0)), 0});
        const auto d = c.deadline();
        ::poll(fds.data(), fds.size(), d && *d <= now ? 0 : 10);
        bool ready = d && *d <= now;
        for (const pollfd& p : fds) ready = ready || p.revents != 0;
        if (ready) c.advance();
    }
    EXPECT_TRUE(done);
}

TEST_P(AsyncConnectionTest, CancellingARunningQuerySendsACancelRequestAndKeepsTheConnection) {
    std::exception_ptr err;  // err and done outlive the connection's callback
    bool done = false;
    AsyncConnection c;
    connect(c);
    const auto id = c.query("SELECT pg_sleep(30)", [&](std::exception_ptr e, std::vector<Result>) {
        err = e;
        done = true;
    });
    run_loop(c, [] { return false; }, 300ms);  // the query is running on the server
    const auto t0 = std::chrono::steady_clock::now();
    c.cancel(id);
    ASSERT_TRUE(run_loop(c, [&] { return done; }, 10s));
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
    EXPECT_EQ(sqlstate(err), "57014") << what(err);
    EXPECT_TRUE(c.is_healthy());
    EXPECT_EQ(query(c, "SELECT 'after'")[0][0][0].view(), "after");
}

// Every cancel path of the async connection: classic and direct negotiation, protocol 3.0
// and 3.2 (PostgreSQL 18's 32-byte cancel key).
TEST_P(AsyncConnectionTest, CancelWorksOverEveryNegotiationAndProtocol) {
    std::vector<std::string> extras{"", " max_protocol_version=3.2"};
    if (has_tls()) {
        extras.push_back(" sslnegotiation=direct");
        extras.push_back(" sslnegotiation=direct max_protocol_version=latest");
    }
    for (const std::string& extra : extras) {
        SCOPED_TRACE("options:" + extra);
        Config cfg = pg18_verified();
        cfg.conninfo += extra;
        std::optional<std::exception_ptr> connected, outcome;  // outlive the connection's callbacks
        AsyncConnection c;
        c.connect(cfg, [&](std::exception_ptr e) { connected = e; });
        ASSERT_TRUE(run_loop(c, [&] { return connected.has_value(); }));
        ASSERT_FALSE(*connected) << what(*connected);
        EXPECT_EQ(c.info().protocol_version, extra.find("max_protocol_version") != std::string::npos ? "3.2" : "3.0");
        const auto id = c.query("SELECT pg_sleep(30)", [&](std::exception_ptr e, std::vector<Result>) { outcome = e; });
        run_loop(c, [] { return false; }, 300ms);
        c.cancel(id);
        ASSERT_TRUE(run_loop(c, [&] { return outcome.has_value(); }, 10s));
        EXPECT_EQ(sqlstate(*outcome), "57014") << what(*outcome);
        EXPECT_TRUE(c.is_healthy());
        EXPECT_EQ(query(c, "SELECT 'after'")[0][0][0].view(), "after");
    }
}

TEST_P(AsyncConnectionTest, CancellingAQueuedOperationRemovesIt) {
    std::string got;  // outlives the connection's callbacks
    AsyncConnection c;
    connect(c);
    c.query("SELECT pg_sleep(0.2)", [&](std::exception_ptr e, std::vector<Result>) { got += e ? "!" : "a"; });
    const auto second = c.query("SELECT 2", [&](std::exception_ptr e, std::vector<Result>) {
        got += e && what(e) == "operation cancelled" ? "x" : "?";
    });
    c.query("SELECT 3", [&](std::exception_ptr e, std::vector<Result>) { got += e ? "!" : "c"; });
    c.cancel(second);
    ASSERT_TRUE(run_loop(c, [&] { return got.size() == 3; }));
    EXPECT_EQ(got, "xac");
}

TEST_P(AsyncConnectionTest, TheQueryTimeoutCancelsAndTheConnectionStaysUsable) {
    std::exception_ptr err;  // err and done outlive the connection's callback
    bool done = false;
    AsyncConnection c;
    connect(c);
    c.set_query_timeout(300ms);
    c.query("SELECT pg_sleep(10)", [&](std::exception_ptr e, std::vector<Result>) {
        err = e;
        done = true;
    });
    ASSERT_TRUE(run_loop(c, [&] { return done; }, 10s));
    try {
        std::rethrow_exception(err);
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::timeout);
        EXPECT_EQ(e.cause(), ErrorCause::query_timeout) << e.what();
    }
    EXPECT_TRUE(c.is_healthy());
    c.set_query_timeout(0ms);
    EXPECT_EQ(query(c, "SELECT 1").size(), 1u);
}

TEST_P(AsyncConnectionTest, DestroyingTheConnectionCompletesEveryOperationWithAnError) {
    std::vector<std::string> errors;  // outlives the connection's callbacks
    auto c = std::make_unique<AsyncConnection>();
    connect(*c);
    c->query("SELECT pg_sleep(10)", [&](std::exception_ptr e, std::vector<Result>) { errors.push_back(what(e)); });
    c->query("SELECT 2", [&](std::exception_ptr e, std::vector<Result>) { errors.push_back(what(e)); });
    run_loop(*c, [] { return false; }, 200ms);
    c.reset();
    ASSERT_EQ(errors.size(), 2u);
    for (const auto& e : errors) EXPECT_NE(e.find("destroyed"), std::string::npos) << e;
}

TEST_P(AsyncConnectionTest, ACallbackMayDestroyItsConnection) {
    int calls = 0;  // outlives the connection's callbacks
    auto c = std::make_unique<AsyncConnection>();
    connect(*c);
    AsyncConnection* raw = c.get();
    raw->query("SELECT 1", [&](std::exception_ptr, std::vector<Result>) {
        ++calls;
        c.reset();  // from inside advance()
    });
    // Completes during the destruction: with its result if it had arrived in the same read,
    // otherwise with the destruction's error — once either way.
    raw->query("SELECT 2", [&](std::exception_ptr, std::vector<Result>) { ++calls; });
    for (int i = 0; i < 200 && c; ++i) {
        raw->advance();
        ::poll(nullptr, 0, 10);
    }
    EXPECT_FALSE(c);
    // If the loop gave up, the connection is destroyed here, not by c's destructor: that runs
    // the first callback, whose c.reset() would delete the connection a second time from inside
    // its destruction; with c empty it does nothing.
    delete c.release();
    EXPECT_EQ(calls, 2);
}

TEST_P(AsyncConnectionTest, WaitsForANotification) {
    std::optional<Notification> got;  // got and done outlive the connection's callbacks
    bool done = false;
    AsyncConnection c;
    connect(c);
    query(c, "LISTEN async_chan");
    c.wait_notification(10s, [&](std::exception_ptr e, std::optional<Notification> n) {
        EXPECT_FALSE(e) << what(e);
        got = std::move(n);
        done = true;
    });
    run_loop(c, [] { return false; }, 100ms);
    Client other(pg18_verified());
    other.query("NOTIFY async_chan, 'hello'");
    ASSERT_TRUE(run_loop(c, [&] { return done; }));
    ASSERT_TRUE(got);
    EXPECT_EQ(got->payload, "hello");

    done = false;
    c.wait_notification(200ms, [&](std::exception_ptr e, std::optional<Notification> n) {
        EXPECT_FALSE(e);
        EXPECT_FALSE(n) << "nothing came";
        done = true;
    });
    ASSERT_TRUE(run_loop(c, [&] { return done; }));
    EXPECT_TRUE(c.is_healthy());
}

TEST_P(AsyncConnectionTest, CancellingAConnectClosesIt) {
    std::exception_ptr err;  // err and done outlive the connection's callback
    bool done = false;
    AsyncConnection c;
    const auto id = c.connect(pg18_verified(), [&](std::exception_ptr e) {
        err = e;
        done = true;
    });
    c.cancel(id);
    ASSERT_TRUE(run_loop(c, [&] { return done; }));
    EXPECT_TRUE(err);
    EXPECT_FALSE(c.is_open());
}

// Back-pressure: a stream paused from its on_row callback reads nothing more from the socket
// (rows already received are delivered, a bounded number), and resumes where it stopped.
TEST_P(AsyncConnectionTest, PausedReadingHoldsAStreamAndResumingFinishesIt) {
    constexpr long kRows = 300000;
    // What the callbacks below capture outlives the connection.
    long rows = 0, next = 1, out_of_order = 0;
    std::optional<std::exception_ptr> outcome;
    std::uint64_t affected = 0;
    AsyncConnection c;
    connect(c);
    c.stream("SELECT g FROM generate_series(1, " + std::to_string(kRows) + ") g", {},
             [&](const Row& r) {
                 if (r[0].as<long>() != next++) ++out_of_order;
                 if (++rows == 1000) c.pause_reading();
             },
             [&](std::exception_ptr e, std::uint64_t n) {
                 outcome = e;
                 affected = n;
             });
    ASSERT_TRUE(run_loop(c, [&] { return rows >= 1000; }));
    EXPECT_TRUE(c.reading_paused());
    const long at_pause = rows;
    run_loop(c, [] { return false; }, 300ms);  // the loop keeps running; the connection must not read
    EXPECT_LE(rows - at_pause, 20000) << "rows delivered while paused: only what one read brought in";
    EXPECT_LT(rows, kRows);
    for (const AsyncWatch& w : c.watches()) EXPECT_FALSE(w.read && w.fd >= 0) << "a paused connection watches for reading";
    EXPECT_FALSE(outcome.has_value());
    c.resume_reading();
    ASSERT_TRUE(run_loop(c, [&] { return outcome.has_value(); }, 60s));
    EXPECT_FALSE(*outcome) << what(*outcome);
    EXPECT_EQ(rows, kRows);
    EXPECT_EQ(out_of_order, 0);
    EXPECT_EQ(affected, static_cast<std::uint64_t>(kRows));
    EXPECT_EQ(query(c, "SELECT 'after'")[0][0][0].view(), "after");
}

// Cancelling a paused stream resumes reading (the rest must be drained): it ends with the
// server's 57014, or its result if it had finished sending, and the connection stays usable.
TEST_P(AsyncConnectionTest, CancellingAPausedStreamDrainsItAndKeepsTheConnection) {
    long rows = 0;  // rows and outcome outlive the connection's callbacks
    std::optional<std::exception_ptr> outcome;
    AsyncConnection c;
    connect(c);
    const auto id = c.stream("SELECT g FROM generate_series(1, 5000000) g", {},
                             [&](const Row&) {
                                 if (++rows == 1000) c.pause_reading();
                             },
                             [&](std::exception_ptr e, std::uint64_t) { outcome = e; });
    ASSERT_TRUE(run_loop(c, [&] { return rows >= 1000; }));
    run_loop(c, [] { return false; }, 200ms);
    c.cancel(id);
    EXPECT_FALSE(c.reading_paused());
    ASSERT_TRUE(run_loop(c, [&] { return outcome.has_value(); }, 30s));
    if (*outcome) {
        EXPECT_EQ(sqlstate(*outcome), "57014") << what(*outcome);
    }
    EXPECT_TRUE(c.is_healthy());
    EXPECT_EQ(query(c, "SELECT 'after'")[0][0][0].view(), "after");
}

// cancel() from a callback the running operation itself calls — a stream's on_row that has
// seen enough, the notice handler — sends a CancelRequest as from anywhere else: the operation
// ends with 57014, the connection stays usable and the next operation gets its own result.
// (The cancel must wait until the callback returned: resuming the operation from inside it
// retired the connection with "a request was resumed with an event its action cannot produce".)
TEST_P(AsyncConnectionTest, AnOperationsOwnCallbackMayCancelIt) {
    // What the callbacks below capture outlives the connection.
    long rows = 0;
    std::optional<std::exception_ptr> streamed, noticed;
    std::string after;
    AsyncConnection c;
    connect(c);
    // 2000 rows at once (they fill the server's send buffer, so they reach the client), then
    // a long sleep: only a cancel ends the statement early.
    AsyncConnection::OpId stream_id = 0;
    stream_id = c.stream("SELECT g, CASE WHEN g > 2000 THEN pg_sleep(30) END FROM generate_series(1, 2001) g", {},
                         [&](const Row&) {
                             if (++rows == 1) c.cancel(stream_id);
                         },
                         [&](std::exception_ptr e, std::uint64_t) { streamed = e; });
    c.execute_args("SELECT $1::text", [&](std::exception_ptr e, Result r) { after = e ? what(e) : std::string(r[0][0].view()); },
                   "next");
    auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(run_loop(c, [&] { return !after.empty(); }, 20s));
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 15s);
    ASSERT_TRUE(streamed.has_value());
    EXPECT_EQ(sqlstate(*streamed), "57014") << what(*streamed);
    EXPECT_EQ(after, "next");
    EXPECT_TRUE(c.is_healthy());

    AsyncConnection::OpId notice_id = 0;
    c.set_notice_handler([&](const Notice&) { c.cancel(notice_id); });
    notice_id = c.query("DO $$BEGIN RAISE NOTICE 'enough'; PERFORM pg_sleep(30); END$$",
                        [&](std::exception_ptr e, std::vector<Result>) { noticed = e; });
    t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(run_loop(c, [&] { return noticed.has_value(); }, 20s));
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 15s);
    EXPECT_EQ(sqlstate(*noticed), "57014") << what(*noticed);
    EXPECT_TRUE(c.is_healthy());
    c.set_notice_handler({});
    EXPECT_EQ(query(c, "SELECT 'after'")[0][0][0].view(), "after");
}

// A host that accepts TCP and never answers (a black hole behind a load balancer), first in a
// host list: its connect_timeout runs out on the loop's clock while the other connections on
// the same loop keep working, and the connect then moves on to the next host.
TEST_P(AsyncConnectionTest, ASilentHostNeverDelaysTheOtherConnectionsOnTheLoop) {
    SilentListener silent;
    const auto& pg18 = env().server("pg18");
    Config cfg = config("host=127.0.0.1,localhost port=" + std::to_string(silent.port()) + "," + std::to_string(pg18.port) +
                        " dbname=pgtls user=scramuser password=scram-secret connect_timeout=2" +
                        (has_tls() ? " sslmode=verify-full" + ca() : std::string(" sslmode=disable")));
    // What the callbacks capture, next included (it queues on busy: set once busy exists),
    // outlives the connections.
    std::optional<std::exception_ptr> slow_outcome;
    AsyncConnection::Clock::time_point t0;
    std::optional<AsyncConnection::Clock::duration> slow_took;
    int answered = 0, answered_during_wait = 0;
    std::function<void(int)> next;
    AsyncConnection slow, busy;
    connect(busy);
    t0 = AsyncConnection::Clock::now();
    slow.connect(cfg, [&](std::exception_ptr e) {
        slow_outcome = e;
        slow_took = AsyncConnection::Clock::now() - t0;
    });
    next = [&](int q) {
        busy.execute_args("SELECT $1::int", [&, q](std::exception_ptr e, Result) {
            EXPECT_FALSE(e) << what(e);
            ++answered;
            // Before the silent host's 2 s ran out: its wait left the loop to the others.
            if (!slow_outcome && AsyncConnection::Clock::now() - t0 < 1900ms) ++answered_during_wait;
            if (q + 1 < 200) next(q + 1);
        }, q);
    };
    next(0);
    ASSERT_TRUE(run_loop(std::vector<AsyncConnection*>{&slow, &busy}, [&] { return slow_outcome.has_value() && answered == 200; }, 20s));
    EXPECT_FALSE(*slow_outcome) << what(*slow_outcome);
    EXPECT_EQ(slow.info().port, pg18.port) << "the connect moved on to the second host";
    EXPECT_GE(*slow_took, 1900ms) << "the silent host had its connect_timeout (2 s)";
    // Not "all 200 before it": on a loaded CI machine (a sanitizer build, a 256-connection test
    // on the same server) 200 round trips may take longer than 2 s. A connect that held the loop
    // would let none through.
    EXPECT_GT(answered_during_wait, 0) << "no query of the other connection was answered while the silent host was waited for";
}

// One thread, one poll() loop: 256 TLS connections, each running 100 queries one after
// another (the next issued from the previous one's callback), all interleaved.
TEST_P(AsyncConnectionTest, ManyConnectionsOnOneThread) {
    constexpr int kConnections = 256, kQueries = 100;
    // What the callbacks capture, next included (it queues on conns: set once conns exists),
    // outlives the connections.
    int connected = 0, answered = 0, wrong = 0;
    std::function<void(int, int)> next;
    std::vector<std::unique_ptr<AsyncConnection>> conns;
    std::vector<AsyncConnection*> raw;
    next = [&](int i, int q) {
        conns[static_cast<std::size_t>(i)]->execute_args("SELECT $1::int * 2", [&, i, q](std::exception_ptr e, Result r) {
            if (e || r[0][0].as<int>() != (i * kQueries + q) * 2) ++wrong;
            ++answered;
            if (q + 1 < kQueries) next(i, q + 1);
        }, i * kQueries + q);
    };
    for (int i = 0; i < kConnections; ++i) {
        conns.push_back(std::make_unique<AsyncConnection>());
        raw.push_back(conns.back().get());
        conns.back()->connect(pg18_verified(), [&, i](std::exception_ptr e) {
            EXPECT_FALSE(e) << what(e);
            ++connected;
            if (!e) next(i, 0);
        });
    }
    ASSERT_TRUE(run_loop(raw, [&] { return answered == kConnections * kQueries || (connected == kConnections && wrong > 0); },
                         300s));
    EXPECT_EQ(connected, kConnections);
    EXPECT_EQ(answered, kConnections * kQueries);
    EXPECT_EQ(wrong, 0);
    for (auto* c : raw) EXPECT_EQ(c->stats().pipelines, 0u) << "each query waited for the one before it";
}

// The connect policy itself is checked with both drivers by the integration and multihost
// suites; here, what only a loop can show: the password callback runs from advance(), and
// one that throws ends the connect with its own exception.
TEST_P(AsyncConnectionTest, PasswordCallbackRunsFromAdvanceAndItsExceptionEndsTheConnect) {
    Config cfg = config(env().conninfo(env().server("pg18"), "scramuser", "localhost") +
                        (has_tls() ? " sslmode=prefer" + ca() : std::string(" sslmode=disable")));
    cfg.conninfo.replace(cfg.conninfo.find("password=scram-secret"), 21, "");
    bool in_advance = false;
    int asked = 0;
    cfg.password_callback = [&](const std::string&, const std::string&, const std::string& user) {
        ++asked;
        EXPECT_TRUE(in_advance) << "the callback ran outside advance()";
        EXPECT_EQ(user, "scramuser");
        return std::string("scram-secret");
    };
    std::optional<std::exception_ptr> outcome;  // outlives the connections' callbacks
    AsyncConnection c;
    c.connect(cfg, [&](std::exception_ptr e) { outcome = e; });
    in_advance = true;
    ASSERT_TRUE(run_loop(c, [&] { return outcome.has_value(); }));
    in_advance = false;
    EXPECT_FALSE(*outcome) << what(*outcome);
    EXPECT_EQ(asked, 1);
    EXPECT_EQ(c.info().ssl, has_tls()) << "prefer takes TLS when the server offers it";

    struct AppError : std::runtime_error {
        using std::runtime_error::runtime_error;
    };
    cfg.password_callback = [](const std::string&, const std::string&, const std::string&) -> std::string {
        throw AppError("vault unreachable");
    };
    AsyncConnection d;
    outcome.reset();
    d.connect(cfg, [&](std::exception_ptr e) { outcome = e; });
    ASSERT_TRUE(run_loop(d, [&] { return outcome.has_value(); }));
    try {
        std::rethrow_exception(*outcome);
    } catch (const AppError& e) {
        EXPECT_STREQ(e.what(), "vault unreachable");
    } catch (...) {
        ADD_FAILURE() << "expected the callback's own exception: " << what(*outcome);
    }
    EXPECT_FALSE(d.is_open());
}

TEST_P(AsyncConnectionTest, ACallbackThatThrowsReachesTheLoopAndLeavesTheConnectionInStep) {
    std::string order;  // outlives the connection's callbacks
    AsyncConnection c;
    connect(c);
    c.query("SELECT 1", [&](std::exception_ptr, std::vector<Result>) {
        order += "1";
        throw std::runtime_error("application bug");
    });
    c.query("SELECT 2", [&](std::exception_ptr e, std::vector<Result> rs) {
        order += e ? "!" : std::string(rs.at(0)[0][0].view());
    });
    bool thrown = false;
    for (int i = 0; i < 2000 && order.size() < 2; ++i) {  // the loop, catching what advance() throws
        const AsyncWatch w = c.watches()[0];
        pollfd p{w.fd, static_cast<short>((w.read ? POLLIN : 0) | (w.write ? POLLOUT : 0)), 0};
        ::poll(&p, w.fd >= 0 ? 1 : 0, 10);
        try {
            c.advance();
        } catch (const std::runtime_error& e) {
            thrown = std::string(e.what()) == "application bug";
        }
    }
    EXPECT_TRUE(thrown) << "the callback's exception reaches the loop";
    EXPECT_EQ(order, "12") << "the next operation still gets its own result";
    EXPECT_TRUE(c.is_healthy());

    auto d = std::make_unique<AsyncConnection>();  // thrown during destruction: discarded
    connect(*d);
    d->query("SELECT pg_sleep(5)", [](std::exception_ptr, std::vector<Result>) { throw std::runtime_error("x"); });
    run_loop(*d, [] { return false; }, 100ms);
    d.reset();  // must not terminate
}

// The notice handler throwing while an implicit pipeline is answered: what it threw is the
// outcome of the query whose reply carried the notice, as when that query runs alone (it was
// lost: every query completed with its result); the queries after it get their own results,
// however much they return (the rest of the pipeline is not drained as after a throw).
TEST_P(AsyncConnectionTest, ANoticeHandlerThatThrowsInAPipelineFailsTheQueryItRanFor) {
    std::vector<std::string> got(4);  // outlives the connection's callbacks
    int answered = 0;
    AsyncConnection c;
    connect(c);
    c.set_notice_handler([](const Notice&) { throw std::runtime_error("notice handler bug"); });
    const auto text = [&](std::size_t i) {
        return [&, i](std::exception_ptr e, Result r) {
            got[i] = e ? what(e) : std::to_string(r.size()) + ":" + std::string(r[0][0].view().substr(0, 3));
            ++answered;
        };
    };
    c.execute("SELECT 'one'", {}, text(0));
    c.execute("DO $$BEGIN RAISE NOTICE 'hello'; END$$", {}, [&](std::exception_ptr e, Result) {
        got[1] = e ? what(e) : "no exception";
        ++answered;
    });
    c.execute("SELECT repeat('x', 1000000) FROM generate_series(1, 20)", {}, text(2));  // 20 MB
    c.execute("SELECT 'fou'", {}, text(3));
    ASSERT_TRUE(run_loop(c, [&] { return answered == 4; }, 30s));
    EXPECT_EQ(c.stats().pipelines, 1u);
    EXPECT_EQ(got, (std::vector<std::string>{"1:one", "notice handler bug", "20:xxx", "1:fou"}));
    EXPECT_TRUE(c.is_healthy());
    c.set_notice_handler({});
    EXPECT_EQ(query(c, "SELECT 'after'")[0][0][0].view(), "after");
}

// The room a large parameter took in the send buffer is given back once it is sent (as the
// blocking client's, tests/hostile/reader_memory_test.cpp): an idle connection does not keep it.
TEST_P(AsyncConnectionTest, TheSendBufferIsGivenBackAfterALargeParameter) {
    if (built_with_asan() || built_with_tsan()) GTEST_SKIP() << "the sanitizer's allocator is not malloc's";
    const auto malloc_in_use = [] {
        const struct mallinfo2 m = mallinfo2();
        return m.uordblks + m.hblkhd;
    };
    constexpr std::size_t param_bytes = 64u << 20;
    // What the callback captures outlives the connection.
    bool done = false;
    std::exception_ptr err;
    std::int64_t length = 0;
    AsyncConnection c;
    connect(c);
    const std::size_t before = malloc_in_use();
    {
        c.execute("SELECT length($1)", {Param{std::string(param_bytes, 'p'), 0, 0}}, [&](std::exception_ptr e, Result r) {
            err = e;
            if (!e) length = r[0][0].as<std::int64_t>();
            done = true;
        });
        ASSERT_TRUE(run_loop(c, [&] { return done; }, 60s));
        ASSERT_FALSE(err) << what(err);
        EXPECT_EQ(length, std::int64_t(param_bytes));
    }
    EXPECT_EQ(query(c, "SELECT 1").size(), 1u);
    const std::size_t held = malloc_in_use() - std::min(before, malloc_in_use());
    EXPECT_LT(held, std::size_t{4} << 20) << "the idle connection holds " << (held >> 10) << " KiB";
}

namespace {
// Queues an operation through `start(callback)` and runs `c`'s loop until it completes.
template <class T, class Start>
std::pair<std::exception_ptr, T> complete(AsyncConnection& c, Start start) {
    const auto out = std::make_shared<AsyncOutcome<T>>();  // the callback's own: see AsyncOutcome
    start([out](std::exception_ptr e, T v) {
        out->value.emplace(std::move(v));
        out->error = e;
    });
    EXPECT_TRUE(run_loop(c, [&] { return out->error.has_value(); })) << "the operation did not complete";
    if (!out->error) return {std::make_exception_ptr(std::runtime_error("not completed")), T{}};
    return {*out->error, std::move(*out->value)};
}
template <class Start>
std::exception_ptr complete_void(AsyncConnection& c, Start start) {
    return complete<int>(c, [&](auto done) { start([done](std::exception_ptr e) { done(e, 0); }); }).first;
}
AsyncCopyIn open_copy(AsyncConnection& c, const std::string& sql) {
    auto [e, w] = complete<AsyncCopyIn>(c, [&](auto done) { c.open_copy_in(sql, done); });
    EXPECT_FALSE(e) << what(e);
    return std::move(w);
}
}  // namespace

// A streamed COPY: each chunk is written once the previous one went out (back-pressure), a
// query queued meanwhile waits for the COPY's end, finish() reports the rows copied.
TEST_P(AsyncConnectionTest, AStreamedCopyInWritesChunksAsTheyComeAndFinishes) {
    // What the callbacks capture outlives the connection: the writer and next too, which the
    // write callbacks call (next is set once c exists).
    std::string order;
    int written = 0;
    AsyncCopyIn w;
    std::function<void()> next;
    AsyncConnection c;
    connect(c);
    query(c, "CREATE TEMP TABLE streamed (id int, v text)");
    w = open_copy(c, "COPY streamed FROM STDIN");
    ASSERT_TRUE(w.is_open());
    c.query("SELECT count(*) FROM streamed", [&](std::exception_ptr e, std::vector<Result> rs) {
        order += e ? "!" : "q" + std::string(rs.at(0)[0][0].view());
    });
    next = [&] {
        if (written == 200) {
            w.finish([&](std::exception_ptr e, std::uint64_t rows) { order += e ? "!" + what(e) : "f" + std::to_string(rows); });
            return;
        }
        std::string chunk;
        for (int i = 0; i < 100; ++i) chunk += std::to_string(written * 100 + i) + "\t" + std::string(50, 'x') + "\n";
        ++written;
        w.write(std::move(chunk), [&](std::exception_ptr e) {
            if (e) order += "!" + what(e);
            else next();
        });
    };
    next();
    ASSERT_TRUE(run_loop(c, [&] { return order.find('q') != std::string::npos || order.find('!') != std::string::npos; }));
    EXPECT_EQ(order, "f20000q20000") << "the query waited for the COPY";
    EXPECT_FALSE(w.is_open());
    EXPECT_EQ(c.transaction_status(), TransactionStatus::idle);
    // The writer's later operations fail: its COPY has ended.
    const std::exception_ptr late = complete_void(c, [&](auto done) { w.write("1\tx\n", done); });
    EXPECT_EQ(what(late), "the COPY has already ended");
}

// Bad data: the server's error ends the COPY; it reaches the operation that meets it and every
// later one of the writer, and the connection runs the next query.
TEST_P(AsyncConnectionTest, AServerErrorMidCopyEndsTheWriterWithThatError) {
    std::vector<std::string> states;  // outlives the connection's callbacks
    AsyncConnection c;
    connect(c);
    query(c, "CREATE TEMP TABLE bad_copy (id int)");
    AsyncCopyIn w = open_copy(c, "COPY bad_copy FROM STDIN");
    std::string lines;
    for (int i = 0; i < 5000; ++i) lines += "1\n";
    for (int i = 0; i < 50; ++i)
        w.write(i == 3 ? "not a number\n" : lines, [&](std::exception_ptr e) { states.push_back(sqlstate(e)); });
    auto [fe, rows] = complete<std::uint64_t>(c, [&](auto done) { w.finish(done); });
    EXPECT_EQ(sqlstate(fe), "22P02") << what(fe);
    ASSERT_EQ(states.size(), 50u);
    // Writes complete once sent: those before the error reached the client succeed, every one
    // after it fails with it.
    const auto first = std::find(states.begin(), states.end(), "22P02");
    EXPECT_TRUE(std::all_of(states.begin(), first, [](const std::string& s) { return s.empty(); }));
    EXPECT_TRUE(std::all_of(first, states.end(), [](const std::string& s) { return s == "22P02"; }));
    EXPECT_FALSE(w.is_open());
    EXPECT_EQ(query(c, "SELECT count(*) FROM bad_copy").at(0)[0][0].view(), "0");
    EXPECT_TRUE(c.is_healthy());
}

TEST_P(AsyncConnectionTest, AbortingAStreamedCopyKeepsTheConnection) {
    AsyncConnection c;
    connect(c);
    query(c, "CREATE TEMP TABLE aborted (id int)");
    AsyncCopyIn w = open_copy(c, "COPY aborted FROM STDIN");
    EXPECT_FALSE(complete_void(c, [&](auto done) { w.write("1\n2\n", done); }));
    EXPECT_FALSE(complete_void(c, [&](auto done) { w.abort("changed my mind", done); }));
    EXPECT_FALSE(w.is_open());
    EXPECT_EQ(query(c, "SELECT count(*) FROM aborted").at(0)[0][0].view(), "0");
    // Destroying an open writer aborts its COPY: the next query runs.
    {
        AsyncCopyIn dropped = open_copy(c, "COPY aborted FROM STDIN");
        EXPECT_FALSE(complete_void(c, [&](auto done) { dropped.write("3\n", done); }));
    }
    EXPECT_EQ(query(c, "SELECT count(*) FROM aborted").at(0)[0][0].view(), "0");
    // A statement that is no COPY FROM STDIN is refused, the connection kept.
    auto [e, none] = complete<AsyncCopyIn>(c, [&](auto done) { c.open_copy_in("SELECT 1", done); });
    EXPECT_EQ(what(e), "copy_in() needs a COPY ... FROM STDIN statement");
    EXPECT_FALSE(none.is_open());
    EXPECT_THROW(none.write("x", [](std::exception_ptr) {}), Error);
    EXPECT_EQ(query(c, "SELECT 1").size(), 1u);
}

// cancel() of a queued write removes it (the COPY goes on); of a running finish() sends a
// CancelRequest: the COPY ends with 57014 and the connection stays usable.
TEST_P(AsyncConnectionTest, CancellingCopyOperations) {
    std::string got;  // outlives the connection's callbacks
    AsyncConnection c;
    connect(c);
    query(c, "CREATE TEMP TABLE cancelled_copy (id int)");
    query(c, "CREATE FUNCTION pg_temp.slow() RETURNS trigger LANGUAGE plpgsql AS "
             "$$BEGIN PERFORM pg_sleep(2); RETURN NEW; END$$");
    query(c, "CREATE TRIGGER slow BEFORE INSERT ON cancelled_copy FOR EACH ROW EXECUTE FUNCTION pg_temp.slow()");
    AsyncCopyIn w = open_copy(c, "COPY cancelled_copy FROM STDIN");
    w.write("1\n", [&](std::exception_ptr e) { got += e ? "!" : "a"; });
    const auto second = w.write("2\n", [&](std::exception_ptr e) { got += what(e) == "operation cancelled" ? "x" : "?"; });
    c.cancel(second);
    const auto fin = w.finish([&](std::exception_ptr e, std::uint64_t) { got += sqlstate(e) == "57014" ? "c" : "?" + what(e); });
    const auto cancel_at = AsyncConnection::Clock::now() + 200ms;
    bool cancelled = false;
    ASSERT_TRUE(run_loop(c, [&] {
        if (!cancelled && AsyncConnection::Clock::now() >= cancel_at) {
            cancelled = true;
            c.cancel(fin);
        }
        return got.size() == 3;
    }));
    EXPECT_EQ(got, "xac");
    EXPECT_TRUE(c.is_healthy());
    EXPECT_EQ(query(c, "SELECT count(*) FROM cancelled_copy").at(0)[0][0].view(), "0");
}

// The connection destroyed with a COPY's write in flight: the write completes with an error,
// and the writer left behind refuses its operations (Error(usage)) without touching it.
TEST_P(AsyncConnectionTest, DestroyingTheConnectionEndsItsCopyWriter) {
    std::string got;  // outlives the connection's callbacks
    auto c = std::make_unique<AsyncConnection>();
    connect(*c);
    query(*c, "CREATE TEMP TABLE orphan (id int)");
    AsyncCopyIn w = open_copy(*c, "COPY orphan FROM STDIN");
    w.write("1\n", [&](std::exception_ptr e) { got = what(e); });
    c.reset();
    EXPECT_NE(got.find("destroyed"), std::string::npos) << got;
    EXPECT_FALSE(w.is_open());
    EXPECT_THROW(w.finish([](std::exception_ptr, std::uint64_t) {}), Error);
}

// A write's callback that throws: the exception reaches the loop, the COPY goes on.
TEST_P(AsyncConnectionTest, ACopyCallbackThatThrowsLeavesTheCopyOpen) {
    bool written = false;  // outlives the connection's callbacks
    AsyncConnection c;
    connect(c);
    query(c, "CREATE TEMP TABLE thrown (id int)");
    AsyncCopyIn w = open_copy(c, "COPY thrown FROM STDIN");
    w.write("7\n", [&](std::exception_ptr) {
        written = true;
        throw std::runtime_error("application bug");
    });
    bool thrown = false;
    for (int i = 0; i < 2000 && !written; ++i) {
        ::poll(nullptr, 0, 1);
        try {
            c.advance();
        } catch (const std::runtime_error& e) {
            thrown = std::string(e.what()) == "application bug";
        }
    }
    EXPECT_TRUE(thrown);
    EXPECT_TRUE(w.is_open());
    auto [e, rows] = complete<std::uint64_t>(c, [&](auto done) { w.finish(done); });
    EXPECT_FALSE(e) << what(e);
    EXPECT_EQ(rows, 1u);
}

// describe_statement / close_statement, as the blocking Client's.
TEST_P(AsyncConnectionTest, DescribesAndClosesANamedStatement) {
    AsyncConnection c;
    connect(c);
    auto [pe, ps] = complete<PreparedStatement>(
        c, [&](auto done) { c.prepare("named", "SELECT $1::int AS n, $2::text AS t", {}, done); });
    ASSERT_FALSE(pe) << what(pe);
    auto [de, described] = complete<PreparedStatement>(c, [&](auto done) { c.describe_statement("named", done); });
    ASSERT_FALSE(de) << what(de);
    EXPECT_EQ(described.name, "named");
    EXPECT_EQ(described.param_types, (std::vector<std::uint32_t>{23, 25}));
    ASSERT_EQ(described.columns.size(), 2u);
    EXPECT_EQ(described.columns[1].name, "t");
    EXPECT_FALSE(complete_void(c, [&](auto done) { c.close_statement("named", done); }));
    EXPECT_FALSE(complete_void(c, [&](auto done) { c.close_statement("never_prepared", done); }));
    auto [ge, gone] = complete<PreparedStatement>(c, [&](auto done) { c.describe_statement("named", done); });
    EXPECT_EQ(sqlstate(ge), "26000") << what(ge);
    EXPECT_TRUE(c.is_healthy());
    EXPECT_EQ(query(c, "SELECT count(*) FROM pg_prepared_statements").at(0)[0][0].view(), "0");
}

// A transaction whose owner goes away without commit is rolled back: dropped by its begin's
// callback, dropped by a callback that throws, or whose commit was cancelled while queued.
TEST_P(AsyncConnectionTest, ATransactionWhoseOwnerGoesAwayIsRolledBack) {
    std::string got;  // outlives the connection's callbacks
    AsyncConnection c;
    connect(c);
    query(c, "CREATE TEMP TABLE owned (v int)");
    auto [e1, t1] = complete<AsyncTransaction>(c, [&](auto done) { c.begin({}, done); });
    ASSERT_FALSE(e1) << what(e1);
    query(c, "INSERT INTO owned VALUES (1)");
    { AsyncTransaction gone = std::move(t1); }
    EXPECT_EQ(query(c, "SELECT count(*) FROM owned").at(0)[0][0].view(), "0");
    EXPECT_EQ(c.transaction_status(), TransactionStatus::idle);

    // The begin's callback throws: the transaction it was given is rolled back.
    c.begin({}, [&](std::exception_ptr, AsyncTransaction) { throw std::runtime_error("application bug"); });
    c.query("INSERT INTO owned VALUES (2)", [](std::exception_ptr, std::vector<Result>) {});
    bool thrown = false;
    for (int i = 0; i < 2000 && (!thrown || c.busy()); ++i) {
        ::poll(nullptr, 0, 1);
        try {
            c.advance();
        } catch (const std::runtime_error&) {
            thrown = true;
        }
    }
    EXPECT_TRUE(thrown);
    EXPECT_EQ(query(c, "SELECT count(*) FROM owned").at(0)[0][0].view(), "0");
    EXPECT_EQ(c.transaction_status(), TransactionStatus::idle);

    // A commit cancelled while queued leaves the transaction open; its owner gone, it is rolled back.
    auto [e3, t3] = complete<AsyncTransaction>(c, [&](auto done) { c.begin({}, done); });
    ASSERT_FALSE(e3);
    c.query("INSERT INTO owned VALUES (3)", [](std::exception_ptr, std::vector<Result>) {});
    const auto id = t3.commit([&](std::exception_ptr e) { got = what(e); });
    c.cancel(id);
    EXPECT_FALSE(t3.is_open());
    { AsyncTransaction gone = std::move(t3); }
    ASSERT_TRUE(run_loop(c, [&] { return !c.busy(); }));
    EXPECT_EQ(got, "operation cancelled");
    EXPECT_EQ(c.transaction_status(), TransactionStatus::idle);
    EXPECT_EQ(query(c, "SELECT count(*) FROM owned").at(0)[0][0].view(), "0");
}

// The connection destroyed with a commit in flight: it completes with an error; the
// transaction left behind refuses its operations.
TEST_P(AsyncConnectionTest, DestroyingTheConnectionEndsItsTransaction) {
    std::string got;  // outlives the connection's callbacks
    auto c = std::make_unique<AsyncConnection>();
    connect(*c);
    auto [e, t] = complete<AsyncTransaction>(*c, [&](auto done) { c->begin({}, done); });
    ASSERT_FALSE(e);
    c->query("SELECT pg_sleep(5)", [](std::exception_ptr, std::vector<Result>) {});
    t.commit([&](std::exception_ptr err) { got = what(err); });
    run_loop(*c, [] { return false; }, 100ms);
    c.reset();
    EXPECT_NE(got.find("destroyed"), std::string::npos) << got;
    EXPECT_FALSE(t.is_open());
    EXPECT_THROW(t.rollback([](std::exception_ptr) {}), Error);
}
