// GSSAPI (Kerberos) authentication against the real KDC and PostgreSQL 15 of
// scripts/test-kerberos.sh, on every compiled TLS backend; cases after PostgreSQL's
// src/test/kerberos/t/001_auth.pl: gss over plaintext and TLS (pg_stat_gssapi says who the
// server authenticated), require_auth both ways, a wrong service principal, missing and
// expired credentials, channel_binding=require, gssdelegation, the pool; then GSSAPI
// encryption (gssencmode) with both drivers: libpq's order before TLS, hostgssenc and
// hostnogssenc lines, fallbacks, data larger than a 16 KiB packet, COPY, cancel, the pool.
//
// Needs ${PGTLS_TEST_DIR:-/tmp/pgtls-test}/krb-env (scripts/test-kerberos.sh start; test.sh
// starts it). Without that file, or in a build without -Dgssapi, every case SKIPS saying why.
#include "pgtls_gssapi_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <optional>
#include <thread>

#include "integration_fixture.hpp"
#include "pgtls/async_pool.hpp"
#include "pgtls/pool.hpp"

namespace pgtls::test {
namespace {

using namespace std::chrono_literals;

std::string test_dir() {
    const char* d = std::getenv("PGTLS_TEST_DIR");
    return d && *d ? d : "/tmp/pgtls-test";
}

// KEY=VALUE lines of krb-env; nullopt when the rig is not running.
const std::optional<std::map<std::string, std::string>>& krb_env() {
    static const std::optional<std::map<std::string, std::string>> env =
        []() -> std::optional<std::map<std::string, std::string>> {
        std::ifstream in(test_dir() + "/krb-env");
        if (!in) return std::nullopt;
        std::map<std::string, std::string> kv;
        std::string line;
        while (std::getline(in, line)) {
            auto eq = line.find('=');
            if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
        }
        return kv;
    }();
    return env;
}

const std::string& krb(const std::string& key) {
    static const std::string none;
    auto it = krb_env()->find(key);
    return it == krb_env()->end() ? none : it->second;
}

// Sets KRB5CCNAME for one scope (GSSAPI reads it at each call), restoring the rig's.
struct CcacheScope {
    explicit CcacheScope(const std::string& name) { ::setenv("KRB5CCNAME", name.c_str(), 1); }
    ~CcacheScope() { ::setenv("KRB5CCNAME", krb("KRB5CCNAME").c_str(), 1); }
};

class Gss : public BackendTest {
protected:
    void SetUp() override {
#if !PGTLS_HAVE_GSSAPI
        GTEST_SKIP() << "built without the gssapi feature (meson -Dgssapi=enabled)";
#endif
        if (!krb_env())
            GTEST_SKIP() << "Kerberos rig not running: " << test_dir()
                         << "/krb-env is absent (run scripts/test-kerberos.sh start)";
        // The rig's krb5.conf and ticket cache, never the machine's.
        ::setenv("KRB5_CONFIG", krb("KRB5_CONFIG").c_str(), 1);
        ::setenv("KRB5CCNAME", krb("KRB5CCNAME").c_str(), 1);
    }
    // The service principal is postgres/localhost: connect by that name to 127.0.0.1.
    std::string base(const std::string& dbname = "pgtls", const std::string& host = "") const {
        // gssencmode=disable: these cases are about GSSAPI authentication (GssEncryption below
        // is about the encryption), as in 001_auth.pl. A later keyword overrides it.
        return "host=" + (host.empty() ? krb("PGTLS_KRB_HOST") : host) + " hostaddr=" + krb("PGTLS_KRB_HOSTADDR") +
               " port=" + krb("PGTLS_KRB_PORT") + " user=" + krb("PGTLS_KRB_USER") + " dbname=" + dbname +
               " connect_timeout=20 gssencmode=disable";
    }
    std::string plain(const std::string& extra = "") const { return base() + " sslmode=disable " + extra; }
    std::string tls(const std::string& extra = "") const { return base() + " sslmode=verify-full" + ca() + " " + extra; }

