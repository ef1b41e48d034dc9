// Tracing (pgtls/trace.hpp) on every backend with both drivers: the spans and attributes of a
// connect (with a failed first host), a query, a server error, a pipeline, COPY, a cancel,
// and a tracer that throws.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include "pgtls/async_pool.hpp"
#include "pgtls/pool.hpp"
#include "pgtls/trace.hpp"
#include "tests/integration/integration_fixture.hpp"
#include "tests/support/trace/recording_tracer.hpp"

namespace pgtls::test {
namespace {

// One connection of the test's driver, with the operations the traces are checked for.
class Conn {
public:
    Conn(DriverKind driver, const Config& cfg) {
        if (driver == DriverKind::blocking) {
            blocking_ = std::make_unique<Client>(cfg);
            return;
        }
        async_ = std::make_unique<AsyncConnection>();
        wait<bool>([&](auto done) { return async_->connect(cfg, [done](std::exception_ptr e) { done(e, true); }); });
    }
    Result query(const std::string& sql) {
        if (blocking_) return blocking_->query(sql);
        auto r = wait<std::vector<Result>>([&](auto done) { return async_->query(sql, done); });
        return std::move(r.back());
    }
    std::vector<PipelineResult> pipeline(const std::vector<std::string>& sqls) {
        if (blocking_) {
            Pipeline p(*blocking_);
            for (const auto& s : sqls) p.add(s);
            p.sync();
            return p.run();
        }
        std::vector<PipelineQuery> qs;
        for (const auto& s : sqls) qs.push_back(PipelineQuery{s, {}});
        return wait<std::vector<PipelineResult>>([&](auto done) { return async_->pipeline(std::move(qs), done); });
    }
    std::uint64_t copy_out(const std::string& sql) {
        if (blocking_) return blocking_->copy_out(sql, [](std::string_view) {});
        return wait<std::uint64_t>([&](auto done) { return async_->copy_out(sql, [](std::string_view) {}, done); });
    }
    std::uint64_t copy_in(const std::string& sql, const std::string& data) {
        if (blocking_) {
            CopyIn in = blocking_->copy_in(sql);
            in.write(data);
            return in.finish();
        }
        return wait<std::uint64_t>([&](auto done) { return async_->copy_in(sql, data, done); });
    }
    // Runs a long query and cancels it after a moment; throws the query's error.
    void cancelled_sleep() {
        if (blocking_) {
            std::thread canceller([this] {
                std::this_thread::sleep_for(std::chrono::milliseconds(300));
                blocking_->cancel();
            });
            try {
                blocking_->query("SELECT pg_sleep(20)");
            } catch (...) {
                canceller.join();
                throw;
            }
            canceller.join();
            return;
        }
        const auto outcome = std::make_shared<std::optional<std::exception_ptr>>();  // the callback's own: see wait
        const auto id =
            async_->query("SELECT pg_sleep(20)", [outcome](std::exception_ptr e, std::vector<Result>) { *outcome = e; });
        run_async_loop(*async_, [] { return false; }, std::chrono::milliseconds(300));
        async_->cancel(id);
        if (!run_async_loop(*async_, [&] { return outcome->has_value(); })) throw std::runtime_error("no completion");
        if (**outcome) std::rethrow_exception(**outcome);
    }
    bool is_healthy() const { return blocking_ ? blocking_->is_healthy() : async_->is_healthy(); }

private:
    // Runs the loop until the operation `start(callback)` queued completes; rethrows its error,
    // else returns its value. The callback holds what it writes by a shared_ptr: when the wait
    // throws on the loop's limit, the connection completes the operation later (destroyed with
    // this Conn), and the callback must not write into this returned frame.
    template <class T, class Start>
    T wait(Start start) {
        const auto out = std::make_shared<AsyncOutcome<T>>();
        start([out](std::exception_ptr e, T v) {
            out->error = e;
            if (!e) out->value.emplace(std::move(v));
        });
        if (!run_async_loop(*async_, [&] { return out->error.has_value(); })) throw std::runtime_error("no completion");
        if (*out->error) std::rethrow_exception(*out->error);
        return std::move(*out->value);
    }
    std::unique_ptr<Client> blocking_;
    std::unique_ptr<AsyncConnection> async_;
};

class Tracing : public BackendTest {
protected:
    Config traced(bool query_text = false) {
        Config c = pg18_verified();
        c.tracer = tracer;
        c.trace_query_text = query_text;
        return c;
    }
    Conn open_traced(bool query_text = false) { return Conn(driver(), traced(query_text)); }
    std::shared_ptr<RecordingTracer> tracer = std::make_shared<RecordingTracer>();
};

TEST_P(Tracing, ConnectWithAFailedFirstHost) {
    const int dead = closed_port();
    const int port = env().server("pg18").port;
    Config c = traced();
    // Both hosts by name: the first refuses the connection, the second is PostgreSQL 18.
    const std::string from = "port=" + std::to_string(port);
    c.conninfo.replace(c.conninfo.find(from), from.size(), "port=" + std::to_string(dead) + "," + std::to_string(port));
    c.conninfo.replace(c.conninfo.find("host=localhost"), 14, "host=localhost,localhost");
    Conn conn(driver(), c);

    const auto connects = tracer->named("pgtls.connect");
    ASSERT_EQ(connects.size(), 1u);
    const Span& s = connects[0];
    EXPECT_TRUE(s.ok) << s.error;
    EXPECT_EQ(text_of(s, "db.system.name"), "postgresql");
    EXPECT_EQ(text_of(s, "db.namespace"), "pgtls");
    EXPECT_EQ(text_of(s, "server.address"), "localhost");
    EXPECT_EQ(number_of(s, "server.port"), port);
    EXPECT_NE(text_of(s, "network.peer.address"), "<absent>");
    EXPECT_GT(number_of(s, "pgtls.bytes_sent"), 0);
    EXPECT_GT(number_of(s, "pgtls.bytes_received"), 0);
    EXPECT_GE(s.end, s.start);

    auto attempts = tracer->children(s.id);
    ASSERT_GE(attempts.size(), 2u);
    // Every socket the dead port refused is a failed attempt; the last attempt connected.
    for (std::size_t i = 0; i + 1 < attempts.size(); ++i) {
        EXPECT_EQ(attempts[i].name, "pgtls.connect.attempt");
        EXPECT_FALSE(attempts[i].ok);
        EXPECT_EQ(number_of(attempts[i], "server.port"), dead);
        EXPECT_FALSE(attempts[i].error.empty());
    }
    const Span& good = attempts.back();
    EXPECT_TRUE(good.ok) << good.error;
    EXPECT_EQ(number_of(good, "server.port"), port);
    std::vector<std::string> phases;
    for (const Span& p : tracer->children(good.id)) phases.push_back(p.name);
    if (has_tls()) {
        EXPECT_EQ(text_of(good, "pgtls.encryption"), "tls");
        EXPECT_EQ(text_of(good, "tls.backend"), backend());
        EXPECT_NE(text_of(good, "tls.protocol.version"), "<absent>");
        EXPECT_EQ(phases, (std::vector<std::string>{"pgtls.connect.tcp", "pgtls.connect.tls", "pgtls.connect.startup"}));
    } else {
        EXPECT_EQ(text_of(good, "pgtls.encryption"), "plaintext");
        EXPECT_EQ(phases, (std::vector<std::string>{"pgtls.connect.tcp", "pgtls.connect.startup"}));
    }
}

TEST_P(Tracing, QueryCarriesTagRowsAndPeerButNoTextUnlessAskedFor) {
    Conn c = open_traced();
    tracer->clear();
    c.query("SELECT 1 UNION ALL SELECT 2");
    auto q = tracer->named("pgtls.query");
    ASSERT_EQ(q.size(), 1u);
    EXPECT_TRUE(q[0].ok);
    EXPECT_EQ(text_of(q[0], "db.operation.name"), "SELECT");
    EXPECT_EQ(text_of(q[0], "pgtls.command_tag"), "SELECT 2");
    EXPECT_EQ(number_of(q[0], "db.response.returned_rows"), 2);
    EXPECT_EQ(text_of(q[0], "db.query.text"), "<absent>");
    EXPECT_EQ(text_of(q[0], "server.address"), "localhost");
    EXPECT_EQ(number_of(q[0], "server.port"), env().server("pg18").port);
    if (has_tls()) {
        EXPECT_EQ(text_of(q[0], "tls.backend"), backend());
    }
    EXPECT_GT(number_of(q[0], "pgtls.bytes_sent"), 0);
    EXPECT_GT(number_of(q[0], "pgtls.bytes_received"), 0);
    EXPECT_EQ(flag_of(q[0], "pgtls.connection_kept"), true);

    Conn with_text = open_traced(true);
    tracer->clear();
    with_text.query("SELECT 42");
    q = tracer->named("pgtls.query");
    ASSERT_EQ(q.size(), 1u);
    EXPECT_EQ(text_of(q[0], "db.query.text"), "SELECT 42");
}

TEST_P(Tracing, ServerErrorCarriesSqlstateAndTheConnectionSurvives) {
    Conn c = open_traced();
    tracer->clear();
    EXPECT_THROW(c.query("SELECT 1/0"), ServerError);
    auto q = tracer->named("pgtls.query");
    ASSERT_EQ(q.size(), 1u);
    EXPECT_FALSE(q[0].ok);
    EXPECT_NE(q[0].error.find("division by zero"), std::string::npos) << q[0].error;
    EXPECT_EQ(text_of(q[0], "db.response.status_code"), "22012");
    EXPECT_EQ(text_of(q[0], "error.type"), "22012");
    EXPECT_EQ(flag_of(q[0], "pgtls.connection_kept"), true);
    EXPECT_TRUE(c.is_healthy());
}

TEST_P(Tracing, PipelineHasOneChildPerQuery) {
    Conn c = open_traced();
    tracer->clear();
    const auto r = c.pipeline({"SELECT 1", "SELECT 1/0", "SELECT 3"});
    ASSERT_EQ(r.size(), 3u);
    const auto p = tracer->named("pgtls.pipeline");
    ASSERT_EQ(p.size(), 1u);
    EXPECT_EQ(number_of(p[0], "db.operation.batch.size"), 3);
    const auto qs = tracer->children(p[0].id);
    ASSERT_EQ(qs.size(), 3u);
    EXPECT_TRUE(qs[0].ok);
    EXPECT_EQ(text_of(qs[0], "db.operation.name"), "SELECT");
    EXPECT_FALSE(qs[1].ok);
    EXPECT_EQ(text_of(qs[1], "db.response.status_code"), "22012");
    EXPECT_FALSE(qs[2].ok);  // skipped: the same sync group failed
    EXPECT_EQ(number_of(qs[2], "pgtls.pipeline.index"), 2);
}

TEST_P(Tracing, PipelineQueriesCarryTheirOwnTextAndEndByTheirParent) {
    Conn c = open_traced(/*query_text=*/true);
    tracer->clear();
    ASSERT_EQ(c.pipeline({"SELECT 1", "SELECT 2 + 0"}).size(), 2u);
    const auto p = tracer->named("pgtls.pipeline");
    ASSERT_EQ(p.size(), 1u);
    EXPECT_EQ(p[0].find("pgtls.pipeline.implicit"), nullptr) << "the application's own pipeline";
    const auto qs = tracer->children(p[0].id);
    ASSERT_EQ(qs.size(), 2u);
    EXPECT_EQ(text_of(qs[0], "db.query.text"), "SELECT 1");
    EXPECT_EQ(text_of(qs[1], "db.query.text"), "SELECT 2 + 0");
    for (const Span& q : qs) {
        EXPECT_GE(q.start, p[0].start);
        EXPECT_LE(q.end, p[0].end);
        EXPECT_LE(q.duration, p[0].duration);
    }
}

// The async connection pipelines execute() calls queued together (implicit pipelining): one
// "pgtls.pipeline" span marked implicit, a child per call described when that call's outcome
// was final — its result goes to its caller then, and the span must still say what it was.
class AsyncTracing : public Tracing {
protected:
    void connect(AsyncConnection& c, PipelineOverlap overlap = PipelineOverlap::automatic) {
        c.set_pipeline_overlap(overlap);
        // The callback's own (a shared_ptr), as in Conn::wait: it may run after a return on the
        // loop's limit.
        const auto outcome = std::make_shared<std::optional<std::exception_ptr>>();
        c.connect(traced(/*query_text=*/true), [outcome](std::exception_ptr e) { *outcome = e; });
        ASSERT_TRUE(run_async_loop(c, [&] { return outcome->has_value(); }));
        ASSERT_FALSE(**outcome);
        tracer->clear();
    }
};

TEST_P(AsyncTracing, ImplicitlyPipelinedCallsEachKeepTheirOwnOutcome) {
    std::vector<std::optional<std::exception_ptr>> outcomes(6);  // outlives the connection's callbacks
    AsyncConnection c;
    connect(c);
    for (int i = 0; i < 6; ++i)
        c.execute_args(i == 3 ? "SELECT 1/$1::int" : "SELECT $1::int",
                       [&, i](std::exception_ptr e, Result) { outcomes[std::size_t(i)] = e; }, i == 3 ? 0 : i);
    ASSERT_TRUE(run_async_loop(c, [&] {
        return std::all_of(outcomes.begin(), outcomes.end(), [](const auto& o) { return o.has_value(); });
    }));
    const auto p = tracer->named("pgtls.pipeline");
    ASSERT_EQ(p.size(), 1u);
    EXPECT_EQ(flag_of(p[0], "pgtls.pipeline.implicit"), true);
    EXPECT_EQ(number_of(p[0], "db.operation.batch.size"), 6);
    const auto qs = tracer->children(p[0].id);
    ASSERT_EQ(qs.size(), 6u);
    for (std::size_t i = 0; i < qs.size(); ++i) {
        SCOPED_TRACE(i);
        EXPECT_EQ(number_of(qs[i], "pgtls.pipeline.index"), std::int64_t(i));
        EXPECT_EQ(text_of(qs[i], "db.query.text"), i == 3 ? "SELECT 1/$1::int" : "SELECT $1::int");
        EXPECT_LE(qs[i].end, p[0].end);
        if (i > 0) {
            EXPECT_GE(qs[i].duration, qs[i - 1].duration) << "each ends as its own sync group is answered";
        }
        if (i == 3) {
            EXPECT_FALSE(qs[i].ok);
            EXPECT_EQ(text_of(qs[i], "db.response.status_code"), "22012");
            continue;
        }
        // Each call is its own sync group: the failure of call 3 is not the others'.
        EXPECT_TRUE(qs[i].ok) << qs[i].error;
        EXPECT_EQ(text_of(qs[i], "db.operation.name"), "SELECT");
        EXPECT_EQ(text_of(qs[i], "pgtls.command_tag"), "SELECT 1");
        EXPECT_EQ(number_of(qs[i], "db.response.returned_rows"), 1);
    }
}

TEST_P(AsyncTracing, QueriesThatJoinARunningPipelineStartWhenTheyJoin) {
    int done = 0;  // outlives the connection's callbacks
    const auto count = [&](std::exception_ptr e, Result) {
        EXPECT_FALSE(e);
        ++done;
    };
    AsyncConnection c;
    connect(c, PipelineOverlap::on);
    c.execute("SELECT pg_sleep(0.3)", {}, count);
    c.execute("SELECT 1", {}, count);
    run_async_loop(c, [] { return false; }, std::chrono::milliseconds(100));  // the pair is written
    const auto joined = std::chrono::system_clock::now();
    for (int i = 0; i < 4; ++i) c.execute("SELECT 2", {}, count);  // more than are unanswered
    ASSERT_TRUE(run_async_loop(c, [&] { return done == 6; }));
    const auto p = tracer->named("pgtls.pipeline");
    ASSERT_EQ(p.size(), 1u) << "the four joined the running pipeline";
    EXPECT_EQ(number_of(p[0], "pgtls.pipeline.appends"), 1);
    const auto qs = tracer->children(p[0].id);
    ASSERT_EQ(qs.size(), 6u);
    for (std::size_t i = 0; i < 2; ++i) EXPECT_LT(qs[i].start, joined) << i;
    for (std::size_t i = 2; i < 6; ++i) {
        EXPECT_GE(qs[i].start, joined) << i;
        EXPECT_EQ(text_of(qs[i], "db.query.text"), "SELECT 2");
        EXPECT_TRUE(qs[i].ok) << qs[i].error;
    }
}

TEST_P(AsyncTracing, CallsUnansweredWhenTheConnectionDiesFailInTheirSpans) {
    std::vector<std::optional<std::exception_ptr>> outcomes(3);  // outlives the connection's callbacks
    AsyncConnection c;
    connect(c);
    const char* const sqls[] = {"SELECT 1", "SELECT pg_sleep(30)", "SELECT 3"};
    for (std::size_t i = 0; i < 3; ++i)
        c.execute(sqls[i], {}, [&, i](std::exception_ptr e, Result) { outcomes[i] = e; });
    run_async_loop(c, [&] { return outcomes[0].has_value(); });
    Client admin(pg18_verified());
    admin.execute("SELECT pg_terminate_backend($1)", {to_param(c.info().backend_pid)});
    ASSERT_TRUE(run_async_loop(c, [&] { return outcomes[2].has_value(); }));
    ASSERT_FALSE(*outcomes[0]);
    ASSERT_TRUE(*outcomes[1] && *outcomes[2]);
    const auto p = tracer->named("pgtls.pipeline");
    ASSERT_EQ(p.size(), 1u);
    EXPECT_FALSE(p[0].ok);
    const auto qs = tracer->children(p[0].id);
    ASSERT_EQ(qs.size(), 3u);
    EXPECT_TRUE(qs[0].ok) << qs[0].error;
    for (std::size_t i = 1; i < 3; ++i) {
        EXPECT_FALSE(qs[i].ok) << i << ": its caller got an error";
        EXPECT_NE(text_of(qs[i], "error.type"), "<absent>") << i;
    }
}

TEST_P(Tracing, CopyOutAndIn) {
    Conn c = open_traced();
    c.query("CREATE TEMP TABLE trace_copy(a int)");
    tracer->clear();
    EXPECT_EQ(c.copy_in("COPY trace_copy FROM STDIN", "1\n2\n3\n"), 3u);
    auto in = tracer->named("pgtls.copy_in");
    ASSERT_FALSE(in.empty());
    EXPECT_EQ(number_of(in.back(), "pgtls.affected_rows"), 3);
    EXPECT_EQ(text_of(in.back(), "db.operation.name"), "COPY");
    EXPECT_TRUE(in.back().ok);

    EXPECT_EQ(c.copy_out("COPY trace_copy TO STDOUT"), 3u);
    auto out = tracer->named("pgtls.copy_out");
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(number_of(out[0], "db.response.returned_rows"), 3);
    EXPECT_GT(number_of(out[0], "pgtls.bytes_received"), 0);
}

TEST_P(Tracing, CancelHasItsSpanAndTheQueryEnds57014) {
    Conn c = open_traced();
    tracer->clear();
    try {
        c.cancelled_sleep();
        ADD_FAILURE() << "the sleep was not cancelled";
    } catch (const ServerError& e) {
        EXPECT_EQ(e.sqlstate(), "57014");
    }
    const auto cancels = tracer->named("pgtls.cancel");
    ASSERT_EQ(cancels.size(), 1u);
    EXPECT_TRUE(cancels[0].ok) << cancels[0].error;
    const auto q = tracer->named("pgtls.query");
    ASSERT_EQ(q.size(), 1u);
    EXPECT_EQ(text_of(q[0], "db.response.status_code"), "57014");
    EXPECT_EQ(flag_of(q[0], "pgtls.connection_kept"), true);
    EXPECT_TRUE(c.is_healthy());
}

TEST_P(Tracing, ThrowingTracerNeverDisturbsTheConnection) {
    tracer->throws = true;
    Conn c = open_traced();
    EXPECT_EQ(c.query("SELECT 41 + 1")[0][0].as<int>(), 42);
    EXPECT_THROW(c.query("SELECT 1/0"), ServerError);
    EXPECT_EQ(c.pipeline({"SELECT 1", "SELECT 2"}).size(), 2u);
    EXPECT_EQ(c.query("SELECT 7")[0][0].as<int>(), 7);
    EXPECT_TRUE(c.is_healthy());
    EXPECT_FALSE(tracer->named("pgtls.connect").empty());
}

TEST_P(Tracing, NoTracerNoSpans) {
    Config c = pg18_verified();
    Conn conn(driver(), c);
    EXPECT_EQ(conn.query("SELECT 1")[0][0].as<int>(), 1);
    EXPECT_TRUE(tracer->named("pgtls.query").empty());
}

// A pool's connections are made from the pool's Config (Clients, or AsyncConnections of an
// AsyncPool): its tracer sees them.
TEST_P(Tracing, PoolConnectionsAreTracedThroughTheConfig) {
    Result r;
    if (driver() == DriverKind::async) {
        AsyncPool pool(traced());
        AsyncPool::Lease lease = await_async<AsyncPool::Lease>(pool, "acquire", [&](auto done) { pool.acquire(done); });
        r = await_async<Result>(pool, "execute",
                                [&](auto done) { lease->execute("SELECT $1::int + 1", Params{to_param(41)}, done); });
    } else {
        Pool pool(traced());
        r = pool.acquire()->execute("SELECT $1::int + 1", Params{to_param(41)});
    }
    EXPECT_EQ(r[0][0].as<int>(), 42);
    EXPECT_EQ(tracer->named("pgtls.connect").size(), 1u);
    const auto e = tracer->named("pgtls.execute");
    ASSERT_FALSE(e.empty());
    EXPECT_EQ(text_of(e.back(), "db.operation.name"), "SELECT");
    EXPECT_EQ(number_of(e.back(), "db.response.returned_rows"), 1);
}

PGTLS_INSTANTIATE_PER_BACKEND_AND_DRIVER(Tracing);
// Implicit pipelining is the async connection's only.
INSTANTIATE_TEST_SUITE_P(Backends, AsyncTracing, ::testing::ValuesIn([] {
                             std::vector<std::string> names;
                             for (const std::string& n : backend_names()) names.push_back(n + "_async");
                             return names;
                         }()),
                         backend_test_name);

}  // namespace
}  // namespace pgtls::test
