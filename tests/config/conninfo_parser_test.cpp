// Table-driven tests of the connection-string parser (both forms). The behaviour is libpq 18's;
// libpq_differential_test.cpp checks the same against libpq itself on a larger corpus.
#include <gtest/gtest.h>

#include "config/conninfo_parser.hpp"
#include "config/keywords.hpp"
#include "pgtls/config.hpp"
#include "pgtls/error.hpp"

namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

struct ParseCase {
    std::string input;
    Pairs expected;       // when error is empty
    std::string error;    // expected message prefix; empty: must succeed
};

void PrintTo(const ParseCase& c, std::ostream* os) { *os << "[" << c.input << "]"; }

class ParseTable : public ::testing::TestWithParam<ParseCase> {};

TEST_P(ParseTable, MatchesLibpq) {
    const ParseCase& c = GetParam();
    if (c.error.empty()) {
        EXPECT_EQ(pgtls::parse_conninfo(c.input), c.expected);
    } else {
        try {
            auto got = pgtls::parse_conninfo(c.input);
            ADD_FAILURE() << "expected error \"" << c.error << "\", parsed " << got.size() << " pairs";
        } catch (const pgtls::Error& e) {
            EXPECT_EQ(e.kind(), pgtls::ErrorKind::config);
            EXPECT_EQ(std::string(e.what()).substr(0, c.error.size()), c.error) << e.what();
        }
    }
}

const ParseCase kKeywordValueCases[] = {
    {"", {}, ""},
    {"   \t\n ", {}, ""},
    {"host=localhost", {{"host", "localhost"}}, ""},
    {"host = localhost", {{"host", "localhost"}}, ""},
    {"host\t=\tlocalhost\n", {{"host", "localhost"}}, ""},
    {"host=a port=5432 dbname=d user=u password=p",
     {{"host", "a"}, {"port", "5432"}, {"dbname", "d"}, {"user", "u"}, {"password", "p"}}, ""},
    {"host=a host=b", {{"host", "b"}}, ""},
    {"host=a port=1 host=c", {{"host", "c"}, {"port", "1"}}, ""},
    {"host=", {{"host", ""}}, ""},
    {"host= port=5", {{"host", "port=5"}}, ""},          // blanks after '=' are skipped
    {"host=a=b", {{"host", "a=b"}}, ""},
    {"host=a'b", {{"host", "a'b"}}, ""},
    {"password='a b c'", {{"password", "a b c"}}, ""},
    {"password='it\\'s'", {{"password", "it's"}}, ""},
    {"password='back\\\\slash'", {{"password", "back\\slash"}}, ""},
    {"password=a\\ b", {{"password", "a b"}}, ""},
    {"password=x\\", {{"password", "x"}}, ""},           // a trailing backslash vanishes
    {"password=''", {{"password", ""}}, ""},
    {"host='a'port=5", {{"host", "a"}, {"port", "5"}}, ""},  // no blank needed after a quote
    {"host=a\xa0port=1", {{"host", "a\xa0port=1"}}, ""},  // only C-locale whitespace separates
    {"application_name=ünïcode", {{"application_name", "ünïcode"}}, ""},
    {"requiressl=1", {{"sslmode", "require"}}, ""},
    {"requiressl=0", {{"sslmode", "prefer"}}, ""},
    {"requiressl=yes", {{"sslmode", "prefer"}}, ""},
    {"sslmode=disable requiressl=1", {{"sslmode", "require"}}, ""},
    {"sslbackend=gnutls", {{"sslbackend", "gnutls"}}, ""},
    {"sslmode=verify", {{"sslmode", "verify"}}, ""},      // values are judged by resolve()
    {"host", {}, "missing \"=\" after \"host\" in connection info string"},
    {"host port=5", {}, "missing \"=\" after \"host\" in connection info string"},
    {"host='a'b", {}, "missing \"=\" after \"b\" in connection info string"},
    {"=x", {}, "invalid connection option \"\""},
    {"password='x", {}, "unterminated quoted string in connection info string"},
    {"password='x\\", {}, "unterminated quoted string in connection info string"},
    {"foo=bar", {}, "invalid connection option \"foo\""},
    {"Host=x", {}, "invalid connection option \"Host\" (did you mean \"host\"?)"},
    {"sslmod=require", {}, "invalid connection option \"sslmod\" (did you mean \"sslmode\"?)"},
    {"ssl=true", {}, "invalid connection option \"ssl\""},
    {"database=x", {}, "invalid connection option \"database\""},
    {std::string("host=a\0b", 8), {}, "connection string contains a NUL byte at offset 6"},
};
INSTANTIATE_TEST_SUITE_P(KeywordValue, ParseTable, ::testing::ValuesIn(kKeywordValueCases));

