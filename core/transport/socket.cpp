#include "core/transport/socket.hpp"

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

namespace pgtls::transport {

namespace {

int remaining_ms(Deadline deadline) {
    if (!deadline) return -1;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now()).count();
    return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
}

void set_tcp_options(int fd, const SocketOptions& o) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (o.keepalives) {
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
        if (o.keepalives_idle > 0) setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &o.keepalives_idle, sizeof(int));
        if (o.keepalives_interval > 0)
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &o.keepalives_interval, sizeof(int));
        if (o.keepalives_count > 0) setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &o.keepalives_count, sizeof(int));
    }
    if (o.tcp_user_timeout_ms > 0)
        setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &o.tcp_user_timeout_ms, sizeof(int));
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

// connect_with_deadline's result when the deadline passed. Not ETIMEDOUT: that is the
// kernel giving up on the SYN, and the poll's millisecond rounding can wake it a fraction of
// a millisecond before the deadline, so the clock cannot tell the two apart.
constexpr int kDeadlineReached = -1;

// Non-blocking connect with deadline; returns 0, an errno or kDeadlineReached.
int connect_with_deadline(int fd, const sockaddr* sa, socklen_t len, Deadline deadline) {
    if (::connect(fd, sa, len) == 0) return 0;
    if (errno != EINPROGRESS && errno != EINTR) return errno;
    pollfd p{fd, POLLOUT, 0};
    while (true) {
        const int r = ::poll(&p, 1, remaining_ms(deadline));
        if (r < 0 && errno == EINTR) continue;
        if (r == 0) return kDeadlineReached;
        break;
    }
    int err = 0;
    socklen_t elen = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
    return err;
}

}  // namespace

std::string unix_socket_path(const HostTarget& target) {
    return target.host + "/.s.PGSQL." + std::to_string(target.port);
}

void wait_fd(int fd, bool for_write, Deadline deadline, const char* what) {
    pollfd p{fd, static_cast<short>(for_write ? POLLOUT : POLLIN), 0};
    while (true) {
        const int r = ::poll(&p, 1, remaining_ms(deadline));
        if (r > 0) return;
        if (r == 0) throw Error(ErrorKind::timeout, std::string("timeout expired while ") + what);
        if (errno != EINTR) throw Error(ErrorKind::connection, std::string("poll() failed: ") + std::strerror(errno));
    }
}

OpenedSocket open_socket(const HostTarget& target, const SocketOptions& options, Deadline deadline) {
    if (target.is_unix_socket()) {
        std::string path = unix_socket_path(target);
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        if (path.size() >= sizeof sa.sun_path)
            throw Error(ErrorKind::connection, "Unix-domain socket path \"" + path + "\" is too long");
        std::memcpy(sa.sun_path, path.data(), path.size());
        socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
        if (path[0] == '@') {  // Linux abstract namespace
            sa.sun_path[0] = '\0';
            len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
        }
        const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) throw Error(ErrorKind::connection, std::string("could not create socket: ") + std::strerror(errno));
        const int err = connect_with_deadline(fd, reinterpret_cast<sockaddr*>(&sa), len, deadline);
        if (err) {
            ::close(fd);
            if (err == kDeadlineReached)
                throw Error(ErrorKind::timeout, "timeout expired connecting to socket \"" + path + "\"");
            throw Error(ErrorKind::connection, "connection to server on socket \"" + path +
                                                   "\" failed: " + std::strerror(err) +
                                                   (err == ENOENT ? " (is the server running locally?)" : ""));
        }
        return {fd, path};
    }

    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    const std::string& name = target.hostaddr.empty() ? target.host : target.hostaddr;
    if (!target.hostaddr.empty()) hints.ai_flags |= AI_NUMERICHOST;
    addrinfo* res = nullptr;
    const std::string port = std::to_string(target.port);
    const int gai = ::getaddrinfo(name.c_str(), port.c_str(), &hints, &res);
    if (gai != 0)
        throw Error(ErrorKind::connection, (target.hostaddr.empty() ? "could not translate host name " : "could not parse network address ") +
                                               describe_target(target) + " to address: " + gai_strerror(gai));
    std::string errors;
    for (addrinfo* ai = res; ai; ai = ai->ai_next) {
        const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) continue;
        set_tcp_options(fd, options);
        const int err = connect_with_deadline(fd, ai->ai_addr, ai->ai_addrlen, deadline);
        const std::string addr = sockaddr_text(ai->ai_addr);
        if (err == 0) {
            freeaddrinfo(res);
            return {fd, addr};
        }
        ::close(fd);
        if (err == kDeadlineReached) {
            freeaddrinfo(res);
            throw Error(ErrorKind::timeout, "timeout expired connecting to server at " + describe_target(target) +
                                                ", address " + addr + ", port " + port);
        }
        if (!errors.empty()) errors += "; ";
        errors += "address " + addr + ": " + std::strerror(err);
    }
    freeaddrinfo(res);
    throw Error(ErrorKind::connection, "connection to server at " + describe_target(target) + ", port " + port +
                                           " failed: " + (errors.empty() ? std::string("no usable address") : errors));
}

}  // namespace pgtls::transport
