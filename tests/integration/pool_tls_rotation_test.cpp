// Certificate rotation (issue 22) in both pools — pgtls::Pool and AsyncPool (issue 17), each
// test run on each — against PostgreSQL 18, on every TLS backend: the pool's files are
// rewritten with real new material (made here with the openssl CLI from the test PKI's CA
// keys) and the pool must use it for new connections only, keep the last good context when
// the files are broken, and optionally retire the old connections.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "integration_fixture.hpp"
#include "tests/integration/driver_pool.hpp"

namespace pgtls::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// A scratch directory for one test's certificate material; removed afterwards.
class Scratch {
public:
    Scratch() {
        std::string tmpl = (fs::temp_directory_path() / "pgtls-certrot-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        dir_ = tmpl;
    }
    ~Scratch() {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    std::string path(const std::string& name) const { return (dir_ / name).string(); }
    void write(const std::string& name, const std::string& text) const { std::ofstream(path(name)) << text; }
    // Replaces `to` by `from` with rename(2), as a deploy tool would (new inode).
    void install(const std::string& from, const std::string& to) const {
        fs::copy_file(from, path(to + ".new"), fs::copy_options::overwrite_existing);
        fs::permissions(path(to + ".new"), fs::perms::owner_read | fs::perms::owner_write);
        fs::rename(path(to + ".new"), path(to));
    }
    // Runs a shell command in the directory; fails the test when it fails.
    void sh(const std::string& cmd) const {
        const std::string full = "cd '" + dir_.string() + "' && { " + cmd + " ; } >>openssl.log 2>&1";
        ASSERT_EQ(std::system(full.c_str()), 0) << cmd << "\n" << slurp("openssl.log");
    }
    std::string slurp(const std::string& name) const {
        std::ifstream f(path(name));
        return std::string(std::istreambuf_iterator<char>(f), {});
    }

private:
    fs::path dir_;
};

// What on_tls_reload heard: "" per success, the error per failure.
struct ReloadLog {
    std::mutex m;
    std::vector<std::string> events;
    void add(const PoolEvent& e) {
        std::lock_guard lk(m);
        events.push_back(e.reason);
    }
    std::vector<std::string> get() {
        std::lock_guard lk(m);
        return events;
    }
};

// The parameter names the backend and the pool: "<backend>" pgtls::Pool, "<backend>_async"
// AsyncPool.
class PoolTlsRotation : public BackendTest {
protected:
    void SetUp() override {
        if (!has_tls()) GTEST_SKIP() << "no TLS backend";
    }
    // The test's pool (of the parameter's kind): small, quick to retry, checking the files on
    // every new connection and logging on_tls_reload to `log`; then `more(options)`.
    struct NoMore {
        void operator()(auto&) const {}
    };
    template <class More = NoMore>
    DriverPool make_pool(const Config& config, ReloadLog& log, More more = {}) const {
        return DriverPool(driver(), config, [&](auto& o) {
            o.max_size = 4;
            o.acquire_timeout = 20s;
            o.connect_timeout = 5s;
            o.connect_backoff_initial = 10ms;
            o.connect_backoff_max = 50ms;
            o.tls_check_interval = 0ms;  // check on every new connection
            o.on_tls_reload = [&log](const PoolEvent& e) { log.add(e); };
            more(o);
        });
    }
    // certuser by client certificate (pg_hba "cert"; the server trusts client-ca.crt).
    Config certuser(const Scratch& s) const {
        return config(env().conninfo(env().server("pg18"), "certuser", "localhost") + " sslmode=verify-full" + ca() +
                      " sslcert=" + quote_conninfo_value(s.path("client.crt")) +
                      " sslkey=" + quote_conninfo_value(s.path("client.key")));
    }
    static std::string issuer(DriverPool::Lease& l) {
        return l.query("SELECT issuer_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()")[0][0].as<std::string>();
    }
    // A new CA below client-ca (so the server trusts it through client-ca.crt) and a
    // certuser certificate from it: rotation.crt (leaf + the new CA) and rotation.key.
    static void make_rotation_material(const Scratch& s) {
        const std::string pki_ca = "-CA '" + pki("client-ca.crt") + "' -CAkey '" + pki("client-ca.key") + "'";
        s.write("ca.ext", "basicConstraints=critical,CA:true,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n"
                          "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n");
        s.write("leaf.ext", "basicConstraints=critical,CA:false\nkeyUsage=critical,digitalSignature\n"
                            "extendedKeyUsage=clientAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n");
        s.sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out rot-ca.key");
        s.sh("openssl req -new -key rot-ca.key -subj '/O=pgtls test/CN=pgtls rotation CA' -out rot-ca.csr");
        s.sh("openssl x509 -req -in rot-ca.csr " + pki_ca + " -set_serial 7001 -days 30 -extfile ca.ext -out rot-ca.crt");
        s.sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out rotation.key");
        s.sh("openssl req -new -key rotation.key -subj '/O=pgtls test/CN=certuser' -out rotation.csr");
        s.sh("openssl x509 -req -in rotation.csr -CA rot-ca.crt -CAkey rot-ca.key -set_serial 7002 -days 30 "
             "-extfile leaf.ext -out rotation-leaf.crt");
        s.sh("cat rotation-leaf.crt rot-ca.crt > rotation.crt");
    }
    // CRLs of the test CA (ca.crt, which issued the servers' certificate): crl-empty.pem
    // revokes nothing, crl-revoked.pem revokes the server's certificate.
    static void make_crls(const Scratch& s) {
        s.write("ca.cnf", "[ ca ]\ndefault_ca = d\n[ d ]\ndatabase = index.txt\ncrlnumber = crlnumber\n"
                          "default_md = sha256\ndefault_crl_days = 30\n");
        s.write("index.txt", "");
        s.write("crlnumber", "2000\n");
        const std::string ca = " -keyfile '" + pki("ca.key") + "' -cert '" + pki("ca.crt") + "'";
        s.sh("openssl ca -config ca.cnf -batch" + ca + " -gencrl -out crl-empty.pem");
        s.sh("openssl ca -config ca.cnf -batch" + ca + " -revoke '" + pki("server.crt") + "' -crl_reason keyCompromise");
        s.sh("openssl ca -config ca.cnf -batch" + ca + " -gencrl -out crl-revoked.pem");
    }
};

// (a) The client certificate and key are replaced, first by a pair from a CA the server does
// not trust (new connections are refused: the pool really sends the new files), then by a
// pair from a new CA that the server trusts: new connections present it, open ones keep
// theirs.
TEST_P(PoolTlsRotation, RenewedClientCertificateIsUsedForNewConnections) {
    Scratch s;
    make_rotation_material(s);
    s.install(pki("client.crt"), "client.crt");
    s.install(pki("client.key"), "client.key");
    ReloadLog log;
    DriverPool pool = make_pool(certuser(s), log);
    auto first = pool.acquire();
    EXPECT_NE(issuer(first).find("pgtls test client CA"), std::string::npos) << issuer(first);

    s.install(pki("client-other.crt"), "client.crt");
    s.install(pki("client-other.key"), "client.key");
    EXPECT_THROW(pool.acquire(), Error);  // other-ca: the server refuses the handshake

    s.install(s.path("rotation.crt"), "client.crt");
    s.install(s.path("rotation.key"), "client.key");
    auto second = pool.acquire();
    EXPECT_NE(issuer(second).find("pgtls rotation CA"), std::string::npos) << issuer(second);
    EXPECT_NE(issuer(first).find("pgtls test client CA"), std::string::npos) << "an open connection is untouched";
    for (const auto& e : log.get()) EXPECT_EQ(e, "") << "every rotation loaded";
    EXPECT_GE(log.get().size(), 2u);
}

// (b) A broken certificate written mid-rotation: the pool goes on with the last good context
// and reports the error (a hook that throws disturbs nothing); reload_tls() throws it.
TEST_P(PoolTlsRotation, BrokenFilesKeepTheLastGoodContext) {
    Scratch s;
    s.install(pki("client.crt"), "client.crt");
    s.install(pki("client.key"), "client.key");
    ReloadLog log;
    DriverPool pool = make_pool(certuser(s), log, [&log](auto& o) {
        o.on_tls_reload = [&log](const PoolEvent& e) {
            log.add(e);
            throw std::runtime_error("hook failure is ignored");
        };
    });
    auto first = pool.acquire();
    s.write("client.crt.new", "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n");
    fs::rename(s.path("client.crt.new"), s.path("client.crt"));

    auto second = pool.acquire();  // a new connection, with the previous context
    EXPECT_EQ(second.query("SELECT current_user")[0][0].as<std::string>(), "certuser");
    EXPECT_NE(issuer(second).find("pgtls test client CA"), std::string::npos);
    auto events = log.get();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_NE(events[0].find("client.crt"), std::string::npos) << events[0];

    try {
        pool.reload_tls();
        ADD_FAILURE() << "reload_tls() accepted a broken certificate";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("client.crt"), std::string::npos) << e.what();
    }
    EXPECT_EQ(log.get().size(), 2u);
    second.release();
    first.release();
    pool.close();  // proves nothing is stuck
    EXPECT_EQ(pool.stats().total, 0u);
}

// (b') After a failed reload, a later good rotation is picked up.
TEST_P(PoolTlsRotation, ARepairedRotationLoadsAfterAFailure) {
    Scratch s;
    s.install(pki("client.crt"), "client.crt");
    s.install(pki("client.key"), "client.key");
    ReloadLog log;
    DriverPool pool = make_pool(certuser(s), log);
    { auto l = pool.acquire(); }
    s.write("client.key.new", "garbage\n");
    fs::permissions(s.path("client.key.new"), fs::perms::owner_read | fs::perms::owner_write);
    fs::rename(s.path("client.key.new"), s.path("client.key"));
    EXPECT_THROW(pool.reload_tls(), Error);
    s.install(pki("client-ecdsa.crt"), "client.crt");
    s.install(pki("client-ecdsa.key"), "client.key");
    EXPECT_NO_THROW(pool.reload_tls());
    auto a = pool.acquire(), b = pool.acquire();  // b is new
    EXPECT_EQ(b.query("SELECT current_user")[0][0].as<std::string>(), "certuser");
    auto events = log.get();
    ASSERT_EQ(events.size(), 2u);
    EXPECT_NE(events[0], "");
    EXPECT_EQ(events[1], "");
}

// (c) A CRL that revokes the server's certificate: new connections fail with the CRL's
// verdict after the reload, the open ones keep working.
TEST_P(PoolTlsRotation, ACrlRevokingTheServerStopsNewConnections) {
    if (!(tls::find_backend(backend()).capabilities() & tls::cap_crl_file)) GTEST_SKIP() << "no CRL support";
    Scratch s;
    make_crls(s);
    s.install(s.path("crl-empty.pem"), "crl.pem");
    ReloadLog log;
    auto conf = pg18_verified();
    conf.conninfo += " sslcrl=" + quote_conninfo_value(s.path("crl.pem"));
    DriverPool pool = make_pool(conf, log);
    auto first = pool.acquire();

    s.install(s.path("crl-revoked.pem"), "crl.pem");
    try {
        auto second = pool.acquire();
        ADD_FAILURE() << "connected to a revoked server";
    } catch (const Error& e) {
        std::string what = e.what();
        for (auto& ch : what) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        EXPECT_NE(what.find("revoked"), std::string::npos) << e.what();
    }
    EXPECT_EQ(first.query("SELECT 1")[0][0].as<int>(), 1);
    auto events = log.get();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0], "");
}