const ParseCase kUriCases[] = {
    {"postgresql://", {}, ""},
    {"postgres://", {}, ""},
    {"postgresql:///", {}, ""},
    {"postgresql://host", {{"host", "host"}}, ""},
    {"postgresql://host:5433/db", {{"host", "host"}, {"port", "5433"}, {"dbname", "db"}}, ""},
    {"postgres://host:5433/db", {{"host", "host"}, {"port", "5433"}, {"dbname", "db"}}, ""},
    {"postgresql:///db", {{"dbname", "db"}}, ""},
    {"postgresql://host/", {{"host", "host"}}, ""},       // empty dbname is not stored
    {"postgresql://u:p@h/d", {{"user", "u"}, {"password", "p"}, {"host", "h"}, {"dbname", "d"}}, ""},
    {"postgresql://u@h", {{"user", "u"}, {"host", "h"}}, ""},
    {"postgresql://:p@h", {{"password", "p"}, {"host", "h"}}, ""},
    {"postgresql://@h", {{"host", "h"}}, ""},
    {"postgresql://u:pa:ss@h", {{"user", "u"}, {"password", "pa:ss"}, {"host", "h"}}, ""},
    {"postgresql://us/er@h", {{"host", "us"}, {"dbname", "er@h"}}, ""},
    {"postgresql://h?user=a@b", {{"user", "h?user=a"}, {"host", "b"}}, ""},  // '@' found past '?'
    {"postgresql://us%40er:p%3Aw@h/d%20b", {{"user", "us@er"}, {"password", "p:w"}, {"host", "h"}, {"dbname", "d b"}}, ""},
    {"postgresql://%2Fvar%2Frun%2Fpostgresql/db", {{"host", "/var/run/postgresql"}, {"dbname", "db"}}, ""},
    {"postgresql://[::1]:5432/db", {{"host", "::1"}, {"port", "5432"}, {"dbname", "db"}}, ""},
    {"postgresql://[::1]", {{"host", "::1"}}, ""},
    {"postgresql://[fe80::1%25eth0]/db", {{"host", "fe80::1%eth0"}, {"dbname", "db"}}, ""},
    {"postgresql://a:1,b:2/db", {{"host", "a,b"}, {"port", "1,2"}, {"dbname", "db"}}, ""},
    {"postgresql://a,b/db", {{"host", "a,b"}, {"port", ","}, {"dbname", "db"}}, ""},
    {"postgresql://a:1,b", {{"host", "a,b"}, {"port", "1,"}}, ""},
    {"postgresql://[::1]:1,[::2]:2/db", {{"host", "::1,::2"}, {"port", "1,2"}, {"dbname", "db"}}, ""},
    {"postgresql://,/db", {{"host", ","}, {"port", ","}, {"dbname", "db"}}, ""},
    {"postgresql://h:5432:5433/db", {{"host", "h"}, {"port", "5432:5433"}, {"dbname", "db"}}, ""},
    {"postgresql://h/db#frag", {{"host", "h"}, {"dbname", "db#frag"}}, ""},
    {"postgresql://h/db?sslmode=require&application_name=x",
     {{"host", "h"}, {"dbname", "db"}, {"sslmode", "require"}, {"application_name", "x"}}, ""},
    {"postgresql://u@h/db?user=v&dbname=e", {{"user", "v"}, {"host", "h"}, {"dbname", "e"}}, ""},
    {"postgresql://h/db?", {{"host", "h"}, {"dbname", "db"}}, ""},
    {"postgresql://h/db?sslmode=require&", {{"host", "h"}, {"dbname", "db"}, {"sslmode", "require"}}, ""},
    {"postgresql://h/db?ssl=true", {{"host", "h"}, {"dbname", "db"}, {"sslmode", "require"}}, ""},
    {"postgresql://h/db?requiressl=1", {{"host", "h"}, {"dbname", "db"}, {"sslmode", "require"}}, ""},
    {"postgresql://h/db?%61pplication_name=%41%42", {{"host", "h"}, {"dbname", "db"}, {"application_name", "AB"}}, ""},
    {"postgresql://h/db?application_name=a+b", {{"host", "h"}, {"dbname", "db"}, {"application_name", "a+b"}}, ""},
    {"postgresql://host?  user = uri-user & port  = 12345 ", {{"host", "host"}, {"user", "uri-user"}, {"port", "12345"}}, ""},
    {"postgresql://h/db?application_name=\tx", {{"host", "h"}, {"dbname", "db"}, {"application_name", "\tx"}}, ""},
    {"postgresql://h/db?sslbackend=mbedtls&sslnegotiation=direct",
     {{"host", "h"}, {"dbname", "db"}, {"sslbackend", "mbedtls"}, {"sslnegotiation", "direct"}}, ""},
    {"postgresql://[::1", {}, "end of string reached when looking for matching \"]\" in IPv6 host address in URI: \"postgresql://[::1\""},
    {"postgresql://[]", {}, "IPv6 host address may not be empty in URI: \"postgresql://[]\""},
    {"postgresql://[::1]x", {}, "unexpected character \"x\" at position 19 in URI (expected \":\" or \"/\"): \"postgresql://[::1]x\""},
    {"postgresql://h/db?a", {}, "missing key/value separator \"=\" in URI query parameter: \"a\""},
    {"postgresql://h/db?&", {}, "missing key/value separator \"=\" in URI query parameter: \"\""},
    {"postgresql://h/db?a=b=c", {}, "extra key/value separator \"=\" in URI query parameter: \"a\""},
    {"postgresql://h/db?ssl=false", {}, "invalid URI query parameter: \"ssl\""},
    {"postgresql://h/db?foo=bar", {}, "invalid URI query parameter: \"foo\""},
    {"postgresql://h/%", {}, "invalid percent-encoded token: \"%\""},
    {"postgresql://h/%zz", {}, "invalid percent-encoded token: \"%zz\""},
    {"postgresql://h/%00", {}, "forbidden value %00 in percent-encoded value: \"%00\""},
    {"postgresql://h x/db", {}, "unexpected spaces found in \"h x\", use percent-encoded spaces (%20) instead"},
    {"postgresql://h/db?x=%zz y", {}, "invalid percent-encoded token: \"%zz y\""},
    {"postgresql://u:hunter%2@h", {}, "invalid percent-encoded token: \"********\""},
    {"postgresql://u:hun ter@h", {}, "unexpected spaces found in \"********\""},
    {"postgresql://h?password=hunter%00", {}, "forbidden value %00 in percent-encoded value: \"********\""},
    {"postgresql://h?sslpassword=%zz", {}, "invalid percent-encoded token: \"********\""},
    {"postgresql://h/db?application_name=x %zz", {}, "unexpected spaces found in \"x %zz\""},
    // libpq quotes these URIs whole, password included; pgtls masks every secret in them.
    {"postgresql://alice:hunter2@[::1", {}, "end of string reached when looking for matching \"]\" in IPv6 host address in URI: \"postgresql://alice:********@[::1\""},
    {"postgresql://alice:hunter2@[]/db?password=p2&sslpassword=k%zz&application_name=app", {},
     "IPv6 host address may not be empty in URI: \"postgresql://alice:********@[]/db?password=********&sslpassword=********&application_name=app\""},
    {"postgres://:hunter2@[::1]x?%70assword=p2", {},
     "unexpected character \"x\" at position 26 in URI (expected \":\" or \"/\"): \"postgres://:********@[::1]x?%70assword=********\""},
    {"postgresql://alice@[]?password", {}, "IPv6 host address may not be empty in URI: \"postgresql://alice@[]?password\""},
    {"POSTGRESQL://h", {}, "missing \"=\" after \"POSTGRESQL://h\" in connection info string"},
    {" postgresql://h", {}, "missing \"=\" after \"postgresql://h\" in connection info string"},
};
INSTANTIATE_TEST_SUITE_P(Uri, ParseTable, ::testing::ValuesIn(kUriCases));

