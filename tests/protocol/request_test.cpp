// The query-side algorithms, scripted (src/protocol/request.hpp, query.hpp, copy.hpp,
// pipeline.hpp, notification_wait.hpp): what each sends and collects, and the rules every
// request shares — timeout → cancel → drain, the FATAL reported after a lost connection, the
// bounded drain after a callback threw, and an error with the connection retired for every
// network error, timeout or malformed message at every step.
#include <gtest/gtest.h>

#include <tuple>

#include "protocol/copy.hpp"
#include "protocol/notification_wait.hpp"
#include "protocol/pipeline.hpp"
#include "protocol/query.hpp"
#include "scripted_io.hpp"

using namespace pgtls;
using namespace pgtls::test;
using protocol::Action;
using protocol::Event;
using protocol::RequestOptions;
using namespace std::chrono_literals;

namespace {

std::string fatal(std::string_view sqlstate, std::string_view message) {
    return msg('E', std::string("SFATAL") + '\0' + "VFATAL" + '\0' + "C" + cstr(sqlstate) + "M" + cstr(message) + '\0');
}

const RequestOptions k1s{1000ms, RequestOptions::OnTimeout::cancel, std::nullopt};

std::string select_one_reply() {
    return row_description({{"n", 23}}) + data_row({"1"}) + command_complete("SELECT 1") + ready();
}

template <class E = Error>
E error_of(const Action& a) {
    EXPECT_EQ(a.kind, Action::Kind::done);
    try {
        if (a.error) std::rethrow_exception(a.error);
    } catch (const E& e) {
        return e;
    } catch (...) {
        ADD_FAILURE() << "an error of another type";
    }
    ADD_FAILURE() << "no error";
    throw std::logic_error("no error");
}

// Every fault at every step ends with an error and the connection retired: nothing of the
// request or its reply is left half-done on a connection that is kept.
void expect_every_fault_retires(const ScriptedIo& script,
                                const std::function<std::unique_ptr<protocol::Algorithm>(TestWire&)>& make) {
    for_every_fault(script, make, [](const FaultRun& r, TestWire&) {
        EXPECT_EQ(r.end.connection, Action::Connection::retired);
    });
}

}  // namespace

// ---- simple query

TEST(SimpleQuery, SendsQueryAndCollectsEveryResult) {
    TestWire w;
    protocol::SimpleQuery q(w.wire, "SELECT 1; SELECT 1", k1s);
    ScriptedIo s;
    s.expect_write(msg('Q', cstr("SELECT 1; SELECT 1"))).feed(select_one_reply().substr(0, 7)).feed(
        select_one_reply().substr(7, select_one_reply().size() - 7 - 6) + row_description({{"n", 23}}) +
        data_row({"1"}) + command_complete("SELECT 1") + ready());
    const auto end = s.run(q, w);
    EXPECT_FALSE(end.error);
    ASSERT_EQ(q.results().size(), 2u);
    EXPECT_EQ(q.results()[1][0][0].view(), "1");
    EXPECT_EQ(w.session.transaction_status, TransactionStatus::idle);
}

TEST(SimpleQuery, ArmsTheQueryTimeoutOrTheTimeLeft) {
    TestWire w;
    protocol::SimpleQuery q(w.wire, "SELECT 1", k1s);
    const auto first = q.resume(Event::start());
    EXPECT_EQ(first.timer.kind, protocol::Timer::Kind::set);
    EXPECT_EQ(first.timer.after, 1000ms);
    TestWire w2;
    protocol::SimpleQuery q2(w2.wire, "SELECT 1", {1000ms, RequestOptions::OnTimeout::cancel, 250ms});
    EXPECT_EQ(q2.resume(Event::start()).timer.after, 250ms);
    TestWire w3;
    protocol::SimpleQuery q3(w3.wire, "SELECT 1", {});
    EXPECT_EQ(q3.resume(Event::start()).timer.kind, protocol::Timer::Kind::clear);
}

TEST(SimpleQuery, ALargeStatementIsSentFromTheCallersMemory) {
    TestWire w;
    const std::string sql = "SELECT '" + std::string(protocol::SimpleQuery::large_statement_bytes, 'x') + "'";
    protocol::SimpleQuery q(w.wire, sql, k1s);
    const auto first = q.resume(Event::start());
    ASSERT_EQ(first.kind, Action::Kind::write);
    EXPECT_EQ(w.out.size(), 5u) << "only the header is copied";
    EXPECT_EQ(first.tail[0].data(), sql.data());
    EXPECT_EQ(first.tail[1], std::string_view("", 1));
}

TEST(SimpleQuery, AServerErrorKeepsTheConnection) {
    TestWire w;
    protocol::SimpleQuery q(w.wire, "SELECT x", k1s);
    ScriptedIo s;
    s.expect_write(msg('Q', cstr("SELECT x"))).feed(error_response("42703", "column x does not exist") + ready());
    const auto end = s.run(q, w);
    EXPECT_EQ(end.connection, Action::Connection::kept);
    EXPECT_EQ(error_of<ServerError>(end).sqlstate(), "42703");
}

