// Misordered replies from a scripted server, through both drivers (the blocking Client and the
// AsyncConnection, via DriverConnection) over every transport. A real PostgreSQL never sends
// these; each must end in Error(protocol) with the same text from both drivers and the
// connection retired — never a result that belongs to another request, or one cut short.
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "pgtls/client.hpp"
#include "tests/hostile/hostile_target.hpp"
#include "tests/integration/driver_connection.hpp"
#include "tests/protocol/scripted_bytes.hpp"
#include "tests/support/fake/fake_server.hpp"

using namespace pgtls;
using namespace pgtls::test;

namespace {

// Logs in, then answers the n-th request (simple, or extended up to its Sync) with replies[n];
// later requests get no answer.
FakeServer::Script answer_in_turn(std::vector<std::string> replies) {
    return [replies](FakeConnection& c) {
        if (c.read_startup_packet() != 196608) return;
        c.send(auth_ok() + key_data(1, 2) + ready());
        std::size_t next = 0;
        while (char t = c.read_message())
            if ((t == 'Q' || t == 'S') && next < replies.size()) c.send(replies[next++]);
    };
}

const std::string copy_out_response = msg('H', std::string(1, '\0') + i16(0));

std::string one_row(const char* value) {
    return row_description({{"a", 25}}) + data_row({value}) + command_complete("SELECT 1");
}

enum class Call { query, execute, stream, copy_out };
const char* name(Call c) {
    switch (c) {
        case Call::query: return "query";
        case Call::execute: return "execute";
        case Call::stream: return "stream";
        case Call::copy_out: return "copy_out";
    }
    return "?";
}

// `call` on `conn`; the value it returned ("" for stream's and copy_out's count of 0).
std::string run(DriverConnection& conn, Call call) {
    switch (call) {
        case Call::query: {
            const Result r = conn.query("SELECT");
            return r.size() ? std::string(r[0][0].view()) : "";
        }
        case Call::execute: {
            const Result r = conn.execute("SELECT");
            return r.size() ? std::string(r[0][0].view()) : "";
        }
        case Call::stream: {
            std::string got;
            conn.stream("SELECT", {}, [&](const Row& row) { got += row[0].view(); });
            return got;
        }
        case Call::copy_out: {
            std::string got;
            conn.copy_out("COPY t TO STDOUT", [&](std::string_view d) { got += d; });
            return got;
        }
    }
    return "";
}

// `f` fails with Error(protocol) whose text is exactly `message`.
void expect_protocol_error(const std::function<void()>& f, const std::string& message, const std::string& where) {
    try {
        f();
        ADD_FAILURE() << where << ": no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::protocol) << where << ": " << e.what();
        EXPECT_EQ(std::string(e.what()), message) << where;
    }
}

}  // namespace

class OddSequences : public ::testing::TestWithParam<std::tuple<std::string, DriverKind>> {
protected:
    void SetUp() override {
        if (transport() != "plaintext" && !std::filesystem::exists(pki("server.crt")))
            GTEST_SKIP() << "no test PKI (scripts/make-pki.sh) for the TLS front";
    }
    const std::string& transport() const { return std::get<0>(GetParam()); }
    DriverKind driver() const { return std::get<1>(GetParam()); }
    HostileTarget target(FakeServer::Script script) const { return HostileTarget(std::move(script), transport()); }
};

// A ReadyForQuery after the one that ended the reply was taken by the next request as its
// whole reply (an empty result), and each later request got the reply of the one before.
TEST_P(OddSequences, ASecondReadyForQueryIsRefusedNotTakenAsTheNextReply) {
    for (const Call call : {Call::query, Call::execute, Call::stream, Call::copy_out}) {
        const std::string first = call == Call::copy_out
                                      ? copy_out_response + msg('d', "first") + msg('c', "") + command_complete("COPY 1")
                                      : one_row("first");
        auto server = target(answer_in_turn({first + ready() + ready(), one_row("second") + ready()}));
        DriverConnection conn(driver(), server.settings());
        expect_protocol_error([&] { run(conn, call); },
                              "unexpected ReadyForQuery message ('Z') from server after the end of its reply", name(call));
        EXPECT_FALSE(conn.is_healthy()) << name(call);
        EXPECT_THROW(conn.query("SELECT"), Error) << name(call) << ": the connection answered after the stray message";
    }
    // What may come at any time after a reply is no violation: the next request is answered.
    auto server = target(answer_in_turn({one_row("first") + ready() + param_status("TimeZone", "UTC") +
                                             msg('N', "SNOTICE" + std::string(1, '\0') + "Mlate" + std::string(2, '\0')) +
                                             msg('A', i32(7) + cstr("ch") + cstr("payload")),
                                         one_row("second") + ready()}));
    DriverConnection conn(driver(), server.settings());
    int notices = 0;
    conn.set_notice_handler([&](const Notice& n) { notices += n.fields.message == "late"; });
    EXPECT_EQ(run(conn, Call::query), "first");
    EXPECT_EQ(run(conn, Call::query), "second");
    EXPECT_EQ(notices, 1);
    EXPECT_EQ(conn.parameter_status("TimeZone"), "UTC");
    EXPECT_EQ(conn.take_notifications().size(), 1u);
    EXPECT_TRUE(conn.is_healthy());
}

