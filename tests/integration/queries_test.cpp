// Application traffic against real servers on every backend, with both drivers (the blocking
// Client and the non-blocking AsyncConnection, through DriverConnection): prepared statements,
// binary results, streaming, COPY, LISTEN/NOTIFY, cancel, timeouts, pipelining. What only
// Client offers (a COPY writer's abort, the statement cache, Transaction, rows as structs) is
// checked with the blocking driver alone.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "integration_fixture.hpp"
#include "pgtls/pool.hpp"
#include "tests/support/env/expect_error.hpp"
#include "tests/support/env/process_counts.hpp"
#include "tests/support/env/sanitizers.hpp"

namespace pgtls::test {
namespace {

using namespace std::chrono_literals;

class Queries : public BackendTest {
protected:
    std::string conninfo(const std::string& extra, const char* server) const {
        return env().conninfo(env().server(server), "scramuser") + (has_tls() ? " sslmode=require" : " sslmode=disable") +
               extra;
    }
    // PostgreSQL 18 over TLS (classic negotiation unless `extra` says otherwise), with this
    // test's driver.
    DriverConnection open(const std::string& extra = "", const char* server = "pg18") const {
        return BackendTest::open(conninfo(extra, server));
    }
};

TEST_P(Queries, SeveralStatementsAndEmptyQuery) {
    auto c = open();
    auto rs = c.query_all("SELECT 1; SELECT 'a', 'b'; CREATE TEMP TABLE t(x int)");
    ASSERT_EQ(rs.size(), 3u);
    EXPECT_EQ(rs[0][0][0].as<int>(), 1);
    EXPECT_EQ(rs[1].columns(), 2u);
    EXPECT_EQ(rs[2].command_tag(), "CREATE TABLE");
    auto e = c.query_all("");
    ASSERT_EQ(e.size(), 1u);
    EXPECT_TRUE(e[0].is_empty_query());
    // The first failing statement stops the rest and is reported.
    EXPECT_THROW(c.query_all("SELECT 1; SELECT 1/0; SELECT 3"), ServerError);
    EXPECT_EQ(c.transaction_status(), TransactionStatus::idle);
}

// A large statement is sent from the caller's string, not copied into the send buffer: the
// client's peak memory grows by far less than the statement (the copy, and its growth by
// doubling, held 2-3 times its size).
TEST_P(Queries, LargeStatementIsSentWithoutACopy) {
    // ASan's allocator and shadow memory account differently, so the RSS bound holds only in a
    // plain build (the copy is the same code); there 64 MiB makes a copy four times the bound.
    // Under the sanitizers only the statement's round trip is checked, with 8 MiB: 64 took 43 s
    // per run under TSan.
    const bool measure = !built_with_asan() && !built_with_tsan();
    const long long bytes = measure ? 64 << 20 : 8 << 20;
    auto c = open();
    std::string sql = "SELECT length('" + std::string(static_cast<std::size_t>(bytes), 'x') + "')";
    c.query("SELECT 1");
    ASSERT_TRUE(reset_peak_rss());
    const long before = peak_rss_kib();
    EXPECT_EQ(c.query(std::move(sql))[0][0].as<long long>(), bytes);
    const long grew = peak_rss_kib() - before;
    if (measure) {
        EXPECT_LT(grew, 16 * 1024) << "peak RSS grew by " << grew << " KiB";
    }
    EXPECT_EQ(c.query("SELECT 2")[0][0].as<int>(), 2);
}

TEST_P(Queries, PreparedStatementsAndCache) {
    auto c = open();
    auto ps = c.prepare("add", "SELECT $1::int + $2::int AS sum");
    EXPECT_EQ(ps.param_types, (std::vector<std::uint32_t>{oid::int4, oid::int4}));
    ASSERT_EQ(ps.columns.size(), 1u);
    EXPECT_EQ(ps.columns[0].name, "sum");
    for (int i = 0; i < 5; ++i) EXPECT_EQ(c.execute(ps, {to_param(i), to_param(10)})[0][0].as<int>(), i + 10);
    EXPECT_EQ(c.execute(ps, {to_param(1), to_param(2)}, ResultFormat::binary)[0][0].as<int>(), 3);
    EXPECT_THROW(c.execute(ps, {to_param(1)}), Error);
    EXPECT_EQ(c.describe_statement("add").param_types.size(), 2u);
    c.close_statement("add");
    EXPECT_THROW(c.execute(ps, {to_param(1), to_param(2)}), ServerError);

    // The statement cache, the same logic on both drivers.
    c.set_statement_cache_capacity(2);
    for (int round = 0; round < 3; ++round)
        for (const char* sql : {"SELECT $1::int", "SELECT $1::int * 2", "SELECT $1::int * 3"})
            EXPECT_GE(c.exec(sql, 7)[0][0].as<int>(), 7);
    // LRU of 2: at most 2 pgtls statements live on the server (the evicted one was closed).
    EXPECT_EQ(c.query("SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'pgtls_%'")[0][0].as<int>(), 2);
    // DISCARD ALL through query() is noticed: the cache starts afresh.
    c.query("DISCARD ALL");
    EXPECT_EQ(c.exec("SELECT $1::int * 3", 1)[0][0].as<int>(), 3);
    // Behind our back (a function, a pooler): outside a transaction the statement is prepared
    // again transparently...
    c.query("DO $$ BEGIN EXECUTE 'DEALLOCATE ALL'; END $$");
    EXPECT_EQ(c.exec("SELECT $1::int * 3", 2)[0][0].as<int>(), 6);
    // ...inside one the error stands (the transaction is aborted), and after it we recover.
    c.query("BEGIN");
    c.exec("SELECT $1::int * 2", 1);
    c.query("DO $$ BEGIN EXECUTE 'DEALLOCATE ALL'; END $$");
    try {
        c.exec("SELECT $1::int * 2", 1);
        ADD_FAILURE() << "a lost statement inside a transaction was prepared again";
    } catch (const ServerError& e) {
        EXPECT_EQ(e.sqlstate(), "26000");
    }
    c.query("ROLLBACK");
    EXPECT_EQ(c.exec("SELECT $1::int * 2", 4)[0][0].as<int>(), 8);
    // A cached plan whose result type changed: the server's 0A000 stands, the statement is
    // forgotten, and the next call prepares it afresh.
    c.query("CREATE TEMP TABLE reshaped (v int)");
    c.query("INSERT INTO reshaped VALUES (5)");
    EXPECT_EQ(c.exec("SELECT * FROM reshaped WHERE $1::int > 0", 1)[0][0].view(), "5");
    c.query("ALTER TABLE reshaped ALTER v TYPE text");
    try {
        c.exec("SELECT * FROM reshaped WHERE $1::int > 0", 1);
        ADD_FAILURE() << "the changed result type went unnoticed";
    } catch (const ServerError& e) {
        EXPECT_EQ(e.sqlstate(), "0A000") << e.what();
    }
    EXPECT_EQ(c.exec("SELECT * FROM reshaped WHERE $1::int > 0", 1)[0][0].view(), "5");
    // Shrinking closes what the cache forgets on the server.
    c.set_statement_cache_capacity(0);
    EXPECT_EQ(c.query("SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'pgtls_%'")[0][0].as<int>(), 0);
}

TEST_P(Queries, TextAndBinaryResultsDecodeAlike) {
    auto c = open();
    const char* sql = "SELECT 42::int2, -7::int4, 9000000000::int8, 1.25::float4, 2.5::float8, true, 'héllo'::text, "
                      "'\\x00ff'::bytea, NULL::int";
    auto t = c.execute(sql, {}, ResultFormat::text);
    auto b = c.execute(sql, {}, ResultFormat::binary);
    EXPECT_EQ(b.column_info()[0].format, 1);
    EXPECT_EQ(t[0][0].as<int>(), b[0][0].as<int>());
    EXPECT_EQ(t[0][1].as<int>(), b[0][1].as<int>());
    EXPECT_EQ(t[0][2].as<std::int64_t>(), b[0][2].as<std::int64_t>());
    EXPECT_EQ(t[0][3].as<float>(), b[0][3].as<float>());
    EXPECT_EQ(t[0][4].as<double>(), b[0][4].as<double>());
    EXPECT_EQ(t[0][5].as<bool>(), b[0][5].as<bool>());
    EXPECT_EQ(t[0][6].as<std::string>(), b[0][6].as<std::string>());
    EXPECT_EQ(t[0][7].as<std::string>(), b[0][7].as<std::string>());
    EXPECT_TRUE(b[0][8].is_null());
}

TEST_P(Queries, StreamingRunsInConstantMemory) {
    auto c = open();
    std::int64_t sum = 0, count = 0;
    const auto n = c.stream("SELECT i, i::text FROM generate_series(1, 200000) i", {}, [&](const Row& row) {
        sum += row[0].as<std::int64_t>();
        ++count;
        EXPECT_EQ(row.size(), 2u);
    });
    EXPECT_EQ(n, 200000u);
    EXPECT_EQ(count, 200000);
    EXPECT_EQ(sum, 200000LL * 200001 / 2);
    // An error mid-stream is reported and the connection stays usable.
    EXPECT_THROW(c.stream("SELECT 1/(i - 5000) FROM generate_series(1, 10000) i", {}, [](const Row&) {}), ServerError);
    EXPECT_EQ(c.query("SELECT 1")[0][0].as<int>(), 1);
}

TEST_P(Queries, CopyInAndOutInTextCsvAndBinary) {
    auto c = open();
    c.query("CREATE TEMP TABLE copy_t(id int, name text, at timestamptz)");
    std::string rows;
    for (int i = 0; i < 10000; ++i) rows += std::to_string(i) + "\tname " + std::to_string(i) + "\t2024-01-01 00:00:00+00\n";
    EXPECT_EQ(c.copy_in("COPY copy_t FROM STDIN", rows), 10000u);
    EXPECT_EQ(c.copy_in("COPY copy_t FROM STDIN (FORMAT csv)", "10000,\"quoted, name\",2024-01-02 00:00:00+00\n"), 1u);
    std::string text;
    EXPECT_EQ(c.copy_out("COPY (SELECT * FROM copy_t ORDER BY id LIMIT 2) TO STDOUT", [&](std::string_view d) { text += d; }),
              2u);
    EXPECT_EQ(text.substr(0, 9), "0\tname 0\t");
    std::string csv;
    c.copy_out("COPY (SELECT name FROM copy_t WHERE id = 10000) TO STDOUT (FORMAT csv)", [&](std::string_view d) { csv += d; });
    EXPECT_EQ(csv, "\"quoted, name\"\n");
    // Binary round trip.
    std::string bin;
    c.copy_out("COPY copy_t TO STDOUT (FORMAT binary)", [&](std::string_view d) { bin += d; });
    EXPECT_EQ(bin.substr(0, 11), std::string("PGCOPY\n\xff\r\n\0", 11));
    c.query("CREATE TEMP TABLE copy_b (LIKE copy_t)");
    EXPECT_EQ(c.copy_in("COPY copy_b FROM STDIN (FORMAT binary)", bin), 10001u);
    // CopyFail on an application error: nothing copied, connection usable.
    {
        auto in = c.copy_in_writer("COPY copy_b FROM STDIN");
        in.write("1\tx\t2024-01-01\n");
        in.abort("application gave up");
    }
    EXPECT_EQ(c.query("SELECT count(*) FROM copy_b")[0][0].as<int>(), 10001);
    // A server error mid-stream (bad data) is reported cleanly.
    try {
        std::string bad;
        for (int i = 0; i < 50000; ++i) bad += "not-a-number\tx\t2024-01-01\n";
        c.copy_in("COPY copy_b FROM STDIN", bad);
        FAIL() << "bad COPY data accepted";
    } catch (const ServerError& e) {
        EXPECT_EQ(e.sqlstate(), "22P02");
    }
    EXPECT_EQ(c.query("SELECT 1")[0][0].as<int>(), 1);
    EXPECT_THROW(c.copy_in("COPY nope FROM STDIN", ""), ServerError);
    EXPECT_EQ(c.transaction_status(), TransactionStatus::idle);
}

TEST_P(Queries, ListenNotify) {
    auto listener = open();
    auto sender = open();
    listener.query("LISTEN chan_a");
    EXPECT_FALSE(listener.wait_for_notification(100ms).has_value());
    sender.query("NOTIFY chan_a, 'one'");
    auto n = listener.wait_for_notification(5s);
    ASSERT_TRUE(n.has_value());
    EXPECT_EQ(n->channel, "chan_a");
    EXPECT_EQ(n->payload, "one");
    EXPECT_EQ(n->backend_pid, sender.info().backend_pid);
    // Notifications arriving while the listener runs queries are queued, not lost.
    sender.query("NOTIFY chan_a, 'two'; NOTIFY chan_a, 'three'");
    std::this_thread::sleep_for(100ms);
    listener.query("SELECT 1");
    auto queued = listener.take_notifications();
    auto more = listener.wait_for_notification(1s);
    std::vector<std::string> payloads;
    for (auto& q : queued) payloads.push_back(q.payload);
    if (more) payloads.push_back(more->payload);
    EXPECT_EQ(payloads, (std::vector<std::string>{"two", "three"}));
}

TEST_P(Queries, NoticesReachTheHandler) {
    auto c = open();
    std::vector<std::string> notices;
    c.set_notice_handler([&](const Notice& n) { notices.push_back(n.fields.message); });
    c.query("DO $$ BEGIN RAISE NOTICE 'hello %', 42; END $$");
    ASSERT_EQ(notices.size(), 1u);
    EXPECT_EQ(notices[0], "hello 42");
}

TEST_P(Queries, ParameterStatusIsTracked) {
    auto c = open();
    EXPECT_TRUE(c.parameter_status("server_version").has_value());
    EXPECT_EQ(c.parameter_status("standard_conforming_strings"), "on");
    c.query("SET TimeZone = 'Asia/Kolkata'");
    EXPECT_EQ(c.parameter_status("TimeZone"), "Asia/Kolkata");
}

// A client-only encoding whose multibyte characters may hold a backslash (SJIS, BIG5, GBK, UHC,
// GB18030, JOHAB) would have array, composite and range text split inside a character: such a
// session is refused, whether asked for at connect or by SET (by any alias), and the connection
// closed. Another non-UTF8 encoding is still a session like any other.
TEST_P(Queries, AClientEncodingWithAsciiTrailBytesIsRefused) {
    expect_failure(conninfo(" client_encoding=SJIS", "pg18"), ErrorKind::config, "client_encoding SJIS is not supported");
    auto c = open();
    expect_error_kind(ErrorKind::config, [&] { c.query("SET client_encoding = 'win950'"); },
                      "client_encoding BIG5 is not supported");
    EXPECT_FALSE(c.is_healthy());
    auto latin = open();
    latin.query("SET client_encoding = 'LATIN1'");
    EXPECT_EQ(latin.query("SELECT 'caf' || chr(233)")[0][0].as<std::string>(), "caf\xe9");
}

// A query cancelled 200 ms after it started fails with 57014; the connection stays usable.
void cancel_case(DriverConnection& c) {
    try {
        c.query_cancelled_after("SELECT pg_sleep(30)", 200ms);
        ADD_FAILURE() << "not cancelled";
    } catch (const ServerError& e) {
        EXPECT_EQ(e.sqlstate(), "57014");
    }
    EXPECT_EQ(c.query("SELECT 1")[0][0].as<int>(), 1);
}

// The same through a pooled Client, cancelled from another thread.
void cancel_client_case(Client& c) {
    std::atomic<bool> started{false};
    std::thread t([&] {
        while (!started) std::this_thread::sleep_for(1ms);
        std::this_thread::sleep_for(200ms);
        c.cancel();
    });
    try {
        started = true;
        c.query("SELECT pg_sleep(30)");
        ADD_FAILURE() << "not cancelled";
    } catch (const ServerError& e) {
        EXPECT_EQ(e.sqlstate(), "57014");
    }
    t.join();
    EXPECT_EQ(c.query("SELECT 1")[0][0].as<int>(), 1);
}

TEST_P(Queries, CancelFromAnotherThreadClassicAndDirect) {
    auto classic = open();
    cancel_case(classic);
    if (has_tls()) {
        auto direct = open(" sslnegotiation=direct");
        EXPECT_EQ(direct.info().negotiation, "direct");
        cancel_case(direct);
    }
}

// Protocol 3.2 (libpq 18's max_protocol_version): PostgreSQL 18 speaks it, with a 32-byte
// cancel key that every cancel path uses; PostgreSQL 15 negotiates down to 3.0, unless the
// minimum forbids it; the default stays 3.0.
TEST_P(Queries, Protocol32AndItsCancelKey) {
    EXPECT_EQ(open().info().protocol_version, "3.0");
    auto classic = open(" max_protocol_version=3.2");
    EXPECT_EQ(classic.info().protocol_version, "3.2");
    cancel_case(classic);
    if (has_tls()) {
        auto direct = open(" max_protocol_version=latest sslnegotiation=direct");
        EXPECT_EQ(direct.info().protocol_version, "3.2");
        cancel_case(direct);
    }
    if (driver() == DriverKind::blocking) {  // the blocking pool
        PoolOptions o;
        o.max_size = 1;
        Pool pool(config(env().conninfo(env().server("pg18"), "scramuser") +
                         (has_tls() ? " sslmode=require" : " sslmode=disable") + " max_protocol_version=3.2"),
                  o);
        auto lease = pool.acquire();
        EXPECT_EQ(lease->info().protocol_version, "3.2");
        cancel_client_case(*lease);
    }
    auto old = open(" max_protocol_version=3.2", "pg15");
    EXPECT_EQ(old.info().protocol_version, "3.0");
    EXPECT_EQ(old.query("SELECT 1")[0][0].as<int>(), 1);
    try {
        open(" min_protocol_version=3.2", "pg15");
        ADD_FAILURE() << "connected below min_protocol_version";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::protocol) << e.what();
        EXPECT_NE(std::string(e.what()).find(
                      "server only supports protocol version 3.0, but \"min_protocol_version\" was set to 3.2"),
                  std::string::npos)
            << e.what();
    }
}

struct Account {
    std::int32_t id;
    std::string owner;
    std::optional<double> balance;
};

// Rows as structs against a real server: a struct's fields as parameters, a result as a
// vector of structs, range-for, streaming, binary format; a wrong shape is refused before a
// row is decoded, and the connection stays usable.
TEST_P(Queries, RowsAsStructsAndStructsAsParameters) {
    auto c = open();
    c.query("CREATE TEMP TABLE account(id int, owner text, balance float8)");
    for (const Account& a : {Account{1, "ann", 10.5}, Account{2, "bob", std::nullopt}, Account{3, "cy", -2}})
        c.exec("INSERT INTO account VALUES ($1, $2, $3)", a);
    const auto all = c.query("SELECT id, owner, balance FROM account ORDER BY id").as<std::vector<Account>>();
    ASSERT_EQ(all.size(), 3u);
    EXPECT_EQ(all[0].owner, "ann");
    EXPECT_EQ(all[0].balance, 10.5);
    EXPECT_FALSE(all[1].balance.has_value());
    const Result bin = c.execute("SELECT id, owner, balance FROM account WHERE id > $1 ORDER BY id", {to_param(1)},
                                 ResultFormat::binary);
    double sum = 0;
    for (const Account& a : bin.rows<Account>()) sum += a.balance.value_or(0) + a.id;
    EXPECT_EQ(sum, 2 + 3 - 2);
    std::vector<std::string> owners;
    c.stream_as<Account>("SELECT id, owner, balance FROM account ORDER BY id", {},
                         [&](const Account& a) { owners.push_back(a.owner); });
    EXPECT_EQ(owners, (std::vector<std::string>{"ann", "bob", "cy"}));
    try {
        c.stream_as<Account>("SELECT owner, id, balance FROM account", {}, [](const Account&) { FAIL(); });
        ADD_FAILURE() << "a text column filled an int field";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::usage);
        EXPECT_NE(std::string(e.what()).find("column 1 \"owner\" is text"), std::string::npos) << e.what();
    }
    // The callback's error drained the rest of the reply: the connection goes on.
    EXPECT_EQ(c.query("SELECT count(*) FROM account")[0][0].as<int>(), 3);
    const Result wrong = c.query("SELECT 'x'::text, 2, 3.0::float8");
    EXPECT_THROW((void)wrong.as<std::vector<Account>>(), Error);
}