TEST(SimpleQuery, RefusesCopyFromStdinWithCopyFailAndReadsOn) {
    TestWire w;
    protocol::SimpleQuery q(w.wire, "COPY t FROM STDIN", k1s);
    ScriptedIo s;
    s.expect_write(msg('Q', cstr("COPY t FROM STDIN")))
        .feed(msg('G', std::string(1, '\0') + i16(0)))
        .expect_write(msg('f', cstr("COPY FROM STDIN is not supported by query(); use the COPY API")))
        .feed(error_response("57014", "COPY from stdin failed") + ready());
    const auto end = s.run(q, w);
    EXPECT_EQ(end.connection, Action::Connection::kept);
    EXPECT_EQ(error_of<ServerError>(end).sqlstate(), "57014");
}

TEST(SimpleQuery, ATimeoutCancelsDrainsAndKeepsTheConnection) {
    TestWire w;
    protocol::SimpleQuery q(w.wire, "SELECT pg_sleep(10)", k1s);
    auto a = q.resume(Event::start());
    a = q.resume(Event::of(Event::Kind::written));
    ASSERT_EQ(a.kind, Action::Kind::read);
    a = q.resume(Event::of(Event::Kind::timeout));
    ASSERT_EQ(a.kind, Action::Kind::cancel);
    EXPECT_EQ(a.timer.kind, protocol::Timer::Kind::set);
    EXPECT_EQ(a.timer.after, 2000ms) << "grace: twice the timeout, at least 2 s";
    a = q.resume(Event::of(Event::Kind::cancel_done));
    ASSERT_EQ(a.kind, Action::Kind::read);
    w.in.feed(bytes(error_response("57014", "canceling statement due to user request") + ready()));
    a = q.resume(Event::of(Event::Kind::read));
    EXPECT_EQ(a.connection, Action::Connection::kept);
    const Error e = error_of(a);
    EXPECT_EQ(e.kind(), ErrorKind::timeout);
    EXPECT_EQ(e.cause(), ErrorCause::query_timeout);
    EXPECT_STREQ(e.what(), "query cancelled after the client-side timeout of 1000 ms");
}

TEST(SimpleQuery, AServerThatDoesNotStopAfterTheCancelLosesTheConnection) {
    for (int variant = 0; variant < 3; ++variant) {
        TestWire w;
        protocol::SimpleQuery q(w.wire, "SELECT pg_sleep(10)", k1s);
        q.resume(Event::start());
        q.resume(Event::of(Event::Kind::written));
        auto a = q.resume(Event::of(Event::Kind::timeout));
        ASSERT_EQ(a.kind, Action::Kind::cancel);
        const Error refused(ErrorKind::connection, "could not connect for the cancel");
        if (variant == 0) {
            Event done = Event::of(Event::Kind::cancel_done);
            done.error = &refused;
            a = q.resume(done);
        } else {
            a = q.resume(Event::of(Event::Kind::cancel_done));
            a = variant == 1 ? q.resume(Event::of(Event::Kind::timeout)) : q.resume(Event::failed(refused));
        }
        EXPECT_EQ(a.connection, Action::Connection::retired) << variant;
        const Error e = error_of(a);
        EXPECT_EQ(e.cause(), ErrorCause::query_timeout_closed);
        EXPECT_NE(std::string(e.what()).find("did not stop after a cancel request"), std::string::npos) << e.what();
    }
}

TEST(SimpleQuery, OnTimeoutCloseRetiresAtOnce) {
    TestWire w;
    protocol::SimpleQuery q(w.wire, "SELECT 1", {500ms, RequestOptions::OnTimeout::close, std::nullopt});
    q.resume(Event::start());
    q.resume(Event::of(Event::Kind::written));
    const auto a = q.resume(Event::of(Event::Kind::timeout));
    EXPECT_EQ(a.connection, Action::Connection::retired);
    EXPECT_EQ(error_of(a).kind(), ErrorKind::timeout);
}

TEST(SimpleQuery, ALostConnectionReportsTheFatalTheServerSentFirst) {
    TestWire w;
    protocol::SimpleQuery q(w.wire, "SELECT 1", k1s);
    q.resume(Event::start());
    q.resume(Event::of(Event::Kind::written));
    w.in.feed(bytes(fatal("57P01", "terminating connection due to administrator command")));
    auto a = q.resume(Event::of(Event::Kind::read));
    ASSERT_EQ(a.kind, Action::Kind::read);
    const Error eof(ErrorKind::connection, ErrorCause::connection_closed, "server closed the connection unexpectedly");
    a = q.resume(Event::failed(eof));
    EXPECT_EQ(a.connection, Action::Connection::retired);
    EXPECT_EQ(error_of<ServerError>(a).sqlstate(), "57P01");
}

TEST(SimpleQuery, AWriteRefusedAfterAFatalReportsTheFatal) {
    TestWire w;
    protocol::SimpleQuery q(w.wire, "SELECT 1", k1s);
    q.resume(Event::start());
    const Error reset(ErrorKind::connection, "could not send data to server: Connection reset by peer");
    auto a = q.resume(Event::failed(reset));
    ASSERT_EQ(a.kind, Action::Kind::read) << "what the server sent before it hung up is read";
    EXPECT_EQ(a.timer.after, 0ms) << "without waiting";
    w.in.feed(bytes(fatal("57P01", "terminating connection")));
    a = q.resume(Event::of(Event::Kind::read));
    a = q.resume(Event::failed(reset));
    EXPECT_EQ(a.connection, Action::Connection::retired);
    EXPECT_EQ(error_of<ServerError>(a).sqlstate(), "57P01");

    TestWire w2;  // nothing sent before the reset: the write's own error
    protocol::SimpleQuery q2(w2.wire, "SELECT 1", k1s);
    q2.resume(Event::start());
    q2.resume(Event::failed(reset));
    a = q2.resume(Event::of(Event::Kind::timeout));
    EXPECT_STREQ(error_of(a).what(), reset.what());
}

