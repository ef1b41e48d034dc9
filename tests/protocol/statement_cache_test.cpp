// The statement cache and its algorithm (CachedExecute), scripted: a miss prepares then
// executes, a hit executes at once, a full cache closes its least recent statement first, a
// lost statement (26000) empties the cache and starts over once outside a transaction, a
// changed result type (0A000) is forgotten and closed while its error stands, and every
// network fault ends the execute with an error and the connection retired.
#include "protocol/statement_cache.hpp"

#include <gtest/gtest.h>

#include "scripted_io.hpp"

using namespace pgtls;
using namespace pgtls::test;
using protocol::Action;

namespace {

const protocol::RequestOptions kNoTimeout{};

std::string prepared_reply() {
    return msg('1', "") + msg('t', i16(1) + i32(23)) + row_description({{"n", 23}}) + ready();
}
std::string executed_reply(const char* value, char status = 'I') {
    return msg('2', "") + data_row({value}) + command_complete("SELECT 1") + ready(status);
}
std::string failed_reply(const char* sqlstate, char status = 'I') {
    return error_response(sqlstate, "no") + ready(status);
}

struct Call {
    std::vector<Param> params{to_param(7)};
    Result result;
    protocol::ExtendedCall call() { return {nullptr, "SELECT $1::int", params, ResultFormat::text, nullptr, &result}; }
};

Action run(const ScriptedIo& s, TestWire& w, protocol::StatementCache& cache, Call& c, bool may_retry = true) {
    protocol::CachedExecute q(w.wire, cache, c.call(), kNoTimeout, may_retry);
    return s.run(q, w);
}

std::string sqlstate_of(const Action& a) {
    try {
        if (a.error) std::rethrow_exception(a.error);
    } catch (const ServerError& e) {
        return e.sqlstate();
    } catch (...) {
    }
    return "";
}

}  // namespace

TEST(CachedExecute, AMissPreparesThenAHitExecutesAtOnce) {
    TestWire w;
    protocol::StatementCache cache;
    cache.set_capacity(4);
    Call c;
    ScriptedIo miss;
    miss.expect_any_write().feed(prepared_reply()).expect_any_write().feed(executed_reply("7"));
    EXPECT_FALSE(run(miss, w, cache, c).error);
    EXPECT_EQ(c.result[0][0].view(), "7");
    EXPECT_EQ(cache.size(), 1u);
    ScriptedIo hit;
    hit.expect_any_write().feed(executed_reply("8"));
    Call again;
    EXPECT_FALSE(run(hit, w, cache, again).error);
    EXPECT_EQ(again.result[0][0].view(), "8");
}

TEST(CachedExecute, AFullCacheClosesItsLeastRecentStatementFirst) {
    TestWire w;
    protocol::StatementCache cache;
    cache.set_capacity(1);
    cache.add("SELECT 'old'", {}, PreparedStatement{"old_one", {}, {}});
    Call c;
    ScriptedIo s;
    s.expect_write(msg('C', "S" + cstr("old_one")) + msg('S', "")).feed(msg('3', "") + ready());
    s.expect_any_write().feed(prepared_reply()).expect_any_write().feed(executed_reply("7"));
    EXPECT_FALSE(run(s, w, cache, c).error);
    EXPECT_EQ(cache.size(), 1u);
    EXPECT_EQ(cache.find("SELECT 'old'", {}), nullptr);
}

TEST(CachedExecute, ALostStatementEmptiesTheCacheAndStartsOverOnceOutsideATransaction) {
    TestWire w;
    protocol::StatementCache cache;
    cache.set_capacity(4);
    Call c;
    cache.add("SELECT 'other'", {}, PreparedStatement{"other", {}, {}});
    cache.add(c.call().sql, c.params, PreparedStatement{"gone", {23}, {}});
    ScriptedIo s;
    s.expect_any_write().feed(failed_reply("26000"));
    s.expect_any_write().feed(prepared_reply()).expect_any_write().feed(executed_reply("7"));
    EXPECT_FALSE(run(s, w, cache, c).error);
    EXPECT_EQ(c.result[0][0].view(), "7");
    EXPECT_EQ(cache.size(), 1u) << "every statement was forgotten, the new one cached";

    // Twice in a row: the second loss stands (one retry only).
    TestWire w2;
    Call c2;
    ScriptedIo twice;
    twice.expect_any_write().feed(failed_reply("26000"));
    twice.expect_any_write().feed(prepared_reply()).expect_any_write().feed(failed_reply("26000"));
    EXPECT_EQ(sqlstate_of(run(twice, w2, cache, c2)), "26000");
}

