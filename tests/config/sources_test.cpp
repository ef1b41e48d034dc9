// Service files and .pgpass, with libpq's search order, matching rules and messages.
#include <gtest/gtest.h>

#include "config_test_util.hpp"
#include "config/sources.hpp"

namespace {

using namespace pgtls;
using pgtls::test::FakeEnv;
using pgtls::test::from_string;
using pgtls::test::resolve_error;
using pgtls::test::TempDir;

class ServiceFiles : public ::testing::Test {
protected:
    TempDir home, etc;
    FakeEnv env{{"HOME", home.path()}, {"PGSYSCONFDIR", etc.path()}};

    config::ServiceDefinition lookup(const std::string& name) { return config::lookup_service(name, env.fn()); }
    std::string error(const std::string& name) {
        try {
            lookup(name);
        } catch (const Error& e) {
            return e.what();
        }
        return "";
    }
};

TEST_F(ServiceFiles, UserFileBeforeSystemFile) {
    home.write(".pg_service.conf", "[mine]\nhost=user-host\n");
    etc.write("pg_service.conf", "[mine]\nhost=system-host\n[theirs]\nhost=other\n");
    auto def = lookup("mine");
    EXPECT_EQ(def.file, home / ".pg_service.conf");
    EXPECT_EQ(def.values, (config::KeywordValues{{"host", "user-host"}}));
    // A section missing from the user's file is looked up in the system file.
    auto other = lookup("theirs");
    EXPECT_EQ(other.file, etc / "pg_service.conf");
    EXPECT_EQ(other.values, (config::KeywordValues{{"host", "other"}}));
}

TEST_F(ServiceFiles, PgServiceFileReplacesTheUserFile) {
    home.write(".pg_service.conf", "[s]\nhost=user-host\n");
    std::string custom = etc.write("custom.conf", "[s]\nhost=custom-host\n");
    env.set("PGSERVICEFILE", custom);
    EXPECT_EQ(lookup("s").values, (config::KeywordValues{{"host", "custom-host"}}));
    env.set("PGSERVICEFILE", etc / "missing.conf");
    EXPECT_EQ(error("s"), "service file \"" + (etc / "missing.conf") + "\" not found");
}

TEST_F(ServiceFiles, SyntaxLikeLibpq) {
    etc.write("pg_service.conf",
              "# comment\n"
              "\n"
              "[other]\nhost=no\n"
              "  [svc]  \n"
              "   host=svc-host   \n"
              "port=6000\n"
              "port=7000\n"               // first value in the section wins
              "options=-c a=b\n"
              "password=pa=ss\n"          // split at the first '='
              "\t# indented comment\n"
              "[svcextra]\nhost=prefix-match-is-not-enough\n");
    auto def = lookup("svc");
    EXPECT_EQ(def.values, (config::KeywordValues{{"host", "svc-host"}, {"port", "6000"}, {"options", "-c a=b"},
                                                 {"password", "pa=ss"}}));
    EXPECT_EQ(lookup("svcextra").values, (config::KeywordValues{{"host", "prefix-match-is-not-enough"}}));
}

TEST_F(ServiceFiles, Errors) {
    EXPECT_EQ(error("nowhere"), "definition of service \"nowhere\" not found");
    etc.write("pg_service.conf", "[a]\nhost\n[b]\nservice=a\n[c]\nhost = x\n[d]\nfoo=bar\n[e]\nhost=" +
                                     std::string(1100, 'x') + "\n");
    const std::string file = etc / "pg_service.conf";
    EXPECT_EQ(error("a"), "syntax error in service file \"" + file + "\", line 2");
    EXPECT_EQ(error("b"), "nested service specifications not supported in service file \"" + file + "\", line 4");
    EXPECT_EQ(error("c").rfind("syntax error in service file \"" + file + "\", line 6", 0), 0u);  // "host " is no keyword
    EXPECT_EQ(error("d").rfind("syntax error in service file \"" + file + "\", line 8", 0), 0u);
    // libpq rejects any over-long line of the file, even outside the wanted section.
    EXPECT_EQ(error("a").find("too long"), std::string::npos);
    EXPECT_EQ(error("e"), "line 10 too long in service file \"" + file + "\"");
}

TEST_F(ServiceFiles, ResolveUsesServiceBetweenStringAndEnvironment) {
    etc.write("pg_service.conf", "[prod]\nhost=prod-db\nport=6432\nsslmode=verify-full\nsslrootcert=system\n");
    env.set("PGSERVICE", "prod");
    env.set("PGPORT", "1234");
    Settings s = resolve(from_string("port=5555"), env.fn());
    EXPECT_EQ(s.hosts[0].host, "prod-db");
    EXPECT_EQ(s.hosts[0].port, 5555);
    EXPECT_EQ(s.sslmode, SslMode::verify_full);
    EXPECT_EQ(s.sources.at("host"), SettingSource::service_file);
    EXPECT_EQ(s.sources.at("service"), SettingSource::environment);
    // The string's service beats PGSERVICE.
    etc.write("pg_service.conf", "[prod]\nhost=prod-db\n[dev]\nhost=dev-db\n");
    EXPECT_EQ(resolve(from_string("service=dev"), env.fn()).hosts[0].host, "dev-db");
    // A code service beats both.
    Config c = from_string("service=dev");
    c.service = "prod";
    EXPECT_EQ(resolve(c, env.fn()).hosts[0].host, "prod-db");
    // Errors in the service file name it.
    etc.write("pg_service.conf", "[prod]\nsslmode=verify\n");
    EXPECT_NE(resolve_error(from_string(""), env.fn()).find("(in service file \"" + (etc / "pg_service.conf") + "\")"),
              std::string::npos);
    EXPECT_EQ(resolve_error(from_string("service=missing"), env.fn()), "definition of service \"missing\" not found");
}

// ---- .pgpass ----------------------------------------------------------------------------

class PgPass : public ::testing::Test {
protected:
    TempDir dir;
    std::vector<std::string> warnings;