TEST(SimpleQuery, AStalledWriteNamesTheSend) {
    TestWire w;
    protocol::SimpleQuery q(w.wire, "SELECT 1", k1s);
    q.resume(Event::start());
    const auto a = q.resume(Event::of(Event::Kind::timeout));
    EXPECT_EQ(a.connection, Action::Connection::retired);
    EXPECT_STREQ(error_of(a).what(), "timeout expired while sending data to the server");
}

TEST(SimpleQuery, EveryFaultAtEveryStepRetiresTheConnection) {
    ScriptedIo s;
    s.expect_write(msg('Q', cstr("SELECT 1"))).feed(row_description({{"n", 23}})).feed(data_row({"1"})).feed(
        command_complete("SELECT 1") + ready());
    expect_every_fault_retires(s, [](TestWire& w) { return std::make_unique<protocol::SimpleQuery>(w.wire, "SELECT 1", k1s); });
}

// ---- a user callback that throws

TEST(ExtendedRequest, AfterARowCallbackThrowsTheRestIsDrainedWithinBounds) {
    const std::function<void(const Row&)> on_row = [](const Row&) { throw std::runtime_error("app bug"); };
    TestWire w;
    Result r1;
    protocol::ExtendedRequest q(w.wire, {nullptr, "SELECT n FROM t", {}, ResultFormat::text, &on_row, &r1}, k1s);
    q.resume(Event::start());
    q.resume(Event::of(Event::Kind::written));
    w.in.feed(bytes(msg('1', "") + msg('2', "") + row_description({{"n", 23}}) + data_row({"1"})));
    auto a = q.resume(Event::of(Event::Kind::read));
    ASSERT_TRUE(w.session.callback_error);
    ASSERT_EQ(a.kind, Action::Kind::read);
    EXPECT_EQ(a.timer.kind, protocol::Timer::Kind::set);
    EXPECT_EQ(a.timer.after, protocol::Request::callback_drain_time);
    w.in.feed(bytes(data_row({"2"}) + command_complete("SELECT 2") + ready()));
    a = q.resume(Event::of(Event::Kind::read));
    EXPECT_EQ(a.kind, Action::Kind::done);
    EXPECT_EQ(a.connection, Action::Connection::kept) << "drained to ReadyForQuery";

    TestWire w2;  // a reply too large to drain: the connection goes
    Result r2;
    protocol::ExtendedRequest q2(w2.wire, {nullptr, "SELECT n FROM t", {}, ResultFormat::text, &on_row, &r2}, k1s);
    q2.resume(Event::start());
    q2.resume(Event::of(Event::Kind::written));
    w2.in.feed(bytes(msg('1', "") + msg('2', "") + row_description({{"n", 23}}) + data_row({"1"})));
    a = q2.resume(Event::of(Event::Kind::read));
    const std::string big = data_row({std::string(1 << 20, 'x').c_str()});
    for (int i = 0; i < 20 && a.kind == Action::Kind::read; ++i) {
        w2.in.feed(bytes(big));
        a = q2.resume(Event::of(Event::Kind::read));
    }
    EXPECT_EQ(a.connection, Action::Connection::retired);
    EXPECT_NE(std::string(error_of(a).what()).find("too large to drain"), std::string::npos);

    TestWire w3;  // or too slow
    Result r3;
    protocol::ExtendedRequest q3(w3.wire, {nullptr, "SELECT n FROM t", {}, ResultFormat::text, &on_row, &r3}, k1s);
    q3.resume(Event::start());
    q3.resume(Event::of(Event::Kind::written));
    w3.in.feed(bytes(msg('1', "") + msg('2', "") + row_description({{"n", 23}}) + data_row({"1"})));
    q3.resume(Event::of(Event::Kind::read));
    a = q3.resume(Event::of(Event::Kind::timeout));
    EXPECT_EQ(a.connection, Action::Connection::retired);
    EXPECT_NE(std::string(error_of(a).what()).find("did not arrive in time"), std::string::npos);
}

// ---- extended query, describe, close

TEST(ExtendedRequest, SendsParseBindDescribeExecuteSyncAndKeepsTheResult) {
    TestWire w;
    const std::array<Param, 1> params{to_param(7)};
    Result result;
    protocol::ExtendedRequest q(w.wire, {nullptr, "SELECT $1::int", params, ResultFormat::text, nullptr, &result}, k1s);
    ScriptedIo s;
    s.expect_any_write().feed(msg('1', "") + msg('2', "") + row_description({{"int4", 23}}) + data_row({"7"}) +
                              command_complete("SELECT 1") + ready());
    const auto end = s.run(q, w);
    EXPECT_FALSE(end.error);
    EXPECT_EQ(result[0][0].view(), "7");
}

