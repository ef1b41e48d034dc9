// The Asio pump over the non-blocking driver: an io_context runs operations to completion
// with no thread blocked — readiness, timers, a large write against a slow reader, a socket
// replaced by another with the same descriptor number, a socket unwatched and watched again
// (a pool's connection going idle and lent anew), and a handler that destroys the pump.
#include "pgtls/detail/asio_pump.hpp"

#include "pgtls/async.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>
#include <array>
#include <deque>
#include <optional>

#include "client/async/driver.hpp"

using namespace pgtls;
using protocol::Action;
using protocol::Event;

namespace {

class ListAlgorithm final : public protocol::Algorithm {
public:
    std::deque<Action> actions;
    std::vector<Event::Kind> events;
    Action resume(const Event& e) override {
        events.push_back(e.kind);
        if (actions.empty()) return Action::success();
        Action a = std::move(actions.front());
        actions.pop_front();
        return a;
    }
};

// The driver with its wire: the pollable the pump drives.
struct Conn {
    protocol::MessageReader in;
    std::string out;
    protocol::SessionState session;
    transport::Channel channel;
    async::Driver driver;
    explicit Conn(int fd) : channel(fd), driver(channel, protocol::Wire{in, out, session}, {}) {}
    auto interest() const { return driver.interest(); }
    auto deadline() const { return driver.deadline(); }
    void advance() { driver.advance(); }
};

std::array<int, 2> socket_pair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    return {fds[0], fds[1]};
}

}  // namespace

TEST(AsioPump, AReadCompletesWhenThePeerWritesLater) {
    asio::io_context io;
    auto [mine, peer_fd] = socket_pair();
    Conn c(mine);
    asio::posix::stream_descriptor peer(io, peer_fd);
    detail::AsioPump<Conn> pump(io.get_executor(), c);
    ListAlgorithm a;
    a.actions = {Action::read()};
    bool done = false;
    c.driver.start(a, [&](const Action&) { done = true; });
    pump.arm();
    asio::steady_timer later(io, std::chrono::milliseconds(20));
    later.async_wait([&](const asio::error_code&) { asio::write(peer, asio::buffer("hi", 2)); });
    io.run_for(std::chrono::seconds(10));
    EXPECT_TRUE(done);
    EXPECT_EQ(c.in.buffered(), 2u);
    EXPECT_EQ(a.events.back(), Event::Kind::read);
}

TEST(AsioPump, TheDriversDeadlineIsATimerOnTheLoop) {
    asio::io_context io;
    auto [mine, peer_fd] = socket_pair();
    Conn c(mine);
    detail::AsioPump<Conn> pump(io.get_executor(), c);
    ListAlgorithm a;
    a.actions = {Action::read(protocol::Timer::set(std::chrono::milliseconds(30)))};
    bool done = false;
    c.driver.start(a, [&](const Action&) { done = true; });
    pump.arm();
    io.run_for(std::chrono::seconds(10));
    EXPECT_TRUE(done);
    EXPECT_EQ(a.events.back(), Event::Kind::timeout);
    ::close(peer_fd);
}

TEST(AsioPump, ALargeWriteProceedsAsASlowPeerReads) {
    asio::io_context io;
    auto [mine, peer_fd] = socket_pair();
    Conn c(mine);
    asio::posix::stream_descriptor peer(io, peer_fd);
    detail::AsioPump<Conn> pump(io.get_executor(), c);
    ListAlgorithm a;
    a.actions = {Action::write()};
    c.out.assign(4 << 20, 'w');
    bool done = false;
    c.driver.start(a, [&](const Action&) { done = true; });
    pump.arm();
    std::string got(4 << 20, '\0');
    asio::async_read(peer, asio::buffer(got), [](const asio::error_code&, std::size_t) {});
    io.run_for(std::chrono::seconds(20));
    EXPECT_TRUE(done);
    EXPECT_EQ(got, std::string(4 << 20, 'w'));
}

