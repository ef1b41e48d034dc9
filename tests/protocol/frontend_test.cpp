#include "protocol/frontend.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "pgtls/error.hpp"
#include "protocol/query.hpp"

using namespace pgtls;

TEST(Frontend, SslRequestIsTheDocumentedEightBytes) {
    std::string out;
    protocol::ssl_request(out);
    EXPECT_EQ(out, std::string("\0\0\0\x08\x04\xd2\x16\x2f", 8));
}

TEST(Frontend, StartupMessageLayout) {
    std::string out;
    protocol::startup_message(out, {{"user", "bob"}, {"database", "db"}});
    const std::string expected = std::string("\0\0\0\x1e\0\3\0\0", 8) + "user" + '\0' + "bob" + '\0' + "database" + '\0' +
                                 "db" + '\0' + '\0';
    EXPECT_EQ(out, expected);
}

TEST(Frontend, QueryRefusesEmbeddedNul) {
    std::string out;
    EXPECT_THROW(protocol::query(out, std::string_view("SELECT 1\0; DROP", 15)), Error);
}

// A string with a NUL byte is refused before the message is begun: a type byte and an unset
// length left behind would go out ahead of the next message and break the session.
TEST(Frontend, EveryEncoderRefusingNulLeavesOutUntouched) {
    const std::string_view nul("a\0b", 3);
    const std::vector<std::pair<std::string, std::string>> startup = {{"user", "bob"}, {"application_name", std::string(nul)}};
    const std::vector<std::function<void(std::string&)>> encoders = {
        [&](std::string& o) { protocol::query(o, nul); },
        [&](std::string& o) { protocol::query_header(o, nul); },
        [&](std::string& o) { protocol::close(o, 'S', nul); },
        [&](std::string& o) { protocol::copy_fail(o, nul); },
        [&](std::string& o) { protocol::password_message(o, nul); },
        [&](std::string& o) { protocol::sasl_initial_response(o, nul, "data"); },
        [&](std::string& o) { protocol::startup_message(o, startup); },
        [&](std::string& o) { protocol::parse(o, nul, "SELECT 1", {}); },
        [&](std::string& o) { protocol::parse(o, "", nul, {}); },
        [&](std::string& o) { protocol::bind(o, nul, "", {}, {}); },
        [&](std::string& o) { protocol::describe(o, 'S', nul); },
        [&](std::string& o) { protocol::execute(o, nul, 0); },
    };
    for (std::size_t i = 0; i < encoders.size(); ++i) {
        std::string out = "prefix";
        try {
            encoders[i](out);
            ADD_FAILURE() << "encoder " << i << " accepted a NUL byte";
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::usage) << i;
            EXPECT_NE(std::string(e.what()).find("NUL byte"), std::string::npos) << e.what();
        }
        EXPECT_EQ(out, "prefix") << "encoder " << i;
    }
}

TEST(Frontend, BindSendsFormatsOnlyWhenSomeParameterIsBinary) {
    std::string text, binary;
    const char v[] = "42";
    protocol::BindParam p{v, 2, 0};
    protocol::bind(text, "", "", std::span(&p, 1), {});
    // 'B', len, portal "", stmt "", nformats 0, nparams 1, len 2, "42", nresult 0
    EXPECT_EQ(text, std::string("B\0\0\0\x12\0\0\0\0\0\1\0\0\0\x02" "42\0\0", 19));
    p.format = 1;
    protocol::bind(binary, "", "", std::span(&p, 1), {});
    EXPECT_EQ(binary.size(), text.size() + 2);  // one format code
}

// An implicit pipeline's run: its first query parses and describes the statement (the
// Describe before the Bind, so it is answered also when the Bind fails), the others only bind
// and execute it.
TEST(Frontend, ARunDescribesItsStatementOnceAndBindsItAfter) {
    const std::vector<Param> params = {{std::string("7"), 23, 0}};
    const protocol::BindParam bind_params[] = {{"7", 1, 0}};
    const std::uint32_t types[] = {23};
    const std::int16_t binary = 1;
    std::string expected = "prefix";
    protocol::parse(expected, "s1", "SELECT $1", types);
    protocol::describe(expected, 'S', "s1");
    protocol::bind(expected, "", "s1", bind_params, std::span(&binary, 1));
    protocol::execute(expected, "", 0);
    protocol::bind(expected, "", "s1", bind_params, {});
    protocol::execute(expected, "", 0);
    std::string out = "prefix";
    protocol::encode_parsed_and_described(out, "s1", "SELECT $1", params, ResultFormat::binary);
    protocol::encode_bound(out, "s1", params, ResultFormat::text);
    EXPECT_EQ(out, expected);
}