// Action::read_after: a driver may read right after the write and resume once, with the
// read's event marked write_done; the request takes it as written followed by that event.
TEST(ExtendedRequest, AReadRightAfterTheWriteStandsForWrittenThenRead) {
    TestWire w;
    const std::array<Param, 1> params{to_param(7)};
    Result result;
    protocol::ExtendedRequest q(w.wire, {nullptr, "SELECT $1::int", params, ResultFormat::text, nullptr, &result}, k1s);
    const Action first = q.resume(Event::start());
    ASSERT_EQ(first.kind, Action::Kind::write);
    EXPECT_TRUE(first.read_after);
    w.out.clear();
    w.in.feed(bytes(msg('1', "") + msg('2', "") + row_description({{"int4", 23}}) + data_row({"7"}) +
                    command_complete("SELECT 1") + ready()));
    Event read = Event::of(Event::Kind::read);
    read.write_done = true;
    const Action end = q.resume(read);
    EXPECT_EQ(end.kind, Action::Kind::done);
    EXPECT_FALSE(end.error);
    EXPECT_EQ(result[0][0].view(), "7");
}

TEST(ExtendedRequest, AFailedReadRightAfterTheWriteIsTheReadsFailure) {
    // A timeout of that read cancels on the server, as one while reading does.
    TestWire w;
    Result r1;
    protocol::ExtendedRequest q(w.wire, {nullptr, "SELECT pg_sleep(5)", {}, ResultFormat::text, nullptr, &r1}, k1s);
    ASSERT_TRUE(q.resume(Event::start()).read_after);
    Event timeout = Event::of(Event::Kind::timeout);
    timeout.write_done = true;
    EXPECT_EQ(q.resume(timeout).kind, Action::Kind::cancel);
    // A lost connection retires it with the I/O error: the request was sent, nothing is
    // salvaged as after a failed write.
    TestWire w2;
    Result r2;
    protocol::ExtendedRequest q2(w2.wire, {nullptr, "SELECT 1", {}, ResultFormat::text, nullptr, &r2}, k1s);
    ASSERT_TRUE(q2.resume(Event::start()).read_after);
    const Error lost(ErrorKind::connection, "server closed the connection unexpectedly");
    Event failed = Event::failed(lost);
    failed.write_done = true;
    const Action end = q2.resume(failed);
    EXPECT_EQ(end.connection, Action::Connection::retired);
    EXPECT_STREQ(error_of(end).what(), lost.what());
}

TEST(ExtendedRequest, APreparedStatementExpectsNoRowDescription) {
    TestWire w;
    PreparedStatement ps;
    ps.name = "s1";
    ps.columns = std::vector<Column>(1);
    Result result;
    protocol::ExtendedRequest q(w.wire, {&ps, {}, {}, ResultFormat::text, nullptr, &result}, k1s);
    ScriptedIo s;
    s.expect_any_write().feed(msg('2', "") + row_description({{"n", 23}}) + command_complete("SELECT 0") + ready());
    const auto end = s.run(q, w);
    EXPECT_EQ(end.connection, Action::Connection::retired) << "a RowDescription for a described statement is a violation";
    EXPECT_EQ(error_of(end).kind(), ErrorKind::protocol);
}

TEST(DescribeStatement, PreparesAndReportsParametersAndColumns) {
    TestWire w;
    const std::vector<std::uint32_t> types{23};
    protocol::DescribeStatement q(w.wire, "s1", "SELECT $1::int AS n", &types, k1s);
    ScriptedIo s;
    s.expect_any_write().feed(msg('1', "") + msg('t', i16(1) + i32(23)) + row_description({{"n", 23}}) + ready());
    const auto end = s.run(q, w);
    EXPECT_FALSE(end.error);
    EXPECT_EQ(q.statement().name, "s1");
    EXPECT_EQ(q.statement().param_types, std::vector<std::uint32_t>{23});
    ASSERT_EQ(q.statement().columns.size(), 1u);
    EXPECT_EQ(q.statement().columns[0].name, "n");
}

TEST(DescribeStatement, ParseCompleteWithoutAParseIsAViolation) {
    TestWire w;
    protocol::DescribeStatement q(w.wire, "s1", {}, nullptr, k1s);
    ScriptedIo s;
    s.expect_any_write().feed(msg('1', "") + ready());
    const auto end = s.run(q, w);
    EXPECT_EQ(end.connection, Action::Connection::retired);
    EXPECT_NE(std::string(error_of(end).what()).find("while describing a statement"), std::string::npos);
}

TEST(DescribeStatement, EveryFaultAtEveryStepRetiresTheConnection) {
    ScriptedIo s;
    s.expect_any_write().feed(msg('1', "") + msg('t', i16(0))).feed(msg('n', "") + ready());
    expect_every_fault_retires(s, [](TestWire& w) {
        static const std::vector<std::uint32_t> none;
        return std::make_unique<protocol::DescribeStatement>(w.wire, "s", "SELECT", &none, k1s);
    });
}

