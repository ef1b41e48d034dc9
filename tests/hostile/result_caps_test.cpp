// The caps on what a server's replies make a connection hold (Settings::max_result_bytes,
// max_result_rows, max_result_sets, max_notifications + notification_overflow,
// max_parameter_status): past one, Error(protocol) naming it; streaming and COPY hold nothing
// and stay unlimited.
#include <gtest/gtest.h>

#include <sys/socket.h>

#include <chrono>
#include <string>

#include "pgtls/client.hpp"
#include "tests/protocol/scripted_bytes.hpp"
#include "tests/support/env/process_counts.hpp"
#include "tests/support/env/sanitizers.hpp"
#include "tests/hostile/hostile_target.hpp"
#include "tests/support/fake/fake_server.hpp"

using namespace pgtls;
using namespace pgtls::test;

namespace {

Settings settings_for(const HostileTarget& t) { return t.settings(); }

// Logs in, then answers every query (simple or extended: up to Sync) with `reply`.
FakeServer::Script answer_each_query_with(std::string reply) {
    return [reply](FakeConnection& c) {
        if (c.read_startup_packet() != 196608) return;
        c.send(auth_ok() + key_data(1, 2) + ready());
        while (char t = c.read_message()) {
            if (t == 'Q' || t == 'S') c.send(reply);
        }
    };
}

std::string rows(int n, std::size_t bytes_each = 1) {
    std::string out = row_description({{"a", 25}});
    const std::string v(bytes_each, 'v');
    for (int i = 0; i < n; ++i) out += data_row({v.c_str()});
    return out + command_complete("SELECT " + std::to_string(n));
}

std::string notification(int i) { return msg('A', i32(7) + cstr("ch") + cstr("payload " + std::to_string(i))); }

void expect_cap(const std::function<void()>& f, const std::string& cap) {
    try {
        f();
        ADD_FAILURE() << "no error naming " << cap;
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::protocol) << e.what();
        EXPECT_NE(std::string(e.what()).find(cap), std::string::npos) << e.what();
    }
}

}  // namespace

class ResultCaps : public PerTransport {};

