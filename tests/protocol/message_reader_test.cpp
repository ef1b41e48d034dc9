#include "protocol/message_reader.hpp"

#include <gtest/gtest.h>

#include <cstring>

#include "pgtls/error.hpp"
#include "scripted_bytes.hpp"

using namespace pgtls;
using namespace pgtls::test;

TEST(MessageReader, DecodesMessagesFromEverySplit) {
    const std::string stream = param_status("server_version", "18.4") + key_data(42, 7) + ready('T');
    for (std::size_t split = 0; split <= stream.size(); ++split) {
        protocol::MessageReader r;
        std::vector<char> types;
        r.feed(bytes(stream.substr(0, split)));
        while (auto m = r.next()) types.push_back(m->type);
        r.feed(bytes(stream.substr(split)));
        while (auto m = r.next()) types.push_back(m->type);
        ASSERT_EQ(types, (std::vector<char>{'S', 'K', 'Z'})) << "split at " << split;
    }
}

TEST(MessageReader, ByteAtATime) {
    const std::string stream = data_row({"1", nullptr, "abc"}) + ready();
    protocol::MessageReader r;
    int n = 0;
    for (char c : stream) {
        r.feed(bytes(std::string(1, c)));
        while (auto m = r.next()) {
            ++n;
            if (n == 1) {
                EXPECT_EQ(m->type, 'D');
                EXPECT_EQ(m->body.size(), 2u + 4 + 1 + 4 + 4 + 3);
            }
        }
    }
    EXPECT_EQ(n, 2);
}

TEST(MessageReader, RejectsLengthsBelowFour) {
    for (std::int32_t len : {0, 1, 3, -1, -100}) {
        protocol::MessageReader r;
        r.feed(bytes(std::string("Z") + i32(len) + "I"));
        try {
            r.next();
            FAIL() << "length " << len << " accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::protocol);
            EXPECT_NE(std::string(e.what()).find("invalid message length"), std::string::npos) << e.what();
        }
    }
}

TEST(MessageReader, RejectsMessagesAboveTheCapWithoutAllocating) {
    protocol::MessageReader r(1024);
    r.feed(bytes(std::string("D") + i32(0x40000000)));
    try {
        r.next();
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::protocol);
        EXPECT_NE(std::string(e.what()).find("exceeds the limit"), std::string::npos);
    }
}

TEST(MessageReader, MessageExactlyAtTheCapIsAccepted) {
    protocol::MessageReader r(10);
    r.feed(bytes(msg('d', std::string(10, 'x'))));
    auto m = r.next();
    ASSERT_TRUE(m);
    EXPECT_EQ(m->body.size(), 10u);
}

TEST(MessageReader, LargeMessageAcrossManyReads) {
    const std::string big(1 << 20, 'q');
    const std::string stream = msg('d', big) + ready();
    protocol::MessageReader r;
    std::size_t pos = 0;
    std::size_t got = 0;
    while (pos < stream.size()) {
        auto space = r.prepare(4096);
        const std::size_t n = std::min<std::size_t>(std::min<std::size_t>(space.size(), 7919), stream.size() - pos);
        std::memcpy(space.data(), stream.data() + pos, n);
        r.commit(n);
        pos += n;
        while (auto m = r.next()) {
            if (m->type == 'd') {
                EXPECT_EQ(m->body.size(), big.size());
                EXPECT_EQ(m->body[12345], 'q');
            }
            ++got;
        }
    }
    EXPECT_EQ(got, 2u);
}

TEST(MessageReader, AClaimedLengthIsNotAllocatedBeforeItsBytesArrive) {
    protocol::MessageReader r;
    r.feed(bytes(std::string("D") + i32(100 << 20) + "0123456789"));
    EXPECT_FALSE(r.next());
    EXPECT_FALSE(r.next());
    EXPECT_LE(r.capacity(), 64u * 1024);
}

TEST(MessageReader, LongLengthsOnlyForTypesThatMayBeLong) {
    auto error_for = [](const std::string& stream, bool established) -> std::string {
        protocol::MessageReader r;
        r.set_long_messages_allowed(established);
        r.feed(bytes(stream));
        try {
            r.next();
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::protocol);
            return e.what();
        }
        return {};
    };
    // The cap counts the length field, as libpq's 30,000 and 2,000 do.
    EXPECT_EQ(error_for(msg('C', std::string(29996, 'x')), true), "");
    EXPECT_EQ(error_for(msg('C', std::string(29997, 'x')), true),
              "server message of 30001 bytes exceeds the limit of 30000 bytes for CommandComplete messages ('C')");
    EXPECT_EQ(error_for(msg('R', std::string(1996, 'x')), false), "");
    EXPECT_NE(error_for(msg('R', std::string(1997, 'x')), false).find("limit of 2000 bytes for Authentication"),
              std::string::npos);
    for (char type : {'D', 'd', 'T', 't', 'E', 'N', 'A', 'V'}) {
        EXPECT_EQ(error_for(msg(type, std::string(100000, 'x')), true), "") << type;
        EXPECT_NE(error_for(msg(type, std::string(100000, 'x')), false).find("before the session is established"),
                  std::string::npos)
            << type;
    }
}

