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
