#include "transport/socket.hpp"

#include "config/host_target.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "pgtls/error.hpp"
#include "transport/background_resolver.hpp"

namespace pgtls::transport {

namespace {

int remaining_ms(Deadline deadline) {
    if (!deadline) return -1;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now()).count();
    return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
}

// Returns "" or libpq's text for the option the kernel refused ("setsockopt(TCP_KEEPIDLE)
// failed: Invalid argument", e.g. keepalives_idle above 32767): as in libpq, that address's
// attempt fails rather than going on without the setting the caller asked for.
std::string set_tcp_options(int fd, const SocketOptions& o) {
    auto set = [fd](int level, int name, const char* what, int value) -> std::string {
        if (::setsockopt(fd, level, name, &value, sizeof value) == 0) return {};
        return std::string("setsockopt(") + what + ") failed: " + std::strerror(errno);
    };
    std::string failed = set(IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY", 1);
    if (o.keepalives) {
        if (failed.empty()) failed = set(SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", 1);
        if (failed.empty() && o.keepalives_idle > 0)
            failed = set(IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE", o.keepalives_idle);
        if (failed.empty() && o.keepalives_interval > 0)
            failed = set(IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL", o.keepalives_interval);
        if (failed.empty() && o.keepalives_count > 0)
            failed = set(IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT", o.keepalives_count);
    }
    if (failed.empty() && o.tcp_user_timeout_ms > 0)
        failed = set(IPPROTO_TCP, TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT", o.tcp_user_timeout_ms);
    return failed;
}

std::string describe_target(const HostTarget& t) {
    std::string s = "\"" + t.host + "\"";
    if (!t.hostaddr.empty() && t.hostaddr != t.host) s += " (" + t.hostaddr + ")";
    return s;
}

std::string sockaddr_text(const sockaddr* sa) {
    char buf[INET6_ADDRSTRLEN] = {0};
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
    return buf;
}

}  // namespace

void wait_fd(int fd, bool for_write, Deadline deadline, const char* what) {
    pollfd p{fd, static_cast<short>(for_write ? POLLOUT : POLLIN), 0};
    while (true) {
        const int r = ::poll(&p, 1, remaining_ms(deadline));
        if (r > 0) return;
        if (r == 0) throw Error(ErrorKind::timeout, std::string("timeout expired while ") + what);
        if (errno != EINTR) throw Error(ErrorKind::connection, std::string("poll() failed: ") + std::strerror(errno));
    }
}

SocketOpener::SocketOpener(const HostTarget& target, const SocketOptions& options, Resolution resolution)
    : target_(target), options_(options) {
    if (target.is_unix_socket()) {
        const std::string path = config::unix_socket_path(target);
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        if (path.size() >= sizeof sa.sun_path)
            throw Error(ErrorKind::connection, ErrorCause::connect_failed,
                        "connection to server on socket \"" + path + "\" failed: Unix-domain socket path is too long");
        std::memcpy(sa.sun_path, path.data(), path.size());
        socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
        if (path[0] == '@') {  // Linux abstract namespace
            sa.sun_path[0] = '\0';
            len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
        }
        const auto* b = reinterpret_cast<const unsigned char*>(&sa);
        sockaddrs_.emplace_back(b, b + len);
        families_.push_back(AF_UNIX);
        addresses_.push_back(path);
        return;
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    const std::string& name = target.hostaddr.empty() ? target.host : target.hostaddr;
    if (!target.hostaddr.empty()) hints.ai_flags |= AI_NUMERICHOST;
    addrinfo* res = nullptr;
    const std::string port = std::to_string(target.port);
    if (resolution == Resolution::background && target.hostaddr.empty()) {
        // An IP literal needs no lookup; a name goes to the resolver's thread.
        addrinfo numeric = hints;
        numeric.ai_flags |= AI_NUMERICHOST;
        if (::getaddrinfo(name.c_str(), port.c_str(), &numeric, &res) != 0) {
            resolver_ = std::make_unique<BackgroundResolver>(name, port, hints);
            return;
        }
    } else if (const int gai = ::getaddrinfo(name.c_str(), port.c_str(), &hints, &res); gai != 0) {
        resolve_failed(gai);
    }
    take_addresses(res);
    freeaddrinfo(res);
}

void SocketOpener::take_addresses(const addrinfo* list) {
    for (const addrinfo* ai = list; ai; ai = ai->ai_next) {
        const auto* b = reinterpret_cast<const unsigned char*>(ai->ai_addr);
        sockaddrs_.emplace_back(b, b + ai->ai_addrlen);
        families_.push_back(ai->ai_family);
        addresses_.push_back(sockaddr_text(ai->ai_addr));
    }
}

void SocketOpener::resolve_failed(int gai) const {
    throw Error(ErrorKind::connection, ErrorCause::resolve_failed,
                (target_.hostaddr.empty() ? "could not translate host name " : "could not parse network address ") +
                    describe_target(target_) + " to address: " + gai_strerror(gai));
}

SocketOpener::~SocketOpener() {
    if (fd_ >= 0) ::close(fd_);
}

int SocketOpener::fd() const noexcept { return resolver_ ? resolver_->fd() : fd_; }

bool SocketOpener::start_next() {
    const bool unix_socket = target_.is_unix_socket();
    while (next_ < sockaddrs_.size()) {
        const std::size_t i = next_++;
        const int fd = ::socket(families_[i], SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            if (unix_socket)
                throw Error(ErrorKind::connection, ErrorCause::connect_failed,
                            "connection to server on socket \"" + addresses_.front() +
                                "\" failed: could not create socket: " + std::strerror(errno));
            continue;
        }
        current_ = addresses_[i];
        fd_ = fd;
        if (!unix_socket) {
            if (const std::string failed = set_tcp_options(fd, options_); !failed.empty()) {
                record_failure(0, failed);
                continue;
            }
        }
        const auto* sa = reinterpret_cast<const sockaddr*>(sockaddrs_[i].data());
        const auto len = static_cast<socklen_t>(sockaddrs_[i].size());
        if (::connect(fd, sa, len) == 0) {
            connecting_ = false;
            return true;
        }
        if (errno == EINPROGRESS || errno == EINTR) {
            connecting_ = true;
            return true;
        }
        record_failure(errno);
    }
    return false;
}

void SocketOpener::record_failure(int err, const std::string& what) {
    ::close(fd_);
    fd_ = -1;
    connecting_ = false;
    last_errno_ = err;
    if (!errors_.empty()) errors_ += "; ";
    errors_ += "address " + current_ + ": " + (what.empty() ? std::string(std::strerror(err)) : what);
}

bool SocketOpener::advance() {
    if (resolver_) {
        if (!resolver_->finished()) return false;
        const std::unique_ptr<BackgroundResolver> done = std::move(resolver_);
        if (done->gai_error() != 0) resolve_failed(done->gai_error());
        take_addresses(done->result());
    }
    while (true) {
        if (fd_ < 0) {
            if (!start_next()) fail();
            if (!connecting_) return true;
        }
        // A connect in progress: finished when the socket is writable.
        pollfd p{fd_, POLLOUT, 0};
        const int r = ::poll(&p, 1, 0);
        if (r == 0 || (r < 0 && errno == EINTR)) return false;
        int err = 0;
        socklen_t elen = sizeof err;
        if (r < 0 || getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &elen) != 0) err = errno;
        if (err == 0) {
            connecting_ = false;
            return true;
        }
        record_failure(err);
    }
}

OpenedSocket SocketOpener::take() {
    OpenedSocket s{fd_, current_};
    fd_ = -1;
    return s;
}

void SocketOpener::fail() const {
    if (target_.is_unix_socket())
        throw Error(ErrorKind::connection, ErrorCause::connect_failed,
                    "connection to server on socket \"" + addresses_.front() + "\" failed: " +
                        std::strerror(last_errno_) + (last_errno_ == ENOENT ? " (is the server running locally?)" : ""));
    throw Error(ErrorKind::connection, ErrorCause::connect_failed,
                "connection to server at " + describe_target(target_) + ", port " + std::to_string(target_.port) +
                    " failed: " + (errors_.empty() ? std::string("no usable address") : errors_));
}

Error SocketOpener::timeout_error() const {
    if (target_.is_unix_socket())
        return Error(ErrorKind::timeout, ErrorCause::connect_timeout,
                     "timeout expired connecting to socket \"" + addresses_.front() + "\"");
    return Error(ErrorKind::timeout, ErrorCause::connect_timeout,
                 "timeout expired connecting to server at " + describe_target(target_) + ", address " + current_ +
                     ", port " + std::to_string(target_.port));
}

OpenedSocket open_socket(const HostTarget& target, const SocketOptions& options, Deadline deadline) {
    SocketOpener opener(target, options);
    while (!opener.advance()) {
        pollfd p{opener.fd(), POLLOUT, 0};
        while (true) {
            const int r = ::poll(&p, 1, remaining_ms(deadline));
            if (r > 0) break;
            if (r == 0) throw opener.timeout_error();
            if (errno != EINTR)
                throw Error(ErrorKind::connection, std::string("poll() failed: ") + std::strerror(errno));
        }
    }
    return opener.take();
}

bool is_loopback_address(std::string_view address) noexcept {
    char text[INET6_ADDRSTRLEN] = {};
    if (address.empty() || address.size() >= sizeof text) return false;
    address.copy(text, address.size());
    in_addr v4{};
    if (inet_pton(AF_INET, text, &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
    in6_addr v6{};
    if (inet_pton(AF_INET6, text, &v6) != 1) return false;
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
}

}  // namespace pgtls::transport