TEST_P(Queries, StatementTimeoutAndClientTimeout) {
    auto c = open();
    c.query("SET statement_timeout = '200ms'");
    try {
        c.query("SELECT pg_sleep(5)");
        FAIL();
    } catch (const ServerError& e) {
        EXPECT_EQ(e.sqlstate(), "57014");
    }
    c.query("SET statement_timeout = 0");
    c.set_query_timeout(300ms);
    // Named for this instance: one whose cancel failed leaves its sleep running for 20 s, which
    // must not fail the instances after it.
    const std::string sleep = "SELECT pg_sleep(20) /* Queries.StatementTimeoutAndClientTimeout/" + GetParam() + " */";
    const auto t0 = std::chrono::steady_clock::now();
    try {
        c.query(sleep);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::timeout) << e.what();
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
    c.set_query_timeout(0ms);
    // The query was really cancelled on the server, and the connection is usable. Only this
    // instance's query is counted: other suites run pg_sleep(20) beside this one.
    EXPECT_EQ(c.query("SELECT count(*) FROM pg_stat_activity WHERE query = '" + sleep + "' AND state = 'active'")[0][0].as<int>(), 0);
    EXPECT_TRUE(c.is_healthy());
}

TEST_P(Queries, PipelineOfTenThousandWithErrorsInTheMiddle) {
    auto c = open();
    std::vector<PipelineQuery> p;
    constexpr int n = 10000;
    for (int i = 0; i < n; ++i) {
        if (i == 2500 || i == 7000) p.push_back({"SELECT 1/0", {}});
        else p.push_back({"SELECT $1::int", {to_param(i)}});
        p.back().sync_after = i % 1000 == 999;
    }
    auto rs = c.pipeline(std::move(p));
    ASSERT_EQ(rs.size(), std::size_t(n));
    int ok = 0, err = 0, skipped = 0;
    for (int i = 0; i < n; ++i) {
        switch (rs[i].status) {
            case PipelineResult::Status::ok:
                ++ok;
                EXPECT_EQ(rs[i].result[0][0].as<int>(), i);
                break;
            case PipelineResult::Status::error:
                ++err;
                EXPECT_TRUE(i == 2500 || i == 7000) << i;
                EXPECT_EQ(rs[i].error->sqlstate(), "22012");
                break;
            case PipelineResult::Status::skipped:
                ++skipped;
                // Only the rest of the failing sync groups is skipped.
                EXPECT_TRUE((i > 2500 && i < 3000) || (i > 7000 && i < 8000)) << i;
                break;
        }
    }
    EXPECT_EQ(err, 2);
    EXPECT_EQ(skipped, 499 + 999);
    EXPECT_EQ(ok, n - 2 - skipped);
    EXPECT_EQ(c.query("SELECT 5")[0][0].as<int>(), 5);
}

