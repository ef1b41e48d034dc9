#include "tests/support/proxy/fault_proxy.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace pgtls::test {

namespace {

constexpr int kDirections = 2;  // index = static_cast<int>(Direction)

std::runtime_error sys_error(const std::string& what) {
    return std::runtime_error("FaultProxy: " + what + ": " + std::strerror(errno));
}

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

}  // namespace

struct FaultProxy::State {
    struct Conn {
        int fd[kDirections] = {-1, -1};  // source of each direction: [c2s] = client, [s2c] = server
        std::size_t index = 0;
        std::optional<Fault> fault;
        bool fired = false;
        std::optional<Action> after_flush;    // the fault's action, once its bytes are written
        bool silent = false;
        std::size_t forwarded[kDirections] = {0, 0};
        std::string pending[kDirections];  // read from fd[d], not yet written to the other fd
        int dest(int d) const { return fd[1 - d]; }
    };

    std::string host;
    int target_port = 0;
    int listen_fd = -1;
    int wake[2] = {-1, -1};
    std::uint16_t port = 0;
    std::thread thread;

    mutable std::mutex m;
    mutable std::condition_variable cv;
    bool stop = false;
    std::optional<Fault> fault;
    std::chrono::milliseconds delay{0};
    std::uint64_t silence_requested = 0, silence_done = 0;
    std::vector<std::vector<Chunk>> traces;  // per accepted connection
    std::size_t open = 0;

    std::vector<std::unique_ptr<Conn>> conns;  // owned by the forwarding thread

    void poke() const {
        const char c = 0;
        [[maybe_unused]] auto r = ::write(wake[1], &c, 1);
    }

    void close_conn(Conn& c) {
        for (int& fd : c.fd) {
            if (fd >= 0) {
                ::shutdown(fd, SHUT_RDWR);
                ::close(fd);
                fd = -1;
            }
        }
    }

    void accept_one() {
        const int cfd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0) return;
        const int sfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<std::uint16_t>(target_port));
        ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
        if (sfd < 0 || ::connect(sfd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            if (sfd >= 0) ::close(sfd);
            ::close(cfd);
            return;
        }
        set_nonblocking(sfd);
        int one = 1;
        ::setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        ::setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        auto c = std::make_unique<Conn>();
        c->fd[static_cast<int>(Direction::client_to_server)] = cfd;
        c->fd[static_cast<int>(Direction::server_to_client)] = sfd;
        {
            std::lock_guard lk(m);
            c->index = traces.size();
            traces.emplace_back();
            c->fault = fault;
            ++open;
        }
        conns.push_back(std::move(c));
    }

    // Reads one chunk from direction d's source and queues what the fault lets through.
    // Returns false when the connection is finished (EOF or error).
    bool read_from(Conn& c, int d) {
        char buf[64 * 1024];
        const ssize_t n = ::recv(c.fd[d], buf, sizeof buf, 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return true;
        if (n <= 0) return false;
        std::chrono::milliseconds wait;
        {
            std::lock_guard lk(m);
            wait = delay;
        }
        if (wait.count() > 0) std::this_thread::sleep_for(wait);
        std::size_t pass = static_cast<std::size_t>(n);
        if (c.fault && !c.fired && static_cast<int>(c.fault->direction) == d &&
            c.forwarded[d] + pass >= c.fault->after_bytes) {
            pass = c.fault->after_bytes - c.forwarded[d];
            c.fired = true;
            c.after_flush = c.fault->action;
        }
        c.pending[d].append(buf, pass);
        c.forwarded[d] += pass;
        if (pass > 0) {
            std::lock_guard lk(m);
            traces[c.index].push_back(Chunk{static_cast<Direction>(d), pass});
        }
        return true;
    }

    // Writes what is queued for direction d. Returns false on a write error.
    bool write_to(Conn& c, int d) {
        while (!c.pending[d].empty()) {
            const ssize_t n = ::send(c.dest(d), c.pending[d].data(), c.pending[d].size(), MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
            if (n < 0) return false;
            c.pending[d].erase(0, static_cast<std::size_t>(n));
        }
        return true;
    }

    // After a fault fired: once its last bytes are out, cut or fall silent. Returns false
    // when the connection is to be closed.
    bool apply_fault(Conn& c) {
        if (!c.after_flush || !c.pending[0].empty() || !c.pending[1].empty()) return true;
        if (*c.after_flush == Action::cut) return false;
        c.silent = true;
        c.after_flush.reset();
        return true;
    }

    void run() {
        std::vector<pollfd> fds;
        std::vector<std::pair<Conn*, int>> who;  // per pollfd beyond the first two: conn, direction
        while (true) {
            {
                std::lock_guard lk(m);
                if (stop) break;
                if (silence_requested != silence_done) {
                    for (auto& c : conns) c->silent = true;
                    silence_done = silence_requested;
                    cv.notify_all();
                }
            }
            fds.clear();
            who.clear();
            fds.push_back({wake[0], POLLIN, 0});
            fds.push_back({listen_fd, POLLIN, 0});
            for (auto& c : conns) {
                if (c->silent) continue;
                for (int d = 0; d < kDirections; ++d) {
                    if (!c->pending[d].empty())
                        fds.push_back({c->dest(d), POLLOUT, 0});
                    else if (!c->after_flush)
                        fds.push_back({c->fd[d], POLLIN, 0});
                    else
                        continue;
                    who.emplace_back(c.get(), d);
                }
            }
            if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) break;
            if (fds[0].revents) {
                char sink[64];
                while (::read(wake[0], sink, sizeof sink) > 0) {
                }
            }
            if (fds[1].revents & POLLIN) accept_one();
            std::vector<Conn*> finished;
            for (std::size_t i = 2; i < fds.size(); ++i) {
                if (!fds[i].revents) continue;
                auto [c, d] = who[i - 2];
                bool ok = true;
                if (fds[i].events & POLLOUT)
                    ok = (fds[i].revents & (POLLERR | POLLHUP)) == 0 && write_to(*c, d);
                else
                    ok = read_from(*c, d) && write_to(*c, d);
                if (ok) ok = apply_fault(*c);
                if (!ok) finished.push_back(c);
            }
            for (Conn* c : finished) {
                if (c->fd[0] < 0) continue;  // both directions reported it
                close_conn(*c);
            }
            std::erase_if(conns, [&](const std::unique_ptr<Conn>& c) {
                if (c->fd[0] >= 0) return false;
                std::lock_guard lk(m);
                --open;
                cv.notify_all();
                return true;
            });
        }
        for (auto& c : conns) close_conn(*c);
        conns.clear();
        std::lock_guard lk(m);
        open = 0;
        cv.notify_all();
    }
};