// Every keyword of the table is accepted in both forms, and keeps its value verbatim.
TEST(ParseKeywords, EveryKeywordInBothForms) {
    int n = 0;
    for (const auto& k : pgtls::config::keywords()) {
        std::string name(k.name);
        EXPECT_EQ(pgtls::parse_conninfo(name + "='some value'"), (Pairs{{name, "some value"}})) << name;
        EXPECT_EQ(pgtls::parse_conninfo("postgresql://?" + name + "=some%20value"), (Pairs{{name, "some value"}}))
            << name;
        ++n;
    }
    EXPECT_EQ(n, 57);  // libpq 18's 50 keywords + sslbackend + the 6 memory caps
}

TEST(ParseKeywords, IssueFiveKeywordsAreAllKnown) {
    for (const char* k : {"host", "hostaddr", "port", "dbname", "user", "password", "passfile", "connect_timeout",
                          "client_encoding", "options", "application_name", "fallback_application_name", "keepalives",
                          "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout", "sslmode",
                          "sslnegotiation", "sslcert", "sslkey", "sslpassword", "sslcertmode", "sslrootcert", "sslcrl",
                          "sslcrldir", "sslsni", "ssl_min_protocol_version", "ssl_max_protocol_version",
                          "channel_binding", "require_auth", "target_session_attrs", "load_balance_hosts", "service",
                          "sslbackend", "sslkeylogfile", "gssencmode", "krbsrvname", "gsslib", "gssdelegation",
                          "requirepeer", "replication"})
        EXPECT_NE(pgtls::config::find_keyword(k), nullptr) << k;
}