// A query after a pipeline's first Sync parses a statement of its own name and closes it
// after its Execute: behind a transaction pooler a later group may run on another server
// connection, PgBouncer may even split a group there (pgbouncer#759), and a Bind of the
// unnamed statement would then run another client's statement. So a later group's query sees
// its own statement on the server, the first group's none (the unnamed one is not listed); a
// failed query's statement (its Close skipped) is there for the groups after it and closed
// once the pipeline ended; a DEALLOCATE keeps the unnamed statement. Nothing is left behind.
TEST_P(Queries, PipelineGroupsAfterTheFirstParseStatementsOfTheirOwn) {
    auto c = open();
    const int before = c.query("SELECT count(*) FROM pg_prepared_statements")[0][0].as<int>();
    const std::string count = "SELECT count(*) - " + std::to_string(before) + " FROM pg_prepared_statements WHERE $1::int > 0";
    auto outcome = [](const PipelineResult& r) {
        if (r.status == PipelineResult::Status::ok)
            return r.result.columns() == 0 ? r.result.command_tag() : std::string(r.result[0][0].view());
        if (r.status == PipelineResult::Status::skipped) return std::string("skipped");
        return r.error ? r.error->sqlstate() : std::string("error");
    };
    auto outcomes = [&](const std::vector<PipelineResult>& rs) {
        std::string s;
        for (const auto& r : rs) s += outcome(r) + " ";
        return s;
    };
    EXPECT_EQ(outcomes(c.pipeline({{count, {to_param(1)}},
                                   {count, {to_param(2)}, ResultFormat::text, true},
                                   {count, {to_param(3)}, ResultFormat::text, true},
                                   {"SELECT 1 / $1::int", {to_param(0)}},
                                   {count, {to_param(4)}, ResultFormat::text, true},
                                   {count, {to_param(5)}, ResultFormat::text, true}})),
              "0 0 1 22012 skipped 2 ");
    EXPECT_EQ(c.query(count.substr(0, count.find(" WHERE")))[0][0].as<int>(), 0) << "a statement was left behind";
    EXPECT_EQ(outcomes(c.pipeline({{count, {to_param(1)}, ResultFormat::text, true},
                                   {"DEALLOCATE ALL", {}, ResultFormat::text, true},
                                   {count, {to_param(2)}, ResultFormat::text, true}})),
              "0 DEALLOCATE ALL 1 ");
    EXPECT_EQ(c.query(count.substr(0, count.find(" WHERE")))[0][0].as<int>(), -before);
    EXPECT_TRUE(c.is_healthy());
}