FaultProxy::FaultProxy(const std::string& target_host, int target_port)
    : FaultProxy(target_host, target_port, "127.0.0.1", "") {}

FaultProxy::FaultProxy(const std::string& target_host, int target_port, const std::string& listen_host,
                       const std::string& netns)
    : state_(std::make_unique<State>()) {
    State& s = *state_;
    s.host = target_host;
    s.target_port = target_port;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    if (::inet_pton(AF_INET, listen_host.c_str(), &a.sin_addr) != 1)
        throw std::runtime_error("FaultProxy: not an IPv4 address: " + listen_host);
    // A socket belongs to the namespace of the thread that creates it: make the listener on a
    // short-lived thread that enters the namespace, so this thread's namespace is untouched.
    int saved_errno = 0;
    std::string failed;
    std::thread maker([&] {
        if (!netns.empty()) {
            const int ns = ::open(("/var/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
            if (ns < 0 || ::setns(ns, CLONE_NEWNET) != 0) {
                saved_errno = errno;
                failed = "enter network namespace " + netns;
                if (ns >= 0) ::close(ns);
                return;
            }
            ::close(ns);
        }
        s.listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        socklen_t len = sizeof a;
        if (s.listen_fd < 0 || ::bind(s.listen_fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
            ::listen(s.listen_fd, 64) != 0 || ::getsockname(s.listen_fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
            saved_errno = errno;
            failed = "listen on " + listen_host;
            if (s.listen_fd >= 0) ::close(s.listen_fd);
        }
    });
    maker.join();
    if (!failed.empty()) {
        errno = saved_errno;
        throw sys_error(failed);
    }
    s.port = ntohs(a.sin_port);
    if (::pipe2(s.wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        ::close(s.listen_fd);
        throw sys_error("pipe");
    }
    s.thread = std::thread([&s] { s.run(); });
}

FaultProxy::~FaultProxy() {
    State& s = *state_;
    {
        std::lock_guard lk(s.m);
        s.stop = true;
    }
    s.poke();
    s.thread.join();
    ::close(s.listen_fd);
    ::close(s.wake[0]);
    ::close(s.wake[1]);
}

std::uint16_t FaultProxy::port() const { return state_->port; }

void FaultProxy::set_fault(std::optional<Fault> fault) {
    std::lock_guard lk(state_->m);
    state_->fault = fault;
}

void FaultProxy::silence_open_connections() {
    State& s = *state_;
    std::unique_lock lk(s.m);
    const std::uint64_t want = ++s.silence_requested;
    s.poke();
    s.cv.wait(lk, [&] { return s.silence_done >= want || s.stop; });
}

void FaultProxy::set_chunk_delay(std::chrono::milliseconds delay) {
    std::lock_guard lk(state_->m);
    state_->delay = delay;
}

std::size_t FaultProxy::connections_accepted() const {
    std::lock_guard lk(state_->m);
    return state_->traces.size();
}

std::size_t FaultProxy::connections_open() const {
    std::lock_guard lk(state_->m);
    return state_->open;
}

std::vector<FaultProxy::Chunk> FaultProxy::trace(std::size_t index) const {
    std::lock_guard lk(state_->m);
    return index < state_->traces.size() ? state_->traces[index] : std::vector<Chunk>{};
}

bool FaultProxy::wait_until_closed(std::chrono::milliseconds timeout) const {
    std::unique_lock lk(state_->m);
    return state_->cv.wait_for(lk, timeout, [&] { return state_->open == 0; });
}

}  // namespace pgtls::test