    // pg_stat_gssapi for this session: "gss_authenticated|principal|encrypted".
    static std::string gss_row(Client& c) {
        auto r = c.query("SELECT gss_authenticated, principal, encrypted FROM pg_stat_gssapi WHERE pid = pg_backend_pid()");
        return std::string(r[0][0].view()) + "|" + std::string(r[0][1].view()) + "|" + std::string(r[0][2].view());
    }
    std::string principal() const { return krb("PGTLS_KRB_USER") + "@" + krb("PGTLS_KRB_REALM"); }
};

TEST_P(Gss, AuthenticatesOverPlaintext) {
    Client c = connect(plain());
    EXPECT_EQ(c.info().auth_method, "gss");
    EXPECT_FALSE(c.info().ssl);
    EXPECT_EQ(gss_row(c), "t|" + principal() + "|f");
    EXPECT_EQ(c.query("SELECT current_user")[0][0].view(), krb("PGTLS_KRB_USER"));
}

TEST_P(Gss, AuthenticatesOverTls) {
    if (!has_tls()) GTEST_SKIP() << "no TLS backend";
    Client c = connect(tls());
    EXPECT_EQ(c.info().auth_method, "gss");
    EXPECT_TRUE(c.info().ssl);
    EXPECT_EQ(c.info().backend, backend());
    EXPECT_EQ(gss_row(c), "t|" + principal() + "|f");
    EXPECT_EQ(c.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")[0][0].view(), "t");
}

TEST_P(Gss, HostNoGssEncLineAcceptsGssAuthentication) {
    Client c = connect(base("nogss") + " sslmode=disable");
    EXPECT_EQ(gss_row(c), "t|" + principal() + "|f");
}

TEST_P(Gss, HostGssEncLineRefusesAnUnencryptedConnection) {
    expect_failure(base("gssonly") + " sslmode=disable", ErrorKind::authentication, "no pg_hba.conf entry");
}

TEST_P(Gss, RequireAuthGssAccepts) {
    EXPECT_EQ(connect(plain("require_auth=gss")).info().auth_method, "gss");
    EXPECT_EQ(connect(plain("require_auth=scram-sha-256,gss")).info().auth_method, "gss");
    EXPECT_EQ(connect(plain("require_auth=!password,!md5")).info().auth_method, "gss");
}

TEST_P(Gss, RequireAuthRefusesGss) {
    expect_failure(plain("require_auth=scram-sha-256"), ErrorKind::authentication,
                   "authentication method requirement \"scram-sha-256\" failed: server requested GSSAPI authentication");
    expect_failure(plain("require_auth=!gss"), ErrorKind::authentication,
                   "authentication method requirement \"!gss\" failed: server requested GSSAPI authentication");
}

TEST_P(Gss, RequireAuthGssRefusesScram) {
    const std::string ci = "host=" + krb("PGTLS_KRB_HOST") + " hostaddr=" + krb("PGTLS_KRB_HOSTADDR") + " port=" +
                           krb("PGTLS_KRB_PORT") + " user=scramuser password=scram-secret dbname=pgtls sslmode=disable";
    EXPECT_EQ(connect(ci).info().auth_method, "SCRAM-SHA-256");
    expect_failure(ci + " require_auth=gss", ErrorKind::authentication,
                   "authentication method requirement \"gss\" failed: server requested SASL authentication");
}

TEST_P(Gss, WrongServiceNameNamesThePrincipal) {
    expect_failure(plain("krbsrvname=nosuch"), ErrorKind::authentication,
                   "nosuch/localhost@" + krb("PGTLS_KRB_REALM") + " not found in Kerberos database");
    expect_failure(plain("krbsrvname=nosuch"), ErrorKind::authentication, "check krbsrvname and the host name");
}

TEST_P(Gss, HostNameOutsideTheRealmHasNoPrincipal) {
    // The server's principal is postgres/localhost; by address the client asks for another.
    expect_failure(base("pgtls", "127.0.0.1") + " sslmode=disable", ErrorKind::authentication,
                   "postgres/127.0.0.1@" + krb("PGTLS_KRB_REALM") + " not found in Kerberos database");
}

TEST_P(Gss, NoCredentialsNameTheCache) {
    const std::string empty = test_dir() + "/krb/empty-ccache-" + std::to_string(::getpid());
    { std::ofstream(empty).flush(); }
    {
        CcacheScope scope("FILE:" + empty);
        expect_failure(plain(), ErrorKind::authentication,
                       "GSSAPI continuation error: No credentials were supplied, or the credentials were unavailable "
                       "or inaccessible");
        expect_failure(plain(), ErrorKind::authentication, empty);
        expect_failure(plain(), ErrorKind::authentication, "run kinit");
    }
    std::remove(empty.c_str());
    // The rig's own cache works again.
    EXPECT_EQ(connect(plain()).info().auth_method, "gss");
}

TEST_P(Gss, ExpiredTicketSaysSo) {
    if (std::system("command -v kinit >/dev/null && command -v klist >/dev/null") != 0)
        GTEST_SKIP() << "kinit/klist not installed";
    const std::string cache = test_dir() + "/krb/expired-ccache-" + std::to_string(::getpid());
    const std::string env = "KRB5_CONFIG='" + krb("KRB5_CONFIG") + "' KRB5CCNAME='FILE:" + cache + "' ";
    ASSERT_EQ(std::system(("echo '" + krb("PGTLS_KRB_USER_PASSWORD") + "' | " + env + "kinit -l 1s " +
                           krb("PGTLS_KRB_USER") + " >/dev/null")
                              .c_str()),
              0);
    // Wait for the one-second ticket to lapse: klist -s fails once no ticket is valid.
    bool expired = false;
    for (int i = 0; i < 200 && !expired; ++i) {
        expired = std::system((env + "klist -s").c_str()) != 0;
        if (!expired) std::this_thread::sleep_for(50ms);
    }
    ASSERT_TRUE(expired) << "the one-second ticket never expired";
    // klist calls a ticket expired from its end second on, the KDC only after it: wait for
    // the next second of the clock both read.
    const std::time_t seen = std::time(nullptr);
    while (std::time(nullptr) <= seen) std::this_thread::sleep_for(50ms);
    {
        CcacheScope scope("FILE:" + cache);
        expect_failure(plain(), ErrorKind::authentication, "GSSAPI continuation error");
        expect_failure(plain(), ErrorKind::authentication, "expired");
    }
    std::remove(cache.c_str());
}

TEST_P(Gss, ChannelBindingRequireRefusesAGssLogin) {
    if (!has_tls()) GTEST_SKIP() << "channel_binding=require needs TLS";
    expect_failure(tls("channel_binding=require"), ErrorKind::authentication,
                   "channel binding required but not supported by server's authentication request");
}

TEST_P(Gss, DelegationStillAuthenticates) {
    Client c = connect(plain("gssdelegation=1"));
    EXPECT_EQ(gss_row(c), "t|" + principal() + "|f");
}

TEST_P(Gss, PoolOverGss) {
    PoolOptions o;
    o.max_size = 3;
    o.acquire_timeout = 20s;
    o.connect_timeout = 10s;
    Pool pool(config(has_tls() ? tls() : plain()), o);
    std::atomic<int> errors{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 50; ++i) {
                try {
                    auto r = pool.exec("SELECT current_user, $1::int", i);
                    if (r[0][0].view() != krb("PGTLS_KRB_USER") || r[0][1].as<int>() != i) ++errors;
                } catch (const Error& e) {
                    if (++errors < 3) ADD_FAILURE() << e.what();
                }
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(errors, 0);
    auto lease = pool.acquire();
    EXPECT_EQ(lease->info().auth_method, "gss");
    EXPECT_LE(pool.stats().created, 3u);
}

PGTLS_INSTANTIATE_PER_BACKEND(Gss);

// ---------------------------------------------------------------------------------------------
// GSSAPI encryption (gssencmode), with the blocking and the async driver.

class GssEncryption : public Gss {
protected:
    std::string enc(const std::string& dbname, const std::string& extra = "") const {
        return base(dbname) + " " + extra;
    }
    static std::string empty_ccache() {
        const std::string path = test_dir() + "/krb/empty-ccache-enc-" + std::to_string(::getpid());
        { std::ofstream(path).flush(); }
        return "FILE:" + path;
    }
    static std::string gss_row(DriverConnection& c) {
        auto r = c.query("SELECT gss_authenticated, principal, encrypted FROM pg_stat_gssapi WHERE pid = pg_backend_pid()");
        return std::string(r[0][0].view()) + "|" + std::string(r[0][1].view()) + "|" + std::string(r[0][2].view());
    }
    bool async_driver() const { return driver() == DriverKind::async; }
};

TEST_P(GssEncryption, RequireEncryptsAHostGssEncLogin) {
    DriverConnection c = open(enc("gssonly", "gssencmode=require"));
    EXPECT_EQ(c.info().encryption, "gss");
    EXPECT_FALSE(c.info().ssl);
    EXPECT_EQ(c.info().auth_method, "gss");
    EXPECT_EQ(gss_row(c), "t|" + principal() + "|t");
}

TEST_P(GssEncryption, PreferIsTheDefaultAndComesBeforeTls) {
    // libpq: with credentials, GSSAPI encryption is tried first whatever sslmode says, and
    // once it is up no TLS is attempted.
    for (const std::string ssl : {"", "sslmode=require", "sslmode=prefer"}) {
        SCOPED_TRACE(ssl);
        const std::string ci = "host=" + krb("PGTLS_KRB_HOST") + " hostaddr=" + krb("PGTLS_KRB_HOSTADDR") +
                               " port=" + krb("PGTLS_KRB_PORT") + " user=" + krb("PGTLS_KRB_USER") +
                               " dbname=gssonly connect_timeout=20 " + ssl;
        DriverConnection c = open(ci);
        EXPECT_EQ(c.info().encryption, "gss");
        EXPECT_EQ(gss_row(c), "t|" + principal() + "|t");
    }
}

TEST_P(GssEncryption, RequireAuthGssIsSatisfiedByTheEncryption) {
    DriverConnection c = open(enc("gssonly", "gssencmode=require require_auth=gss"));
    EXPECT_EQ(c.info().encryption, "gss");
    expect_failure(enc("gssonly", "gssencmode=require require_auth=scram-sha-256"), ErrorKind::authentication,
                   "server did not complete authentication");
}

TEST_P(GssEncryption, RowsAndStatementsLargerThanAPacket) {
    // 16 KiB packets: a megabyte each way travels in dozens of them.
    DriverConnection c = open(enc("gssonly", "gssencmode=require"));
    auto r = c.query("SELECT repeat('abcdefgh', 131072) || 'end', md5(repeat('abcdefgh', 131072))");
    const std::string big(r[0][0].view());
    ASSERT_EQ(big.size(), 1048579u);
    EXPECT_EQ(big.substr(big.size() - 11), "abcdefghend");
    std::string literal(200000, 'q');
    auto echo = c.query("SELECT length('" + literal + "'), md5('" + literal + "') = md5(repeat('q', 200000))");
    EXPECT_EQ(echo[0][0].view(), "200000");
    EXPECT_EQ(echo[0][1].view(), "t");
    EXPECT_EQ(c.query("SELECT count(*) FROM generate_series(1, 50000)")[0][0].view(), "50000");
}

TEST_P(GssEncryption, CopyInAndOutOverGssapi) {
    DriverConnection c = open(enc("gssonly", "gssencmode=require"));
    ASSERT_EQ(c.info().encryption, "gss");
    c.exec("CREATE TEMP TABLE t (id int, v text)");
    auto in = c.copy_in_writer("COPY t FROM STDIN");
    std::string expected;
    for (int i = 0; i < 20000; ++i) {
        std::string line = std::to_string(i) + "\t" + std::string(100, static_cast<char>('a' + i % 26)) + "\n";
        expected += line;
        in.write(line);
    }
    in.finish();
    EXPECT_EQ(c.query("SELECT count(*), sum(length(v)) FROM t")[0][1].view(), "2000000");
    std::string out;
    c.copy_out("COPY (SELECT * FROM t ORDER BY id) TO STDOUT", [&](std::string_view d) { out.append(d); });
    EXPECT_EQ(out.size(), expected.size());
    EXPECT_TRUE(out == expected);
}

TEST_P(GssEncryption, RequireAgainstAHostNoGssEncLineFails) {
    expect_failure(enc("nogss", "gssencmode=require"), ErrorKind::authentication,
                   "no pg_hba.conf entry for host \"127.0.0.1\", user \"" + krb("PGTLS_KRB_USER") +
                       "\", database \"nogss\", GSS encryption");
}

TEST_P(GssEncryption, PreferFallsBackToTheSslmodeAttempts) {
    // hostnogssenc only: the login over GSSAPI encryption is refused, then sslmode's
    // sequence runs from its start (TLS first with prefer; plaintext with disable).
    DriverConnection c = open(enc("nogss", "gssencmode=prefer sslmode=" + std::string(has_tls() ? "prefer" : "disable")));
    EXPECT_EQ(c.info().encryption, has_tls() ? "tls" : "plaintext");
    EXPECT_EQ(gss_row(c), "t|" + principal() + "|f");
    DriverConnection p = open(enc("nogss", "gssencmode=prefer sslmode=disable"));
    EXPECT_EQ(p.info().encryption, "plaintext");
}

TEST_P(GssEncryption, ATicketHolderReachesAServerWithoutGssapiOverDirectTls) {
    // PostgreSQL 18 of test-servers.sh has no GSSAPI: it refuses GSSENCRequest with 'N'. With
    // sslnegotiation=direct the handshake cannot follow on that socket (the server waits for a
    // startup packet), so a new connection carries it, as libpq 17 does. With classic
    // negotiation the SSLRequest follows on the same socket.
    if (!has_tls()) GTEST_SKIP() << "needs a TLS backend";
    for (const std::string negotiation : {"direct", "postgres"}) {
        SCOPED_TRACE(negotiation);
        DriverConnection c = open(env().conninfo(env().server("pg18"), "scramuser") +
                                  " sslmode=require gssencmode=prefer sslnegotiation=" + negotiation);
        EXPECT_EQ(c.info().encryption, "tls");
        EXPECT_EQ(c.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")[0][0].view(), "t");
    }
}

TEST_P(GssEncryption, RequireWithoutATicketFailsWithLibpqsText) {
    CcacheScope scope(empty_ccache());
    expect_failure(enc("gssonly", "gssencmode=require"), ErrorKind::connection,
                   "GSSAPI encryption required but was impossible (possibly no credential cache, no server support, "
                   "or using a local socket)");
    // prefer without a ticket: no GSSENCRequest at all; a password login goes on as usual.
    const std::string scram = "host=" + krb("PGTLS_KRB_HOST") + " hostaddr=" + krb("PGTLS_KRB_HOSTADDR") +
                              " port=" + krb("PGTLS_KRB_PORT") + " user=scramuser password=scram-secret dbname=pgtls " +
                              "gssencmode=prefer sslmode=disable";
    EXPECT_EQ(open(scram).info().encryption, "plaintext");
}

TEST_P(GssEncryption, RequireOverAUnixSocketIsImpossible) {
    expect_failure("host=" + krb("PGTLS_KRB_SOCKET_DIR") + " port=" + krb("PGTLS_KRB_PORT") +
                       " user=postgres dbname=postgres gssencmode=require",
                   ErrorKind::connection, "GSSAPI encryption required but was impossible");
}

TEST_P(GssEncryption, AQueryTimeoutCancelsOverGssapi) {
    // The cancel request goes through its own GSSAPI-encrypted connection; the session
    // stays usable once the server has cancelled the query.
    DriverConnection c = open(enc("gssonly", "gssencmode=require"));
    c.set_query_timeout(300ms);
    try {
        c.query("SELECT pg_sleep(30)");
        ADD_FAILURE() << "not cancelled";
    } catch (const Error& e) {
        EXPECT_EQ(e.cause(), ErrorCause::query_timeout) << e.what();
    }
    c.set_query_timeout(0ms);
    EXPECT_TRUE(c.is_healthy());
    EXPECT_EQ(c.query("SELECT 1")[0][0].view(), "1");
}

TEST_P(GssEncryption, CancellingARunningQueryOverGssapi) {
    // Client::cancel() from another thread, or AsyncConnection::cancel(id) from the loop.
    DriverConnection c = open(enc("gssonly", "gssencmode=require"));
    try {
        c.query_cancelled_after("SELECT pg_sleep(30)", 300ms);
        ADD_FAILURE() << "not cancelled";
    } catch (const ServerError& e) {
        EXPECT_EQ(e.sqlstate(), "57014");
    }
    EXPECT_EQ(c.query("SELECT 1")[0][0].as<int>(), 1);
}

// Three borrowers, 30 queries each: threads on the blocking Pool, leases of an AsyncPool on
// one loop with the async driver.
TEST_P(GssEncryption, PoolOverGssapiEncryption) {
    const auto check = [](const Result& r, int i) { return r[0][0].view() == "t" && r[0][1].as<int>() == i; };
    const std::string sql = "SELECT encrypted, $1::int FROM pg_stat_gssapi WHERE pid = pg_backend_pid()";
    if (async_driver()) {
        AsyncPoolOptions o;
        o.max_size = 3;
        o.acquire_timeout = 20s;
        o.connect_timeout = 10s;
        AsyncPool pool(config(enc("gssonly", "gssencmode=require")), o);
        std::vector<AsyncPool::Lease> leases;
        for (int t = 0; t < 3; ++t)
            leases.push_back(await_async<AsyncPool::Lease>(pool, "acquire", [&](auto done) { pool.acquire(done); }));
        int ok = 0, errors = 0;
        for (auto& lease : leases)
            for (int i = 0; i < 30; ++i)
                lease->execute(sql, {to_param(i)}, [&, i](std::exception_ptr e, Result r) { (!e && check(r, i) ? ok : errors)++; });
        ASSERT_TRUE(run_async_loop(pool, [&] { return ok + errors == 90; }));
        EXPECT_EQ(errors, 0);
        EXPECT_EQ(leases[0]->info().encryption, "gss");
        return;
    }
    PoolOptions o;
    o.max_size = 3;
    o.acquire_timeout = 20s;
    o.connect_timeout = 10s;
    Pool pool(config(enc("gssonly", "gssencmode=require")), o);
    std::atomic<int> errors{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 30; ++i) {
                try {
                    if (!check(pool.exec(sql, i), i)) ++errors;
                } catch (const Error& e) {
                    if (++errors < 3) ADD_FAILURE() << e.what();
                }
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(errors, 0);
    EXPECT_EQ(pool.acquire()->info().encryption, "gss");
}

PGTLS_INSTANTIATE_PER_BACKEND_AND_DRIVER(GssEncryption);

}  // namespace
}  // namespace pgtls::test