// A pipeline cancelled while the server runs a query of a later group (so one that parsed a
// statement of its own) leaves no statement behind, whether it reports its results or ends
// with the cancel's error, and the connection stays usable.
TEST_P(Queries, ACancelledPipelineLeavesNoStatementBehind) {
    auto c = open();
    const int before = c.query("SELECT count(*) FROM pg_prepared_statements")[0][0].as<int>();
    std::string outcome;
    try {
        const auto rs = c.pipeline_cancelled_after({{"SELECT $1::int", {to_param(1)}, ResultFormat::text, true},
                                                    {"SELECT pg_sleep($1::float8)", {to_param(20.0)}, ResultFormat::text, true},
                                                    {"SELECT $1::int", {to_param(3)}, ResultFormat::text, true}},
                                                   300ms);
        ASSERT_EQ(rs.size(), 3u);
        outcome = rs[1].error ? rs[1].error->sqlstate() : "not cancelled";
        EXPECT_EQ(rs[2].status, PipelineResult::Status::ok);
    } catch (const ServerError& e) {
        outcome = e.sqlstate();
    }
    EXPECT_EQ(outcome, "57014");
    EXPECT_EQ(c.query("SELECT count(*) FROM pg_prepared_statements")[0][0].as<int>(), before) << "a statement was left behind";
    EXPECT_TRUE(c.is_healthy());
}