TEST(MessageReader, RoomALargeMessageTookIsGivenBack) {
    protocol::MessageReader r;
    const std::string stream = msg('D', std::string(4 << 20, 'q')) + ready();
    for (std::size_t pos = 0; pos < stream.size(); pos += 65536)
        r.feed(bytes(stream.substr(pos, 65536)));
    EXPECT_GE(r.capacity(), 4u << 20);
    auto m = r.next();
    ASSERT_TRUE(m);
    EXPECT_EQ(m->body.size(), 4u << 20);
    m = r.next();  // the row's view is gone: its room is released, the rest kept
    ASSERT_TRUE(m);
    EXPECT_EQ(m->type, 'Z');
    EXPECT_LE(r.capacity(), 64u * 1024);
}

namespace {
// Delivers `stream` as a socket would: each read takes what fits in the room offered, at most
// `chunk` bytes; complete messages are taken out after each read. Returns the types seen.
std::string read_like_a_channel(protocol::MessageReader& r, const std::string& stream, std::size_t chunk = 1 << 30) {
    std::string types;
    for (std::size_t pos = 0; pos < stream.size();) {
        auto space = r.prepare();
        const std::size_t n = std::min({space.size(), chunk, stream.size() - pos});
        std::memcpy(space.data(), stream.data() + pos, n);
        r.commit(n);
        pos += n;
        while (auto m = r.next()) {
            types += m->type;
            if (m->type == 'Z') {
                EXPECT_EQ(m->body.size(), 1u);
                if (!m->body.empty()) {
                    EXPECT_EQ(char(m->body[0]), 'I');
                }
            }
        }
    }
    return types;
}
}  // namespace

// An idle connection keeps a small receive buffer: room grown for a large reply is released at
// the ReadyForQuery that leaves nothing buffered (the message itself stays readable).
TEST(MessageReader, TheBufferIsReleasedWhenTheConnectionGoesIdle) {
    protocol::MessageReader r;
    const std::string big = row_description({{"a", 25}}) + data_row({std::string(1 << 20, 'r').c_str()}) +
                            command_complete("SELECT 1") + ready();
    EXPECT_EQ(read_like_a_channel(r, big), "TDCZ");
    EXPECT_LE(r.capacity(), protocol::MessageReader::idle_capacity);
    // A stream of record-sized reads grows the buffer too; it is released likewise.
    std::string rows;
    for (int i = 0; i < 200; ++i) rows += data_row({std::string(300, 'x').c_str()});
    EXPECT_EQ(read_like_a_channel(r, rows + command_complete("SELECT 200") + ready(), 16384),
              std::string(200, 'D') + "CZ");
    EXPECT_LE(r.capacity(), protocol::MessageReader::idle_capacity);
    // The next small reply is read as before.
    EXPECT_EQ(read_like_a_channel(r, data_row({"1"}) + ready()), "DZ");
}

// Small replies cost no allocation: the buffer keeps its idle size across them.
TEST(MessageReader, SmallRepliesKeepTheIdleBuffer) {
    protocol::MessageReader r;
    const std::string reply = msg('1', "") + msg('2', "") + row_description({{"n", 23}}) + data_row({"1"}) +
                              command_complete("SELECT 1") + ready();
    for (int i = 0; i < 100; ++i) {
        ASSERT_EQ(read_like_a_channel(r, reply), "12TDCZ");
        ASSERT_EQ(r.capacity(), protocol::MessageReader::idle_capacity);
    }
}

// A ReadyForQuery with bytes after it (a pipeline's next reply) is not idle: they are kept.
TEST(MessageReader, AReadyForQueryWithMoreBufferedKeepsTheBuffer) {
    protocol::MessageReader r;
    const std::string first = data_row({std::string(40000, 'r').c_str()}) + ready();
    const std::string second = data_row({"2"}) + command_complete("SELECT 1") + ready();
    r.feed(bytes(first + second));
    std::string types;
    while (auto m = r.next()) types += m->type;
    EXPECT_EQ(types, "DZDCZ");
    EXPECT_LE(r.capacity(), protocol::MessageReader::idle_capacity);  // released at the last 'Z' only
}

// Reads that fill the room they are offered get more, up to a TLS record's plaintext.
TEST(MessageReader, FullReadsGrowTheReadSizeToARecord) {
    protocol::MessageReader r;
    EXPECT_EQ(r.prepare().size(), protocol::MessageReader::idle_capacity);
    std::size_t offered = 0;
    for (int i = 0; i < 10; ++i) {
        auto space = r.prepare();
        offered = space.size();
        std::memset(space.data(), 0, space.size());  // type 0, length 0: never parsed here
        r.commit(space.size());
        r.consume_raw(r.buffered());
    }
    EXPECT_EQ(offered, protocol::MessageReader::bulk_read_size);
}
