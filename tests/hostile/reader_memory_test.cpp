// What a server's message lengths can make the client hold. The reader grows its buffer as
// bytes arrive (a header claiming 1 GiB costs nothing until the bytes come), believes long
// lengths only for the message types that may be long (libpq's rule), and gives back the room
// a large message took once it is consumed. Memory is measured through the process's own
// accounting (peak RSS, malloc's in-use bytes), never through timings.
#include <gtest/gtest.h>
#include <malloc.h>

#include <chrono>
#include <string>
#include <vector>

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

FakeServer::Script trust_then(std::function<void(FakeConnection&)> then) {
    return [then](FakeConnection& c) {
        if (c.read_startup_packet() != 196608) return;
        c.send(auth_ok() + key_data(1, 2) + ready());
        then(c);
    };
}

Error error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e;
    }
    ADD_FAILURE() << "no error";
    return Error(ErrorKind::usage, "");
}

// Bytes malloc has handed out and not had back (arena and mmapped chunks alike).
std::size_t malloc_in_use() {
    const struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}

}  // namespace

class ReaderMemory : public PerTransport {};

TEST_P(ReaderMemory, AHeaderClaimingOneGibIsNotAllocatedBeforeItsBytesArrive) {
    auto server = target(trust_then([](FakeConnection& c) {
        c.read_message();
        // A DataRow header claiming the largest body max_message_size allows, a little of it,
        // then the server hangs up.
        c.send(row_description({{"a", 25}}) + std::string("D") + i32(0x3fffffff + 4) + std::string(1000, 'x'));
    }));
    Client client(settings_for(server));
    ASSERT_TRUE(reset_peak_rss());
    const long before = peak_rss_kib();
    EXPECT_EQ(error_of([&] { client.query("SELECT 1"); }).kind(), ErrorKind::connection);
    const long grew = peak_rss_kib() - before;
    // TSan's shadow memory accounts for every page touched on any thread.
    if (!built_with_tsan()) {
        EXPECT_LT(grew, 64 * 1024) << "peak RSS grew by " << grew << " KiB";
    }
}

TEST_P(ReaderMemory, LongLengthsAreBelievedOnlyForTypesThatMayBeLong) {
    // CommandComplete, ParameterStatus, ReadyForQuery are never long (libpq: 30,000 bytes).
    const std::string long_tag = "SELECT " + std::string(40000, '1');
    for (const std::string& reply :
         {msg('C', cstr(long_tag)) + ready(), msg('S', cstr("x") + cstr(std::string(40000, 'v'))) + ready(),
          msg('Z', std::string(40000, 'I'))}) {
        auto server = target(trust_then([reply](FakeConnection& c) {
            c.read_message();
            c.send(reply);
            c.wait_for_close();
        }));
        Client client(settings_for(server));
        Error e = error_of([&] { client.query("SELECT 1"); });
        EXPECT_EQ(e.kind(), ErrorKind::protocol) << e.what();
        EXPECT_NE(std::string(e.what()).find("exceeds the limit of 30000 bytes"), std::string::npos) << e.what();
        EXPECT_FALSE(client.is_healthy());
    }
    // A DataRow may be long.
    auto server = target(trust_then([](FakeConnection& c) {
        c.read_message();
        const std::string big(100000, 'b');
        c.send(row_description({{"a", 25}}) + data_row({big.c_str()}) + command_complete("SELECT 1") + ready());
        c.wait_for_close();
    }));
    Client client(settings_for(server));
    EXPECT_EQ(client.query("SELECT 1")[0][0].view().size(), 100000u);
}

TEST_P(ReaderMemory, BeforeTheSessionIsEstablishedNoMessageMayBeLong) {
    // Before authentication the server is not who it claims yet: an ErrorResponse of 40 kB
    // (libpq: 30,000) or an authentication request of 3 kB (libpq: 2,000) is a protocol error.
    const std::string long_error = msg('E', "SFATAL" + std::string(1, '\0') + "M" + cstr(std::string(40000, 'e')) + '\0');
    const std::string long_auth = msg('R', i32(10) + cstr("SCRAM-SHA-256") + std::string(3000, 'x') + '\0');
    for (const std::string& reply : {long_error, long_auth}) {
        auto server = target([reply](FakeConnection& c) {
            if (c.read_startup_packet() != 196608) return;
            c.send(reply);
            c.wait_for_close();
        });
        Error e = error_of([&] { Client client(settings_for(server)); });
        EXPECT_EQ(e.kind(), ErrorKind::protocol) << e.what();
        EXPECT_NE(std::string(e.what()).find("exceeds the limit of"), std::string::npos) << e.what();
    }
}