// A deferred unique constraint fails at the implicit COMMIT of a sync group, after the
// group's INSERTs reported success: both INSERTs of that group are errors (their rows are
// gone), the next group is unaffected, and the connection stays usable. (This used to end the
// whole pipeline with a protocol error.)
TEST_P(Queries, PipelineGroupWhoseCommitFailsReportsEachQueryAsFailed) {
    auto c = open();
    c.query("CREATE TEMP TABLE deferred_u (x int UNIQUE DEFERRABLE INITIALLY DEFERRED)");
    const auto rs = c.pipeline({{"INSERT INTO deferred_u VALUES ($1)", {to_param(1)}},
                                {"INSERT INTO deferred_u VALUES ($1)", {to_param(1)}, ResultFormat::text, true},
                                {"INSERT INTO deferred_u VALUES ($1)", {to_param(2)}, ResultFormat::text, true}});
    ASSERT_EQ(rs.size(), 3u);
    for (int i : {0, 1}) {
        EXPECT_EQ(rs[i].status, PipelineResult::Status::error) << i;
        ASSERT_TRUE(rs[i].error) << i;
        EXPECT_EQ(rs[i].error->sqlstate(), "23505") << i;
    }
    EXPECT_EQ(rs[2].status, PipelineResult::Status::ok);
    EXPECT_EQ(c.query("SELECT string_agg(x::text, ',') FROM deferred_u")[0][0].as<std::string>(), "2");
}

