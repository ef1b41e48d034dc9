// resolve(): defaults, precedence code > string > service > environment > default, value
// validation of every keyword, multi-host expansion, TLS material and the merge rules M1-M11
// documented in src/config/resolve.cpp.
#include <gtest/gtest.h>

#include "config_test_util.hpp"
#include "config/sources.hpp"
#include "pgtls_gssapi_config.h"

namespace {

using namespace pgtls;
using pgtls::test::FakeEnv;
using pgtls::test::from_string;
using pgtls::test::resolve_error;
using pgtls::test::TempDir;

// Each test gets an empty HOME and no PG* variables unless it adds some.
class Resolve : public ::testing::Test {
protected:
    TempDir home;
    FakeEnv env{{"HOME", home.path()}};

    Settings run(const Config& c) { return resolve(c, env.fn()); }
    Settings run(const std::string& conninfo) { return run(from_string(conninfo)); }
    std::string error(const Config& c) { return resolve_error(c, env.fn()); }
    std::string error(const std::string& conninfo) { return error(from_string(conninfo)); }
};

TEST_F(Resolve, LibpqDefaults) {
    Settings s = run("");
    ASSERT_EQ(s.hosts.size(), 1u);
    EXPECT_EQ(s.hosts[0].host, "/var/run/postgresql");
    EXPECT_TRUE(s.hosts[0].is_unix_socket());
    EXPECT_EQ(s.hosts[0].port, 5432);
    EXPECT_EQ(s.user, config::current_os_user());
    EXPECT_EQ(s.dbname, s.user);
    EXPECT_FALSE(s.password);
    EXPECT_EQ(s.passfile, home.path() + "/.pgpass");
    EXPECT_EQ(s.sslmode, SslMode::prefer);
    EXPECT_FALSE(s.sslmode_explicit);
    EXPECT_FALSE(s.ssl_verify_chain);
    EXPECT_EQ(s.sslnegotiation, SslNegotiation::postgres);
    EXPECT_EQ(s.sslcertmode, SslCertMode::allow);
    EXPECT_EQ(s.channel_binding, ChannelBinding::prefer);
    EXPECT_EQ(s.ssl_min_protocol_version, TlsVersion::tls1_2);
    EXPECT_EQ(s.ssl_max_protocol_version, TlsVersion::unspecified);
    EXPECT_TRUE(s.sslsni);
    EXPECT_TRUE(s.keepalives);
    EXPECT_EQ(s.connect_timeout.count(), 0);
    EXPECT_EQ(s.target_session_attrs, TargetSessionAttrs::any);
    EXPECT_EQ(s.load_balance_hosts, LoadBalanceHosts::disable);
    EXPECT_TRUE(s.sslrootcert.empty());
    EXPECT_TRUE(s.sslcert.empty());
    EXPECT_TRUE(s.sslkey.empty());
    EXPECT_TRUE(s.sslcrl.empty());
    EXPECT_EQ(s.sources.at("host"), SettingSource::default_value);
    EXPECT_EQ(s.sources.at("port"), SettingSource::default_value);
    EXPECT_EQ(s.sources.at("user"), SettingSource::default_value);
    EXPECT_EQ(s.display.at("sslmode"), "prefer");
    EXPECT_TRUE(s.warnings.empty());
}

TEST_F(Resolve, PrecedenceFieldByField) {
    TempDir etc;
    etc.write("pg_service.conf", "[svc]\nhost=service-host\nport=1111\ndbname=service-db\nuser=service-user\n"
                                 "application_name=service-app\n");
    env.set("PGSYSCONFDIR", etc.path());
    env.set("PGHOST", "env-host");
    env.set("PGPORT", "2222");
    env.set("PGDATABASE", "env-db");
    env.set("PGUSER", "env-user");
    env.set("PGAPPNAME", "env-app");
    env.set("PGCONNECT_TIMEOUT", "7");
    env.set("PGOPTIONS", "-c geqo=off");

    Config c;
    c.conninfo = "service=svc host=string-host port=3333 dbname=string-db";
    c.host = "code-host";
    Settings s = run(c);
    // host: code wins over string, service and environment.
    EXPECT_EQ(s.hosts[0].host, "code-host");
    EXPECT_EQ(s.sources.at("host"), SettingSource::code);
    // port, dbname: the string wins over service and environment.
    EXPECT_EQ(s.hosts[0].port, 3333);
    EXPECT_EQ(s.sources.at("port"), SettingSource::connection_string);
    EXPECT_EQ(s.dbname, "string-db");
    // user, application_name: the service file wins over the environment.
    EXPECT_EQ(s.user, "service-user");
    EXPECT_EQ(s.sources.at("user"), SettingSource::service_file);
    EXPECT_EQ(s.application_name, "service-app");
    // connect_timeout, options: only in the environment.
    EXPECT_EQ(s.connect_timeout.count(), 7);
    EXPECT_EQ(s.sources.at("connect_timeout"), SettingSource::environment);
    EXPECT_EQ(s.options, "-c geqo=off");
    // sslmode: nobody set it.
    EXPECT_EQ(s.sources.at("sslmode"), SettingSource::default_value);
}

TEST_F(Resolve, EmptyStringValueStillHidesTheEnvironment) {
    env.set("PGHOST", "env-host");
    Settings s = run("host=");  // libpq: an explicit empty host means the default, not PGHOST
    EXPECT_EQ(s.hosts[0].host, "/var/run/postgresql");
    env.set("PGDATABASE", "envdb");
    EXPECT_EQ(run("postgresql://h/").dbname, "envdb");  // the URI does not store an empty dbname
}

// libpq sends PGDATESTYLE, PGTZ and PGGEQO as startup parameters unless "default".
TEST_F(Resolve, DateStyleTimeZoneAndGeqoFromTheEnvironmentAreStartupParameters) {
    env.set("PGTZ", "Asia/Tokyo");
    env.set("PGDATESTYLE", "German");
    env.set("PGGEQO", "DeFault");
    Settings s = run("");
    EXPECT_EQ(s.runtime_params, (std::map<std::string, std::string>{{"datestyle", "German"}, {"timezone", "Asia/Tokyo"}}));
    Config c = from_string("");
    c.runtime_params = {{"TimeZone", "UTC"}};  // set in code: wins over PGTZ
    EXPECT_EQ(run(c).runtime_params, (std::map<std::string, std::string>{{"TimeZone", "UTC"}, {"datestyle", "German"}}));
    c.use_environment = false;
    EXPECT_EQ(run(c).runtime_params, (std::map<std::string, std::string>{{"TimeZone", "UTC"}}));
}

TEST_F(Resolve, NulByteInAStartupSettingIsRefusedNamingIt) {
    Config c = from_string("");
    c.application_name = std::string("a\0b", 3);
    EXPECT_NE(error(c).find("application_name (set in code) contains a NUL byte"), std::string::npos) << error(c);
    c = from_string("");
    c.user = std::string("bob\0x", 5);
    EXPECT_NE(error(c).find("user (set in code) contains a NUL byte"), std::string::npos) << error(c);
}

TEST_F(Resolve, UseEnvironmentFalseIgnoresPgVariables) {
    env.set("PGHOST", "env-host");
    env.set("PGSSLMODE", "bogus");
    Config c;
    c.use_environment = false;
    Settings s = run(c);
    EXPECT_EQ(s.hosts[0].host, "/var/run/postgresql");
    EXPECT_EQ(s.passfile, home.path() + "/.pgpass");  // HOME still locates the defaults
}

TEST_F(Resolve, EveryEnvironmentVariableFeedsItsKeyword) {
    const std::map<std::string, std::pair<std::string, std::string>> vars = {
        {"PGHOST", {"host", "h1"}}, {"PGHOSTADDR", {"hostaddr", "127.0.0.1"}}, {"PGPORT", {"port", "6543"}},
        {"PGDATABASE", {"dbname", "d1"}}, {"PGUSER", {"user", "u1"}}, {"PGPASSWORD", {"password", "********"}},
        {"PGPASSFILE", {"passfile", "/nonexistent/pgpass"}}, {"PGOPTIONS", {"options", "-c x=1"}},
        {"PGAPPNAME", {"application_name", "app1"}}, {"PGSSLMODE", {"sslmode", "require"}},
        {"PGSSLNEGOTIATION", {"sslnegotiation", "postgres"}}, {"PGSSLCERT", {"sslcert", "/nonexistent/c"}},
        {"PGSSLKEY", {"sslkey", "/nonexistent/k"}}, {"PGSSLROOTCERT", {"sslrootcert", "/nonexistent/r"}},
        {"PGSSLCRL", {"sslcrl", "/nonexistent/crl"}}, {"PGSSLCRLDIR", {"sslcrldir", "/nonexistent/crldir"}},
        {"PGSSLSNI", {"sslsni", "0"}}, {"PGSSLCERTMODE", {"sslcertmode", "allow"}},
        {"PGSSLMINPROTOCOLVERSION", {"ssl_min_protocol_version", "TLSv1.3"}},
        {"PGSSLMAXPROTOCOLVERSION", {"ssl_max_protocol_version", "TLSv1.3"}},
        {"PGCHANNELBINDING", {"channel_binding", "require"}}, {"PGREQUIREAUTH", {"require_auth", "scram-sha-256"}},
        {"PGCONNECT_TIMEOUT", {"connect_timeout", "9"}}, {"PGCLIENTENCODING", {"client_encoding", "UTF8"}},
        {"PGTARGETSESSIONATTRS", {"target_session_attrs", "read-write"}},
        {"PGLOADBALANCEHOSTS", {"load_balance_hosts", "random"}}, {"PGSSLBACKEND", {"sslbackend", "gnutls"}},
        {"PGSSLKEYLOGFILE", {"sslkeylogfile", "/tmp/keys"}}, {"PGGSSENCMODE", {"gssencmode", "prefer"}},
        {"PGKRBSRVNAME", {"krbsrvname", "pg"}}, {"PGGSSLIB", {"gsslib", "gssapi"}},
        {"PGGSSDELEGATION", {"gssdelegation", "1"}}, {"PGSSLCOMPRESSION", {"sslcompression", "1"}},
        {"PGMAXPROTOCOLVERSION", {"max_protocol_version", "latest"}},
        {"PGMINPROTOCOLVERSION", {"min_protocol_version", "3.0"}},
    };
    for (const auto& [var, kv] : vars) {
        std::string value = var == "PGPASSWORD" ? "secret" : kv.second;
        env.set(var, value);
    }
    Settings s = run("");
    for (const auto& [var, kv] : vars) {
        EXPECT_EQ(s.sources.at(kv.first), SettingSource::environment) << var;
        EXPECT_EQ(s.display.at(kv.first), kv.second) << var;
    }
    EXPECT_EQ(s.hosts[0].host, "h1");
    EXPECT_EQ(s.hosts[0].hostaddr, "127.0.0.1");
    EXPECT_EQ(s.hosts[0].port, 6543);
    EXPECT_EQ(s.password, "secret");
    EXPECT_EQ(s.sslbackend, "gnutls");
    EXPECT_EQ(s.sslkeylogfile, "/tmp/keys");
    EXPECT_EQ(s.channel_binding, ChannelBinding::require);
    EXPECT_EQ(s.ssl_min_protocol_version, TlsVersion::tls1_3);
    EXPECT_FALSE(s.sslsni);
    EXPECT_EQ(s.load_balance_hosts, LoadBalanceHosts::random);
    // PGSSLCERT etc. name files that do not exist: skipped as libpq does, but with warnings.
    EXPECT_TRUE(s.sslcert.empty());
    EXPECT_GE(s.warnings.size(), 3u);
}

TEST_F(Resolve, PgRequireSsl) {
    env.set("PGREQUIRESSL", "1");
    Settings s = run("");
    EXPECT_EQ(s.sslmode, SslMode::require);
    EXPECT_EQ(s.sources.at("sslmode"), SettingSource::environment);
    env.set("PGSSLMODE", "allow");  // PGSSLMODE takes precedence
    EXPECT_EQ(run("").sslmode, SslMode::allow);
}

// ---- values -----------------------------------------------------------------------------

struct ValueCase {
    std::string conninfo;
    std::string error;  // substring of the message; empty: must resolve
};
void PrintTo(const ValueCase& c, std::ostream* os) { *os << "[" << c.conninfo << "]"; }

class ResolveValues : public Resolve, public ::testing::WithParamInterface<ValueCase> {};

TEST_P(ResolveValues, ValidateLikeLibpq) {
    const ValueCase& c = GetParam();
    std::string e = error(c.conninfo);
    if (c.error.empty()) EXPECT_EQ(e, "");
    else EXPECT_NE(e.find(c.error), std::string::npos) << "got: " << e;
}

const ValueCase kValueCases[] = {
    {"sslmode=disable", ""},
    {"sslmode=allow", ""},
    {"sslmode=prefer", ""},
    {"sslmode=require", ""},
    {"sslmode=no-verify", ""},
    {"sslmode=verify", "invalid sslmode value: \"verify\" (in the connection string); allowed: disable, allow, prefer, "
                       "require, verify-ca, verify-full, no-verify"},
    {"sslmode=VERIFY-FULL", "invalid sslmode value: \"VERIFY-FULL\""},
    {"sslnegotiation=direct sslmode=require", ""},
    {"sslnegotiation=bogus", "invalid sslnegotiation value: \"bogus\" (in the connection string); allowed: postgres, direct"},
    {"sslcertmode=disable", ""},
    {"sslcertmode=require", ""},
    {"sslcertmode=always", "invalid sslcertmode value: \"always\" (in the connection string); allowed: disable, allow, require"},
    {"channel_binding=require", ""},
    {"channel_binding=on", "invalid channel_binding value: \"on\" (in the connection string); allowed: disable, prefer, require"},
    {"target_session_attrs=read-write", ""},
    {"target_session_attrs=read-only", ""},
    {"target_session_attrs=primary", ""},
    {"target_session_attrs=standby", ""},
    {"target_session_attrs=prefer-standby", ""},
    {"target_session_attrs=readwrite", "invalid target_session_attrs value: \"readwrite\" (in the connection string); "
                                      "allowed: any, read-write, read-only, primary, standby, prefer-standby"},
    {"load_balance_hosts=random", ""},
    {"load_balance_hosts=round-robin", "invalid load_balance_hosts value: \"round-robin\" (in the connection string); "
                                       "allowed: disable, random"},
    {"ssl_min_protocol_version=tlsv1.3", ""},
    {"ssl_min_protocol_version=", ""},
    {"ssl_max_protocol_version=TLSv1.1 ssl_min_protocol_version=TLSv1", ""},
    {"ssl_min_protocol_version=TLSv1.4", "invalid ssl_min_protocol_version value: \"TLSv1.4\""},
    {"ssl_max_protocol_version=SSLv3", "invalid ssl_max_protocol_version value: \"SSLv3\""},
    {"ssl_min_protocol_version=TLSv1.3 ssl_max_protocol_version=TLSv1.2", "invalid SSL protocol version range"},
    {"sslsni=0", ""},
    {"sslsni=yes", "invalid sslsni value: \"yes\" (in the connection string); allowed: 0, 1"},
    {"sslbackend=openssl", ""},
    {"sslbackend=", ""},
    {"sslbackend=wolfssl", ""},
    {"sslbackend=schannel", "invalid sslbackend value: \"schannel\" (in the connection string); allowed: openssl, gnutls, mbedtls, wolfssl"},
    {"port=6543", ""},
    {"port=' 6543 '", ""},
    {"port=abc", "invalid integer value \"abc\" for connection option \"port\" (in the connection string); allowed: 1 to 65535"},
    {"port=0", "invalid port number: \"0\""},
    {"port=65536", "invalid port number: \"65536\""},
    {"port=-1", "invalid port number: \"-1\""},
    {"port=5432x", "invalid integer value \"5432x\""},
    {"connect_timeout=10", ""},
    {"connect_timeout=-1", "invalid connect_timeout value: \"-1\" (in the connection string); allowed: a non-negative integer"},
    {"connect_timeout=ten", "invalid integer value \"ten\" for connection option \"connect_timeout\""},
    {"connect_timeout=99999999999", "invalid integer value \"99999999999\""},
    {"keepalives=0", ""},
    {"keepalives=yes", "invalid integer value \"yes\" for connection option \"keepalives\""},
    {"keepalives_idle=-5", "invalid keepalives_idle value: \"-5\""},
    {"keepalives_interval=x", "invalid integer value \"x\" for connection option \"keepalives_interval\""},
    {"keepalives_count=3", ""},
    {"tcp_user_timeout=-1", "invalid tcp_user_timeout value: \"-1\""},
    {"require_auth=scram-sha-256", ""},
    {"require_auth=password,md5,scram-sha-256,none", ""},
    {"require_auth=!password,!md5", ""},
    {"require_auth=!gss", ""},
    {"require_auth=gss,scram-sha-256", ""},
    {"require_auth=kerberos", "invalid require_auth value: \"kerberos\""},
    {"require_auth=md5,!password", "negative require_auth method \"!password\" cannot be mixed with non-negative methods"},
    {"require_auth=!md5,password", "require_auth method \"password\" cannot be mixed with negative methods"},
    {"require_auth=md5,md5", "require_auth method \"md5\" is specified more than once"},
#if PGTLS_HAVE_GSSAPI
    {"require_auth=gss", ""},
#else
    {"require_auth=gss", "allows only authentication methods pgtls does not implement (gss, sspi, oauth)"},
#endif
    {"require_auth=sspi,oauth", "allows only authentication methods pgtls does not implement"},
    {"gssencmode=disable", ""},
    {"gssencmode=prefer", ""},
#if PGTLS_HAVE_GSSAPI
    {"gssencmode=require", ""},
#else
    {"gssencmode=require", "gssencmode=require (in the connection string) needs GSSAPI encryption"},
#endif
    {"gssencmode=always", "invalid gssencmode value: \"always\""},
    {"krbsrvname=postgres gsslib=gssapi gssdelegation=1 sslcompression=1", ""},
    {"gsslib=GSSAPI gssdelegation=0", ""},
    {"gsslib=sspi", "invalid gsslib value: \"sspi\" (in the connection string); allowed: gssapi (sspi exists only on Windows)"},
    {"gssdelegation=yes", "invalid gssdelegation value: \"yes\" (in the connection string); allowed: 0, 1"},
    {"requirepeer=postgres", "requirepeer (in the connection string) (a Unix-socket peer user check) is not supported"},
    {"requirepeer=", ""},
    {"replication=false", ""},
    {"replication=0", ""},
    {"replication=database", "asks for a replication (walsender) connection"},
    {"replication=true", "asks for a replication (walsender) connection"},
    {"scram_client_key=abc", "scram_client_key (in the connection string) (SCRAM pass-through keys) is not supported"},
    {"oauth_issuer=https://issuer.example", "oauth_issuer (in the connection string) needs OAuth authentication"},
    {"oauth_client_id=x", "needs OAuth authentication"},
    {"min_protocol_version=3.0 max_protocol_version=latest", ""},
    {"max_protocol_version=3.2", ""},
    {"min_protocol_version=3.2", ""},
    {"max_protocol_version=3.1", "invalid max_protocol_version value: \"3.1\""},
    {"min_protocol_version=3.2 max_protocol_version=3.0", "\"min_protocol_version\" is greater than \"max_protocol_version\""},
    {"min_protocol_version=3.1", "invalid min_protocol_version value: \"3.1\""},
    {"min_protocol_version=", "invalid min_protocol_version value: \"\""},
    {"max_protocol_version=", "invalid max_protocol_version value: \"\""},
    {"min_protocol_version=latest max_protocol_version=3.0", "\"min_protocol_version\" is greater than \"max_protocol_version\""},
    {"hostaddr=127.0.0.1", ""},
    {"hostaddr=::1", ""},
    {"hostaddr=localhost", "could not parse network address \"localhost\""},
    {"host=a,b hostaddr=127.0.0.1", "could not match 2 host names to 1 hostaddr values"},
    {"host=a,b,c port=1,2", "could not match 2 port numbers to 3 hosts"},
    {"host=a port=1,2", "could not match 2 port numbers to 1 hosts"},
    {"host=a,b port=1,x", "invalid integer value \"x\" for connection option \"port\""},
    {"password=hunter2 sslmode=bogus", "invalid sslmode value"},
};
INSTANTIATE_TEST_SUITE_P(Table, ResolveValues, ::testing::ValuesIn(kValueCases));

TEST_F(Resolve, ErrorsNameTheEnvironmentVariable) {
    env.set("PGSSLMODE", "verify");
    EXPECT_NE(error("").find("invalid sslmode value: \"verify\" (from environment variable PGSSLMODE)"), std::string::npos);
}

TEST_F(Resolve, SecretsNeverAppearInErrors) {
    env.set("PGPASSWORD", "hunter2");
    std::string e = error("require_auth=bogus sslpassword=topsecret");
    EXPECT_NE(e, "");
    EXPECT_EQ(e.find("hunter2"), std::string::npos);
    EXPECT_EQ(e.find("topsecret"), std::string::npos);
}

TEST_F(Resolve, NumbersAndNames) {
    Settings s = run("connect_timeout=1 keepalives=0 keepalives_idle=30 keepalives_interval=5 keepalives_count=4 "
                     "tcp_user_timeout=1500 application_name='' fallback_application_name=fb options='-c a=b' "
                     "client_encoding=LATIN1");
    EXPECT_EQ(s.connect_timeout.count(), 2);  // libpq's 2-second minimum
    EXPECT_FALSE(s.keepalives);
    EXPECT_EQ(s.keepalives_idle, 30);
    EXPECT_EQ(s.keepalives_interval, 5);
    EXPECT_EQ(s.keepalives_count, 4);
    EXPECT_EQ(s.tcp_user_timeout, 1500);
    EXPECT_EQ(s.application_name, "");  // libpq: one given empty sends none, fallback or not
    EXPECT_EQ(s.options, "-c a=b");
    EXPECT_EQ(s.client_encoding, "LATIN1");
    EXPECT_EQ(run("application_name=app fallback_application_name=fb").application_name, "app");
    EXPECT_EQ(run("fallback_application_name=fb").application_name, "fb");
    env.set("PGAPPNAME", "");
    EXPECT_EQ(run("fallback_application_name=fb").application_name, "");
    env.set("PGAPPNAME", "envapp");
    EXPECT_EQ(run("fallback_application_name=fb").application_name, "envapp");
    Settings a = run("client_encoding=auto");
    EXPECT_FALSE(a.client_encoding.empty());
    EXPECT_NE(a.client_encoding, "auto");
}

// ---- hosts ------------------------------------------------------------------------------

struct HostCase {
    std::string conninfo;
    std::vector<std::tuple<std::string, std::string, int>> hosts;  // host, hostaddr, port
};
void PrintTo(const HostCase& c, std::ostream* os) { *os << "[" << c.conninfo << "]"; }

class ResolveHosts : public Resolve, public ::testing::WithParamInterface<HostCase> {};

TEST_P(ResolveHosts, ExpandLikeLibpq) {
    Settings s = run(GetParam().conninfo);
    std::vector<std::tuple<std::string, std::string, int>> got;
    for (const auto& h : s.hosts) got.emplace_back(h.host, h.hostaddr, h.port);
    EXPECT_EQ(got, GetParam().hosts);
}

const HostCase kHostCases[] = {
    {"host=db", {{"db", "", 5432}}},
    {"host=a,b,c port=1,2,3", {{"a", "", 1}, {"b", "", 2}, {"c", "", 3}}},
    {"host=a,b,c port=7", {{"a", "", 7}, {"b", "", 7}, {"c", "", 7}}},
    {"host=a,b,c", {{"a", "", 5432}, {"b", "", 5432}, {"c", "", 5432}}},
    {"host=a,,c", {{"a", "", 5432}, {"/var/run/postgresql", "", 5432}, {"c", "", 5432}}},
    {"host=a,b port=,6000", {{"a", "", 5432}, {"b", "", 6000}}},
    {"host=/tmp,@abstract,localhost", {{"/tmp", "", 5432}, {"@abstract", "", 5432}, {"localhost", "", 5432}}},
    {"hostaddr=127.0.0.1", {{"", "127.0.0.1", 5432}}},
    {"hostaddr=127.0.0.1,::1 host=a,b port=1,2", {{"a", "127.0.0.1", 1}, {"b", "::1", 2}}},
    {"hostaddr=127.0.0.1, host=a,/tmp", {{"a", "127.0.0.1", 5432}, {"/tmp", "", 5432}}},
    {"postgresql://a:1,b:2/db", {{"a", "", 1}, {"b", "", 2}}},
    {"postgresql://a,b:2/db", {{"a", "", 5432}, {"b", "", 2}}},
    {"postgresql://[::1]:6000,[::2]/db", {{"::1", "", 6000}, {"::2", "", 5432}}},
    {"postgresql://%2Ftmp:6000/db", {{"/tmp", "", 6000}}},
    {"postgresql:///db?host=/tmp&port=6001", {{"/tmp", "", 6001}}},
};
INSTANTIATE_TEST_SUITE_P(Table, ResolveHosts, ::testing::ValuesIn(kHostCases));

TEST_F(Resolve, UnixSocketDetection) {
    Settings s = run("host=/tmp,localhost hostaddr=,127.0.0.1");
    EXPECT_TRUE(s.hosts[0].is_unix_socket());
    EXPECT_FALSE(s.hosts[1].is_unix_socket());
}

// ---- TLS material and merge rules ---------------------------------------------------------

TEST_F(Resolve, DefaultMaterialUnderDotPostgresqlOnlyWhenPresent) {
    Settings none = run("sslmode=require");
    EXPECT_EQ(none.sslmode, SslMode::require);
    EXPECT_FALSE(none.ssl_verify_chain);

    home.write(".postgresql/root.crt", "CA");
    home.write(".postgresql/postgresql.crt", "CERT");
    home.write(".postgresql/postgresql.key", "KEY");
    home.write(".postgresql/root.crl", "CRL");
    Settings s = run("sslmode=require");
    EXPECT_EQ(s.sslmode, SslMode::verify_ca);  // M10: require + root.crt = verify-ca, as libpq
    EXPECT_TRUE(s.ssl_verify_chain);
    EXPECT_EQ(s.sslrootcert.path, home / ".postgresql/root.crt");
    EXPECT_EQ(s.sslcert.path, home / ".postgresql/postgresql.crt");
    EXPECT_EQ(s.sslkey.path, home / ".postgresql/postgresql.key");
    EXPECT_EQ(s.sslcrl.path, home / ".postgresql/root.crl");
    EXPECT_EQ(s.sources.at("sslrootcert"), SettingSource::default_value);

    Settings p = run("");  // prefer keeps its fallback but verifies the chain when TLS is used
    EXPECT_EQ(p.sslmode, SslMode::prefer);
    EXPECT_TRUE(p.ssl_verify_chain);

    Settings nv = run("sslmode=no-verify");
    EXPECT_FALSE(nv.ssl_verify_chain);
    EXPECT_TRUE(nv.sslrootcert.empty());
    EXPECT_FALSE(run("sslmode=require sslcrldir=/x").sslcrl.path.has_value());  // a CRL dir replaces root.crl
}

TEST_F(Resolve, CertificateWithoutKeyIsLibpqError) {
    home.write(".postgresql/postgresql.crt", "CERT");
    EXPECT_NE(error("").find("but not private key file"), std::string::npos);
    Settings off = run("sslcertmode=disable");  // libpq then never looks at the certificate
    EXPECT_TRUE(off.sslcert.empty());
    EXPECT_TRUE(off.warnings.empty());
    std::string cert = home.write("c.crt", "CERT");
    EXPECT_NE(error("sslcert=" + cert + " sslkey=/nonexistent.key").find(
                  "certificate present, but not private key file \"/nonexistent.key\""),
              std::string::npos);
}

TEST_F(Resolve, VerifyModesNeedARootCertificate) {
    EXPECT_NE(error("host=db sslmode=verify-full").find("root certificate file \"" + home.path() +
                                                      "/.postgresql/root.crt\" does not exist"),
              std::string::npos);
    EXPECT_NE(error("host=db sslmode=verify-ca sslrootcert=/nonexistent.crt").find("/nonexistent.crt"), std::string::npos);
    EXPECT_EQ(error("host=/tmp sslmode=verify-full"), "");  // a Unix socket never uses TLS
    std::string ca = home.write("ca.crt", "CA");
    Settings s = run("host=db sslmode=verify-full sslrootcert=" + ca);
    EXPECT_EQ(s.sslrootcert.path, ca);
    EXPECT_TRUE(s.ssl_verify_chain);
}

TEST_F(Resolve, MissingFilesOutsideCodeAreSkippedWithAWarning) {
    Settings s = run("sslmode=require sslrootcert=/nonexistent/ca.crt sslcert=/nonexistent/c.crt");
    EXPECT_TRUE(s.sslrootcert.empty());
    EXPECT_TRUE(s.sslcert.empty());
    EXPECT_EQ(s.sslmode, SslMode::require);
    ASSERT_EQ(s.warnings.size(), 2u);
    EXPECT_NE(s.warnings[0].find("does not exist; ignored, as libpq does"), std::string::npos);
}

TEST_F(Resolve, SystemRootsMeanVerifyFull) {
    Settings s = run("host=db sslrootcert=system");
    EXPECT_EQ(s.sslmode, SslMode::verify_full);  // M4
    EXPECT_EQ(s.sslrootcert.path, "system");
    EXPECT_NE(error("host=db sslrootcert=system sslmode=require")
                  .find("weak sslmode \"require\" (in the connection string) may not be used with sslrootcert=system"),
              std::string::npos);
    EXPECT_NE(error("sslrootcert=system sslmode=no-verify").find("weak sslmode"), std::string::npos);
}

TEST_F(Resolve, DirectNegotiation) {
    Settings s = run("sslnegotiation=direct");
    EXPECT_EQ(s.sslmode, SslMode::require);  // M3: no sslmode anywhere -> require
    EXPECT_EQ(s.sslnegotiation, SslNegotiation::direct);
    EXPECT_FALSE(s.sslmode_explicit);
    for (const char* weak : {"disable", "allow", "prefer"})
        EXPECT_NE(error(std::string("sslnegotiation=direct sslmode=") + weak)
                      .find("weak sslmode \"" + std::string(weak) +
                            "\" (in the connection string) may not be used with sslnegotiation=direct"),
                  std::string::npos)
            << weak;
    env.set("PGSSLMODE", "prefer");  // explicit in the environment counts as explicit
    EXPECT_NE(error("sslnegotiation=direct").find("(from environment variable PGSSLMODE)"), std::string::npos);
}

TEST_F(Resolve, CodeSslFieldsMergeWithTheStringFieldByField) {
    // node-postgres drops the string's sslcert when code sets ssl options; pgtls keeps both.
    std::string cert = home.write("client.crt", "CERT");
    std::string ca = home.write("ca.crt", "CA");
    Config c;
    c.conninfo = "host=db sslmode=verify-full sslcert=" + cert + " sslrootcert=/string/ca.crt";
    c.sslkey = Pem::bytes("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    c.sslrootcert = Pem::file(ca);
    Settings s = run(c);
    EXPECT_EQ(s.sslcert.path, cert);
    EXPECT_EQ(s.sources.at("sslcert"), SettingSource::connection_string);
    EXPECT_TRUE(s.sslkey.pem.has_value());
    EXPECT_EQ(s.sources.at("sslkey"), SettingSource::code);
    EXPECT_EQ(s.sslrootcert.path, ca);
    EXPECT_EQ(s.sources.at("sslrootcert"), SettingSource::code);
    EXPECT_EQ(s.sslmode, SslMode::verify_full);
    EXPECT_EQ(s.display.at("sslkey").find("<PEM data,"), 0u);
}

TEST_F(Resolve, CodeEnumsAndNumbersOverrideTheString) {
    Config c;
    c.conninfo = "sslmode=disable port=1 connect_timeout=3 keepalives=1 target_session_attrs=any sslsni=1";
    c.sslmode = SslMode::no_verify;
    c.port = "2,3";
    c.host = "a,b";
    c.connect_timeout = 30;
    c.keepalives = false;
    c.sslsni = false;
    c.target_session_attrs = TargetSessionAttrs::prefer_standby;
    c.ssl_min_protocol_version = TlsVersion::tls1_3;
    c.channel_binding = ChannelBinding::require;
    c.password = "pw";
    Settings s = run(c);
    EXPECT_EQ(s.sslmode, SslMode::no_verify);
    EXPECT_EQ(s.hosts.size(), 2u);
    EXPECT_EQ(s.hosts[1].port, 3);
    EXPECT_EQ(s.connect_timeout.count(), 30);
    EXPECT_FALSE(s.keepalives);
    EXPECT_FALSE(s.sslsni);
    EXPECT_EQ(s.target_session_attrs, TargetSessionAttrs::prefer_standby);
    EXPECT_EQ(s.ssl_min_protocol_version, TlsVersion::tls1_3);
    EXPECT_EQ(s.password, "pw");
    EXPECT_EQ(s.display.at("password"), "********");
    EXPECT_EQ(s.sources.at("sslmode"), SettingSource::code);
}

TEST_F(Resolve, M1DisableWithMaterialInCode) {
    for (int field = 0; field < 5; ++field) {
        Config c;
        c.sslmode = SslMode::disable;
        std::string pem = "-----BEGIN CERTIFICATE-----\n";
        if (field == 0) c.sslcert = Pem::bytes(pem);
        if (field == 1) c.sslkey = Pem::bytes(pem);
        if (field == 2) c.sslrootcert = Pem::bytes(pem);
        if (field == 3) c.sslcrl = Pem::bytes(pem);
        if (field == 4) c.sslpassword = "x";
        EXPECT_NE(error(c).find("is set in code but sslmode=disable (set in code) turns TLS off"), std::string::npos)
            << field;
    }
    // sslmode=disable from the string and a key in code: still a conflict, nothing is dropped.
    Config c = from_string("sslmode=disable");
    c.sslkey = Pem::bytes("k");
    EXPECT_NE(error(c).find("sslkey is set in code but sslmode=disable (in the connection string)"), std::string::npos);
    // From the string only: unused, with a warning.
    Settings s = run("sslmode=disable sslcert=/x.crt");
    ASSERT_EQ(s.warnings.size(), 1u);
    EXPECT_NE(s.warnings[0].find("sslcert in the connection string is unused because sslmode=disable"), std::string::npos);
}

// One rule for every source: verification material next to no-verify is an error naming both
// settings and where each came from (it used to be an error in code only, and silently
// unused from a string or the environment).
TEST_F(Resolve, M2NoVerifyWithVerificationMaterialFromAnySource) {
    Config c;
    c.sslmode = SslMode::no_verify;
    c.sslrootcert = Pem::bytes("CA");
    EXPECT_NE(error(c).find("sslrootcert (set in code) asks for verification, but sslmode=no-verify (set in code) verifies nothing"),
              std::string::npos)
        << error(c);
    EXPECT_NE(error("sslmode=no-verify sslrootcert=/x")
                  .find("sslrootcert (in the connection string) asks for verification, but sslmode=no-verify (in the connection string)"),
              std::string::npos);
    EXPECT_NE(error("sslmode=no-verify sslcrldir=/d").find("sslcrldir (in the connection string) asks for verification"), std::string::npos);
    env.set("PGSSLROOTCERT", "/ca.crt");
    EXPECT_NE(error("sslmode=no-verify").find("sslrootcert (from environment variable PGSSLROOTCERT) asks for verification"), std::string::npos)
        << error("sslmode=no-verify");
    Config code_mode;
    code_mode.sslmode = SslMode::no_verify;
    EXPECT_NE(error(code_mode).find("sslmode=no-verify (set in code)"), std::string::npos);
}

TEST_F(Resolve, M5CertModeDisableWithCertInCode) {
    Config c = from_string("sslcertmode=disable");
    c.sslcert = Pem::bytes("CERT");
    c.sslkey = Pem::bytes("KEY");
    EXPECT_NE(error(c).find("sslcertmode=disable (in the connection string) never sends one"), std::string::npos);
}

TEST_F(Resolve, M6RequirementsThatNeedTls) {
    EXPECT_NE(error("sslmode=disable sslcertmode=require").find("cannot be satisfied with sslmode=disable"),
              std::string::npos);
    EXPECT_NE(error("sslmode=disable channel_binding=require").find("channel binding needs TLS"), std::string::npos);
    EXPECT_EQ(error("sslmode=allow channel_binding=require"), "");
}

TEST_F(Resolve, M7PemWithPathAndBytes) {
    Config c;
    c.sslcert = Pem{std::string("/a.crt"), std::string("PEM")};
    EXPECT_NE(error(c).find("sslcert is set in code with both a file path and PEM bytes"), std::string::npos);
}

TEST_F(Resolve, M8KeyWithoutCertificate) {
    Config c;
    c.sslkey = Pem::bytes("KEY");
    EXPECT_NE(error(c).find("sslkey is set in code but there is no client certificate"), std::string::npos);
    Settings s = run("sslkey=/x.key");
    EXPECT_TRUE(s.sslkey.empty());
    ASSERT_EQ(s.warnings.size(), 1u);
    EXPECT_NE(s.warnings[0].find("unused: there is no client certificate"), std::string::npos);
}

TEST_F(Resolve, M9MissingFileNamedInCode) {
    Config c;
    c.sslrootcert = Pem::file("/nonexistent/ca.crt");
    EXPECT_NE(error(c).find("sslrootcert file \"/nonexistent/ca.crt\" (set in code) does not exist"), std::string::npos);
}

TEST_F(Resolve, PasswordsAreMaskedEverywhere) {
    env.set("PGPASSWORD", "envsecret");
    Config c = from_string("password=strsecret sslpassword=keysecret");
    Settings s = run(c);
    EXPECT_EQ(s.password, "strsecret");
    for (bool json : {false, true}) {
        std::string d = describe_settings(s, json);
        EXPECT_EQ(d.find("strsecret"), std::string::npos);
        EXPECT_EQ(d.find("keysecret"), std::string::npos);
        EXPECT_EQ(d.find("envsecret"), std::string::npos);
        EXPECT_NE(d.find("********"), std::string::npos);
    }
}

TEST_F(Resolve, DescribeSettingsListsEveryEffectiveKeyword) {
    env.set("PGAPPNAME", "from-env");
    Config c = from_string("host=a,b port=1,2 sslmode=require");
    c.dbname = "codedb";
    Settings s = run(c);
    std::string text = "\n" + describe_settings(s, false);
    EXPECT_NE(text.find("(connection string)"), std::string::npos);
    EXPECT_NE(text.find("codedb"), std::string::npos);
    EXPECT_NE(text.find("(code)"), std::string::npos);
    EXPECT_NE(text.find("from-env"), std::string::npos);
    EXPECT_NE(text.find("(environment)"), std::string::npos);
    EXPECT_NE(text.find("(default)"), std::string::npos);
    EXPECT_NE(text.find("host #2: b port 2"), std::string::npos);
    for (const char* k : {"host", "port", "dbname", "user", "sslmode", "channel_binding", "sslnegotiation",
                          "ssl_min_protocol_version", "target_session_attrs", "passfile"})
        EXPECT_NE(text.find(std::string("\n") + k + " "), std::string::npos) << k << "\n" << text;
    std::string json = describe_settings(s, true);
    EXPECT_EQ(json.rfind("{\"settings\":[", 0), 0u);
    EXPECT_NE(json.find("{\"keyword\":\"dbname\",\"value\":\"codedb\",\"source\":\"code\"}"), std::string::npos);
    EXPECT_NE(json.find("{\"host\":\"b\",\"hostaddr\":\"\",\"port\":2,\"unix_socket\":false}"), std::string::npos);
}

TEST_F(Resolve, CodeOnlyLimitsAndRuntimeParameters) {
    Config c;
    c.runtime_params = {{"search_path", "app"}};
    c.max_message_size = 1024;
    c.scram_max_iterations = 4096;
    Settings s = run(c);
    EXPECT_EQ(s.runtime_params.at("search_path"), "app");
    EXPECT_EQ(s.max_message_size, 1024u);
    EXPECT_EQ(s.scram_max_iterations, 4096);
    c.runtime_params = {{"user", "x"}};
    EXPECT_NE(error(c).find("is a connection setting"), std::string::npos);
    c.runtime_params = {{"database", "x"}};
    EXPECT_NE(error(c).find("set the dbname field instead"), std::string::npos);
}

TEST_F(Resolve, UriFormResolves) {
    Settings s = run("postgres://alice:pw@db.example:6432/app?sslmode=verify-full&sslrootcert=system&application_name=x");
    EXPECT_EQ(s.user, "alice");
    EXPECT_EQ(s.password, "pw");
    EXPECT_EQ(s.hosts[0].host, "db.example");
    EXPECT_EQ(s.hosts[0].port, 6432);
    EXPECT_EQ(s.dbname, "app");
    EXPECT_EQ(s.sslmode, SslMode::verify_full);
    EXPECT_EQ(s.application_name, "x");
}

}  // namespace

// The memory caps: keywords (string, code) of pgtls's own, positive integers, clear errors.
TEST_F(Resolve, MemoryCapsFromTheStringAndFromCode) {
    Settings d = run(Config{});
    EXPECT_EQ(d.max_result_bytes, std::size_t{1} << 30);
    EXPECT_EQ(d.max_result_rows, 100'000'000u);
    EXPECT_EQ(d.max_result_sets, 100'000u);
    EXPECT_EQ(d.max_notifications, 100'000u);
    EXPECT_EQ(d.notification_overflow, NotificationOverflow::error);
    EXPECT_EQ(d.max_parameter_status, 1'000u);
    EXPECT_EQ(d.display.at("max_result_bytes"), "1073741824");

    Config c;
    c.conninfo = "max_result_bytes=8589934592 max_result_rows=10 max_result_sets=3 max_notifications=7 "
                 "notification_overflow=drop-oldest max_parameter_status=50";
    Settings s = run(c);
    EXPECT_EQ(s.max_result_bytes, std::size_t{8} << 30);
    EXPECT_EQ(s.max_result_rows, 10u);
    EXPECT_EQ(s.max_result_sets, 3u);
    EXPECT_EQ(s.max_notifications, 7u);
    EXPECT_EQ(s.notification_overflow, NotificationOverflow::drop_oldest);
    EXPECT_EQ(s.max_parameter_status, 50u);
    EXPECT_EQ(s.sources.at("max_result_rows"), SettingSource::connection_string);

    c.max_result_rows = 99;  // code wins
    c.notification_overflow = NotificationOverflow::error;
    s = run(c);
    EXPECT_EQ(s.max_result_rows, 99u);
    EXPECT_EQ(s.notification_overflow, NotificationOverflow::error);

    for (const char* bad : {"max_result_rows=0", "max_result_sets=-1", "max_notifications=ten", "max_result_bytes=1x"}) {
        Config b;
        b.conninfo = bad;
        EXPECT_NE(error(b).find("allowed: a positive integer"), std::string::npos) << bad << ": " << error(b);
    }
    Config b;
    b.conninfo = "notification_overflow=ignore";
    EXPECT_NE(error(b).find("allowed: error, drop-oldest"), std::string::npos) << error(b);
}

// libpq 18: the range defaults to [3.0, 3.0]; "latest" is 3.2; a higher minimum lifts the
// default maximum; the environment and Config set them too.
TEST(ResolveProtocolVersion, RangeAsLibpq18) {
    auto range = [](const std::string& conninfo, const FakeEnv& env = FakeEnv{{"HOME", "/nonexistent"}}) {
        Config c;
        c.conninfo = conninfo;
        const Settings s = resolve(c, env.fn());
        return std::string(to_string(s.min_protocol_version)) + "-" + to_string(s.max_protocol_version);
    };
    EXPECT_EQ(range(""), "3.0-3.0");
    EXPECT_EQ(range("max_protocol_version=latest"), "3.0-3.2");
    EXPECT_EQ(range("max_protocol_version=3.2"), "3.0-3.2");
    EXPECT_EQ(range("min_protocol_version=3.2"), "3.2-3.2");
    EXPECT_EQ(range("min_protocol_version=latest"), "3.2-3.2");
    EXPECT_EQ(range("", FakeEnv{{"HOME", "/nonexistent"}, {"PGMAXPROTOCOLVERSION", "3.2"}}), "3.0-3.2");
    EXPECT_EQ(range("max_protocol_version=3.0", FakeEnv{{"HOME", "/nonexistent"}, {"PGMAXPROTOCOLVERSION", "3.2"}}), "3.0-3.0");
    Config c;
    c.max_protocol_version = ProtocolVersion::latest;
    EXPECT_EQ(resolve(c, FakeEnv{{"HOME", "/nonexistent"}}.fn()).max_protocol_version, ProtocolVersion::v3_2);
    c.min_protocol_version = ProtocolVersion::v3_2;
    c.max_protocol_version = ProtocolVersion::v3_0;
    EXPECT_THROW(resolve(c, FakeEnv{{"HOME", "/nonexistent"}}.fn()), Error);
}

namespace {

// gssencmode: libpq's default for its build (prefer with GSSAPI), PGGSSENCMODE, the string and
// code layers; without the feature everything resolves to disable (require is refused above).
TEST_F(Resolve, GssEncModeLikeLibpqForThisBuild) {
    const GssEncMode on = PGTLS_HAVE_GSSAPI ? GssEncMode::require : GssEncMode::disable;
    EXPECT_EQ(run("").gssencmode, PGTLS_HAVE_GSSAPI ? GssEncMode::prefer : GssEncMode::disable);
    EXPECT_EQ(run("gssencmode=disable").gssencmode, GssEncMode::disable);
    env.set("PGGSSENCMODE", "disable");
    EXPECT_EQ(run("").gssencmode, GssEncMode::disable);
    if (PGTLS_HAVE_GSSAPI) {
        env.set("PGGSSENCMODE", "require");
        EXPECT_EQ(run("").gssencmode, on);
        EXPECT_EQ(run("gssencmode=prefer").gssencmode, GssEncMode::prefer);  // the string beats the environment
        Config c = from_string("gssencmode=disable");
        c.gssencmode = GssEncMode::require;  // code beats the string
        EXPECT_EQ(run(c).gssencmode, on);
    }
}

}  // namespace
