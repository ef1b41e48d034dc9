// Foundation cases against real PostgreSQL 15 and 18 servers, on every TLS backend and with
// both drivers (the blocking Client and the non-blocking AsyncConnection):
// sslmode semantics, classic and direct negotiation, host-name verification, client
// certificates, authentication methods, Unix sockets and IPv6.
#include <gtest/gtest.h>

#include "integration_fixture.hpp"

namespace pgtls::test {
namespace {

class Connect : public BackendTest {
protected:
    // Every connect here goes through this test's driver.
    DriverConnection connect(const std::string& conninfo) const { return open(conninfo); }
};

// ---- sslmode against servers with ssl on and off -------------------------------------------

struct ModeCase {
    const char* sslmode;
    bool on_ssl_server_encrypted;  // result against an ssl=on server
    bool on_plain_server_ok;       // connects to the ssl=off server (unencrypted)
};

const ModeCase kModes[] = {
    {"disable", false, true}, {"allow", false, true},      {"prefer", true, true},
    {"require", true, false}, {"verify-ca", true, false}, {"verify-full", true, false},
};

TEST_P(Connect, EverySslmodeAgainstSslOnServers) {
    if (!has_tls()) GTEST_SKIP() << "plaintext-only build: covered by PlaintextOnlyBuildRefusesTls";
    for (const auto* server : env().ssl_servers()) {
        for (const auto& m : kModes) {
            SCOPED_TRACE(server->name + " sslmode=" + m.sslmode);
            auto c = connect(env().conninfo(*server, "scramuser", "localhost") + " sslmode=" + m.sslmode + ca());
            EXPECT_EQ(c.info().ssl, m.on_ssl_server_encrypted);
            if (c.info().ssl) {
                EXPECT_EQ(c.info().backend, backend());
                EXPECT_EQ(c.info().negotiation, "postgres");
                EXPECT_FALSE(c.info().tls_version.empty());
                EXPECT_FALSE(c.info().cipher.empty());
            }
            EXPECT_EQ(c.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")[0][0].as<bool>(),
                      m.on_ssl_server_encrypted);
        }
    }
}

TEST_P(Connect, EverySslmodeAgainstSslOffServer) {
    if (!has_tls()) GTEST_SKIP() << "plaintext-only build";
    for (const auto* server : env().nossl_servers()) {
        for (const auto& m : kModes) {
            SCOPED_TRACE(server->name + " sslmode=" + m.sslmode);
            const std::string ci = env().conninfo(*server, "scramuser", "localhost") + " sslmode=" + m.sslmode + ca();
            if (m.on_plain_server_ok) {
                auto c = connect(ci);
                EXPECT_FALSE(c.info().ssl);
                EXPECT_EQ(c.query("SELECT 1")[0][0].as<int>(), 1);
            } else {
                expect_failure(ci, ErrorKind::tls, "server does not support SSL, but SSL was required");
            }
        }
    }
}

TEST_P(Connect, AllowFallsBackToTlsForHostsslOnlyUser) {
    if (!has_tls()) GTEST_SKIP();
    const auto& s = env().server("pg15");
    auto c = connect(env().conninfo(s, "sslonly") + " sslmode=allow");
    EXPECT_TRUE(c.info().ssl);
    expect_failure(env().conninfo(s, "sslonly") + " sslmode=disable", ErrorKind::authentication, "no pg_hba.conf entry");
}

// libpq 17+: allow tries TLS only after the plaintext login failed; a server that refuses SSL
// then ends the host, with no second plaintext login using the credentials just refused.
TEST_P(Connect, AllowDoesNotLogInTwiceWhenTheServerRefusesSsl) {
    if (!has_tls()) GTEST_SKIP();
    for (const auto* server : env().nossl_servers()) {
        SCOPED_TRACE(server->name);
        try {
            connect(env().conninfo(*server, "pwuser") + " password=wrong sslmode=allow");
            ADD_FAILURE() << "connected with a wrong password";
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::authentication) << e.what();
            EXPECT_NE(std::string(e.what()).find("password authentication failed"), std::string::npos) << e.what();
            ASSERT_EQ(e.attempts().size(), 2u) << e.what();
            EXPECT_EQ(e.attempts()[0].encryption, "plaintext");
            EXPECT_NE(e.attempts()[0].server, nullptr);
            EXPECT_EQ(e.attempts()[1].server, nullptr) << "a second login was made: " << e.attempts()[1].message;
            EXPECT_EQ(e.attempts()[1].message, "server does not support SSL, but SSL was required");
        }
    }
}

TEST_P(Connect, RequireWithRootCertVerifiesLikeVerifyCa) {
    if (!has_tls()) GTEST_SKIP();
    const auto& s = env().server("pg15");
    const std::string other = " sslrootcert=" + quote_conninfo_value(pki("other-ca.crt"));
    expect_failure(env().conninfo(s, "scramuser") + " sslmode=require" + other, ErrorKind::tls, "certificate");
    expect_failure(env().conninfo(s, "scramuser") + " sslmode=verify-ca" + other, ErrorKind::tls, "certificate");
    auto c = connect(env().conninfo(s, "scramuser") + " sslmode=require" + ca());
    EXPECT_TRUE(c.info().ssl);
}

TEST_P(Connect, VerifyCaWithoutRootCertIsAClearError) {
    if (!has_tls()) GTEST_SKIP();
    const auto& s = env().server("pg15");
    Config c = config(env().conninfo(s, "scramuser") + " sslmode=verify-ca");
    c.sslrootcert = Pem::file("/nonexistent/root.crt");
    try {
        open(c);
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent/root.crt"), std::string::npos) << e.what();
    }
}

// ---- negotiation -----------------------------------------------------------------------------

TEST_P(Connect, DirectNegotiationWorksOnPostgres18) {
    if (!has_tls()) GTEST_SKIP();
    const auto& s = env().server("pg18");
    auto c = connect(env().conninfo(s, "scramuser", "localhost") + " sslnegotiation=direct sslmode=verify-full" + ca());
    EXPECT_TRUE(c.info().ssl);
    EXPECT_EQ(c.info().negotiation, "direct");
    EXPECT_EQ(c.info().alpn, "postgresql");
    EXPECT_EQ(c.query("SELECT 1")[0][0].as<int>(), 1);
}

TEST_P(Connect, DirectNegotiationWithoutSslmodeMeansRequire) {
    if (!has_tls()) GTEST_SKIP();
    auto c = connect(env().conninfo(env().server("pg18"), "scramuser") + " sslnegotiation=direct");
    EXPECT_TRUE(c.info().ssl);
    EXPECT_EQ(c.info().negotiation, "direct");
}

TEST_P(Connect, DirectNegotiationFailsClearlyOnPostgres15) {
    if (!has_tls()) GTEST_SKIP();
    expect_failure(env().conninfo(env().server("pg15"), "scramuser") + " sslnegotiation=direct sslmode=require",
                   ErrorKind::tls, "PostgreSQL 17");
}

TEST_P(Connect, DirectNegotiationRefusesWeakSslmode) {
    if (!has_tls()) GTEST_SKIP();
    for (const char* mode : {"disable", "allow", "prefer"})
        expect_failure(env().conninfo(env().server("pg18"), "scramuser") + " sslnegotiation=direct sslmode=" + mode,
                       ErrorKind::config, "sslnegotiation");
}

TEST_P(Connect, ClassicNegotiationOfferedAlpnOnPostgres18) {
    if (!has_tls()) GTEST_SKIP();
    auto c = connect(env().conninfo(env().server("pg18"), "scramuser") + " sslmode=require");
    EXPECT_EQ(c.info().negotiation, "postgres");
    EXPECT_EQ(c.info().alpn, "postgresql");  // PostgreSQL 17+ selects it when offered
}

// ---- host names ------------------------------------------------------------------------------

TEST_P(Connect, VerifyFullChecksTheHostNotHostaddr) {
    if (!has_tls()) GTEST_SKIP();
    const auto& s = env().server("pg15");
    const std::string base = "port=" + std::to_string(s.port) + " dbname=pgtls user=scramuser password=scram-secret" + ca();
    EXPECT_TRUE(connect(base + " host=localhost sslmode=verify-full").info().ssl);
    EXPECT_TRUE(connect(base + " host=127.0.0.1 sslmode=verify-full").info().ssl);  // IP SAN
    EXPECT_TRUE(connect(base + " host=::1 sslmode=verify-full").info().ssl);        // IPv6 SAN
    expect_failure(base + " host=db.wrong.example hostaddr=127.0.0.1 sslmode=verify-full", ErrorKind::tls,
                   "does not match host name \"db.wrong.example\"");
    // verify-ca does not look at the name.
    EXPECT_TRUE(connect(base + " host=db.wrong.example hostaddr=127.0.0.1 sslmode=verify-ca").info().ssl);
}

// ---- client certificates ---------------------------------------------------------------------

TEST_P(Connect, CertificateAuthentication) {
    if (!has_tls()) GTEST_SKIP();
    const auto& s = env().server("pg15");
    const std::string base = env().conninfo(s, "certuser", "localhost", "pgtls") + " sslmode=verify-full" + ca();
    auto with = [&](const std::string& cert, const std::string& key, const std::string& extra = "") {
        return base + " sslcert=" + quote_conninfo_value(pki(cert)) + " sslkey=" + quote_conninfo_value(pki(key)) + extra;
    };
    auto c = connect(with("client.crt", "client.key"));
    EXPECT_TRUE(c.info().client_cert_sent);
    EXPECT_EQ(c.query("SELECT current_user")[0][0].as<std::string>(), "certuser");
    EXPECT_TRUE(connect(with("client.crt", "client-encrypted.key", " sslpassword=keypass")).info().ssl);
    EXPECT_TRUE(connect(with("client-ecdsa.crt", "client-ecdsa.key")).info().ssl);
    EXPECT_TRUE(connect(with("client-ecdsa.crt", "client-ecdsa-encrypted.key", " sslpassword=keypass")).info().ssl);
    try {
        connect(with("client.crt", "client-encrypted.key", " sslpassword=Xyzzy-not-it"));
        ADD_FAILURE() << "wrong key password accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("client-encrypted.key"), std::string::npos) << e.what();
        EXPECT_EQ(std::string(e.what()).find("Xyzzy"), std::string::npos) << "password leaked: " << e.what();
    }
    // No certificate at all: the cert line refuses.
    expect_failure(base + " sslcertmode=disable", ErrorKind::authentication, "certificate");
    // sslcertmode=require: fine when a certificate went out, refused when none could.
    EXPECT_TRUE(connect(with("client.crt", "client.key", " sslcertmode=require")).info().client_cert_sent);
    expect_failure(env().conninfo(s, "scramuser", "localhost") + " sslmode=verify-full sslcertmode=require" + ca(),
                   ErrorKind::tls, "certificate");
}

TEST_P(Connect, ClientCertificateFromPemBytesInCode) {
    if (!has_tls()) GTEST_SKIP();
    const auto& s = env().server("pg15");
    Config c = config(env().conninfo(s, "certuser", "localhost") + " sslmode=verify-full");
    auto slurp = [](const std::string& p) {
        FILE* f = std::fopen(p.c_str(), "rb");
        std::string out;
        char buf[4096];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
        std::fclose(f);
        return out;
    };
    c.sslrootcert = Pem::bytes(slurp(pki("ca.crt")));
    c.sslcert = Pem::bytes(slurp(pki("client.crt")));
    c.sslkey = Pem::bytes(slurp(pki("client-encrypted.key")));
    c.sslpassword = "keypass";
    auto cl = open(c);
    EXPECT_EQ(cl.query("SELECT current_user")[0][0].as<std::string>(), "certuser");
}

TEST_P(Connect, ClientCertVerifyFullWithPassword) {
    if (!has_tls()) GTEST_SKIP();
    const auto& s = env().server("pg18");
    const std::string ci = env().conninfo(s, "certuser", "localhost", "cfdb") + " sslmode=verify-full" + ca();
    auto c = connect(ci + " sslcert=" + quote_conninfo_value(pki("client.crt")) +
                     " sslkey=" + quote_conninfo_value(pki("client.key")));
    EXPECT_EQ(c.info().auth_method.rfind("SCRAM-SHA-256", 0), 0u) << c.info().auth_method;
    expect_failure(ci + " sslcertmode=disable", ErrorKind::authentication, "certificate");
}

// ---- authentication methods ------------------------------------------------------------------

TEST_P(Connect, EveryPasswordMethodOnEveryServer) {
    for (const auto& server : env().servers) {
        const bool tls = server.ssl && has_tls();
        const std::string mode = tls ? " sslmode=require" : " sslmode=disable";
        struct {
            const char* user;
            std::string method;
        } cases[] = {{"trustuser", "trust"},
                     {"pwuser", "password"},
                     {"md5user", "md5"},
                     {"scramuser", tls ? "SCRAM-SHA-256-PLUS" : "SCRAM-SHA-256"}};
        for (const auto& k : cases) {
            SCOPED_TRACE(server.name + " " + k.user);
            auto c = connect(env().conninfo(server, k.user) + mode);
            EXPECT_EQ(c.info().auth_method, k.method);
            EXPECT_EQ(c.info().channel_binding, k.method == "SCRAM-SHA-256-PLUS");
            EXPECT_EQ(c.query("SELECT current_user")[0][0].as<std::string>(), k.user);
        }
        for (const char* user : {"pwuser", "md5user", "scramuser"}) {
            SCOPED_TRACE(server.name + " wrong password " + user);
            try {
                open(config("host=127.0.0.1 port=" + std::to_string(server.port) + " dbname=pgtls user=" + user +
                                " password=not-the-password" + mode));
                ADD_FAILURE() << "wrong password accepted";
            } catch (const ServerError& e) {
                EXPECT_EQ(e.kind(), ErrorKind::authentication);
                EXPECT_EQ(e.sqlstate(), "28P01");
                EXPECT_EQ(std::string(e.what()).find("not-the-password"), std::string::npos);
            }
        }
    }
}

TEST_P(Connect, NonAsciiUserAndPassword) {
    for (const auto& server : env().servers) {
        SCOPED_TRACE(server.name);
        auto c = connect(env().conninfo(server, "ünïcode") + (server.ssl && has_tls() ? " sslmode=require" : " sslmode=disable"));
        EXPECT_EQ(c.query("SELECT current_user")[0][0].as<std::string>(), "ünïcode");
    }
}

TEST_P(Connect, UnixSocketAndIpv6) {
    for (const auto& server : env().servers) {
        SCOPED_TRACE(server.name);
        auto u = connect(env().unix_conninfo(server, "trustuser"));
        EXPECT_FALSE(u.info().ssl);
        EXPECT_EQ(u.query("SELECT 1")[0][0].as<int>(), 1);
        auto v6 = connect(env().conninfo(server, "scramuser", "::1") + " sslmode=" + (server.ssl && has_tls() ? "require" : "disable"));
        EXPECT_EQ(v6.info().address, "::1");
        EXPECT_EQ(v6.query("SELECT inet_client_addr()::text")[0][0].as<std::string>(), "::1/128");
    }
}

TEST_P(Connect, KeepaliveValuesTheKernelRefusesFailTheConnect) {
    // As in libpq: a TCP option setsockopt() refuses (Linux: TCP_KEEPIDLE and TCP_KEEPINTVL at
    // most 32767 s, TCP_KEEPCNT at most 127) fails the attempt; no connection without it.
    const std::string base = env().conninfo(env().server("pg18"), "trustuser") + " sslmode=disable";
    expect_failure(base + " keepalives_idle=40000", ErrorKind::connection, "setsockopt(TCP_KEEPIDLE) failed");
    expect_failure(base + " keepalives_count=200", ErrorKind::connection, "setsockopt(TCP_KEEPCNT) failed");
    auto c = connect(base + " keepalives=0 keepalives_idle=40000");  // keepalives off: nothing is set
    EXPECT_EQ(c.query("SELECT 1")[0][0].as<int>(), 1);
}

TEST_P(Connect, ServerErrorCarriesEveryField) {
    const auto& s = env().server("pg15");
    auto c = connect(env().conninfo(s, "trustuser") + " sslmode=" + (has_tls() ? "require" : "disable"));
    try {
        c.query("SELECT 1/0");
        FAIL();
    } catch (const ServerError& e) {
        EXPECT_EQ(e.sqlstate(), "22012");
        EXPECT_EQ(e.fields().severity, "ERROR");
        EXPECT_EQ(e.fields().severity_nonlocalized, "ERROR");
        EXPECT_EQ(e.fields().message, "division by zero");
        EXPECT_FALSE(e.fields().file.empty());
        EXPECT_FALSE(e.fields().routine.empty());
    }
    try {
        c.query("SELECT nope FROM pg_class");
        FAIL();
    } catch (const ServerError& e) {
        EXPECT_EQ(e.sqlstate(), "42703");
        EXPECT_EQ(e.fields().position, "8");
    }
    EXPECT_EQ(c.query("SELECT 2")[0][0].as<int>(), 2);  // still usable
}

TEST_P(Connect, TypedResultsAndParameters) {
    const auto& s = env().server("pg18");
    Client c = BackendTest::connect(env().conninfo(s, "trustuser") + " sslmode=" + (has_tls() ? "require" : "disable"));
    auto r = c.exec("SELECT $1::int2, $2::int8, $3::float8, $4::bool, $5::text, $6::bytea, $7::int",
                    std::int16_t(-7), std::int64_t(1) << 40, 2.5, true, std::string("naïve"), Bytea{std::string("\0\1\xff", 3)},
                    std::optional<int>());
    ASSERT_EQ(r.size(), 1u);
    auto [a, b, d, e, f] = std::tuple{r[0][0].as<int>(), r[0][1].as<std::int64_t>(), r[0][2].as<double>(),
                                      r[0][3].as<bool>(), r[0][4].as<std::string>()};
    EXPECT_EQ(a, -7);
    EXPECT_EQ(b, std::int64_t(1) << 40);
    EXPECT_EQ(d, 2.5);
    EXPECT_TRUE(e);
    EXPECT_EQ(f, "naïve");
    EXPECT_EQ(r[0][5].as<std::string>(), std::string("\0\1\xff", 3));
    EXPECT_FALSE(r[0][6].as<std::optional<int>>().has_value());
    EXPECT_EQ(r.column_info()[1].type_oid, oid::int8);
    EXPECT_EQ(r.column_info()[0].name, "int2");
}

PGTLS_INSTANTIATE_PER_BACKEND_AND_DRIVER(Connect);

}  // namespace
}  // namespace pgtls::test
