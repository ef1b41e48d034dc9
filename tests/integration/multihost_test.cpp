// Multi-host connection strings, with both drivers (blocking and async), against a real primary and hot standby (streaming
// replication, scripts/test-replica.sh), on every TLS backend: dead hosts, the aggregated
// error, URI and hostaddr lists, per-host connect_timeout, every target_session_attrs value
// with the hosts in both orders, load_balance_hosts=random, per-host sslmode=prefer fallback,
// and .pgpass end to end.
//
// Needs ${PGTLS_TEST_DIR:-/tmp/pgtls-test}/replica.env (scripts/test-replica.sh start) and
// the env file of scripts/test-servers.sh (for the ssl=off server and the PKI). A missing file
// fails the tests; it never skips them.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <stdexcept>

#include "integration_fixture.hpp"
#include "tests/support/proxy/silent_listener.hpp"

namespace pgtls::test {
namespace {

struct ReplicaEnv {
    int primary = 0, standby = 0;
    std::string standby_data, pg_bin;
};

const ReplicaEnv& replica() {
    static const ReplicaEnv env = [] {
        const char* d = std::getenv("PGTLS_TEST_DIR");
        const std::string path = std::string(d && *d ? d : "/tmp/pgtls-test") + "/replica.env";
        std::ifstream in(path);
        if (!in) throw std::runtime_error("replica servers not running: run scripts/test-replica.sh start (" + path + ")");
        std::map<std::string, std::string> kv;
        std::string line;
        while (std::getline(in, line)) {
            auto eq = line.find('=');
            if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
        }
        ReplicaEnv r;
        r.primary = std::atoi(kv["PGTLS_REPLICA_PRIMARY_PORT"].c_str());
        r.standby = std::atoi(kv["PGTLS_REPLICA_STANDBY_PORT"].c_str());
        r.standby_data = kv["PGTLS_REPLICA_STANDBY_DATA"];
        r.pg_bin = kv["PGTLS_REPLICA_PG_BIN"];
        if (r.primary <= 0 || r.standby <= 0) throw std::runtime_error(path + " is incomplete");
        return r;
    }();
    return env;
}

std::string ports(std::initializer_list<int> ps) {
    std::string s;
    for (int p : ps) s += (s.empty() ? "" : ",") + std::to_string(p);
    return s;
}

class Multihost : public BackendTest {
protected:
    const ReplicaEnv& r() const { return replica(); }
    // TLS on every backend (require + CA = verify-ca, as libpq); plaintext-only builds: disable.
    std::string ssl() const { return has_tls() ? " sslmode=require" + ca() : " sslmode=disable"; }
    std::string base(const std::string& hosts, const std::string& port_list) const {
        return "host=" + hosts + " port=" + port_list + " dbname=pgtls user=scramuser password=scram-secret" + ssl();
    }
    static bool in_recovery(DriverConnection& c) { return c.query("SELECT pg_is_in_recovery()")[0][0].as<bool>(); }
};

TEST_P(Multihost, DeadHostFirstMovesOnWithoutError) {
    const int dead = closed_port();
    std::vector<Notice> notices;
    auto c = open(config(base("127.0.0.1,127.0.0.1", ports({dead, r().primary}))), [&](const Notice& n) { notices.push_back(n); });
    EXPECT_EQ(c.info().port, r().primary);
    EXPECT_EQ(c.info().ssl, has_tls());
    EXPECT_FALSE(in_recovery(c));
    EXPECT_EQ(c.query("SELECT 41 + 1")[0][0].as<int>(), 42);
    // The failed first host is not reported once a later host succeeded.
    for (const auto& n : notices) EXPECT_EQ(n.fields.message.find(std::to_string(dead)), std::string::npos) << n.fields.message;
}

TEST_P(Multihost, AllHostsDeadListsEachHostAndReason) {
    const int d1 = closed_port(), d2 = closed_port();
    const auto t0 = std::chrono::steady_clock::now();
    try {
        open(base("127.0.0.1,localhost", ports({d1, d2})) + " connect_timeout=5");
        FAIL() << "connected to dead hosts";
    } catch (const Error& e) {
        const std::string m = e.what();
        EXPECT_EQ(e.kind(), ErrorKind::connection) << m;
        EXPECT_NE(m.find("\"127.0.0.1\", port " + std::to_string(d1)), std::string::npos) << m;
        EXPECT_NE(m.find("\"localhost\", port " + std::to_string(d2)), std::string::npos) << m;
        EXPECT_NE(m.find("refused"), std::string::npos) << m;
        EXPECT_NE(m.find('\n'), std::string::npos) << "one line per host: " << m;
        EXPECT_EQ(m.find("scram-secret"), std::string::npos);
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

TEST_P(Multihost, UriFormWithDeadHost) {
    const int dead = closed_port();
    std::string uri = "postgresql://scramuser:scram-secret@127.0.0.1:" + std::to_string(dead) + ",127.0.0.1:" +
                      std::to_string(r().standby) + "/pgtls?sslmode=" + (has_tls() ? "require" : "disable");
    if (has_tls()) uri += "&sslrootcert=" + pki("ca.crt");
    auto c = open(uri);
    EXPECT_EQ(c.info().port, r().standby);
    EXPECT_TRUE(in_recovery(c));
    EXPECT_EQ(c.info().ssl, has_tls());
}

TEST_P(Multihost, HostaddrListConnectsByAddressVerifiesByName) {
    const int dead = closed_port();
    // host names the certificate's name; hostaddr is where to connect (no DNS).
    std::string ci = "host=localhost,localhost hostaddr=127.0.0.1,127.0.0.1 port=" + ports({dead, r().primary}) +
                     " dbname=pgtls user=scramuser password=scram-secret";
    ci += has_tls() ? " sslmode=verify-full" + ca() : " sslmode=disable";
    auto c = open(ci);
    EXPECT_EQ(c.info().port, r().primary);
    EXPECT_EQ(c.info().address.find("127.0.0.1"), 0u) << c.info().address;
    EXPECT_EQ(c.info().host, "localhost");
    // hostaddr alone (no host): the error names the address.
    try {
        open("hostaddr=127.0.0.1,127.0.0.1 port=" + ports({dead, closed_port()}) +
                " dbname=pgtls user=trustuser sslmode=disable");
        FAIL() << "connected to dead hosts";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(std::to_string(dead)), std::string::npos) << e.what();
    }
}

TEST_P(Multihost, ConnectTimeoutIsPerHost) {
    SilentListener silent;
    const auto t0 = std::chrono::steady_clock::now();
    // connect_timeout=1 is raised to 2 s (libpq); the silent host costs ~2 s, then the next works.
    auto c = open(base("127.0.0.1,127.0.0.1", ports({silent.port(), r().primary})) + " connect_timeout=1");
    const auto elapsed = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(c.info().port, r().primary);
    EXPECT_GE(elapsed, std::chrono::milliseconds(1800));
    EXPECT_LT(elapsed, std::chrono::milliseconds(6000));

    // Two silent hosts: each gets its own 2 s, and the error says timeout for each.
    SilentListener silent2;
    const auto t1 = std::chrono::steady_clock::now();
    try {
        open(base("127.0.0.1,127.0.0.1", ports({silent.port(), silent2.port()})) + " connect_timeout=2");
        FAIL() << "connected to silent hosts";
    } catch (const Error& e) {
        const std::string m = e.what();
        EXPECT_EQ(e.kind(), ErrorKind::timeout) << m;
        EXPECT_NE(m.find(std::to_string(silent.port())), std::string::npos) << m;
        EXPECT_NE(m.find(std::to_string(silent2.port())), std::string::npos) << m;
    }
    const auto e2 = std::chrono::steady_clock::now() - t1;
    EXPECT_GE(e2, std::chrono::milliseconds(3800));
    EXPECT_LT(e2, std::chrono::milliseconds(9000));
}

struct AttrsCase {
    const char* attrs;
    bool primary_first_lands_on_standby;  // hosts = primary,standby
    bool standby_first_lands_on_standby;  // hosts = standby,primary
};

const AttrsCase kAttrs[] = {
    {"any", false, true},           {"read-write", false, false}, {"read-only", true, true},
    {"primary", false, false},      {"standby", true, true},      {"prefer-standby", true, true},
};

TEST_P(Multihost, TargetSessionAttrsBothOrders) {
    for (const auto& a : kAttrs) {
        for (bool standby_first : {false, true}) {
            const int first = standby_first ? r().standby : r().primary;
            const int second = standby_first ? r().primary : r().standby;
            SCOPED_TRACE(std::string("target_session_attrs=") + a.attrs + (standby_first ? " standby first" : " primary first"));
            auto c = open(base("127.0.0.1,127.0.0.1", ports({first, second})) + " target_session_attrs=" + a.attrs);
            const bool want_standby = standby_first ? a.standby_first_lands_on_standby : a.primary_first_lands_on_standby;
            EXPECT_EQ(in_recovery(c), want_standby);
            EXPECT_EQ(c.info().port, want_standby ? r().standby : r().primary);
            EXPECT_EQ(c.info().ssl, has_tls());
            EXPECT_EQ(c.query("SELECT 1")[0][0].as<int>(), 1);
        }
    }
}

TEST_P(Multihost, PreferStandbyWithoutReachableStandbyTakesPrimary) {
    const int dead = closed_port();
    auto c = open(base("127.0.0.1,127.0.0.1", ports({dead, r().primary})) + " target_session_attrs=prefer-standby");
    EXPECT_FALSE(in_recovery(c));
    EXPECT_EQ(c.info().port, r().primary);
}

TEST_P(Multihost, WrongRoleOnlyIsAClearError) {
    // libpq's reasons, followed by the setting that asked.
    expect_failure(base("127.0.0.1", std::to_string(r().standby)) + " target_session_attrs=read-write",
                   ErrorKind::connection, "failed: session is read-only (target_session_attrs=read-write)");
    expect_failure(base("127.0.0.1", std::to_string(r().standby)) + " target_session_attrs=primary",
                   ErrorKind::connection, "port " + std::to_string(r().standby) + " failed: server is in hot standby mode");
    expect_failure(base("127.0.0.1", std::to_string(r().primary)) + " target_session_attrs=standby",
                   ErrorKind::connection, "failed: server is not in hot standby mode (target_session_attrs=standby)");
    expect_failure(base("127.0.0.1", std::to_string(r().primary)) + " target_session_attrs=read-only",
                   ErrorKind::connection, "port " + std::to_string(r().primary) + " failed: session is not read-only");
}

TEST_P(Multihost, LoadBalanceRandomUsesBothHosts) {
    std::map<int, int> seen;
    for (int i = 0; i < 40; ++i) {
        auto c = open(base("127.0.0.1,127.0.0.1", ports({r().primary, r().standby})) + " load_balance_hosts=random");
        ++seen[c.info().port];
    }
    EXPECT_EQ(seen.size(), 2u);
    EXPECT_GE(seen[r().primary], 1);
    EXPECT_GE(seen[r().standby], 1);
    // disable (the default) always takes the first host.
    for (int i = 0; i < 5; ++i) {
        auto c = open(base("127.0.0.1,127.0.0.1", ports({r().primary, r().standby})) + " load_balance_hosts=disable");
        EXPECT_EQ(c.info().port, r().primary);
    }
}

TEST_P(Multihost, SslmodeFallbackAppliesPerHost) {
    if (!has_tls()) GTEST_SKIP() << "plaintext-only build";
    const auto& nossl = env().server("pg15nossl");
    const std::string creds = " dbname=pgtls user=scramuser password=scram-secret" + ca();
    // prefer: the ssl=off host is taken in plaintext.
    {
        auto c = open("host=127.0.0.1,127.0.0.1 port=" + ports({nossl.port, r().primary}) + creds + " sslmode=prefer");
        EXPECT_EQ(c.info().port, nossl.port);
        EXPECT_FALSE(c.info().ssl);
    }
    // prefer + standby: plaintext on the ssl=off host (not a standby), then TLS on the standby.
    {
        auto c = open("host=127.0.0.1,127.0.0.1 port=" + ports({nossl.port, r().standby}) + creds +
                         " sslmode=prefer target_session_attrs=standby");
        EXPECT_EQ(c.info().port, r().standby);
        EXPECT_TRUE(c.info().ssl);
        EXPECT_TRUE(in_recovery(c));
    }
    // require: the ssl=off host fails, the next host is used with TLS.
    {
        auto c = open("host=127.0.0.1,127.0.0.1 port=" + ports({nossl.port, r().primary}) + creds + " sslmode=require");
        EXPECT_EQ(c.info().port, r().primary);
        EXPECT_TRUE(c.info().ssl);
    }
    // allow: a hostssl-only user is refused in plaintext, retried with TLS, on the same host.
    {
        auto c = open("host=127.0.0.1 port=" + std::to_string(r().standby) +
                         " dbname=pgtls user=sslonly password=ssl-secret sslmode=allow");
        EXPECT_TRUE(c.info().ssl);
    }
}

// A temporary .pgpass with the given lines and mode.
class TempPgpass {
public:
    TempPgpass(const std::string& content, mode_t mode) {
        char tmpl[] = "/tmp/pgtls-pgpass-XXXXXX";
        int fd = ::mkstemp(tmpl);
        if (fd < 0) throw std::runtime_error("mkstemp");
        path_ = tmpl;
        if (::write(fd, content.data(), content.size()) != ssize_t(content.size())) throw std::runtime_error("write");
        ::close(fd);
        ::chmod(path_.c_str(), mode);
    }
    ~TempPgpass() { std::filesystem::remove(path_); }
    TempPgpass(const TempPgpass&) = delete;
    TempPgpass& operator=(const TempPgpass&) = delete;
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

TEST_P(Multihost, PgpassPerHostEndToEnd) {
    const int dead = closed_port();
    // Only the standby's line has the right password: the lookup is per host (and port).
    TempPgpass pass("# comment\n127.0.0.1:" + std::to_string(r().primary) + ":pgtls:scramuser:wrong-password\n" +
                        "127.0.0.1:" + std::to_string(r().standby) + ":pgtls:scramuser:scram-secret\n",
                    0600);
    Config cfg = config("host=127.0.0.1,127.0.0.1 port=" + ports({dead, r().standby}) + " dbname=pgtls user=scramuser" + ssl());
    cfg.passfile = pass.path();
    auto c = open(cfg);
    EXPECT_EQ(c.info().port, r().standby);
    EXPECT_EQ(c.info().auth_method.rfind("SCRAM-SHA-256", 0), 0u) << c.info().auth_method;

    // The primary's line is wrong: its failure is listed with the host.
    Config bad = config("host=127.0.0.1 port=" + std::to_string(r().primary) + " dbname=pgtls user=scramuser" + ssl());
    bad.passfile = pass.path();
    try {
        open(bad);
        FAIL() << "wrong .pgpass password accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::authentication) << e.what();
        EXPECT_EQ(std::string(e.what()).find("wrong-password"), std::string::npos);
    }
}

TEST_P(Multihost, PgpassWithGroupAccessIsIgnoredWithAWarning) {
    TempPgpass pass("*:*:*:scramuser:scram-secret\n", 0644);
    Config cfg = config("host=127.0.0.1 port=" + std::to_string(r().primary) + " dbname=pgtls user=scramuser" + ssl());
    cfg.passfile = pass.path();
    std::vector<std::string> warnings;
    try {
        open(cfg, [&](const Notice& n) {
            if (n.fields.severity == "WARNING") warnings.push_back(n.fields.message);
        });
        FAIL() << "a group-readable .pgpass was used";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::authentication) << e.what();
    }
    ASSERT_FALSE(warnings.empty());
    EXPECT_NE(warnings[0].find(pass.path()), std::string::npos) << warnings[0];
    EXPECT_NE(warnings[0].find("0600"), std::string::npos) << warnings[0];
    EXPECT_EQ(warnings[0].find("scram-secret"), std::string::npos);

    // Same file made private: it is used.
    ::chmod(pass.path().c_str(), 0600);
    auto ok = open(cfg);
    EXPECT_EQ(ok.query("SELECT current_user")[0][0].as<std::string>(), "scramuser");
}

// Stops the real standby (pg_ctl as postgres), then restarts it: prefer-standby must take the
// primary meanwhile, and standby must fail listing the stopped host.
TEST_P(Multihost, PreferStandbyWithStandbyStoppedTakesPrimary) {
    const std::string pg_ctl = r().pg_bin + "/pg_ctl";
    const std::string as_pg = "cd / && runuser -u postgres -- " + pg_ctl + " -D " + r().standby_data;
    ASSERT_EQ(std::system((as_pg + " -m fast -w -t 30 stop >/dev/null 2>&1").c_str()), 0);
    struct Restart {
        std::string cmd;
        ~Restart() {
            if (std::system(cmd.c_str()) != 0) ADD_FAILURE() << "could not restart the standby: " << cmd;
        }
    } restart{as_pg + " -l " + r().standby_data + "/../server.log -w -t 30 start >/dev/null 2>&1"};

    for (bool standby_first : {true, false}) {
        const int first = standby_first ? r().standby : r().primary;
        const int second = standby_first ? r().primary : r().standby;
        auto c = open(base("127.0.0.1,127.0.0.1", ports({first, second})) + " target_session_attrs=prefer-standby");
        EXPECT_FALSE(in_recovery(c));
        EXPECT_EQ(c.info().port, r().primary);
    }
    try {
        open(base("127.0.0.1,127.0.0.1", ports({r().standby, r().primary})) + " target_session_attrs=standby");
        FAIL() << "standby stopped, yet connected";
    } catch (const Error& e) {
        const std::string m = e.what();
        EXPECT_NE(m.find("port " + std::to_string(r().standby)), std::string::npos) << m;
        EXPECT_NE(m.find("port " + std::to_string(r().primary)), std::string::npos) << m;
        EXPECT_NE(m.find("target_session_attrs=standby"), std::string::npos) << m;
    }
}

PGTLS_INSTANTIATE_PER_BACKEND_AND_DRIVER(Multihost);

}  // namespace
}  // namespace pgtls::test