TEST_P(ReaderMemory, TheBufferIsGivenBackAfterALargeRow) {
    if (built_with_asan() || built_with_tsan()) GTEST_SKIP() << "the sanitizer's allocator is not malloc's";
    constexpr std::size_t row_bytes = 32u << 20;  // 8x the bound below: a kept buffer fails it
    auto server = target(trust_then([](FakeConnection& c) {
        c.read_message();
        {
            const std::string big(row_bytes, 'r');  // this process's memory too: freed before measuring
            c.send(row_description({{"a", 25}}) + data_row({big.c_str()}) + command_complete("SELECT 1") + ready());
        }
        c.read_message();
        c.send(row_description({{"a", 23}}) + data_row({"1"}) + command_complete("SELECT 1") + ready());
        c.wait_for_close();
    }));
    Client client(settings_for(server));
    const std::size_t before = malloc_in_use();
    EXPECT_EQ(client.query("SELECT big")[0][0].view().size(), row_bytes);  // the Result is freed here
    EXPECT_EQ(client.query("SELECT 1")[0][0].as<int>(), 1);
    const std::size_t held = malloc_in_use() - std::min(before, malloc_in_use());
    EXPECT_LT(held, std::size_t{4} << 20) << "the idle connection holds " << (held >> 10) << " KiB";
}

// A reply below the 1 MiB the reader keeps for large messages grew the buffer too: the idle
// connection gives it back at the ReadyForQuery, keeping a small buffer only.
TEST_P(ReaderMemory, TheIdleConnectionGivesBackWhatAMediumRowTook) {
    if (built_with_asan() || built_with_tsan()) GTEST_SKIP() << "the sanitizer's allocator is not malloc's";
    constexpr std::size_t row_bytes = 600u << 10;
    auto server = target(trust_then([](FakeConnection& c) {
        c.read_message();
        {
            const std::string medium(row_bytes, 'r');
            c.send(row_description({{"a", 25}}) + data_row({medium.c_str()}) + command_complete("SELECT 1") + ready());
        }
        c.read_message();
        c.send(row_description({{"a", 23}}) + data_row({"1"}) + command_complete("SELECT 1") + ready());
        c.wait_for_close();
    }));
    Client client(settings_for(server));
    const std::size_t before = malloc_in_use();
    EXPECT_EQ(client.query("SELECT medium")[0][0].view().size(), row_bytes);  // the Result is freed here
    EXPECT_EQ(client.query("SELECT 1")[0][0].as<int>(), 1);
    const std::size_t held = malloc_in_use() - std::min(before, malloc_in_use());
    EXPECT_LT(held, std::size_t{64} << 10) << "the idle connection holds " << (held >> 10) << " KiB";
}

// The send side likewise: the room a large parameter took in the connection's send buffer is
// given back once it is sent, so an idle connection does not keep it.
TEST_P(ReaderMemory, TheSendBufferIsGivenBackAfterALargeParameter) {
    if (built_with_asan() || built_with_tsan()) GTEST_SKIP() << "the sanitizer's allocator is not malloc's";
    constexpr std::size_t param_bytes = 16u << 20;  // 4x the bound below
    auto server = target(trust_then([](FakeConnection& c) {
        while (c.read_message() != 'S') {
        }  // Parse, Bind (16 MiB), Describe, Execute, Sync
        c.send(msg('1', "") + msg('2', "") + row_description({{"n", 23}}) + data_row({"1"}) +
               command_complete("SELECT 1") + ready());
        c.read_message();
        c.send(row_description({{"a", 23}}) + data_row({"1"}) + command_complete("SELECT 1") + ready());
        c.wait_for_close();
    }));
    Client client(settings_for(server));
    const std::size_t before = malloc_in_use();
    {
        const std::vector<Param> params{Param{std::string(param_bytes, 'p'), 0, 0}};
        EXPECT_EQ(client.execute("SELECT length($1)", params)[0][0].as<int>(), 1);
    }  // the parameter itself is freed here
    EXPECT_EQ(client.query("SELECT 1")[0][0].as<int>(), 1);
    const std::size_t held = malloc_in_use() - std::min(before, malloc_in_use());
    EXPECT_LT(held, std::size_t{4} << 20) << "the idle connection holds " << (held >> 10) << " KiB";
}

// The cancel connection has nothing to receive but EOF: a server streaming on it gets a few
// bytes read and the connection closed, not a buffer that grows with what it sends.
TEST_P(ReaderMemory, TheCancelConnectionReadsAFewBytesNotWhatTheServerStreams) {
    auto server = target([](FakeConnection& c) {
        const std::int32_t code = c.read_startup_packet();
        if (code == 196608) {
            c.send(auth_ok() + key_data(1, 2) + ready());
            c.wait_for_close();
        } else if (code == 80877102) {
            const std::string chunk(1 << 20, 'z');
            for (int i = 0; i < 512; ++i) c.send(chunk);  // 512 MiB, until the client hangs up
        }
    });
    Client client(settings_for(server));
    ASSERT_TRUE(reset_peak_rss());
    const long before = peak_rss_kib();
    client.cancel();
    const long grew = peak_rss_kib() - before;
    if (!built_with_tsan()) {
        EXPECT_LT(grew, 32 * 1024) << "peak RSS grew by " << grew << " KiB";
    }
    EXPECT_TRUE(client.is_healthy());
}

PGTLS_INSTANTIATE_PER_TRANSPORT(ReaderMemory);