TEST_P(Queries, TransactionsRollBackUnlessCommitted) {
    auto c = open();
    c.query("CREATE TEMP TABLE tx(v int)");
    {
        auto tx = c.begin();
        EXPECT_EQ(c.transaction_status(), TransactionStatus::in_transaction);
        c.exec("INSERT INTO tx VALUES ($1)", 1);
    }  // rolled back
    EXPECT_EQ(c.transaction_status(), TransactionStatus::idle);
    EXPECT_EQ(c.query("SELECT count(*) FROM tx")[0][0].as<int>(), 0);
    {
        auto tx = c.begin();
        c.exec("INSERT INTO tx VALUES ($1)", 2);
        tx->savepoint("s1");
        c.exec("INSERT INTO tx VALUES ($1)", 3);
        EXPECT_THROW(c.query("SELECT 1/0"), ServerError);
        EXPECT_EQ(c.transaction_status(), TransactionStatus::failed);
        tx->rollback_to("s1");
        EXPECT_EQ(c.transaction_status(), TransactionStatus::in_transaction);
        tx->commit();
        EXPECT_THROW(tx->commit(), Error) << "already finished";
    }
    EXPECT_EQ(c.query("SELECT array_agg(v)::text FROM tx")[0][0].as<std::string>(), "{2}");
    {
        auto tx = c.begin();
        EXPECT_THROW(c.query("SELECT 1/0"), ServerError);
        EXPECT_THROW(tx->commit(), Error);  // COMMIT of a failed transaction rolls back
    }
    EXPECT_EQ(c.transaction_status(), TransactionStatus::idle);
    {
        auto tx = c.begin();
        try {
            c.begin();
            ADD_FAILURE() << "a transaction nested in another";
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::usage) << e.what();
        }
        tx->rollback();
    }
    // The options: isolation level, access mode and DEFERRABLE as BEGIN says them.
    TransactionOptions o;
    o.isolation = TransactionOptions::Isolation::serializable;
    o.read_only = true;
    o.deferrable = true;
    {
        auto tx = c.begin(o);
        const Result r = c.query("SELECT current_setting('transaction_isolation'), current_setting('transaction_read_only'), "
                                 "current_setting('transaction_deferrable')");
        EXPECT_EQ(r[0][0].view(), "serializable");
        EXPECT_EQ(r[0][1].view(), "on");
        EXPECT_EQ(r[0][2].view(), "on");
        EXPECT_THROW(c.query("CREATE TABLE read_only_refuses_this (v int)"), ServerError);
    }
    EXPECT_EQ(c.transaction_status(), TransactionStatus::idle);
}