// ReadyForQuery before a result's CommandComplete: the rows so far were reported as the
// whole result (execute, stream), or dropped without a word (query).
TEST_P(OddSequences, AResultCutShortByReadyForQueryIsAnError) {
    for (const Call call : {Call::query, Call::execute, Call::stream}) {
        auto server = target(answer_in_turn({row_description({{"a", 25}}) + data_row({"partial"}) + ready(),
                                             one_row("second") + ready()}));
        DriverConnection conn(driver(), server.settings());
        expect_protocol_error([&] { run(conn, call); },
                              "server sent ReadyForQuery before the end of a result (no CommandComplete)", name(call));
        EXPECT_FALSE(conn.is_healthy()) << name(call);
        EXPECT_THROW(conn.query("SELECT"), Error) << name(call);
    }
}

// PortalSuspended ends a result early, for an Execute with a row limit: this client sends
// none, so its rows are cut short. It was taken as the end of a complete result.
TEST_P(OddSequences, APortalSuspendedNobodyAskedForIsAnError) {
    for (const Call call : {Call::execute, Call::stream}) {
        auto server = target(answer_in_turn({msg('1', "") + msg('2', "") + row_description({{"a", 25}}) +
                                                 data_row({"partial"}) + msg('s', "") + ready(),
                                             one_row("second") + ready()}));
        DriverConnection conn(driver(), server.settings());
        expect_protocol_error([&] { run(conn, call); },
                              "unexpected PortalSuspended message ('s') from server during extended query", name(call));
        EXPECT_FALSE(conn.is_healthy()) << name(call);
        EXPECT_THROW(conn.query("SELECT"), Error) << name(call);
    }
}

// Between CopyOutResponse and CopyDone only CopyData (and the asynchronous messages) may come;
// a result's messages there were ignored and the COPY reported complete.
TEST_P(OddSequences, CopyOutRefusesAResultInTheMiddleOfItsData) {
    const std::string start = copy_out_response + msg('d', "row 1\n");
    const std::vector<std::pair<std::string, const char*>> cases = {
        {row_description({{"a", 25}}) + msg('d', "row 2\n") + msg('c', "") + command_complete("COPY 2") + ready(), "RowDescription"},
        {data_row({"x"}) + msg('c', "") + command_complete("COPY 1") + ready(), "DataRow"},
        {command_complete("COPY 1") + ready(), "CommandComplete"},  // no CopyDone
        {ready(), "ReadyForQuery"},
        {msg('I', "") + ready(), "EmptyQueryResponse"},
    };
    for (const auto& [rest, type] : cases) {
        auto server = target(answer_in_turn({start + rest}));
        DriverConnection conn(driver(), server.settings());
        std::string got;
        expect_protocol_error([&] { conn.copy_out("COPY t TO STDOUT", [&](std::string_view d) { got += d; }); },
                              std::string("unexpected ") + type + " message from server in the middle of COPY TO STDOUT data",
                              type);
        EXPECT_EQ(got, "row 1\n") << type;
        EXPECT_FALSE(conn.is_healthy()) << type;
    }
    // Notices, parameter changes and notifications may come between the data.
    auto server = target(answer_in_turn(
        {start + msg('N', "SNOTICE" + std::string(1, '\0') + "Mmid-copy" + std::string(2, '\0')) +
         param_status("application_name", "copying") + msg('A', i32(7) + cstr("ch") + cstr("p")) + msg('d', "row 2\n") +
         msg('c', "") + command_complete("COPY 2") + ready()}));
    DriverConnection conn(driver(), server.settings());
    int notices = 0;
    conn.set_notice_handler([&](const Notice& n) { notices += n.fields.message == "mid-copy"; });
    std::string got;
    EXPECT_EQ(conn.copy_out("COPY t TO STDOUT", [&](std::string_view d) { got += d; }), 2u);
    EXPECT_EQ(got, "row 1\nrow 2\n");
    EXPECT_EQ(notices, 1);
    EXPECT_EQ(conn.parameter_status("application_name"), "copying");
    EXPECT_EQ(conn.take_notifications().size(), 1u);
    EXPECT_TRUE(conn.is_healthy());
}

INSTANTIATE_TEST_SUITE_P(TransportsAndDrivers, OddSequences,
                         ::testing::Combine(::testing::ValuesIn(transports()),
                                            ::testing::Values(DriverKind::blocking, DriverKind::async)),
                         [](const auto& info) {
                             return std::get<0>(info.param) +
                                    (std::get<1>(info.param) == DriverKind::async ? "_async" : "");
                         });