TEST(CachedExecute, ALostStatementInsideATransactionIsTheError) {
    TestWire w;
    protocol::StatementCache cache;
    cache.set_capacity(4);
    Call c;
    cache.add(c.call().sql, c.params, PreparedStatement{"gone", {23}, {}});
    ScriptedIo s;
    s.expect_any_write().feed(failed_reply("26000", 'E'));
    const Action end = run(s, w, cache, c);
    EXPECT_EQ(sqlstate_of(end), "26000");
    EXPECT_EQ(end.connection, Action::Connection::kept);
    EXPECT_EQ(cache.size(), 0u);
}

TEST(CachedExecute, AChangedResultTypeIsForgottenAndClosedAndItsErrorStands) {
    TestWire w;
    protocol::StatementCache cache;
    cache.set_capacity(4);
    Call c;
    cache.add(c.call().sql, c.params, PreparedStatement{"reshaped", {23}, {}});
    ScriptedIo s;
    s.expect_any_write().feed(failed_reply("0A000"));
    s.expect_write(msg('C', "S" + cstr("reshaped")) + msg('S', "")).feed(msg('3', "") + ready());
    const Action end = run(s, w, cache, c);
    EXPECT_EQ(sqlstate_of(end), "0A000");
    EXPECT_EQ(end.connection, Action::Connection::kept);
    EXPECT_EQ(cache.size(), 0u);
}

TEST(CachedExecute, EveryNetworkFaultRetiresTheConnection) {
    ScriptedIo s;
    s.expect_any_write().feed(prepared_reply()).expect_any_write().feed(executed_reply("7"));
    std::vector<std::unique_ptr<protocol::StatementCache>> caches;
    std::vector<std::unique_ptr<Call>> calls;
    for_every_fault(
        s,
        [&](TestWire& w) -> std::unique_ptr<protocol::Algorithm> {
            caches.push_back(std::make_unique<protocol::StatementCache>());
            caches.back()->set_capacity(4);
            calls.push_back(std::make_unique<Call>());
            return std::make_unique<protocol::CachedExecute>(w.wire, *caches.back(), calls.back()->call(), kNoTimeout, true);
        },
        [](const FaultRun& r, TestWire&) { EXPECT_EQ(r.end.connection, Action::Connection::retired); });
}

// ---- The cache inside a pipeline (encode_pipelined / settle_pipelined)

namespace {

using Use = protocol::StatementCache::PipelinedUse;

// The message types in `out`, in order ("PBDE" …).
std::string message_types(const std::string& out) {
    std::string types;
    for (std::size_t at = 0; at + 5 <= out.size();) {
        types += out[at];
        const auto len = (std::uint32_t(std::uint8_t(out[at + 1])) << 24) | (std::uint32_t(std::uint8_t(out[at + 2])) << 16) |
                         (std::uint32_t(std::uint8_t(out[at + 3])) << 8) | std::uint32_t(std::uint8_t(out[at + 4]));
        at += 1 + len;
    }
    return types;
}

Result one_column_result() {
    Column n;
    n.name = "n";
    n.type_oid = 23;
    Result r;
    r.set_columns(std::vector<Column>{n});
    r.set_command_tag("SELECT 1");
    return r;
}

ServerError server_error(const char* sqlstate) {
    ServerErrorFields f;
    f.severity = f.severity_nonlocalized = "ERROR";
    f.sqlstate = sqlstate;
    f.message = "no";
    return ServerError(std::move(f));
}

}  // namespace

