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
        wait([&](auto done) { return async_->connect(cfg, [done](std::exception_ptr e) { done(e); }); });
    }
    Result query(const std::string& sql) {
        if (blocking_) return blocking_->query(sql);
        std::vector<Result> r;
        wait([&](auto done) {
            return async_->query(sql, [&, done](std::exception_ptr e, std::vector<Result> v) {
                r = std::move(v);
                done(e);
            });
        });
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
        std::vector<PipelineResult> r;
        wait([&](auto done) {
            return async_->pipeline(std::move(qs), [&, done](std::exception_ptr e, std::vector<PipelineResult> v) {
                r = std::move(v);
                done(e);
            });
        });
        return r;
    }
    std::uint64_t copy_out(const std::string& sql) {
        if (blocking_) return blocking_->copy_out(sql, [](std::string_view) {});
        std::uint64_t n = 0;
        wait([&](auto done) {
            return async_->copy_out(sql, [](std::string_view) {}, [&, done](std::exception_ptr e, std::uint64_t rows) {
                n = rows;
                done(e);
            });
        });
        return n;
    }
    std::uint64_t copy_in(const std::string& sql, const std::string& data) {
        if (blocking_) {
            CopyIn in = blocking_->copy_in(sql);
            in.write(data);
            return in.finish();
        }
        std::uint64_t n = 0;
        wait([&](auto done) {
            return async_->copy_in(sql, data, [&, done](std::exception_ptr e, std::uint64_t rows) {
                n = rows;
                done(e);
            });
        });
        return n;
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
        std::optional<std::exception_ptr> outcome;
        const auto id = async_->query("SELECT pg_sleep(20)", [&](std::exception_ptr e, std::vector<Result>) { outcome = e; });
        run_async_loop(*async_, [] { return false; }, std::chrono::milliseconds(300));
        async_->cancel(id);
        if (!run_async_loop(*async_, [&] { return outcome.has_value(); })) throw std::runtime_error("no completion");
        if (*outcome) std::rethrow_exception(*outcome);
    }
    bool is_healthy() const { return blocking_ ? blocking_->is_healthy() : async_->is_healthy(); }

private:
    template <class Start>
    void wait(Start start) {
        std::optional<std::exception_ptr> outcome;
        start([&outcome](std::exception_ptr e) { outcome = e; });
        if (!run_async_loop(*async_, [&] { return outcome.has_value(); })) throw std::runtime_error("no completion");
        if (*outcome) std::rethrow_exception(*outcome);
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

}  // namespace
}  // namespace pgtls::test