TEST(CloseStatements, ClosesEachThenSyncs) {
    TestWire w;
    protocol::CloseStatements q(w.wire, {"a", "b"}, k1s);
    ScriptedIo s;
    s.expect_write(msg('C', "S" + cstr("a")) + msg('C', "S" + cstr("b")) + msg('S', ""))
        .feed(msg('3', "") + msg('3', "") + ready());
    EXPECT_FALSE(s.run(q, w).error);
}

// ---- pipeline

TEST(PipelineRequest, CollectsEachQueryAndSkipsTheRestOfAFailedGroup) {
    TestWire w;
    std::string messages;
    protocol::encode_extended(messages, nullptr, "SELECT 1", {}, ResultFormat::text);
    protocol::encode_extended(messages, nullptr, "SELECT x", {}, ResultFormat::text);
    protocol::encode_extended(messages, nullptr, "SELECT 3", {}, ResultFormat::text);
    messages += msg('S', "");
    std::vector<PipelineResult> results(3);
    const std::vector<std::size_t> sync_after{3};
    protocol::PipelineRequest q(w.wire, messages, results, sync_after, k1s);
    auto a = q.resume(Event::start());
    ASSERT_EQ(a.kind, Action::Kind::write_draining);
    EXPECT_EQ(a.tail[0].data(), messages.data()) << "sent from the pipeline's buffer";
    // The server answers while the pipeline is still being written.
    w.in.feed(bytes(msg('1', "") + msg('2', "") + row_description({{"n", 23}}) + data_row({"1"}) +
                    command_complete("SELECT 1")));
    EXPECT_FALSE(q.consume_input());
    a = q.resume(Event::of(Event::Kind::written));
    ASSERT_EQ(a.kind, Action::Kind::read);
    w.in.feed(bytes(error_response("42703", "column x does not exist") + ready()));
    a = q.resume(Event::of(Event::Kind::read));
    EXPECT_FALSE(a.error);
    EXPECT_EQ(results[0].status, PipelineResult::Status::ok);
    EXPECT_EQ(results[1].status, PipelineResult::Status::error);
    EXPECT_EQ(results[2].status, PipelineResult::Status::skipped);
}

// A PipelineRequest of `n` queries (nothing to write) past its write, waiting for replies.
struct ReadingPipeline {
    ReadingPipeline(std::size_t n, std::vector<std::size_t> syncs, std::vector<std::int16_t> described_formats = {})
        : results(n),
          sync_after(std::move(syncs)),
          described(std::move(described_formats)),
          q(w.wire, "", results, sync_after, k1s, described) {
        q.resume(Event::start());
        q.resume(Event::of(Event::Kind::written));
    }
    TestWire w;
    std::vector<PipelineResult> results;
    std::vector<std::size_t> sync_after;
    std::vector<std::int16_t> described;
    protocol::PipelineRequest q;
};

// An error after every query of a group has its result: the group's implicit COMMIT at the
// Sync failed (a deferred constraint). Its work is rolled back, so each of its queries is an
// error, never "ok"; the next group is unaffected, and settled() counts only ended groups.
TEST(PipelineRequest, AFailedCommitAtTheSyncMakesEveryQueryOfItsGroupAnError) {
    ReadingPipeline p(3, {2, 3});
    auto [w, results, q] = std::tie(p.w, p.results, p.q);
    w.in.feed(bytes(msg('1', "") + msg('2', "") + msg('n', "") + command_complete("INSERT 0 1") + msg('1', "") +
                    msg('2', "") + msg('n', "") + command_complete("INSERT 0 1")));
    auto a = q.resume(Event::of(Event::Kind::read));
    ASSERT_EQ(a.kind, Action::Kind::read);
    EXPECT_EQ(q.reported(), 2u);
    EXPECT_EQ(q.settled(), 0u) << "the group's COMMIT has not been answered yet";
    w.in.feed(bytes(error_response("23505", "duplicate key value violates unique constraint") + ready() + msg('1', "") +
                    msg('2', "") + row_description({{"n", 23}}) + data_row({"7"}) + command_complete("SELECT 1") +
                    ready()));
    a = q.resume(Event::of(Event::Kind::read));
    ASSERT_EQ(a.kind, Action::Kind::done);
    EXPECT_FALSE(a.error) << "one group's failure is not the pipeline's";
    for (int i : {0, 1}) {
        EXPECT_EQ(results[i].status, PipelineResult::Status::error) << i;
        ASSERT_TRUE(results[i].error) << i;
        EXPECT_EQ(results[i].error->sqlstate(), "23505") << i;
    }
    EXPECT_EQ(results[2].status, PipelineResult::Status::ok);
    EXPECT_EQ(q.settled(), 3u);
}

// Each query's result is built in its own slot: a query that fails after some of its rows
// keeps none of them, its neighbours keep theirs.
TEST(PipelineRequest, AQueryThatFailsAfterRowsKeepsNoneOfThem) {
    ReadingPipeline p(2, {1, 2});
    auto [w, results, q] = std::tie(p.w, p.results, p.q);
    w.in.feed(bytes(msg('1', "") + msg('2', "") + row_description({{"n", 23}}) + data_row({"1"}) + data_row({"2"}) +
                    error_response("22012", "division by zero") + ready() + msg('1', "") + msg('2', "") +
                    row_description({{"m", 23}}) + data_row({"9"}) + command_complete("SELECT 1") + ready()));
    const auto a = q.resume(Event::of(Event::Kind::read));
    ASSERT_EQ(a.kind, Action::Kind::done);
    EXPECT_EQ(results[0].status, PipelineResult::Status::error);
    EXPECT_EQ(results[0].result.size(), 0u) << "rows of a failed query were kept";
    EXPECT_EQ(results[0].result.columns(), 0u);
    ASSERT_EQ(results[1].status, PipelineResult::Status::ok);
    ASSERT_EQ(results[1].result.size(), 1u);
    EXPECT_EQ(results[1].result[0][0].as<int>(), 9);
    EXPECT_EQ(results[1].result.column_info().at(0).name, "m");
}

