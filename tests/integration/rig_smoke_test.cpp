// Proves the test rig before any pgtls code is involved: every server that
// scripts/test-servers.sh started accepts connections on its TCP port (IPv4 and IPv6) and
// Unix socket, and answers an SSLRequest as its ssl setting says.
#include "tests/support/env/test_env.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace pgtls::test {
namespace {

constexpr int kTimeoutMs = 10000;

class Socket {
public:
    explicit Socket(int fd) : fd_(fd) {}
    ~Socket() {
        if (fd_ >= 0) ::close(fd_);
    }
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    int fd() const { return fd_; }

private:
    int fd_;
};

std::string errno_text() { return std::strerror(errno); }

// Connects, sends SSLRequest (Int32 length 8, Int32 80877103) and returns the server's
// one-byte answer; reports failures through gtest and returns '\0'.
char ssl_request(int family, const sockaddr* addr, socklen_t addr_len, const std::string& where) {
    Socket sock(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (sock.fd() < 0) {
        ADD_FAILURE() << where << ": socket: " << errno_text();
        return '\0';
    }
    if (::connect(sock.fd(), addr, addr_len) != 0) {
        ADD_FAILURE() << where << ": connect: " << errno_text();
        return '\0';
    }
    const unsigned char request[8] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};  // 80877103
    if (::send(sock.fd(), request, sizeof request, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof request)) {
        ADD_FAILURE() << where << ": send: " << errno_text();
        return '\0';
    }
    pollfd pfd{sock.fd(), POLLIN, 0};
    const int ready = ::poll(&pfd, 1, kTimeoutMs);
    if (ready <= 0) {
        ADD_FAILURE() << where << ": no answer to SSLRequest within " << kTimeoutMs << " ms";
        return '\0';
    }
    char answer = '\0';
    const ssize_t n = ::recv(sock.fd(), &answer, 1, 0);
    if (n != 1) {
        ADD_FAILURE() << where << ": recv: " << (n == 0 ? std::string("connection closed") : errno_text());
        return '\0';
    }
    return answer;
}

class RigSmokeTest : public ::testing::TestWithParam<std::string_view> {};

TEST_P(RigSmokeTest, AnswersSslRequestOnIpv4) {
    const TestServer& server = test_env().server(GetParam());
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server.port));
    ASSERT_EQ(::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr), 1);
    const std::string where = server.name + " 127.0.0.1:" + std::to_string(server.port);
    EXPECT_EQ(ssl_request(AF_INET, reinterpret_cast<const sockaddr*>(&addr), sizeof addr, where),
              server.ssl ? 'S' : 'N')
        << where;
}

TEST_P(RigSmokeTest, AnswersSslRequestOnIpv6) {
    const TestServer& server = test_env().server(GetParam());
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_port = htons(static_cast<uint16_t>(server.port));
    addr.sin6_addr = in6addr_loopback;
    const std::string where = server.name + " [::1]:" + std::to_string(server.port);
    EXPECT_EQ(ssl_request(AF_INET6, reinterpret_cast<const sockaddr*>(&addr), sizeof addr, where),
              server.ssl ? 'S' : 'N')
        << where;
}

// The server never offers TLS over a Unix socket, whatever its ssl setting.
TEST_P(RigSmokeTest, RefusesSslOnUnixSocket) {
    const TestServer& server = test_env().server(GetParam());
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string path = server.socket_dir + "/.s.PGSQL." + std::to_string(server.port);
    ASSERT_LT(path.size(), sizeof addr.sun_path) << path;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    EXPECT_EQ(ssl_request(AF_UNIX, reinterpret_cast<const sockaddr*>(&addr), sizeof addr, path), 'N') << path;
}

TEST(RigSmokeTest, PkiHasWhatTheServersUse) {
    EXPECT_FALSE(pki("server.crt").empty());
    EXPECT_FALSE(pki("client-ca.crt").empty());
    EXPECT_FALSE(pki("client.crt").empty());
    EXPECT_FALSE(pki("client.key").empty());
    EXPECT_THROW(pki("no-such-file.pem"), std::runtime_error);
}

TEST(RigSmokeTest, ServersHaveTheExpectedVersionsAndSslSettings) {
    const TestEnv& env = test_env();
    EXPECT_EQ(env.server("pg15").major_version, 15);
    EXPECT_TRUE(env.server("pg15").ssl);
    EXPECT_EQ(env.server("pg15nossl").major_version, 15);
    EXPECT_FALSE(env.server("pg15nossl").ssl);
    EXPECT_EQ(env.server("pg18").major_version, 18);
    EXPECT_TRUE(env.server("pg18").ssl);
}

INSTANTIATE_TEST_SUITE_P(Servers, RigSmokeTest, ::testing::ValuesIn(kServerNames),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace pgtls::test
