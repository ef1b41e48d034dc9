// The env-file reader itself: what it accepts, and that a missing rig fails loudly.
#include "test_env.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <unistd.h>

namespace pgtls::test {
namespace {

class TempFile {
public:
    explicit TempFile(const std::string& content) {
        char name[] = "/tmp/pgtls-test-env-XXXXXX";
        const int fd = mkstemp(name);
        if (fd < 0) throw std::runtime_error("mkstemp failed");
        close(fd);
        path_ = name;
        std::ofstream(path_) << content;
    }
    ~TempFile() { std::remove(path_.c_str()); }
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

const char* const kFullEnv =
    "PGTLS_TEST_DIR=/t\n"
    "PGTLS_TEST_PKI=/t/pki\n"
    "# comment\n"
    "\n"
    "PGTLS_PG15_BIN=/pg15/bin\n"
    "export PGTLS_PG18_BIN='/pg18/bin'\n"
    "PGTLS_PG15_PORT=20001\nPGTLS_PG15_SOCKET_DIR=/t/pg15/socket\nPGTLS_PG15_SSL=on\n"
    "PGTLS_PG15_MAJOR=15\nPGTLS_PG15_LOG=/t/pg15/server.log\n"
    "PGTLS_PG15_NOSSL_PORT=20002\nPGTLS_PG15_NOSSL_SOCKET_DIR=/t/pg15nossl/socket\n"
    "PGTLS_PG15_NOSSL_SSL=off\nPGTLS_PG15_NOSSL_MAJOR=15\nPGTLS_PG15_NOSSL_LOG=/t/x.log\n"
    "PGTLS_PG18_PORT=20003\nPGTLS_PG18_SOCKET_DIR=/t/pg18/socket\nPGTLS_PG18_SSL=on\n"
    "PGTLS_PG18_MAJOR=18\nPGTLS_PG18_LOG=/t/pg18/server.log\n";

TEST(TestEnvFile, ReadsEveryServer) {
    const TempFile file(kFullEnv);
    const TestEnv env = load_test_env(file.path());
    EXPECT_EQ(env.pki_dir, "/t/pki");
    EXPECT_EQ(env.pg18_bin, "/pg18/bin");
    ASSERT_EQ(env.servers.size(), 3u);
    EXPECT_EQ(env.server("pg15").port, 20001);
    EXPECT_TRUE(env.server("pg15").ssl);
    EXPECT_FALSE(env.server("pg15nossl").ssl);
    EXPECT_EQ(env.server("pg18").major_version, 18);
    EXPECT_EQ(env.server("pg18").socket_dir, "/t/pg18/socket");
    EXPECT_EQ(env.ssl_servers().size(), 2u);
    ASSERT_EQ(env.nossl_servers().size(), 1u);
    EXPECT_EQ(env.nossl_servers()[0]->name, "pg15nossl");
    EXPECT_THROW(env.server("pg99"), std::runtime_error);
}

TEST(TestEnvFile, BuildsConninfo) {
    const TempFile file(kFullEnv);
    const TestEnv env = load_test_env(file.path());
    EXPECT_EQ(env.conninfo(env.server("pg18"), "scramuser"),
              "host=127.0.0.1 port=20003 dbname=pgtls user=scramuser password=scram-secret");
    EXPECT_EQ(env.conninfo(env.server("pg15"), "trustuser", "::1", "cfdb"),
              "host=::1 port=20001 dbname=cfdb user=trustuser");
    EXPECT_EQ(env.unix_conninfo(env.server("pg15"), "postgres"),
              "host=/t/pg15/socket port=20001 dbname=pgtls user=postgres");
    EXPECT_EQ(password_of("\xC3\xBCn\xC3\xAF" "code"), "p\xC3\xA4ssw\xC3\xB6rd");
    EXPECT_THROW(password_of("nobody"), std::runtime_error);
}

TEST(TestEnvFile, QuotesConninfoValues) {
    EXPECT_EQ(quote_conninfo_value("plain"), "plain");
    EXPECT_EQ(quote_conninfo_value(""), "''");
    EXPECT_EQ(quote_conninfo_value("a b"), "'a b'");
    EXPECT_EQ(quote_conninfo_value("it's\\"), "'it\\'s\\\\'");
}

TEST(TestEnvFile, MissingFileSaysHowToStartTheServers) {
    try {
        load_test_env("/nonexistent/pgtls/env");
        FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("run scripts/test-servers.sh start"), std::string::npos)
            << e.what();
    }
}

TEST(TestEnvFile, IncompleteFileNamesTheMissingKey) {
    const TempFile file("PGTLS_TEST_DIR=/t\nPGTLS_TEST_PKI=/t/pki\n");
    try {
        load_test_env(file.path());
        FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("PGTLS_PG15_BIN"), std::string::npos) << e.what();
    }
}

TEST(TestEnvFile, RejectsBadPort) {
    std::string content = kFullEnv;
    content.replace(content.find("20001"), 5, "20x01");
    const TempFile file(content);
    EXPECT_THROW(load_test_env(file.path()), std::runtime_error);
}

}  // namespace
}  // namespace pgtls::test