// A RowDescription for a query the group does not have is the server's error, caught before
// anything is written past the results.
TEST(PipelineRequest, ARowDescriptionBeyondTheGroupIsAProtocolError) {
    ReadingPipeline p(1, {1});
    auto [w, results, q] = std::tie(p.w, p.results, p.q);
    w.in.feed(bytes(row_description({{"n", 23}}) + data_row({"1"}) + command_complete("SELECT 1") +
                    row_description({{"n", 23}}) + data_row({"2"})));
    const auto a = q.resume(Event::of(Event::Kind::read));
    ASSERT_EQ(a.kind, Action::Kind::done);
    EXPECT_EQ(error_of(a).kind(), ErrorKind::protocol);
    EXPECT_NE(std::string(error_of(a).what()).find("more results than queries"), std::string::npos) << error_of(a).what();
}

// An execute of a prepared statement sends no Describe: its slot comes with the statement's
// columns and its DataRows are taken without a RowDescription. A query whose slot has none
// still needs one.
TEST(PipelineRequest, APreparedStatementsRowsNeedNoRowDescription) {
    ReadingPipeline p(2, {1, 2});
    auto [w, results, q] = std::tie(p.w, p.results, p.q);
    Column n;
    n.name = "n";
    n.type_oid = 23;
    results[0].result.set_columns(std::vector<Column>{n});
    w.in.feed(bytes(msg('2', "") + data_row({"7"}) + command_complete("SELECT 1") + ready() + msg('2', "") +
                    data_row({"8"})));
    const auto a = q.resume(Event::of(Event::Kind::read));
    ASSERT_EQ(a.kind, Action::Kind::done);
    ASSERT_EQ(results[0].status, PipelineResult::Status::ok);
    ASSERT_EQ(results[0].result.size(), 1u);
    EXPECT_EQ(results[0].result[0][0].view(), "7");
    EXPECT_EQ(results[0].result.column_info().at(0).name, "n");
    EXPECT_EQ(error_of(a).kind(), ErrorKind::protocol);
    EXPECT_NE(std::string(error_of(a).what()).find("without RowDescription"), std::string::npos) << error_of(a).what();
}

// A run of one statement (encode_parsed_and_described, encode_bound): its first query's group
// carries the statement's description (ParameterDescription, then RowDescription in text
// format), no query sends a Describe of its portal, and each takes the described columns in
// its own result format — also when the first query's Bind failed, and also with no rows.
TEST(PipelineRequest, QueriesOfARunTakeTheDescribedStatementsColumnsInTheirOwnFormat) {
    constexpr std::int16_t own = protocol::PipelineFlow::own_description;
    ReadingPipeline p(5, {1, 2, 3, 4, 5}, {own, 1, 0, 1, 0});
    auto [w, results, q] = std::tie(p.w, p.results, p.q);
    const std::string statement_description = msg('t', i16(1) + i32(23)) + row_description({{"n", 23}});
    w.in.feed(bytes(msg('1', "") + msg('2', "") + row_description({{"own", 25}}) + data_row({"a"}) +
                    command_complete("SELECT 1") + ready() +  // a query with its own Describe
                    msg('1', "") + statement_description + error_response("22P02", "invalid input syntax") + ready() +
                    msg('2', "") + data_row({"7"}) + command_complete("SELECT 1") + ready() +
                    msg('2', "") + msg('D', i16(1) + i32(4) + std::string("\0\0\0\x08", 4)) + command_complete("SELECT 1") +
                    ready() + msg('2', "") + command_complete("SELECT 0") + msg('3', "") + ready()));
    const auto a = q.resume(Event::of(Event::Kind::read));
    ASSERT_EQ(a.kind, Action::Kind::done);
    EXPECT_FALSE(a.error);
    EXPECT_EQ(results[0].result.column_info().at(0).name, "own");
    ASSERT_EQ(results[1].status, PipelineResult::Status::error);
    EXPECT_EQ(results[1].error->sqlstate(), "22P02");
    ASSERT_EQ(results[2].status, PipelineResult::Status::ok);
    ASSERT_EQ(results[2].result.columns(), 1u);
    EXPECT_EQ(results[2].result.column_info()[0].name, "n");
    EXPECT_EQ(results[2].result.column_info()[0].format, 0);
    EXPECT_EQ(results[2].result[0][0].as<int>(), 7);
    ASSERT_EQ(results[3].status, PipelineResult::Status::ok);
    EXPECT_EQ(results[3].result.column_info().at(0).format, 1);
    EXPECT_EQ(results[3].result.column_info().at(0).type_oid, 23u);
    EXPECT_EQ(results[3].result[0][0].as<int>(), 8) << "read as binary";
    ASSERT_EQ(results[4].status, PipelineResult::Status::ok);
    EXPECT_EQ(results[4].result.size(), 0u);
    EXPECT_EQ(results[4].result.columns(), 1u) << "a query with no rows still has its columns";
}