// A miss sends the Parse of a named statement with the query; the statement is pending (a
// query queued meanwhile uses the unnamed statement) until the query succeeds; then a hit
// is a Bind/Execute of it with the columns the query described.
TEST(PipelinedCache, AMissIsPendingUntilItsQuerySucceedsThenHits) {
    protocol::StatementCache cache;
    cache.set_capacity(4);
    const std::vector<Param> params{to_param(7)};
    std::string out;
    const Use miss = cache.encode_pipelined(out, "SELECT $1::int", params, ResultFormat::text);
    EXPECT_EQ(miss.kind, Use::Kind::miss);
    EXPECT_EQ(message_types(out), "PBDE");
    EXPECT_EQ(cache.size(), 1u);
    EXPECT_EQ(cache.find("SELECT $1::int", params), nullptr) << "pending: not usable yet";

    out.clear();
    const Use meanwhile = cache.encode_pipelined(out, "SELECT $1::int", params, ResultFormat::text);
    EXPECT_EQ(meanwhile.kind, Use::Kind::unnamed);
    EXPECT_EQ(message_types(out), "PBDE");
    EXPECT_EQ(out.find(miss.name), std::string::npos) << "the unnamed statement";

    const Result r = one_column_result();
    EXPECT_TRUE(cache.settle_pipelined(miss, &r, nullptr).empty());
    EXPECT_TRUE(cache.settle_pipelined(meanwhile, &r, nullptr).empty());
    out.clear();
    const Use hit = cache.encode_pipelined(out, "SELECT $1::int", params, ResultFormat::text);
    EXPECT_EQ(hit.kind, Use::Kind::hit);
    EXPECT_EQ(hit.name, miss.name);
    EXPECT_EQ(message_types(out), "BE") << "no Parse, no Describe";
    ASSERT_NE(hit.columns, nullptr);
    ASSERT_EQ(hit.columns->size(), 1u);
    EXPECT_EQ(hit.columns->front().name, "n");
}

// While the statement is pending, a query that asks for a statement of its own parses one
// named next_name() and closes it after its Execute (behind a transaction pooler its Bind
// must not reach another client's unnamed statement); the cache does not keep it.
TEST(PipelinedCache, APendingStatementsQueryParsesAStatementOfItsOwnAndClosesIt) {
    protocol::StatementCache cache;
    cache.set_capacity(4);
    const std::vector<Param> params{to_param(7)};
    std::string out;
    const Use miss = cache.encode_pipelined(out, "SELECT $1::int", params, ResultFormat::text, true);
    EXPECT_EQ(miss.kind, Use::Kind::miss);
    EXPECT_EQ(message_types(out), "PBDE") << "a miss parses the cache's statement, no other";

    out.clear();
    const Use meanwhile = cache.encode_pipelined(out, "SELECT $1::int", params, ResultFormat::text, true);
    EXPECT_EQ(meanwhile.kind, Use::Kind::unnamed);
    EXPECT_EQ(message_types(out), "PBDEC");
    ASSERT_FALSE(meanwhile.name.empty());
    EXPECT_NE(meanwhile.name, miss.name);
    EXPECT_EQ(out.find(miss.name), std::string::npos);
    // Parse, Bind and Close name it: three times.
    std::size_t named = 0;
    for (auto at = out.find(meanwhile.name); at != std::string::npos; at = out.find(meanwhile.name, at + 1)) ++named;
    EXPECT_EQ(named, 3u);
    EXPECT_EQ(cache.size(), 1u);
}

// A miss whose query failed may or may not have been parsed: forgotten, and closed on the
// server (closing a statement that does not exist is no error). The next query prepares anew.
TEST(PipelinedCache, AFailedMissIsForgottenAndClosed) {
    protocol::StatementCache cache;
    cache.set_capacity(4);
    const std::vector<Param> params{to_param(0)};
    std::string out;
    const Use miss = cache.encode_pipelined(out, "SELECT 1 / $1::int", params, ResultFormat::text);
    const ServerError e = server_error("22012");
    EXPECT_EQ(cache.settle_pipelined(miss, nullptr, &e), std::vector<std::string>{miss.name});
    EXPECT_EQ(cache.size(), 0u);
    out.clear();
    const Use again = cache.encode_pipelined(out, "SELECT 1 / $1::int", params, ResultFormat::text);
    EXPECT_EQ(again.kind, Use::Kind::miss);
    EXPECT_NE(again.name, miss.name);
    EXPECT_TRUE(cache.settle_pipelined(again, nullptr, nullptr).empty()) << "the connection failed: nothing to close";
    EXPECT_EQ(cache.size(), 0u);
}

