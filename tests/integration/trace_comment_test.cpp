// Config::trace_context (the sqlcommenter-style traceparent comment) on every backend with
// both drivers: what the server sees (current_query()), that a malformed or hostile value is
// never sent, that a throwing callback changes nothing, and that the statement cache's named
// statements stay uncommented and are not prepared again per trace.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>

#include "client/trace_comment.hpp"
#include "tests/integration/integration_fixture.hpp"

namespace pgtls::test {
namespace {

const std::string kParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const std::string kOther = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";

TEST(TraceParent, OnlyTheW3cFormIsValid) {
    using trace::valid_traceparent;
    EXPECT_TRUE(valid_traceparent(kParent));
    EXPECT_TRUE(valid_traceparent(kOther));
    EXPECT_FALSE(valid_traceparent(""));
    EXPECT_FALSE(valid_traceparent(kParent + " "));
    EXPECT_FALSE(valid_traceparent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"));  // upper case
    EXPECT_FALSE(valid_traceparent("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));  // version ff
    EXPECT_FALSE(valid_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01"));  // zero trace id
    EXPECT_FALSE(valid_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"));  // zero parent id
    EXPECT_FALSE(valid_traceparent("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    // Same length, a comment terminator and a quote inside: never valid.
    std::string hostile = kParent;
    hostile.replace(10, 6, "*/'; -");
    ASSERT_EQ(hostile.size(), kParent.size());
    EXPECT_FALSE(valid_traceparent(hostile));
}

TEST(TraceParent, TheCommentIsAPrefixOnlyForAValidValue) {
    Settings s;
    EXPECT_EQ(trace::with_trace_context(s, "SELECT 1"), "") << "no callback: the statement as it is";
    s.trace_context = [] { return kParent; };
    EXPECT_EQ(trace::with_trace_context(s, "SELECT 1"), "/* traceparent='" + kParent + "' */ SELECT 1");
    s.trace_context = [] { return std::string("00-x*/ DROP TABLE t; --"); };
    EXPECT_EQ(trace::with_trace_context(s, "SELECT 1"), "");
    s.trace_context = []() -> std::string { throw std::runtime_error("no context"); };
    EXPECT_EQ(trace::with_trace_context(s, "SELECT 1"), "");
}

class TraceComment : public BackendTest {
protected:
    Config commented() {
        Config c = pg18_verified();
        c.trace_context = [this] {
            ++calls;
            if (throws) throw std::runtime_error("tracing backend down");
            return context;
        };
        return c;
    }
    std::string context = kParent;
    bool throws = false;
    std::atomic<int> calls{0};
};

TEST_P(TraceComment, SimpleQueriesCarryTheTraceparentTheServerSees) {
    auto c = open(commented());
    EXPECT_EQ(c.query("SELECT current_query()")[0][0].as<std::string>(),
              "/* traceparent='" + kParent + "' */ SELECT current_query()");
    context = kOther;
    EXPECT_EQ(c.query("SELECT current_query()")[0][0].as<std::string>(),
              "/* traceparent='" + kOther + "' */ SELECT current_query()");
    context.clear();  // no current trace: no comment
    EXPECT_EQ(c.query("SELECT current_query()")[0][0].as<std::string>(), "SELECT current_query()");
    EXPECT_GE(calls.load(), 3);
}

TEST_P(TraceComment, AMalformedOrHostileValueIsNeverSent) {
    Client admin(pg18_verified());
    const std::string table = "trace_comment_" + GetParam();
    admin.query("DROP TABLE IF EXISTS " + table);
    admin.query("CREATE TABLE " + table + " (x int)");
    auto c = open(commented());
    // Closing the comment early would run the DROP.
    context = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' */ DROP TABLE " + table + "; /*";
    EXPECT_EQ(c.query("SELECT current_query()")[0][0].as<std::string>(), "SELECT current_query()");
    context = "*/ DROP TABLE " + table + " --";
    EXPECT_EQ(c.query("SELECT current_query()")[0][0].as<std::string>(), "SELECT current_query()");
    EXPECT_EQ(admin.query("SELECT count(*) FROM " + table)[0][0].as<int>(), 0) << "the table survived";
    throws = true;
    EXPECT_EQ(c.query("SELECT current_query()")[0][0].as<std::string>(), "SELECT current_query()");
    admin.query("DROP TABLE " + table);
}

// The extended protocol (either driver): the unnamed statement carries the comment; with the
// statement cache on, the named statement is Parsed once without it and reused whatever the
// trace, so the cache never grows per trace id.
TEST_P(TraceComment, OnlyTheUnnamedStatementCarriesItNeverACachedOne) {
    auto c = open(commented());
    EXPECT_EQ(c.exec("SELECT current_query(), $1::int", 7)[0][0].as<std::string>(),
              "/* traceparent='" + kParent + "' */ SELECT current_query(), $1::int");
    c.set_statement_cache_capacity(8);
    for (const std::string& id : {kParent, kOther, kParent}) {
        context = id;
        EXPECT_EQ(c.exec("SELECT current_query(), $1::int", 7)[0][0].as<std::string>(),
                  "SELECT current_query(), $1::int");
    }
    EXPECT_EQ(c.query("SELECT count(*) FROM pg_prepared_statements")[0][0].as<int>(), 1)
        << "prepared once, not once per trace id";
}

// execute() on either driver: its unnamed statement carries the comment (the async driver's
// too, also when execute()s queued back to back go out as one implicit pipeline); a named
// prepared statement never does.
TEST_P(TraceComment, ExecutesUnnamedStatementCarriesItOnEveryDriver) {
    auto c = open(commented());
    EXPECT_EQ(c.exec("SELECT current_query(), $1::int", 7)[0][0].as<std::string>(),
              "/* traceparent='" + kParent + "' */ SELECT current_query(), $1::int");
    context = kOther;
    if (AsyncConnection* a = c.async()) {
        Result first;
        bool first_done = false;
        a->execute("SELECT current_query(), 1", {}, [&](std::exception_ptr e, Result r) {
            EXPECT_FALSE(e);
            first = std::move(r);
            first_done = true;
        });
        // Queued behind the first: the two may go out together.
        EXPECT_EQ(c.exec("SELECT current_query(), $1::int", 2)[0][0].as<std::string>(),
                  "/* traceparent='" + kOther + "' */ SELECT current_query(), $1::int");
        ASSERT_TRUE(first_done);
        EXPECT_EQ(first[0][0].as<std::string>(), "/* traceparent='" + kOther + "' */ SELECT current_query(), 1");
    }
    context.clear();
    EXPECT_EQ(c.exec("SELECT current_query(), $1::int", 7)[0][0].as<std::string>(), "SELECT current_query(), $1::int");
    context = kParent;
    const PreparedStatement ps = c.prepare("traced", "SELECT current_query(), $1::int");
    EXPECT_EQ(c.execute(ps, Params{to_param(7)})[0][0].as<std::string>(), "SELECT current_query(), $1::int");
}

PGTLS_INSTANTIATE_PER_BACKEND_AND_DRIVER(TraceComment);

}  // namespace
}  // namespace pgtls::test