// A statement that returns no rows is described with NoData: its queries have no columns.
// A query that relies on a description the server never sent is a protocol error.
TEST(PipelineRequest, ARunWithoutItsStatementsDescriptionIsAProtocolError) {
    ReadingPipeline described(1, {1}, {0});
    described.w.in.feed(bytes(msg('1', "") + msg('t', i16(0)) + msg('n', "") + msg('2', "") +
                              command_complete("INSERT 0 1") + ready()));
    auto a = described.q.resume(Event::of(Event::Kind::read));
    ASSERT_EQ(a.kind, Action::Kind::done);
    EXPECT_FALSE(a.error);
    EXPECT_EQ(described.results[0].status, PipelineResult::Status::ok);
    EXPECT_EQ(described.results[0].result.columns(), 0u);
    EXPECT_EQ(described.results[0].result.command_tag(), "INSERT 0 1");

    ReadingPipeline skipped(1, {1}, {0});
    skipped.w.in.feed(bytes(msg('1', "") + msg('2', "") + data_row({"1"})));
    a = skipped.q.resume(Event::of(Event::Kind::read));
    ASSERT_EQ(a.kind, Action::Kind::done);
    EXPECT_EQ(error_of(a).kind(), ErrorKind::protocol);
    EXPECT_NE(std::string(error_of(a).what()).find("description"), std::string::npos) << error_of(a).what();
}

TEST(PipelineRequest, ATimeoutRetiresTheConnection) {
    ReadingPipeline p(1, {1});
    auto [w, results, q] = std::tie(p.w, p.results, p.q);
    const auto a = q.resume(Event::of(Event::Kind::timeout));
    EXPECT_EQ(a.connection, Action::Connection::retired);
    EXPECT_EQ(error_of(a).kind(), ErrorKind::timeout);
}

TEST(PipelineRequest, AMalformedReplyDuringTheWriteStopsIt) {
    TestWire w;
    std::vector<PipelineResult> results(1);
    const std::vector<std::size_t> sync_after{1};
    protocol::PipelineRequest q(w.wire, "", results, sync_after, k1s);
    q.resume(Event::start());
    w.in.feed(bytes(ScriptedIo::malformed_message()));
    const auto stop = q.consume_input();
    ASSERT_TRUE(stop);
    EXPECT_EQ(stop->connection, Action::Connection::retired);
}

// ---- COPY

TEST(CopyOut, HandsEachCopyDataToTheCallbackAndCountsRows) {
    std::string got;
    const std::function<void(std::string_view)> on_data = [&](std::string_view d) { got += d; };
    TestWire w;
    protocol::CopyOut q(w.wire, "COPY t TO STDOUT", on_data, k1s);
    ScriptedIo s;
    s.expect_write(msg('Q', cstr("COPY t TO STDOUT")))
        .feed(msg('H', std::string(1, '\0') + i16(0)) + msg('d', "1\n") + msg('d', "2\n"))
        .feed(msg('c', "") + command_complete("COPY 2") + ready());
    EXPECT_FALSE(s.run(q, w).error);
    EXPECT_EQ(got, "1\n2\n");
    EXPECT_EQ(q.rows(), 2u);
}

TEST(CopyOut, EveryFaultAtEveryStepRetiresTheConnection) {
    static const std::function<void(std::string_view)> ignore = [](std::string_view) {};
    ScriptedIo s;
    s.expect_write(msg('Q', cstr("COPY t TO STDOUT")))
        .feed(msg('H', std::string(1, '\0') + i16(0)) + msg('d', "1\n"))
        .feed(msg('c', "") + command_complete("COPY 1") + ready());
    expect_every_fault_retires(s, [](TestWire& w) {
        return std::make_unique<protocol::CopyOut>(w.wire, "COPY t TO STDOUT", ignore, k1s);
    });
}

TEST(CopyInStart, EndsAtCopyInResponse) {
    TestWire w;
    protocol::CopyInStart q(w.wire, "COPY t FROM STDIN", k1s);
    ScriptedIo s;
    s.expect_write(msg('Q', cstr("COPY t FROM STDIN"))).feed(msg('G', std::string(1, '\0') + i16(0)));
    EXPECT_FALSE(s.run(q, w).error);
}

TEST(CopyInStart, AStatementThatIsNotCopyFromStdinIsAUsageErrorOnAKeptConnection) {
    TestWire w;
    protocol::CopyInStart q(w.wire, "SELECT 1", k1s);
    ScriptedIo s;
    s.expect_write(msg('Q', cstr("SELECT 1"))).feed(select_one_reply());
    const auto end = s.run(q, w);
    EXPECT_EQ(end.connection, Action::Connection::kept);
    EXPECT_EQ(error_of(end).kind(), ErrorKind::usage);
}

