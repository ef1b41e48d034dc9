// The encoders' protocol limits, tested on sizes rather than on allocations: a message longer
// than the server accepts (1 GiB - 2 bytes, its length field included) or with more than
// 65,535 parameters is Error(usage) before a byte is written, so nothing wrapped or partial
// can reach the wire (a length wrapped at 2^32 would make the rest of the message be read as
// further, attacker-chosen messages).
#include <gtest/gtest.h>

#include <sys/mman.h>

#include <string>
#include <vector>

#include "protocol/frontend.hpp"
#include "pgtls/error.hpp"
#include "tests/support/env/expect_error.hpp"

using namespace pgtls;
using pgtls::test::expect_usage;

namespace {

// A read-only mapping of `size` zero bytes that no page of memory backs until read: a real
// string_view over more than 4 GiB that a refused message never touches.
struct ZeroPages {
    explicit ZeroPages(std::size_t n) : size(n) {
        data = ::mmap(nullptr, n, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    }
    ~ZeroPages() {
        if (data != MAP_FAILED) ::munmap(data, size);
    }
    std::string_view view(std::size_t n) const { return {static_cast<const char*>(data), n}; }
    void* data;
    std::size_t size;
};

}  // namespace

TEST(FrontendLimits, TheLimitIsTheServersLargestMessage) {
    // PostgreSQL's PQ_LARGE_MESSAGE_LIMIT: MaxAllocSize (0x3fffffff) - 1, length field included.
    EXPECT_EQ(protocol::max_message_length, 0x3ffffffeu);
    EXPECT_NO_THROW(protocol::check_message_length("Query", protocol::max_message_length - 4));
    expect_usage([] { protocol::check_message_length("Query", protocol::max_message_length - 3); },
                 "Query message of 1073741823 bytes exceeds the protocol's limit of 1073741822 bytes");
    // Sizes that a 32-bit length would wrap to something small are refused, not wrapped.
    for (std::uint64_t body : {std::uint64_t{1} << 32, (std::uint64_t{1} << 32) + 10, std::uint64_t{0xffffffff} - 3})
        expect_usage([body] { protocol::check_message_length("Bind", body); }, "exceeds the protocol's limit");
    EXPECT_NO_THROW(protocol::check_parameter_count(65535));
    expect_usage([] { protocol::check_parameter_count(65536); }, "query has 65536 parameters; the protocol allows at most 65535");
}

TEST(FrontendLimits, BindWhoseValuesSumOverTheLimitIsRefusedBeforeWriting) {
    // Claimed sizes only: a refused Bind never reads its values.
    const char byte = 'x';
    const std::vector<std::vector<std::int32_t>> cases = {
        {0x3ffffff0, 0x10},            // just over the limit
        {0x20000000, 0x20000000},      // two values of 512 MiB
        {0x7fffffff, 0x7fffffff, 0x7fffffff},  // over 4 GiB in all: a 32-bit sum would wrap
    };
    for (const auto& sizes : cases) {
        std::vector<protocol::BindParam> params;
        for (std::int32_t n : sizes) params.push_back({&byte, n, 0});
        std::string out = "prefix";
        expect_usage([&] { protocol::bind(out, "", "", params, {}); }, "Bind message of");
        EXPECT_EQ(out, "prefix");
    }
    // A value of a negative size is not a length either.
    protocol::BindParam bad{&byte, -2, 0};
    std::string out;
    expect_usage([&] { protocol::bind(out, "", "", std::span(&bad, 1), {}); }, "Bind message of");
    EXPECT_TRUE(out.empty());
}

TEST(FrontendLimits, MoreThan65535ParametersAreRefusedBeforeWriting) {
    std::vector<protocol::BindParam> bind_params(65536);
    std::vector<std::uint32_t> types(65536, 25);
    std::vector<Param> params(65536, Param{std::string("x"), 25, 0});
    std::string out = "prefix";
    expect_usage([&] { protocol::bind(out, "", "", bind_params, {}); }, "65536 parameters");
    expect_usage([&] { protocol::parse(out, "", "SELECT 1", types); }, "65536 parameters");
    protocol::ExtendedQuery q;
    q.sql = "SELECT $1";
    q.params = params;
    expect_usage([&] { protocol::extended_query(out, q); }, "65536 parameters");
    q.parse = false;
    q.statement = "s";
    expect_usage([&] { protocol::extended_query(out, q); }, "65536 parameters");
    EXPECT_EQ(out, "prefix");

    // 65,535 is the protocol's own maximum: encoded, with the count 0xffff.
    q.parse = true;
    q.statement = {};
    q.params = std::span(params).first(65535);
    protocol::extended_query(out, q);
    const std::size_t count_at = 6 + 5 + 1 + q.sql.size() + 1;  // "prefix", 'P' + length, statement, sql
    EXPECT_EQ(out.substr(count_at, 2), std::string("\xff\xff", 2));
}

TEST(FrontendLimits, QueryOverTheLimitIsRefusedBeforeWriting) {
    ZeroPages pages((std::size_t{1} << 32) + 4096);
    ASSERT_NE(pages.data, MAP_FAILED);
    for (std::size_t n : {std::size_t{0x3ffffffe} - 3, (std::size_t{1} << 32) - 2, (std::size_t{1} << 32) + 100}) {
        std::string out = "prefix";
        expect_usage([&] { protocol::query(out, pages.view(n)); }, "Query message of");
        expect_usage([&] { protocol::query_header(out, pages.view(n)); }, "Query message of");
        expect_usage([&] { protocol::parse(out, "", pages.view(n), {}); }, "Parse message of");
        expect_usage([&] { protocol::copy_data(out, pages.view(n)); }, "CopyData message of");
        expect_usage([&] { protocol::copy_fail(out, pages.view(n)); }, "CopyFail message of");
        expect_usage([&] { protocol::close(out, 'S', pages.view(n)); }, "Close message of");
        expect_usage([&] { protocol::describe(out, 'S', pages.view(n)); }, "Describe message of");
        protocol::ExtendedQuery q;
        q.sql = pages.view(n);
        expect_usage([&] { protocol::extended_query(out, q); }, "Parse message of");
        EXPECT_EQ(out, "prefix");
    }
}

TEST(FrontendLimits, StartupMessageOverTheServersLimitIsRefusedBeforeWriting) {
    // Body: version (4), "user\0u\0" (7), "application_name\0" (17), the value and its NUL, the final NUL.
    const std::uint64_t fixed = 4 + 7 + 17 + 1 + 1;
    std::vector<std::pair<std::string, std::string>> params = {
        {"user", "u"}, {"application_name", std::string(protocol::max_startup_length - fixed, 'a')}};
    std::string out;
    protocol::startup_message(out, params);
    EXPECT_EQ(out.size(), protocol::max_startup_length + 4);
    params[1].second += 'a';
    out = "prefix";
    expect_usage([&] { protocol::startup_message(out, params); },
                 "StartupMessage of 10005 bytes exceeds the server's limit of 10004 bytes");
    EXPECT_EQ(out, "prefix");
}