    std::optional<std::string> find(const std::string& content, const std::string& host, const std::string& port,
                                    const std::string& db, const std::string& user, mode_t mode = 0600) {
        std::string file = dir.write("pgpass", content, mode);
        return pgpass_lookup(file, host, port, db, user, &warnings);
    }
};

TEST_F(PgPass, MatchingRules) {
    const std::string file =
        "# comment:5432:db:user:nope\n"
        "db.example:5432:app:alice:first\n"
        "db.example:5432:app:alice:second\n"      // the first match wins
        "*:5433:*:bob:wild\n"
        "localhost:5432:*:carol:local\n"
        "h\\:x:5432:d\\\\b:u:esc\\:aped\\\\pw\n"  // escaped ':' and '\'
        "other:*:*:*:pw:with:colons\n"            // the password ends at the next ':'
        "crlf:5432:db:user:crlfpw\r\n"
        "*:*:*:*:fallback\n";
    EXPECT_EQ(find(file, "db.example", "5432", "app", "alice"), "first");
    EXPECT_EQ(find(file, "anything", "5433", "x", "bob"), "wild");
    EXPECT_EQ(find(file, "localhost", "5432", "x", "carol"), "local");
    EXPECT_EQ(find(file, "", "5432", "x", "carol"), "local");                     // empty host is localhost
    EXPECT_EQ(find(file, "/var/run/postgresql", "5432", "x", "carol"), "local");  // so is the default socket dir
    EXPECT_EQ(find(file, "/tmp", "5432", "x", "carol"), "fallback");              // other socket dirs are not
    EXPECT_EQ(find(file, "h:x", "5432", "d\\b", "u"), "esc:aped\\pw");
    EXPECT_EQ(find(file, "other", "1", "d", "anyone"), "pw");
    EXPECT_EQ(find(file, "crlf", "5432", "db", "user"), "crlfpw");
    EXPECT_EQ(find(file, "db.example", "", "app", "alice"), "first");              // empty port is 5432
    EXPECT_EQ(find(file, "comment", "5432", "db", "user"), "fallback");
    EXPECT_EQ(find("a:1:b:c:pw\n", "a", "1", "b", "cc"), std::nullopt);
    EXPECT_EQ(find("a:1:b:c\n", "a", "1", "b", "c"), std::nullopt);                // no password field
    EXPECT_EQ(find("*:*:*:*:pw", "a", "1", "", "c"), std::nullopt);                 // libpq needs dbname and user
    EXPECT_TRUE(warnings.empty());
}

TEST_F(PgPass, UnsafeOrOddFilesAreIgnoredWithAWarning) {
    EXPECT_EQ(find("*:*:*:*:pw\n", "h", "1", "d", "u", 0640), std::nullopt);
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("has group or world access; permissions should be u=rw (0600) or less"),
              std::string::npos);
    EXPECT_EQ(find("*:*:*:*:pw\n", "h", "1", "d", "u", 0604), std::nullopt);
    EXPECT_EQ(warnings.size(), 2u);
    EXPECT_EQ(find("*:*:*:*:pw\n", "h", "1", "d", "u", 0400), "pw");
    EXPECT_EQ(pgpass_lookup(dir.path(), "h", "1", "d", "u", &warnings), std::nullopt);
    EXPECT_NE(warnings.back().find("is not a plain file"), std::string::npos);
    EXPECT_EQ(pgpass_lookup(dir / "missing", "h", "1", "d", "u", &warnings), std::nullopt);
    EXPECT_EQ(warnings.size(), 3u);  // a missing file is not worth a warning
}

TEST_F(PgPass, PasswordForHostFollowsLibpq) {
    TempDir home;
    home.write(".pgpass", "a:5432:db:u:pw-a\nb:6000:db:u:pw-b\n127.0.0.1:5432:db:u:pw-ip\n");
    FakeEnv env{{"HOME", home.path()}};
    Settings s = resolve(from_string("host=a,b, hostaddr=,,127.0.0.1 port=5432,6000,5432 dbname=db user=u"), env.fn());
    ASSERT_EQ(s.hosts.size(), 3u);
    EXPECT_EQ(password_for_host(s, s.hosts[0], &warnings), "pw-a");
    EXPECT_EQ(password_for_host(s, s.hosts[1], &warnings), "pw-b");
    EXPECT_EQ(password_for_host(s, s.hosts[2], &warnings), "pw-ip");  // keyed by hostaddr when host is empty
    Settings explicit_pw = resolve(from_string("host=a dbname=db user=u password=given"), env.fn());
    EXPECT_EQ(password_for_host(explicit_pw, explicit_pw.hosts[0], &warnings), "given");
    Settings other_file = resolve(from_string("host=a dbname=db user=u passfile=/nonexistent"), env.fn());
    EXPECT_EQ(password_for_host(other_file, other_file.hosts[0], &warnings), std::nullopt);
}

}  // namespace
