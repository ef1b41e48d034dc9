// Differential test of .pgpass matching: libpq 15 (linked, Debian's build, so its default socket
// directory is pgtls's) looks the password up in PQconnectStart and PQpass shows it; pgtls's
// password_for_host must return the same for the same settings. Hosts are reached through
// hostaddr 127.0.0.1 port 1 or missing socket directories, so nothing real is contacted.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include "config_test_util.hpp"

namespace {

using namespace pgtls;
using pgtls::test::TempDir;

const char* const kPgpass =
    "# a comment line:*:*:*:never\n"
    "named.example:5432:app:alice:alice-named\n"
    "named.example:5432:app:alice:second-match-never-wins\n"
    "127.0.0.1:5432:app:alice:alice-by-address\n"
    "localhost:5432:*:bob:bob-local\n"
    "*:6000:*:bob:bob-any-host\n"
    "h\\:colon:5432:d\\\\b:u\\:x:esc\\:aped\\\\pw\\\n"
    "crlf.example:5432:db:carol:carol-crlf\r\n"
    "star.example:*:*:*:pw:with:colons\n"
    "*:*:*:dave:dave-fallback\n";

struct PassCase {
    std::string conninfo;                // host/hostaddr/port/dbname/user only
    std::optional<std::string> expected; // what both must find (pins the file's semantics)
};
void PrintTo(const PassCase& c, std::ostream* os) { *os << "[" << c.conninfo << "]"; }

const PassCase kCases[] = {
    {"host=named.example hostaddr=127.0.0.1 port=1 dbname=app user=alice", std::nullopt},
    {"host=named.example hostaddr=127.0.0.1 dbname=app user=alice", "alice-named"},
    {"hostaddr=127.0.0.1 dbname=app user=alice", "alice-by-address"},
    {"hostaddr=127.0.0.1 port=5432 dbname=app user=alice", "alice-by-address"},
    {"host=/var/run/postgresql dbname=x user=bob", "bob-local"},
    {"host=/nonexistent-pgtls-sock dbname=x user=bob", std::nullopt},
    {"dbname=x user=bob", "bob-local"},
    {"host=/nonexistent-pgtls-sock port=6000 dbname=x user=bob", "bob-any-host"},
    {"host=h:colon hostaddr=127.0.0.1 port=5432 dbname='d\\\\b' user=u:x", "esc:aped\\pw\\"},
    {"host=crlf.example hostaddr=127.0.0.1 port=5432 dbname=db user=carol", "carol-crlf"},
    {"host=star.example hostaddr=127.0.0.1 port=1 dbname=q user=anyone", "pw"},
    {"host=nowhere hostaddr=127.0.0.1 dbname=q user=dave", "dave-fallback"},
    {"host=nowhere hostaddr=127.0.0.1 dbname=q user=nobody", std::nullopt},
    {"host=named.example hostaddr=127.0.0.1 dbname=APP user=alice", std::nullopt},
    {"host=NAMED.example hostaddr=127.0.0.1 dbname=app user=alice", std::nullopt},
};

class LibpqPgpassDifferential : public ::testing::TestWithParam<PassCase> {};

std::optional<std::string> libpq_password(const std::string& conninfo) {
    PGconn* conn = PQconnectStart(conninfo.c_str());
    std::optional<std::string> result;
    const char* pw = PQpass(conn);
    if (pw != nullptr && pw[0] != '\0') result = pw;
    PQfinish(conn);
    return result;
}

TEST_P(LibpqPgpassDifferential, SamePasswordAsLibpq) {
    TempDir dir;
    for (mode_t mode : {mode_t{0600}, mode_t{0640}}) {
        std::string file = dir.write("pgpass", kPgpass, mode);
        std::string conninfo = GetParam().conninfo + " passfile=" + file + " sslmode=disable gssencmode=disable";
        pgtls::test::FakeEnv env{{"HOME", dir.path()}};
        Settings s = resolve(pgtls::test::from_string(conninfo), env.fn());
        std::vector<std::string> warnings;
        std::optional<std::string> ours = password_for_host(s, s.hosts[0], &warnings);
        std::optional<std::string> theirs = libpq_password(conninfo);
        EXPECT_EQ(ours, theirs) << "mode " << std::oct << mode;
        EXPECT_EQ(warnings.empty(), mode == 0600);
        if (mode == 0600) EXPECT_EQ(ours, GetParam().expected);
        else EXPECT_EQ(ours, std::nullopt);
    }
}

INSTANTIATE_TEST_SUITE_P(Cases, LibpqPgpassDifferential, ::testing::ValuesIn(kCases));

}  // namespace
