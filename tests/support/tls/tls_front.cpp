#include "tests/support/tls/tls_front.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace pgtls::test {

struct TlsFront::Impl {
    SSL_CTX* ctx = nullptr;
    ~Impl() { SSL_CTX_free(ctx); }
};

namespace {

bool read_exact(int fd, char* buf, std::size_t n) {
    for (std::size_t got = 0; got < n;) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 10000) <= 0) return false;
        const ssize_t r = ::recv(fd, buf + got, n - got, 0);
        if (r <= 0) return false;
        got += static_cast<std::size_t>(r);
    }
    return true;
}

int connect_loopback(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(port);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

}  // namespace

TlsFront::TlsFront(std::uint16_t backend_port, const std::string& cert_file, const std::string& key_file)
    : impl_(new Impl), backend_port_(backend_port) {
    ::signal(SIGPIPE, SIG_IGN);
    impl_->ctx = SSL_CTX_new(TLS_server_method());
    if (!impl_->ctx || SSL_CTX_use_certificate_chain_file(impl_->ctx, cert_file.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(impl_->ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1)
        throw std::runtime_error("TLS front: cannot load " + cert_file + " / " + key_file);
    // Partial writes: the relay writes what the client can take and keeps the rest.
    SSL_CTX_set_mode(impl_->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(listen_fd_, 16) != 0)
        throw std::runtime_error("TLS front: bind/listen failed");
    socklen_t len = sizeof sa;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
}

TlsFront::~TlsFront() {
    stop_ = true;
    acceptor_.join();
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    for (auto& t : workers_) t.join();
    for (int fd : fds_) ::close(fd);
    ::close(listen_fd_);
}

void TlsFront::accept_loop() {
    while (!stop_) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        std::lock_guard<std::mutex> lock(mu_);
        fds_.push_back(fd);
        workers_.emplace_back([this, fd] { relay(fd); });
    }
}

void TlsFront::relay(int client_fd) {
    char request[8];
    static const char ssl_request[8] = {0, 0, 0, 8, 4, char(0xd2), 0x16, 0x2f};
    if (!read_exact(client_fd, request, 8) || std::memcmp(request, ssl_request, 8) != 0) return;
    if (::send(client_fd, "S", 1, MSG_NOSIGNAL) != 1) return;
    SSL* ssl = SSL_new(impl_->ctx);
    SSL_set_fd(ssl, client_fd);
    const int backend = SSL_accept(ssl) == 1 ? connect_loopback(backend_port_) : -1;
    // One thread, both directions: poll both sockets and never block on either, so a backend
    // that stops reading (a flood-while-writing case) cannot stop the flood reaching the client.
    // Each direction holds at most 1 MiB; past that the front stops reading that side.
    std::string to_client;   // bytes from the backend not yet written to the TLS session
    std::string to_backend;  // bytes from the TLS session not yet sent to the backend
    constexpr std::size_t hold = 1u << 20;
    char buf[16384];
    bool backend_open = backend >= 0;
    auto read_client = [&]() -> bool {  // false: the TLS session ended
        const int n = SSL_read(ssl, buf, sizeof buf);
        if (n > 0) {
            if (backend_open) to_backend.append(buf, static_cast<std::size_t>(n));
            return true;
        }
        const int err = SSL_get_error(ssl, n);
        return err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE;
    };
    while (backend_open || !to_client.empty()) {
        if (stop_) break;
        if (!to_client.empty()) {
            const int n = SSL_write(ssl, to_client.data(), static_cast<int>(to_client.size()));
            if (n > 0) {
                to_client.erase(0, static_cast<std::size_t>(n));
                continue;
            }
            const int err = SSL_get_error(ssl, n);
            if (err != SSL_ERROR_WANT_WRITE && err != SSL_ERROR_WANT_READ) break;
        }
        if (backend_open && !to_backend.empty()) {
            const ssize_t w = ::send(backend, to_backend.data(), to_backend.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0) to_backend.erase(0, static_cast<std::size_t>(w));
            else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) backend_open = false;
        }
        const bool take_client = to_backend.size() < hold;
        if (take_client && SSL_pending(ssl) > 0) {
            if (!read_client()) break;
            continue;
        }
        pollfd p[2] = {{client_fd, short((take_client ? POLLIN : 0) | (to_client.empty() ? 0 : POLLOUT)), 0},
                       {backend, short(backend_open ? ((to_client.size() < hold ? POLLIN : 0) |
                                                       (to_backend.empty() ? 0 : POLLOUT))
                                                    : 0),
                        0}};
        if (::poll(p, 2, 100) < 0) break;
        if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            const ssize_t r = ::recv(backend, buf, sizeof buf, MSG_DONTWAIT);
            if (r > 0) to_client.append(buf, static_cast<std::size_t>(r));
            else if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) backend_open = false;
        }
        if (take_client && (p[0].revents & (POLLIN | POLLHUP | POLLERR)) && !read_client()) break;
    }
    if (backend >= 0) ::close(backend);
    SSL_shutdown(ssl);
    SSL_free(ssl);
    ERR_clear_error();
    ::shutdown(client_fd, SHUT_RDWR);
}

}  // namespace pgtls::test
