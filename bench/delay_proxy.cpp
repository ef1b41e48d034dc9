// DelayProxy: one forked process; per proxied connection one thread per direction, each
// queueing what it reads with a due time and writing it out when due.
#include "delay_proxy.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <memory>
#include <stdexcept>
#include <thread>
#include <utility>

namespace pgtls::bench {

namespace {

using Clock = std::chrono::steady_clock;

void set_nodelay(int fd) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Both sockets of one proxied connection; closed when both directions are done.
struct Link {
    int client = -1, upstream = -1;
    ~Link() {
        if (client >= 0) ::close(client);
        if (upstream >= 0) ::close(upstream);
    }
    // Ends both directions (the other pump's read then sees EOF).
    void abort() const {
        ::shutdown(client, SHUT_RDWR);
        ::shutdown(upstream, SHUT_RDWR);
    }
};

bool write_all(int fd, const std::string& data) {
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t k = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return false;
        done += std::size_t(k);
    }
    return true;
}

// Copies src to dst, each chunk `delay` after it was read; on EOF from src, forwards the
// queued chunks when due and then half-closes dst.
void pump(std::shared_ptr<Link> link, bool to_upstream, std::chrono::microseconds delay) {
    const int src = to_upstream ? link->client : link->upstream;
    const int dst = to_upstream ? link->upstream : link->client;
    std::deque<std::pair<Clock::time_point, std::string>> queue;
    bool eof = false;
    std::string buf(64 * 1024, '\0');
    for (;;) {
        auto now = Clock::now();
        while (!queue.empty() && queue.front().first <= now) {
            if (!write_all(dst, queue.front().second)) {
                link->abort();
                return;
            }
            queue.pop_front();
        }
        if (eof && queue.empty()) {
            ::shutdown(dst, SHUT_WR);
            return;
        }
        timespec ts{};
        timespec* timeout = nullptr;
        if (!queue.empty()) {
            const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(queue.front().first - now).count();
            ts.tv_sec = time_t(left / 1'000'000'000);
            ts.tv_nsec = long(left % 1'000'000'000);
            timeout = &ts;
        }
        pollfd p{src, short(eof ? 0 : POLLIN), 0};
        const int r = ::ppoll(&p, eof ? 0 : 1, timeout, nullptr);
        if (r < 0 && errno != EINTR) {
            link->abort();
            return;
        }
        if (r > 0 && !eof) {
            const ssize_t k = ::recv(src, buf.data(), buf.size(), 0);
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0)
                eof = true;
            else
                queue.emplace_back(Clock::now() + delay, buf.substr(0, std::size_t(k)));
        }
    }
}

[[noreturn]] void serve(int listener, const addrinfo* upstream, std::chrono::microseconds delay) {
    for (;;) {
        const int c = ::accept(listener, nullptr, nullptr);
        if (c < 0) {
            if (errno == EINTR) continue;
            _exit(1);
        }
        auto link = std::make_shared<Link>();
        link->client = c;
        set_nodelay(c);
        for (const addrinfo* a = upstream; a; a = a->ai_next) {
            const int u = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
            if (u < 0) continue;
            if (::connect(u, a->ai_addr, a->ai_addrlen) == 0) {
                link->upstream = u;
                break;
            }
            ::close(u);
        }
        if (link->upstream < 0) continue;  // dropping `link` closes the client: a refused connect
        set_nodelay(link->upstream);
        std::thread(pump, link, true, delay).detach();
        std::thread(pump, link, false, delay).detach();
    }
}

}  // namespace

DelayProxy::DelayProxy(const std::string& upstream_host, int upstream_port, std::chrono::microseconds delay) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* upstream = nullptr;
    const std::string service = std::to_string(upstream_port);
    if (const int rc = ::getaddrinfo(upstream_host.c_str(), service.c_str(), &hints, &upstream); rc != 0)
        throw std::runtime_error("delay proxy: cannot resolve " + upstream_host + ": " + gai_strerror(rc));
    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listener, 128) != 0 || ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        const std::string why = std::strerror(errno);
        if (listener >= 0) ::close(listener);
        ::freeaddrinfo(upstream);
        throw std::runtime_error("delay proxy: cannot listen on 127.0.0.1: " + why);
    }
    port_ = ntohs(addr.sin_port);
    child_ = ::fork();
    if (child_ < 0) {
        ::close(listener);
        ::freeaddrinfo(upstream);
        throw std::runtime_error("delay proxy: fork failed");
    }
    if (child_ == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the benchmark
        serve(listener, upstream, delay);
    }
    ::close(listener);
    ::freeaddrinfo(upstream);
}

DelayProxy::~DelayProxy() {
    if (child_ > 0) {
        ::kill(child_, SIGKILL);
        ::waitpid(child_, nullptr, 0);
    }
}

}  // namespace pgtls::bench