// Random 2- and 3-dimensional arrays sent as binary parameters: PostgreSQL 15 and 18 print
// and send them byte for byte as the codec writes them, and both formats read back equal.
TEST_P(Queries, MultiDimensionalArraysRoundTripByteForByte) {
    using Grid = std::vector<std::vector<std::optional<int>>>;
    using Cube = std::vector<std::vector<std::vector<std::string>>>;
    std::uint32_t seed = 2026;
    auto next = [&] { return seed = seed * 1103515245u + 12345u; };
    for (const char* server : {"pg18", "pg15"}) {
        SCOPED_TRACE(server);
        auto c = open("", server);
        for (int iter = 0; iter < 20; ++iter) {
            Grid g(1 + next() % 4);
            const std::size_t cols = 1 + next() % 4;
            for (auto& r : g)
                for (std::size_t k = 0; k < cols; ++k) {
                    if (next() % 5 == 0) r.push_back(std::nullopt);
                    else r.push_back(static_cast<int>(next()));
                }
            Cube cube(1 + next() % 2, std::vector<std::vector<std::string>>(1 + next() % 3));
            const std::size_t n = 1 + next() % 3;
            for (auto& a : cube)
                for (auto& b : a)
                    for (std::size_t k = 0; k < n; ++k) b.push_back(std::string(next() % 4, "a\" {},\\N"[next() % 8]));
            const char* sql = "SELECT $1::int4[]::text, array_send($1::int4[]), $1::int4[] AS grid, "
                              "$2::text[]::text, array_send($2::text[]), $2::text[] AS cube";
            const std::vector<Param> params{to_param(g), to_param(cube)};
            const Result t = c.execute(sql, params, ResultFormat::text);
            const Result b = c.execute(sql, params, ResultFormat::binary);
            EXPECT_EQ(t[0][0].as<std::string>(), Codec<Grid>::encode_text(g));
            EXPECT_EQ(b[0][1].as<std::string>(), Codec<Grid>::encode_binary(g));
            EXPECT_EQ(t[0][2].as<Grid>(), g);
            EXPECT_EQ(b[0][2].as<Grid>(), g);
            EXPECT_EQ(t[0][3].as<std::string>(), Codec<Cube>::encode_text(cube));
            EXPECT_EQ(b[0][4].as<std::string>(), Codec<Cube>::encode_binary(cube));
            EXPECT_EQ(t[0][5].as<Cube>(), cube);
            EXPECT_EQ(b[0][5].as<Cube>(), cube);
        }
        const char* bounds = "SELECT '[0:1][2:3]={{1,2},{3,4}}'::int4[] AS grid";
        for (const auto format : {ResultFormat::text, ResultFormat::binary})
            EXPECT_EQ(c.execute(bounds, {}, format)[0][0].as<std::vector<std::vector<int>>>(),
                      (std::vector<std::vector<int>>{{1, 2}, {3, 4}}));
        for (const auto format : {ResultFormat::text, ResultFormat::binary}) {
            try {
                (void)c.execute(bounds, {}, format)[0][0].as<std::vector<int>>();
                ADD_FAILURE() << "a 2-dimensional array read as one dimension";
            } catch (const Error& e) {
                EXPECT_EQ(e.kind(), ErrorKind::usage);
                EXPECT_NE(std::string(e.what()).find("grid"), std::string::npos) << e.what();
                EXPECT_NE(std::string(e.what()).find("multi-dimensional"), std::string::npos) << e.what();
            }
        }
    }
}

TEST_P(Queries, SameTrafficOnPostgres15) {
    auto c = open("", "pg15");
    auto ps = c.prepare("s", "SELECT $1::text || '!'");
    EXPECT_EQ(c.execute(ps, {to_param(std::string("hi"))})[0][0].as<std::string>(), "hi!");
    std::vector<PipelineQuery> p;
    for (int i = 0; i < 100; ++i) p.push_back({"SELECT $1::int", {to_param(i)}});
    auto rs = c.pipeline(std::move(p));
    EXPECT_EQ(rs[99].result[0][0].as<int>(), 99);
    std::string out;
    c.copy_out("COPY (SELECT 1) TO STDOUT", [&](std::string_view d) { out += d; });
    EXPECT_EQ(out, "1\n");
}

// The extended protocol's COPY FROM STDIN: the server waits for data and ignores Sync, so
// execute() and stream() answer with CopyFail and a second Sync (they used to wait forever).
TEST_P(Queries, ExecuteOrStreamOfCopyFromStdinFailsAndKeepsTheConnection) {
    auto c = open();
    c.query("CREATE TEMP TABLE copy_ext (n int)");
    for (int round = 0; round < 2; ++round) {
        try {
            if (round == 0)
                c.execute("COPY copy_ext FROM STDIN", {});
            else
                c.stream("COPY copy_ext FROM STDIN", {}, [](const Row&) {});
            ADD_FAILURE() << "COPY FROM STDIN through the extended protocol succeeded";
        } catch (const ServerError& e) {
            EXPECT_EQ(e.sqlstate(), "57014") << e.what();
            EXPECT_NE(std::string(e.what()).find("use the COPY API"), std::string::npos) << e.what();
        }
        EXPECT_TRUE(c.is_healthy());
        EXPECT_EQ(c.query("SELECT 7")[0][0].as<int>(), 7) << "exactly one ReadyForQuery was owed";
        EXPECT_EQ(c.transaction_status(), TransactionStatus::idle);
    }
}

// An empty statement is legal SQL: the server answers it with EmptyQueryResponse. Given to the
// COPY calls it is the caller's mistake, reported as any other statement that is not the
// right COPY is, and the connection stays usable (it was a protocol error that closed it).
TEST_P(Queries, CopyOfAnEmptyStatementKeepsTheConnection) {
    auto c = open();
    for (const char* sql : {"", ";", " -- nothing\n"}) {
        try {
            c.copy_in(sql, "1\n");
            ADD_FAILURE() << "copy_in of \"" << sql << "\" succeeded";
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::usage) << e.what();
            EXPECT_NE(std::string(e.what()).find("needs a COPY ... FROM STDIN statement"), std::string::npos) << e.what();
        }
        EXPECT_TRUE(c.is_healthy());
        std::size_t bytes = 0;
        EXPECT_EQ(c.copy_out(sql, [&](std::string_view d) { bytes += d.size(); }), 0u);
        EXPECT_EQ(bytes, 0u);
        EXPECT_TRUE(c.is_healthy());
        EXPECT_EQ(c.query("SELECT 7")[0][0].as<int>(), 7);
        EXPECT_EQ(c.transaction_status(), TransactionStatus::idle);
    }
}