// A full cache closes its least recent statement ahead of the new one's Parse (after the
// Parse, an error would skip the Close); a pending statement evicted before its query
// succeeded is closed then.
TEST(PipelinedCache, EvictionClosesAheadOfTheParse) {
    protocol::StatementCache cache;
    cache.set_capacity(1);
    const std::vector<Param> params{to_param(1)};
    std::string out;
    const Use first = cache.encode_pipelined(out, "SELECT $1::int", params, ResultFormat::text);
    out.clear();
    const Use second = cache.encode_pipelined(out, "SELECT $1::int + 1", params, ResultFormat::text);
    EXPECT_EQ(second.kind, Use::Kind::miss);
    EXPECT_EQ(message_types(out), "CPBDE");
    EXPECT_NE(out.find(first.name), std::string::npos) << "the Close names the evicted statement";
    EXPECT_EQ(cache.size(), 1u);
    const Result r = one_column_result();
    EXPECT_EQ(cache.settle_pipelined(first, &r, nullptr), std::vector<std::string>{first.name})
        << "evicted while pending: the cache does not hold it";
    EXPECT_TRUE(cache.settle_pipelined(second, &r, nullptr).empty());
    EXPECT_NE(cache.find("SELECT $1::int + 1", params), nullptr);
}

// A query that cannot be encoded (a NUL in the SQL) changes nothing: no entry, no eviction.
TEST(PipelinedCache, AQueryThatCannotBeEncodedLeavesTheCacheAlone) {
    protocol::StatementCache cache;
    cache.set_capacity(1);
    const std::vector<Param> params{to_param(1)};
    std::string out;
    const Use first = cache.encode_pipelined(out, "SELECT $1::int", params, ResultFormat::text);
    const Result r = one_column_result();
    cache.settle_pipelined(first, &r, nullptr);
    out.clear();
    EXPECT_THROW(cache.encode_pipelined(out, std::string_view("SELECT\0 1", 9), params, ResultFormat::text), Error);
    EXPECT_EQ(cache.size(), 1u);
    EXPECT_NE(cache.find("SELECT $1::int", params), nullptr) << "not evicted";
}

// A hit whose statement the server lost (26000) empties the cache; one whose result type
// changed (0A000) is forgotten and closed. Either error stands (the queries sent after it
// have already run: starting it over would run it after them).
TEST(PipelinedCache, ALostOrChangedStatementIsForgotten) {
    protocol::StatementCache cache;
    cache.set_capacity(4);
    const std::vector<Param> params{to_param(1)};
    const Result r = one_column_result();
    std::string out;
    for (const char* sql : {"SELECT $1::int", "SELECT $1::int + 1"})
        cache.settle_pipelined(cache.encode_pipelined(out, sql, params, ResultFormat::text), &r, nullptr);
    const Use hit = cache.encode_pipelined(out, "SELECT $1::int", params, ResultFormat::text);
    ASSERT_EQ(hit.kind, Use::Kind::hit);
    const ServerError changed = server_error("0A000");
    EXPECT_EQ(cache.settle_pipelined(hit, nullptr, &changed), std::vector<std::string>{hit.name});
    EXPECT_EQ(cache.find("SELECT $1::int", params), nullptr);
    EXPECT_EQ(cache.size(), 1u);

    const Use other = cache.encode_pipelined(out, "SELECT $1::int + 1", params, ResultFormat::text);
    ASSERT_EQ(other.kind, Use::Kind::hit);
    const ServerError lost = server_error("26000");
    EXPECT_TRUE(cache.settle_pipelined(other, nullptr, &lost).empty());
    EXPECT_EQ(cache.size(), 0u);
}

// DEALLOCATE ALL or DISCARD ALL run as a pipelined query drop every cached statement, and a
// statement prepared in the same pipeline after it is closed when its query succeeds.
TEST(PipelinedCache, DeallocateAllInThePipelineEmptiesTheCache) {
    protocol::StatementCache cache;
    cache.set_capacity(4);
    const std::vector<Param> params{to_param(1)};
    const std::vector<Param> none;
    const Result r = one_column_result();
    std::string out;
    cache.settle_pipelined(cache.encode_pipelined(out, "SELECT $1::int", params, ResultFormat::text), &r, nullptr);
    const Use dealloc = cache.encode_pipelined(out, "DEALLOCATE ALL", none, ResultFormat::text);
    const Use later = cache.encode_pipelined(out, "SELECT $1::int + 1", params, ResultFormat::text);
    Result tag;
    tag.set_command_tag("DEALLOCATE ALL");
    EXPECT_EQ(cache.settle_pipelined(dealloc, &tag, nullptr), std::vector<std::string>{dealloc.name});
    EXPECT_EQ(cache.size(), 0u);
    EXPECT_EQ(cache.settle_pipelined(later, &r, nullptr), std::vector<std::string>{later.name});
    EXPECT_EQ(cache.size(), 0u);
}
