// The real PostgreSQL servers and test PKI that scripts/test-servers.sh sets up, as seen by
// the test suites. The script writes ${PGTLS_TEST_DIR:-/tmp/pgtls-test}/env (or the file named
// by $PGTLS_TEST_ENV); test_env() reads it once.
//
// A missing or incomplete env file makes every test that asks for it FAIL with
// "test servers not running: run scripts/test-servers.sh start" — never a silent skip.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pgtls::test {

// One server started by scripts/test-servers.sh.
struct TestServer {
    std::string name;        // "pg15", "pg15nossl" or "pg18" (the script's names)
    int port = 0;            // TCP port on 127.0.0.1 and ::1
    std::string socket_dir;  // Unix socket directory (socket file .s.PGSQL.<port>)
    int major_version = 0;   // 15, 18
    bool ssl = false;        // ssl = on in its configuration
    std::string log_file;    // server log (connections are logged)
};

// Users every server knows (see scripts/test-servers.sh for their pg_hba.conf rules):
// trustuser, pwuser, md5user, scramuser, certuser, sslonly and "ünïcode".
// Returns the password for `user` ("" for trustuser); throws for an unknown user.
const std::string& password_of(std::string_view user);

struct TestEnv {
    std::string env_file;    // the file this was read from
    std::string dir;         // PGTLS_TEST_DIR
    std::string pki_dir;     // PGTLS_TEST_PKI
    std::string pg15_bin;    // PostgreSQL 15 binaries (psql, pg_ctl, ...)
    std::string pg18_bin;    // PostgreSQL 18 binaries
    std::vector<TestServer> servers;  // pg15, pg15nossl, pg18 — in that order

    // The server with that name; throws if there is none.
    const TestServer& server(std::string_view name) const;
    // Servers with ssl = on / off.
    std::vector<const TestServer*> ssl_servers() const;
    std::vector<const TestServer*> nossl_servers() const;

    // "host=HOST port=PORT dbname=DBNAME user=USER[ password=PASSWORD]" for a TCP connection,
    // values quoted as libpq requires. Callers append sslmode and the rest.
    std::string conninfo(const TestServer& server, std::string_view user,
                         std::string_view host = "127.0.0.1", std::string_view dbname = "pgtls") const;
    // The same over the server's Unix socket directory (pg_hba: local trust for all users).
    std::string unix_conninfo(const TestServer& server, std::string_view user,
                              std::string_view dbname = "pgtls") const;
};

// The names scripts/test-servers.sh uses, available without the env file (for
// INSTANTIATE_TEST_SUITE_P lists, which run before any test).
inline constexpr std::string_view kServerNames[] = {"pg15", "pg15nossl", "pg18"};

// The servers described by the env file; read once. Throws std::runtime_error (which fails
// the calling test with the message) when the file is missing or incomplete. Call it from
// test bodies or fixtures, not during static initialization.
const TestEnv& test_env();

// Parses one env file; what test_env() uses. Throws std::runtime_error as test_env() does.
TestEnv load_test_env(const std::string& env_file);

// Path of the env file test_env() reads: $PGTLS_TEST_ENV, else ${PGTLS_TEST_DIR:-/tmp/pgtls-test}/env.
std::string test_env_path();

// Absolute path of a file in the test PKI (scripts/make-pki.sh), e.g. pki("server.crt").
// The PKI directory is $PGTLS_TEST_PKI, else the env file's, else
// ${PGTLS_TEST_DIR:-/tmp/pgtls-test}/pki; it exists while the servers are stopped too.
// Throws std::runtime_error if the file does not exist.
std::string pki(const std::string& file);

// Quotes a conninfo value the way libpq parses it: bare if it has no space, quote or
// backslash and is not empty, otherwise in single quotes with ' and \ escaped.
std::string quote_conninfo_value(std::string_view value);

// Restarts one server of the environment (scripts/test-servers.sh restart NAME) on its port;
// a failure fails the calling test. Only for tests that run alone (is_parallel: false).
void restart_test_server(std::string_view name);

// A TCP port on 127.0.0.1 where nothing listens: bound once by the kernel's choice, then closed.
int closed_port();

}  // namespace pgtls::test