// COPY among other statements of one string, as a real server answers it: statements before
// the COPY run first (copy_in() waited forever for a reply while the server waited for the
// data); the count is the COPY's, not that of a statement after it; a second COPY FROM STDIN
// is refused (the client waited forever on finish()). The query timeout only bounds a
// regression: without it the hang would be the test's.
TEST_P(Queries, CopyAmongOtherStatementsOfOneString) {
    auto c = open();
    c.set_query_timeout(10s);
    c.query("CREATE TEMP TABLE copy_multi (n int)");
    EXPECT_EQ(c.copy_in("SET search_path TO public; COPY copy_multi FROM STDIN", "1\n2\n"), 2u);
    try {
        c.copy_in("SELECT 1; COPY copy_missing FROM STDIN", "1\n");
        ADD_FAILURE() << "a COPY into a missing table succeeded";
    } catch (const ServerError& e) {
        EXPECT_EQ(e.sqlstate(), "42P01") << e.what();
    }
    EXPECT_EQ(c.copy_in("COPY copy_multi FROM STDIN; SELECT 42", "3\n4\n5\n"), 3u);
    try {
        c.copy_in("COPY copy_multi FROM STDIN; COPY copy_multi FROM STDIN", "6\n");
        ADD_FAILURE() << "a second COPY FROM STDIN was given data";
    } catch (const ServerError& e) {
        EXPECT_EQ(e.sqlstate(), "57014") << e.what();
        EXPECT_NE(std::string(e.what()).find("a call of its own"), std::string::npos) << e.what();
    }
    // The string was one implicit transaction: its first COPY was rolled back with it.
    EXPECT_EQ(c.query("SELECT count(*) FROM copy_multi")[0][0].as<int>(), 5);
    std::string out;
    EXPECT_EQ(c.copy_out("COPY copy_multi TO STDOUT; SELECT 42", [&](std::string_view d) { out += d; }), 5u);
    EXPECT_EQ(out, "1\n2\n3\n4\n5\n");
    EXPECT_TRUE(c.is_healthy());
    EXPECT_EQ(c.transaction_status(), TransactionStatus::idle);
}

// DEALLOCATE ALL run through the extended protocol (execute(), a pipeline) drops the cached
// statements too: the cache forgets them, so a transaction open meanwhile is not failed by a
// Bind of a statement that is gone (26000 cannot be retried inside a transaction).
TEST_P(Queries, DeallocateAllThroughExecuteOrAPipelineEmptiesTheCache) {
    auto c = open();
    c.set_statement_cache_capacity(4);
    for (int round = 0; round < 2; ++round) {
        c.query("BEGIN");
        EXPECT_EQ(c.exec("SELECT $1::int + 1", 1)[0][0].as<int>(), 2);
        if (round == 0) {
            c.execute("DEALLOCATE ALL");
        } else {
            PipelineQuery q;
            q.sql = "DEALLOCATE ALL";
            auto r = c.pipeline({q});
            ASSERT_EQ(r.size(), 1u);
            EXPECT_EQ(r[0].status, PipelineResult::Status::ok);
        }
        try {
            EXPECT_EQ(c.exec("SELECT $1::int + 1", 2)[0][0].as<int>(), 3);
        } catch (const ServerError& e) {
            ADD_FAILURE() << "round " << round << ": " << e.what();
        }
        EXPECT_EQ(c.transaction_status(), TransactionStatus::in_transaction);
        c.query("COMMIT");
    }
}

// The server does not check a FETCH's columns against its prepared statement's description
// (no 0A000 as for a SELECT whose table changed): a cursor declared again with other columns
// came back under the first cursor's columns from the cache — a text value decoded as a binary
// int4, or a DataRow wider than its description retiring the connection.
TEST_P(Queries, ACachedFetchHasTheColumnsOfTheCursorItReads) {
    auto c = open();
    c.set_statement_cache_capacity(4);
    c.query("BEGIN");
    c.query("DECLARE cur CURSOR FOR SELECT 7::int4 AS a");
    EXPECT_EQ(c.execute("FETCH ALL FROM cur", {}, ResultFormat::binary)[0][0].as<int>(), 7);
    c.query("CLOSE cur");
    c.query("DECLARE cur CURSOR FOR SELECT 'abcd'::text AS b, 2 AS c");
    const Result r = c.execute("FETCH ALL FROM cur", {}, ResultFormat::binary);
    ASSERT_EQ(r.columns(), 2u);
    EXPECT_EQ(r.column_info()[0].name, "b");
    EXPECT_EQ(r.column_info()[0].type_oid, oid::text);
    EXPECT_EQ(r[0][0].as<std::string>(), "abcd");
    c.query("COMMIT");
    EXPECT_TRUE(c.is_healthy());
}

PGTLS_INSTANTIATE_PER_BACKEND_AND_DRIVER(Queries);

}  // namespace
}  // namespace pgtls::test