TEST(AsioPump, ASocketReplacedUnderTheSameNumberIsWatchedAfresh) {
    // Two listeners; the algorithm connects to the first, closes, connects to the second
    // (the kernel hands out the same descriptor number), then waits to read from it.
    auto listen_on = [](int& port) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
        ::listen(fd, 4);
        socklen_t len = sizeof sa;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
        port = ntohs(sa.sin_port);
        return fd;
    };
    int p1 = 0, p2 = 0;
    const int l1 = listen_on(p1), l2 = listen_on(p2);
    HostTarget t1, t2;
    t1.host = t1.hostaddr = t2.host = t2.hostaddr = "127.0.0.1";
    t1.port = p1;
    t2.port = p2;

    asio::io_context io;
    Conn c(-1);
    detail::AsioPump<Conn> pump(io.get_executor(), c);
    ListAlgorithm a;
    a.actions = {Action::open_socket(t1), Action::read(protocol::Timer::set(std::chrono::milliseconds(50))),
                 Action::close(), Action::open_socket(t2),
                 Action::read(protocol::Timer::set(std::chrono::seconds(10)))};
    bool done = false;
    c.driver.start(a, [&](const Action&) { done = true; });
    pump.arm();
    // Once connected to the second server, it sends a byte: the read must see it.
    asio::steady_timer poke(io, std::chrono::milliseconds(200));
    poke.async_wait([&](const asio::error_code&) {
        const int s = ::accept4(l2, nullptr, nullptr, SOCK_CLOEXEC);
        ASSERT_GE(s, 0);
        ASSERT_EQ(::write(s, "k", 1), 1);
        ::close(s);
    });
    io.run_for(std::chrono::seconds(10));
    EXPECT_TRUE(done);
    EXPECT_EQ(a.events.back(), Event::Kind::read) << "the second socket's byte was not seen";
    ::close(l1);
    ::close(l2);
}

TEST(AsioPump, AHandlerMayDestroyThePumpAndTheConnection) {
    asio::io_context io;
    auto [mine, peer_fd] = socket_pair();
    auto c = std::make_unique<Conn>(mine);
    auto pump = std::make_unique<detail::AsioPump<Conn>>(io.get_executor(), *c);
    ListAlgorithm a;
    a.actions = {Action::read()};
    bool done = false;
    c->driver.start(a, [&](const Action&) {
        done = true;
        pump.reset();
        c.reset();
    });
    pump->arm();
    ASSERT_EQ(::write(peer_fd, "z", 1), 1);
    io.run_for(std::chrono::seconds(10));
    EXPECT_TRUE(done);
    EXPECT_FALSE(pump);
    ::close(peer_fd);
}

// The pool's case: a socket dropped from the interest (its connection went idle) and watched
// again under the same epoch (lent anew) before the dropped wait's cancelled handler ran. That
// late handler must not clear the new wait's flag: a re-arm would then add a second wait on
// the socket and one readiness would advance the pollable twice.
TEST(AsioPump, ALateHandlerOfAnUnwatchedSocketLeavesItsNewWaitAlone) {
    struct Toggled {
        int fd = -1;
        bool watched = true;
        int advances = 0;
        std::array<AsyncWatch, 1> interest() const { return {AsyncWatch{watched ? fd : -1, true, false, 4242}}; }
        std::optional<std::chrono::steady_clock::time_point> deadline() const { return std::nullopt; }
        void advance() {
            ++advances;
            char b;
            (void)::read(fd, &b, 1);
            watched = false;  // done: nothing more to wait for
        }
    };
    asio::io_context io;
    auto [mine, peer_fd] = socket_pair();
    Toggled p{mine};
    detail::AsioPump<Toggled> pump(io.get_executor(), p);
    pump.arm();  // the first wait
    p.watched = false;
    pump.arm();  // dropped: its wait is cancelled, the handler not run yet
    p.watched = true;
    pump.arm();  // watched again: a new wait under the same epoch
    io.poll();   // the cancelled wait's handler runs now
    pump.arm();  // the interest is unchanged: nothing to add
    ASSERT_EQ(::write(peer_fd, "x", 1), 1);
    io.run_for(std::chrono::milliseconds(500));
    EXPECT_EQ(p.advances, 1) << "one readiness, one advance()";
    ::close(mine);
    ::close(peer_fd);
}