// (d) retire_on_tls_reload closes connections made with the previous material on release;
// without it they go back to idle and are reused.
TEST_P(PoolTlsRotation, RetireOnReloadClosesOldConnectionsOnRelease) {
    for (bool retire : {false, true}) {
        SCOPED_TRACE(retire ? "retire" : "keep");
        ReloadLog log;
        std::mutex m;
        std::vector<std::string> removed;
        DriverPool pool = make_pool(pg18_verified(), log, [&](auto& o) {
            o.retire_on_tls_reload = retire;
            o.on_remove = [&](const PoolEvent& e) {
                std::lock_guard lk(m);
                removed.push_back(e.reason);
            };
        });
        std::uint64_t old_id;
        {
            auto a = pool.acquire();
            old_id = a.connection_id();
            pool.reload_tls();
            auto b = pool.acquire();  // opened with the new context: kept on release either way
            EXPECT_NE(b.connection_id(), old_id);
        }
        EXPECT_EQ(pool.stats().idle, retire ? 1u : 2u);
        {
            std::lock_guard lk(m);
            if (retire) {
                ASSERT_EQ(removed.size(), 1u);
                EXPECT_EQ(removed[0], "retired: TLS material reloaded");
            } else {
                EXPECT_TRUE(removed.empty());
            }
        }
        auto c = pool.acquire(), d = pool.acquire();
        EXPECT_EQ(c.connection_id() == old_id || d.connection_id() == old_id, !retire);
    }
}

PGTLS_INSTANTIATE_PER_BACKEND_AND_DRIVER(PoolTlsRotation);

}  // namespace
}  // namespace pgtls::test