// 5 bytes on the wire per EmptyQueryResponse became a whole Result each (50 MB -> 2.8 GiB).
TEST_P(ResultCaps, EmptyQueryResponsesStopAtMaxResultSets) {
    std::string flood;
    for (int i = 0; i < 200'000; ++i) flood += msg('I', "");
    auto server = target(answer_each_query_with(flood + ready()));
    {
        Client client(settings_for(server));  // the default cap: 100,000
        ASSERT_TRUE(reset_peak_rss());
        const long before = peak_rss_kib();
        expect_cap([&] { client.query_all(";"); }, "max_result_sets=100000");
        const long grew = peak_rss_kib() - before;
        if (!built_with_tsan()) {
            EXPECT_LT(grew, 96 * 1024) << "peak RSS grew by " << grew << " KiB";
        }
        EXPECT_FALSE(client.is_healthy());
    }
    auto small = target(answer_each_query_with(msg('I', "") + msg('I', "") + msg('I', "") + ready()));
    auto st = settings_for(small);
    st.max_result_sets = 3;
    EXPECT_EQ(Client(st).query_all(";;").size(), 3u);
    st.max_result_sets = 2;
    Client client(st);
    expect_cap([&] { client.query_all(";;"); }, "max_result_sets=2");
}

TEST_P(ResultCaps, RowsAndBytesStopAtTheirCapsButStreamingDoesNot) {
    auto server = target(answer_each_query_with(rows(6, 1000) + ready()));
    auto st = settings_for(server);
    st.max_result_rows = 5;
    {
        Client client(st);
        expect_cap([&] { client.query("SELECT"); }, "max_result_rows=5");
    }
    st.max_result_rows = 6;
    EXPECT_EQ(Client(st).query("SELECT").size(), 6u);
    st.max_result_bytes = 5000;
    {
        Client client(st);
        expect_cap([&] { client.execute("SELECT"); }, "max_result_bytes=5000");
    }
    {
        Client client(st);
        Pipeline p(client);
        p.add("SELECT");
        expect_cap([&] { p.run(); }, "max_result_bytes=5000");
    }
    st.max_result_rows = 1;
    st.max_result_bytes = 1;
    Client client(st);
    int streamed = 0;
    EXPECT_EQ(client.stream("SELECT", {}, [&](const Row&) { ++streamed; }), 6u);
    EXPECT_EQ(streamed, 6);
}

TEST_P(ResultCaps, CopyOutIsNotCapped) {
    std::string copy = msg('H', std::string(1, '\0') + i16(0));
    for (int i = 0; i < 1000; ++i) copy += msg('d', std::string(100, 'c'));
    auto server = target(answer_each_query_with(copy + msg('c', "") + command_complete("COPY 1000") + ready()));
    auto st = settings_for(server);
    st.max_result_rows = 1;
    st.max_result_bytes = 1;
    st.max_result_sets = 1;
    Client client(st);
    std::size_t bytes = 0;
    EXPECT_EQ(client.copy_out("COPY t TO STDOUT", [&](std::string_view d) { bytes += d.size(); }), 1000u);
    EXPECT_EQ(bytes, 100'000u);
}

TEST_P(ResultCaps, NotificationsStopAtMaxNotificationsOrDropTheOldest) {
    std::string five;
    for (int i = 0; i < 5; ++i) five += notification(i);
    auto server = target(answer_each_query_with(five + rows(1) + ready()));
    auto st = settings_for(server);
    st.max_notifications = 3;
    {
        Client client(st);
        expect_cap([&] { client.query("SELECT"); }, "max_notifications=3");
    }
    st.notification_overflow = NotificationOverflow::drop_oldest;
    Client client(st);
    client.query("SELECT");
    const auto n = client.take_notifications();
    ASSERT_EQ(n.size(), 3u);
    EXPECT_EQ(n.front().payload, "payload 2");
    EXPECT_EQ(n.back().payload, "payload 4");
}

TEST_P(ResultCaps, DistinctParameterStatusNamesStopAtMaxParameterStatus) {
    std::string many;
    for (int i = 0; i < 30; ++i) many += param_status("p" + std::to_string(i), "v");
    auto server = target(answer_each_query_with(many + param_status("p0", "again") + rows(1) + ready()));
    auto st = settings_for(server);
    st.max_parameter_status = 30;  // a name seen again is no new entry
    {
        Client client(st);
        client.query("SELECT");
        EXPECT_EQ(client.parameter_status("p0"), "again");
    }
    st.max_parameter_status = 29;
    Client client(st);
    expect_cap([&] { client.query("SELECT"); }, "max_parameter_status=29");
}

// While a large pipeline is still being written the client reads what the server sends (so
// neither side blocks on a full socket); those bytes are parsed as they come, within the same
// caps, not buffered: a server that floods instead of reading cannot grow the client.
TEST_P(ResultCaps, APipelineParsesWhatArrivesWhileItIsWritten) {
    auto server = target([](FakeConnection& c) {
        if (c.read_startup_packet() != 196608) return;
        c.send(auth_ok() + key_data(1, 2) + ready());
        std::string first;
        if (!c.read_exact(first, 1)) return;  // the pipeline has started: flood, never read
        std::string notices;
        for (int i = 0; i < 1000; ++i) notices += msg('N', "SNOTICE" + std::string(1, '\0') + "M" + cstr(std::string(1000, 'n')) + '\0');
        for (int i = 0; i < 512; ++i) c.send(notices);  // ~512 MiB, until the client hangs up
    });
    auto st = settings_for(server);
    Client client(st);
    std::size_t notices = 0;
    client.set_notice_handler([&](const Notice&) { ++notices; });
    // Long enough for the flood to reach the client through the TLS front even under a sanitizer.
    client.set_query_timeout(std::chrono::milliseconds(1500) * sanitizer_slowdown());
    Pipeline p(client);
    const std::string value(1 << 20, 'p');
    for (int i = 0; i < 32; ++i) p.add("SELECT $1", {Param{value, 25, 0}});  // 32 MiB to write
    ASSERT_TRUE(reset_peak_rss());
    const long before = peak_rss_kib();
    try {
        p.run();
        ADD_FAILURE() << "the pipeline completed";
    } catch (const Error& e) {
        // The query timeout, or the server hanging up after its flood: either way, no hang.
        EXPECT_TRUE(e.kind() == ErrorKind::timeout || e.kind() == ErrorKind::connection) << e.what();
    }
    const long grew = peak_rss_kib() - before;
    // TSan's shadow memory counts every page touched; ASan's quarantine keeps each freed
    // notice resident (up to 256 MiB), so the bound holds only for malloc's own accounting.
    if (!built_with_tsan() && !built_with_asan()) {
        // Unbounded buffering grew it by 512 MiB; 128 MiB leaves room for the process's own
        // allocations around the case (one run measured exactly 64 MiB).
        EXPECT_LT(grew, 128 * 1024) << "peak RSS grew by " << grew << " KiB (" << notices << " notices handled)";
    }
    EXPECT_GT(notices, 0u);
}

// A server that floods while the client is still writing and never stops: the draining
// read loop must give way to the query timeout (it used to read for as long as bytes kept
// coming; the server here gives up after 30 s).
TEST_P(ResultCaps, AFloodThatNeverStopsEndsAtTheQueryTimeout) {
    auto server = target([](FakeConnection& c) {
        if (c.read_startup_packet() != 196608) return;
        c.send(auth_ok() + key_data(1, 2) + ready());
        std::string first;
        if (!c.read_exact(first, 1)) return;
        std::string notices;
        for (int i = 0; i < 1000; ++i) notices += msg('N', "SNOTICE" + std::string(1, '\0') + "M" + cstr(std::string(1000, 'n')) + '\0');
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (std::chrono::steady_clock::now() < until)
            if (::send(c.fd(), notices.data(), notices.size(), MSG_NOSIGNAL) < 0) break;  // the client left
    });
    Client client(settings_for(server));
    client.set_notice_handler([](const Notice&) {});
    const auto timeout = std::chrono::milliseconds(300) * sanitizer_slowdown();
    client.set_query_timeout(timeout);
    Pipeline p(client);
    const std::string value(1 << 20, 'p');
    for (int i = 0; i < 32; ++i) p.add("SELECT $1", {Param{value, 25, 0}});
    const auto t0 = std::chrono::steady_clock::now();
    try {
        p.run();
        ADD_FAILURE() << "the pipeline completed";
    } catch (const Error& e) {
        EXPECT_TRUE(e.kind() == ErrorKind::timeout || e.kind() == ErrorKind::connection) << e.what();
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t0, timeout + std::chrono::seconds(5) * sanitizer_slowdown());
}

PGTLS_INSTANTIATE_PER_TRANSPORT(ResultCaps);