TEST(UriDecode, Components) {
    EXPECT_EQ(pgtls::config::uri_decode("a%2Fb"), "a/b");
    EXPECT_EQ(pgtls::config::uri_decode("%e6%97%a5"), "\xe6\x97\xa5");
    EXPECT_EQ(pgtls::config::uri_decode("  x  "), "x");
    EXPECT_EQ(pgtls::config::uri_decode("%20x%20"), " x ");
    EXPECT_THROW(pgtls::config::uri_decode("%2"), pgtls::Error);
    EXPECT_THROW(pgtls::config::uri_decode("a b"), pgtls::Error);
}

TEST(SuggestKeyword, TyposOnly) {
    EXPECT_EQ(pgtls::config::suggest_keyword("sslmdoe"), "sslmode");
    EXPECT_EQ(pgtls::config::suggest_keyword("HOSTADDR"), "hostaddr");
    EXPECT_EQ(pgtls::config::suggest_keyword("completely_unrelated"), "");
}

// What the CLI shows of a connection string in a usage error (issue 15): never a secret.
TEST(MaskedConnectionString, SecretsAndUnknownKeywordValuesMasked) {
    using pgtls::config::masked_connection_string;
    EXPECT_EQ(masked_connection_string("host=db password=hunter2 user=x"), "host=db password=******** user=x");
    EXPECT_EQ(masked_connection_string("host = db  password = 'a \\' b' sslpassword=k"),
              "host = db  password = ******** sslpassword=********");
    EXPECT_EQ(masked_connection_string("pasword=hunter2 port=5432"), "pasword=******** port=5432");
    EXPECT_EQ(masked_connection_string("password 'hunter2'"), "password ********");
    EXPECT_EQ(masked_connection_string("host=db password='unterminated"), "host=db password=********");
    EXPECT_EQ(masked_connection_string("mydb"), "mydb");
    EXPECT_EQ(masked_connection_string("postgresql://u:s3cret@h/db?sslpassword=k3y&sslmode=require"),
              "postgresql://u:********@h/db?sslpassword=********&sslmode=require");
}

}  // namespace
