#include "fake_server.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

namespace pgtls::test {

bool FakeConnection::read_exact(std::string& out, std::size_t n, std::chrono::milliseconds timeout) {
    out.clear();
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out.size() < n) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
        if (left <= 0) return false;
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
        char buf[4096];
        const ssize_t r = ::recv(fd_, buf, std::min(sizeof buf, n - out.size()), 0);
        if (r <= 0) return false;
        out.append(buf, static_cast<std::size_t>(r));
    }
    return true;
}

static std::int32_t be32(const std::string& s, std::size_t at) {
    return static_cast<std::int32_t>((std::uint32_t(std::uint8_t(s[at])) << 24) | (std::uint32_t(std::uint8_t(s[at + 1])) << 16) |
                                     (std::uint32_t(std::uint8_t(s[at + 2])) << 8) | std::uint32_t(std::uint8_t(s[at + 3])));
}

std::int32_t FakeConnection::read_startup_packet(std::string* body) {
    std::string hdr;
    if (!read_exact(hdr, 8)) return -1;
    const std::int32_t len = be32(hdr, 0);
    const std::int32_t code = be32(hdr, 4);
    std::string rest;
    if (len > 8 && !read_exact(rest, static_cast<std::size_t>(len - 8))) return -1;
    if (body) *body = rest;
    return code;
}

char FakeConnection::read_message(std::string* body) {
    std::string hdr;
    if (!read_exact(hdr, 5)) return 0;
    const std::int32_t len = be32(hdr, 1);
    std::string rest;
    if (len > 4 && !read_exact(rest, static_cast<std::size_t>(len - 4))) return 0;
    if (body) *body = rest;
    return hdr[0];
}

void FakeConnection::send(const std::string& bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
        const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return;
        off += static_cast<std::size_t>(n);
    }
}

void FakeConnection::wait_for_close(std::chrono::milliseconds timeout) {
    std::string sink;
    while (read_exact(sink, 1, timeout)) {
    }
}

FakeServer::FakeServer(Script script) : script_(std::move(script)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(listen_fd_, 16) != 0)
        throw std::runtime_error(std::string("fake server: bind/listen failed: ") + std::strerror(errno));
    socklen_t len = sizeof sa;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
}

void FakeServer::accept_loop() {
    while (!stop_) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        ++connections_;
        std::lock_guard<std::mutex> lock(mu_);
        fds_.push_back(fd);
        workers_.emplace_back([this, fd] {
            FakeConnection c(fd);
            try {
                script_(c);
            } catch (...) {
            }
            ::shutdown(fd, SHUT_RDWR);
        });
    }
}

FakeServer::~FakeServer() {
    stop_ = true;
    acceptor_.join();
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    for (auto& t : workers_) t.join();
    for (int fd : fds_) ::close(fd);
    ::close(listen_fd_);
}

std::string FakeServer::conninfo() const { return "host=127.0.0.1 port=" + std::to_string(port_); }

}  // namespace pgtls::test