TEST(CopyInStart, AServerErrorIsDrainedToReadyForQuery) {
    TestWire w;
    protocol::CopyInStart q(w.wire, "COPY nosuch FROM STDIN", k1s);
    ScriptedIo s;
    s.expect_write(msg('Q', cstr("COPY nosuch FROM STDIN"))).feed(error_response("42P01", "no such table")).feed(ready());
    const auto end = s.run(q, w);
    EXPECT_EQ(end.connection, Action::Connection::kept);
    EXPECT_EQ(error_of<ServerError>(end).sqlstate(), "42P01");
}

TEST(CopyInData, SucceedsOnceWrittenWithoutWaitingForAReply) {
    TestWire w;
    const std::string data = msg('d', "1\n");
    protocol::CopyInData q(w.wire, data, k1s);
    auto a = q.resume(Event::start());
    ASSERT_EQ(a.kind, Action::Kind::write_draining);
    a = q.resume(Event::of(Event::Kind::written));
    EXPECT_EQ(a.kind, Action::Kind::done);
    EXPECT_FALSE(a.error);
}

TEST(CopyInData, AnErrorDuringTheWriteIsDrainedAndReportedOnAKeptConnection) {
    TestWire w;
    const std::string data = msg('d', "bad\n");
    protocol::CopyInData q(w.wire, data, k1s);
    q.resume(Event::start());
    w.in.feed(bytes(error_response("22P02", "invalid input syntax")));
    EXPECT_FALSE(q.consume_input());
    auto a = q.resume(Event::of(Event::Kind::written));
    ASSERT_EQ(a.kind, Action::Kind::read);
    w.in.feed(bytes(ready()));
    a = q.resume(Event::of(Event::Kind::read));
    EXPECT_EQ(a.connection, Action::Connection::kept);
    EXPECT_EQ(error_of<ServerError>(a).sqlstate(), "22P02");
}

TEST(CopyInEnd, FinishReportsRowsAndAbortSwallowsTheEchoedError) {
    TestWire w;
    const std::string done = msg('c', "");
    protocol::CopyInEnd fin(w.wire, done, protocol::CopyInEnd::How::finish, k1s);
    ScriptedIo s;
    s.expect_write(done).feed(command_complete("COPY 3") + ready());
    EXPECT_FALSE(s.run(fin, w).error);
    EXPECT_EQ(fin.rows(), 3u);

    TestWire w2;
    const std::string fail = msg('f', cstr("stop"));
    protocol::CopyInEnd ab(w2.wire, fail, protocol::CopyInEnd::How::abort, k1s);
    ScriptedIo s2;
    s2.expect_write(fail).feed(error_response("57014", "COPY from stdin failed: stop") + ready());
    EXPECT_FALSE(s2.run(ab, w2).error);
}

TEST(CopyInEnd, EveryFaultAtEveryStepRetiresTheConnection) {
    static const std::string done = msg('c', "");
    ScriptedIo s;
    s.expect_write(done).feed(command_complete("COPY 3")).feed(ready());
    expect_every_fault_retires(s, [](TestWire& w) {
        return std::make_unique<protocol::CopyInEnd>(w.wire, done, protocol::CopyInEnd::How::finish, k1s);
    });
}

// ---- notifications

TEST(NotificationWait, EndsWithTheFirstNotificationOrQuietlyAtTheTimer) {
    TestWire w;
    protocol::NotificationWait n(w.wire, 500ms);
    auto a = n.resume(Event::start());
    ASSERT_EQ(a.kind, Action::Kind::read);
    EXPECT_EQ(a.timer.after, 500ms);
    w.in.feed(bytes(msg('A', i32(42) + cstr("chan") + cstr("payload"))));
    a = n.resume(Event::of(Event::Kind::read));
    EXPECT_EQ(a.kind, Action::Kind::done);
    EXPECT_FALSE(a.error);
    ASSERT_EQ(w.session.notifications.size(), 1u);
    EXPECT_EQ(w.session.notifications.front().payload, "payload");

    TestWire w2;
    protocol::NotificationWait quiet(w2.wire, 10ms);
    quiet.resume(Event::start());
    a = quiet.resume(Event::of(Event::Kind::timeout));
    EXPECT_FALSE(a.error);
    EXPECT_EQ(a.connection, Action::Connection::kept);
}

// The FATAL a server sends before it closes an idle session is the wait's error, unchanged.
TEST(NotificationWait, TheServersFatalWhileIdleIsItsError) {
    TestWire w;
    protocol::NotificationWait n(w.wire, 500ms);
    n.resume(Event::start());
    w.in.feed(bytes(fatal("57P01", "terminating connection due to administrator command")));
    const auto a = n.resume(Event::of(Event::Kind::read));
    EXPECT_EQ(a.connection, Action::Connection::retired);
    const ServerError e = error_of<ServerError>(a);
    EXPECT_EQ(e.sqlstate(), "57P01");
    EXPECT_EQ(e.kind(), ErrorKind::server);
}

TEST(NotificationWait, AnythingButAsyncTrafficIsAViolation) {
    TestWire w;
    protocol::NotificationWait n(w.wire, 500ms);
    n.resume(Event::start());
    w.in.feed(bytes(ready()));
    const auto a = n.resume(Event::of(Event::Kind::read));
    EXPECT_EQ(a.connection, Action::Connection::retired);
    EXPECT_NE(std::string(error_of(a).what()).find("while idle"), std::string::npos);
}