TEST(Frontend, StatementsThatDropPreparedStatementsAreKnownByTheirCommand) {
    for (const char* sql : {"DEALLOCATE ALL", "deallocate pgtls_1", "  Discard ALL", "/* a /* nested */ comment */ DISCARD ALL",
                            "-- a line\n\tDEALLOCATE PREPARE ALL", "/* traceparent='00-1-2-01' */ DISCARD PLANS"})
        EXPECT_TRUE(protocol::drops_prepared_statements(sql)) << sql;
    for (const char* sql : {"SELECT 1", "", "  ", "-- DISCARD ALL", "/* DISCARD ALL", "/* */ SELECT 'DISCARD ALL'",
                            "DEALLOCATEX", "DISCARDED", "\"discard\" ALL"})
        EXPECT_FALSE(protocol::drops_prepared_statements(sql)) << sql;
}

TEST(Frontend, StatementsWhoseColumnsTheServerDoesNotCheckAreKnownByTheirCommand) {
    for (const char* sql : {"FETCH ALL FROM c", "fetch 10 c", " /* x */ Execute p(1)", "CALL proc()", "\ncall p()"})
        EXPECT_TRUE(protocol::result_columns_vary(sql)) << sql;
    for (const char* sql : {"SELECT 1", "", "-- FETCH ALL FROM c", "FETCHED", "SELECT fetch FROM t", "EXECUTEX"})
        EXPECT_FALSE(protocol::result_columns_vary(sql)) << sql;
    EXPECT_TRUE(protocol::runs_copy(" -- load\ncopy t FROM STDIN"));
    EXPECT_FALSE(protocol::runs_copy("SELECT 'COPY'"));
    EXPECT_FALSE(protocol::runs_copy("COPYING"));
}

TEST(Frontend, NullParameterIsMinusOne) {
    std::string out;
    protocol::BindParam p{nullptr, 0, 0};
    protocol::bind(out, "", "s1", std::span(&p, 1), {});
    EXPECT_NE(out.find(std::string("\xff\xff\xff\xff", 4)), std::string::npos);
}

TEST(Frontend, CancelRequestCarriesPidAndKey) {
    std::string out;
    const std::uint8_t key[4] = {1, 2, 3, 4};
    protocol::cancel_request(out, 0x01020304, key);
    EXPECT_EQ(out, std::string("\0\0\0\x10\x04\xd2\x16\x2e\1\2\3\4\1\2\3\4", 16));
}

TEST(Frontend, ExtendedQueryIsParseBindDescribeExecuteInOneWrite) {
    const char v[] = "42";
    const protocol::BindParam bind_params[] = {{v, 2, 0}, {nullptr, 0, 1}, {v, 1, 1}};
    const std::vector<Param> params = {{std::string(v, 2), 23, 0}, {std::nullopt, 0, 1}, {std::string(v, 1), 25, 1}};
    const std::uint32_t types[] = {23, 0, 25};
    const std::int16_t binary = 1;
    for (bool parse : {true, false}) {
        for (bool with_formats : {false, true}) {
            const std::span<const std::int16_t> formats =
                with_formats ? std::span<const std::int16_t>(&binary, 1) : std::span<const std::int16_t>{};
            std::string expected = "prefix";
            const std::string statement = parse ? "" : "stmt_1";
            if (parse) protocol::parse(expected, statement, "SELECT $1, $2, $3", types);
            protocol::bind(expected, "", statement, bind_params, formats);
            if (parse) protocol::describe(expected, 'P', "");
            protocol::execute(expected, "", 0);

            std::string out = "prefix";
            protocol::ExtendedQuery q;
            q.parse = parse;
            q.describe = parse ? protocol::ExtendedQuery::Describe::portal : protocol::ExtendedQuery::Describe::none;
            q.statement = statement;
            if (parse) q.sql = "SELECT $1, $2, $3";
            q.params = params;
            q.result_formats = formats;
            protocol::extended_query(out, q);
            EXPECT_EQ(out, expected) << "parse=" << parse << " formats=" << with_formats;
        }
    }
    std::string out;
    protocol::ExtendedQuery q;
    q.sql = std::string_view("SELECT 1\0", 9);
    EXPECT_THROW(protocol::extended_query(out, q), Error);
    EXPECT_TRUE(out.empty());
}
