#include "protocol/query_flow.hpp"

#include <gtest/gtest.h>

#include "scripted_bytes.hpp"

using namespace pgtls;
using namespace pgtls::test;

namespace {

// Feeds a scripted stream; returns true if ReadyForQuery ended the flow.
bool drive(protocol::QueryFlow& f, const std::string& stream) {
    protocol::MessageReader r;
    r.feed(bytes(stream));
    while (auto m = r.next())
        if (f.on_message(*m)) return true;
    return false;
}

}  // namespace

TEST(QueryFlow, SeveralStatementsGiveSeveralResults) {
    protocol::SessionState s;
    protocol::QueryFlow f(protocol::QueryFlow::Kind::simple, s);
    ASSERT_TRUE(drive(f, row_description({{"a", 23}}) + data_row({"1"}) + data_row({"2"}) + command_complete("SELECT 2") +
                             command_complete("CREATE TABLE") + ready('T')));
    ASSERT_EQ(f.results().size(), 2u);
    EXPECT_EQ(f.results()[0].size(), 2u);
    EXPECT_EQ(f.results()[0][1][0].as<int>(), 2);
    EXPECT_EQ(f.results()[1].command_tag(), "CREATE TABLE");
    EXPECT_EQ(s.transaction_status, TransactionStatus::in_transaction);
    EXPECT_FALSE(f.error());
}

TEST(QueryFlow, EmptyQuery) {
    protocol::SessionState s;
    protocol::QueryFlow f(protocol::QueryFlow::Kind::simple, s);
    ASSERT_TRUE(drive(f, msg('I', "") + ready()));
    ASSERT_EQ(f.results().size(), 1u);
    EXPECT_TRUE(f.results()[0].is_empty_query());
}

TEST(QueryFlow, ErrorIsKeptUntilReadyForQuery) {
    protocol::SessionState s;
    protocol::QueryFlow f(protocol::QueryFlow::Kind::simple, s);
    ASSERT_TRUE(drive(f, error_response("42P01", "relation \"x\" does not exist") + ready('E')));
    ASSERT_TRUE(f.error());
    EXPECT_EQ(f.error()->sqlstate(), "42P01");
    EXPECT_EQ(s.transaction_status, TransactionStatus::failed);
}

TEST(QueryFlow, DataRowWithoutRowDescriptionIsAProtocolError) {
    protocol::SessionState s;
    protocol::QueryFlow f(protocol::QueryFlow::Kind::simple, s);
    EXPECT_THROW(drive(f, data_row({"1"})), Error);
}

TEST(QueryFlow, DataRowWithWrongFieldCount) {
    protocol::SessionState s;
    protocol::QueryFlow f(protocol::QueryFlow::Kind::simple, s);
    try {
        drive(f, row_description({{"a", 23}, {"b", 23}}) + data_row({"1"}));
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::protocol);
    }
}

TEST(QueryFlow, DataRowFieldLongerThanMessage) {
    protocol::SessionState s;
    protocol::QueryFlow f(protocol::QueryFlow::Kind::simple, s);
    const std::string bad = msg('D', i16(1) + i32(100) + "abc");
    EXPECT_THROW(drive(f, row_description({{"a", 25}}) + bad), Error);
}

TEST(QueryFlow, ExtendedOnlyMessagesAreRejectedInSimpleQuery) {
    protocol::SessionState s;
    protocol::QueryFlow f(protocol::QueryFlow::Kind::simple, s);
    EXPECT_THROW(drive(f, msg('1', "")), Error);
}

TEST(QueryFlow, ExtendedQuerySequence) {
    protocol::SessionState s;
    protocol::QueryFlow f(protocol::QueryFlow::Kind::extended, s);
    ASSERT_TRUE(drive(f, msg('1', "") + msg('2', "") + row_description({{"x", 25}}) + data_row({nullptr}) +
                             command_complete("SELECT 1") + ready()));
    ASSERT_EQ(f.results().size(), 1u);
    EXPECT_TRUE(f.results()[0][0][0].is_null());
    EXPECT_EQ(f.results()[0][0][0].as<std::optional<std::string>>(), std::nullopt);
}

// A single target (an extended query's) is where the first result is built; what it held
// before is dropped, and a later result replaces the first one entirely.
TEST(QueryFlow, SingleTargetHoldsOnlyTheLastResult) {
    protocol::SessionState s;
    Result target;
    {
        protocol::QueryFlow earlier(protocol::QueryFlow::Kind::extended, s);
        earlier.set_single_target(&target);
        ASSERT_TRUE(drive(earlier, row_description({{"old", 25}}) + data_row({"stale"}) + command_complete("SELECT 1") +
                                       ready()));
        ASSERT_EQ(target.size(), 1u);
    }
    protocol::QueryFlow f(protocol::QueryFlow::Kind::extended, s);
    f.set_single_target(&target);
    EXPECT_EQ(target.size(), 0u);
    EXPECT_EQ(target.columns(), 0u);
    EXPECT_EQ(target.command_tag(), "");
    ASSERT_TRUE(drive(f, msg('1', "") + msg('2', "") + row_description({{"a", 23}}) + data_row({"1"}) + data_row({"2"}) +
                             command_complete("SELECT 2") + row_description({{"b", 23}}) + data_row({"3"}) + command_complete("SELECT 1") +
                             ready()));
    EXPECT_EQ(f.single_count(), 2u);
    EXPECT_TRUE(f.results().empty());
    ASSERT_EQ(target.size(), 1u);
    ASSERT_EQ(target.columns(), 1u);
    EXPECT_EQ(target.column_info()[0].name, "b");
    EXPECT_EQ(target[0][0].as<int>(), 3);
    EXPECT_EQ(target.command_tag(), "SELECT 1");
}

// An ErrorResponse drops the rows of the result being built in the target.
TEST(QueryFlow, SingleTargetKeepsNoRowsOfAFailedStatement) {
    protocol::SessionState s;
    Result target;
    protocol::QueryFlow f(protocol::QueryFlow::Kind::extended, s);
    f.set_single_target(&target);
    ASSERT_TRUE(drive(f, msg('1', "") + msg('2', "") + row_description({{"a", 23}}) + data_row({"1"}) +
                             error_response("22012", "division by zero") + ready()));
    ASSERT_TRUE(f.error());
    EXPECT_EQ(f.single_count(), 0u);
    EXPECT_EQ(target.size(), 0u);
    EXPECT_EQ(target.columns(), 0u);
}

TEST(QueryFlow, AsyncMessagesDuringAQueryAreKept) {
    protocol::SessionState s;
    protocol::QueryFlow f(protocol::QueryFlow::Kind::simple, s);
    const std::string notify = msg('A', i32(77) + cstr("chan") + cstr("payload"));
    ASSERT_TRUE(drive(f, notify + param_status("TimeZone", "UTC") + command_complete("LISTEN") + ready()));
    ASSERT_EQ(s.notifications.size(), 1u);
    EXPECT_EQ(s.notifications.front().channel, "chan");
    EXPECT_EQ(s.parameters.at("TimeZone"), "UTC");
}
