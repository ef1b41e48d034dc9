// What the client refuses to send, against real servers on every backend: a message longer
// than the server accepts (1 GiB - 2 bytes) or with more than 65,535 parameters is
// Error(usage) before a byte goes out, and the connection stays usable. (The encoders' size
// arithmetic, up to lengths over 4 GiB, is tested in tests/protocol/frontend_limits_test.cpp.)
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "integration_fixture.hpp"
#include "tests/support/env/expect_error.hpp"
#include "tests/support/env/sanitizers.hpp"

namespace pgtls::test {
namespace {

class Limits : public BackendTest {
protected:
    Client open() const {
        return connect(env().conninfo(env().server("pg18"), "scramuser") +
                       (has_tls() ? " sslmode=require" : " sslmode=disable"));
    }
};

// A statement of ordinary text one byte longer than the server's limit (1 GiB): refused by
// the simple and the extended protocol and by a pipeline, and the next query works.
TEST_P(Limits, StatementOverTheServersLimitIsRefusedAndTheConnectionStaysUsable) {
    // Under TSan every byte of the 1 GiB string costs shadow-memory page faults (minutes with
    // the other suites running); this case has no threads for TSan to check.
    if (built_with_tsan()) GTEST_SKIP() << "a 1 GiB statement is not what TSan is for";
    auto c = open();
    // Query body = sql + NUL; length field = body + 4 = 0x3fffffff, one over the limit. Made
    // once for every backend.
    static const std::string sql = [] {
        const std::string head = "SELECT length('", tail = "')";
        return head + std::string(0x3ffffffe - 4 - head.size() - tail.size(), 'x') + tail;
    }();
    expect_usage([&] { c.query(sql); }, "Query message of 1073741823 bytes exceeds the protocol's limit");
    EXPECT_TRUE(c.is_healthy());
    EXPECT_EQ(c.query("SELECT 1")[0][0].as<int>(), 1);

    expect_usage([&] { c.execute(sql); }, "Parse message of");
    EXPECT_EQ(c.exec("SELECT $1::int", 2)[0][0].as<int>(), 2);

    Pipeline p(c);
    p.add_exec("SELECT $1::int", 3);
    expect_usage([&] { p.add(sql); }, "Parse message of");
    p.add_exec("SELECT $1::int", 4);
    auto rs = p.run();
    ASSERT_EQ(rs.size(), 2u);
    EXPECT_EQ(rs[0].result[0][0].as<int>(), 3);
    EXPECT_EQ(rs[1].result[0][0].as<int>(), 4);
    EXPECT_EQ(c.transaction_status(), TransactionStatus::idle);
}

// The parameter count is an Int16 on the wire: 65,536 would be sent as 0 followed by 65,536
// values the server reads as other fields.
TEST_P(Limits, MoreThan65535ParametersAreRefusedAndTheConnectionStaysUsable) {
    auto c = open();
    std::vector<Param> params(65536, Param{std::string("x"), 25, 0});
    expect_usage([&] { c.execute("SELECT $1::text", params); }, "query has 65536 parameters; the protocol allows at most 65535");
    EXPECT_TRUE(c.is_healthy());
    params.pop_back();
    // 65,535 is the protocol's maximum: the server takes it (every parameter typed text).
    EXPECT_EQ(c.execute("SELECT $65535::text", params)[0][0].view(), "x");
    c.set_statement_cache_capacity(4);
    params.push_back(Param{std::string("y"), 25, 0});
    expect_usage([&] { c.execute("SELECT $1::text", params); }, "65536 parameters");
    EXPECT_EQ(c.query("SELECT 5")[0][0].as<int>(), 5);
}

// The memory caps are connection keywords (so the pool and the CLI take them from a string):
// a buffered result over one is an error naming it; streaming and COPY are not capped.
TEST_P(Limits, MemoryCapsAreConnectionKeywordsAndSpareStreamingAndCopy) {
    const std::string caps = " max_result_rows=3 max_result_bytes=100000";
    {
        auto c = connect(env().conninfo(env().server("pg18"), "scramuser") +
                         (has_tls() ? " sslmode=require" : " sslmode=disable") + caps);
        EXPECT_EQ(c.settings().max_result_rows, 3u);
        EXPECT_EQ(c.query("SELECT generate_series(1, 3)").size(), 3u);
        expect_error_kind(ErrorKind::protocol, [&] { c.query("SELECT generate_series(1, 4)"); }, "max_result_rows=3");
        EXPECT_FALSE(c.is_healthy());
    }
    auto c = connect(env().conninfo(env().server("pg18"), "scramuser") +
                     (has_tls() ? " sslmode=require" : " sslmode=disable") + caps);
    std::uint64_t streamed = 0;
    EXPECT_EQ(c.stream("SELECT repeat('x', 1000) FROM generate_series(1, 10000)", {},
                       [&](const Row&) { ++streamed; }),
              10000u);
    EXPECT_EQ(streamed, 10000u);
    std::size_t copied = 0;
    EXPECT_EQ(c.copy_out("COPY (SELECT repeat('x', 1000) FROM generate_series(1, 10000)) TO STDOUT",
                         [&](std::string_view d) { copied += d.size(); }),
              10000u);
    EXPECT_EQ(copied, 10000u * 1001);
    EXPECT_EQ(c.query("SELECT 1")[0][0].as<int>(), 1);
}

PGTLS_INSTANTIATE_PER_BACKEND(Limits);

}  // namespace
}  // namespace pgtls::test
