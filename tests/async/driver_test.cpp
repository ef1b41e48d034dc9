// The non-blocking driver over real sockets (socket pairs and loopback listeners), with test
// algorithms that ask for one action after another: partial writes, would-block reads,
// timers, non-blocking connects, the side connection of a cancel, and completions that
// destroy the driver.
#include "client/async/driver.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <deque>

#include "protocol/close_flow.hpp"
#include "transport/socket.hpp"

using namespace pgtls;
using protocol::Action;
using protocol::Event;

namespace {

// Returns the queued actions in order, recording every event it is resumed with.
class ListAlgorithm final : public protocol::Algorithm {
public:
    std::deque<Action> actions;
    std::vector<Event::Kind> events;
    std::vector<std::string> addresses;
    std::vector<std::string> errors;
    Action resume(const Event& e) override {
        events.push_back(e.kind);
        if (e.kind == Event::Kind::socket_open) addresses.emplace_back(e.address);
        if (e.error) errors.emplace_back(e.error->what());
        if (actions.empty()) return Action::success();
        Action a = std::move(actions.front());
        actions.pop_front();
        return a;
    }
};

struct Pair {
    int mine = -1, peer = -1;
    Pair() {
        int fds[2];
        EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
        mine = fds[0];
        peer = fds[1];
    }
    ~Pair() {
        if (peer >= 0) ::close(peer);
    }
    std::string drain_peer() {
        std::string got;
        char buf[65536];
        while (true) {
            const ssize_t n = ::read(peer, buf, sizeof buf);
            if (n <= 0) break;
            got.append(buf, static_cast<std::size_t>(n));
        }
        return got;
    }
};

struct Rig {
    protocol::MessageReader in;
    std::string out;
    protocol::SessionState session;
    transport::Channel channel;
    std::unique_ptr<async::Driver> driver;
    std::optional<Action> final_action;
    explicit Rig(int fd = -1, async::DriverSetup setup = {}) : channel(fd) {
        driver = std::make_unique<async::Driver>(channel, protocol::Wire{in, out, session}, std::move(setup));
    }
    void start(protocol::Algorithm& a, async::Clock::time_point now = async::Clock::now()) {
        driver->start(a, [this](const Action& done) { final_action = done; }, now);
    }
};

// A loopback TCP listener on an ephemeral port; accepts on demand.
struct Listener {
    int fd = -1;
    int port = 0;
    Listener() {
        fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
        EXPECT_EQ(::listen(fd, 8), 0);
        socklen_t len = sizeof sa;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
        port = ntohs(sa.sin_port);
    }
    ~Listener() { ::close(fd); }
    int accept_one() { return ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC); }
};

HostTarget loopback(int port) {
    HostTarget t;
    t.host = "127.0.0.1";
    t.hostaddr = "127.0.0.1";
    t.port = port;
    return t;
}

}  // namespace

TEST(AsyncDriver, WritesThenReadsAndWatchesTheSocketInBetween) {
    Pair p;
    Rig r(p.mine);
    ListAlgorithm a;
    a.actions = {Action::write(), Action::read()};
    r.out = "hello";
    r.start(a);
    EXPECT_EQ(p.drain_peer(), "hello");
    EXPECT_FALSE(r.final_action);
    const auto want = r.driver->interest()[0];
    EXPECT_EQ(want.fd, p.mine);
    EXPECT_TRUE(want.read);
    EXPECT_FALSE(want.write);
    ASSERT_EQ(::write(p.peer, "world", 5), 5);
    r.driver->advance();
    ASSERT_TRUE(r.final_action);
    EXPECT_FALSE(r.final_action->error);
    EXPECT_EQ(r.in.buffered(), 5u);
    EXPECT_EQ(a.events, (std::vector<Event::Kind>{Event::Kind::start, Event::Kind::written, Event::Kind::read}));
    EXPECT_TRUE(r.out.empty());
}

// more(): an algorithm waiting for a read that was handed more to send is resumed with
// Event::more, and what it then asks (a write) goes out at the next advance(); while its
// action is not a read, more() does nothing.
TEST(AsyncDriver, MoreResumesAReadingAlgorithmThatThenWrites) {
    Pair p;
    Rig r(p.mine);
    ListAlgorithm a;
    a.actions = {Action::write(), Action::read(), Action::write_draining(), Action::read()};
    r.out = "first";
    r.start(a);
    EXPECT_EQ(p.drain_peer(), "first");
    r.out = "more";
    r.driver->more(async::Clock::now());
    r.driver->advance();
    EXPECT_EQ(p.drain_peer(), "more");
    EXPECT_EQ(a.events, (std::vector<Event::Kind>{Event::Kind::start, Event::Kind::written, Event::Kind::more,
                                                  Event::Kind::written}));
    ASSERT_EQ(::write(p.peer, "reply", 5), 5);
    r.driver->advance();
    ASSERT_TRUE(r.final_action);
    EXPECT_FALSE(r.final_action->error);

    Rig idle(-1);
    idle.driver->more(async::Clock::now());  // nothing runs: nothing happens
    EXPECT_FALSE(idle.driver->busy());
}

TEST(AsyncDriver, TellsLoopbackAddressesFromOthers) {
    for (const char* a : {"127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"})
        EXPECT_TRUE(transport::is_loopback_address(a)) << a;
    for (const char* a : {"10.0.0.1", "128.0.0.1", "::ffff:10.0.0.1", "::2", "fe80::1", "localhost", "", "127.0.0.1 "})
        EXPECT_FALSE(transport::is_loopback_address(a)) << a;
}

TEST(AsyncDriver, AWriteTheSocketCannotTakeAtOnceWaitsForWritabilityAndResumes) {
    Pair p;
    Rig r(p.mine);
    ListAlgorithm a;
    a.actions = {Action::write()};
    const std::string big(8 << 20, 'x');
    const std::string tail(100, 'y');
    r.out = big;
    Action w = Action::write();
    w.tail[0] = tail;
    a.actions = {w};
    r.start(a);
    EXPECT_FALSE(r.final_action);
    EXPECT_TRUE(r.driver->interest()[0].write);
    std::string got;
    for (int i = 0; i < 100000 && !r.final_action; ++i) {
        got += p.drain_peer();
        r.driver->advance();
    }
    got += p.drain_peer();
    ASSERT_TRUE(r.final_action);
    EXPECT_EQ(got.size(), big.size() + tail.size());
    EXPECT_EQ(got, big + tail);
}

TEST(AsyncDriver, AnArmedTimerEndsTheWaitWithATimeoutEvent) {
    Pair p;
    Rig r(p.mine);
    ListAlgorithm a;
    a.actions = {Action::read(protocol::Timer::set(std::chrono::milliseconds(50)))};
    const auto t0 = async::Clock::now();
    r.start(a, t0);
    ASSERT_TRUE(r.driver->deadline());
    EXPECT_EQ(*r.driver->deadline(), t0 + std::chrono::milliseconds(50));
    r.driver->advance(t0 + std::chrono::milliseconds(49));
    EXPECT_FALSE(r.final_action);
    r.driver->advance(t0 + std::chrono::milliseconds(50));
    ASSERT_TRUE(r.final_action);
    EXPECT_EQ(a.events.back(), Event::Kind::timeout);
    EXPECT_FALSE(r.driver->deadline());
}

TEST(AsyncDriver, OpensASocketWithoutBlockingAndReportsTheAddress) {
    Listener l;
    Rig r;
    ListAlgorithm a;
    const HostTarget t = loopback(l.port);
    a.actions = {Action::open_socket(t), Action::write()};
    r.start(a);
    for (int i = 0; i < 1000 && !r.final_action; ++i) {
        if (!r.final_action && a.events.back() == Event::Kind::socket_open) r.out = "x";
        r.driver->advance();
    }
    ASSERT_TRUE(r.final_action);
    EXPECT_FALSE(r.final_action->error);
    ASSERT_EQ(a.addresses.size(), 1u);
    EXPECT_EQ(a.addresses[0], "127.0.0.1");
    EXPECT_TRUE(r.channel.is_open());
    const int s = l.accept_one();
    EXPECT_GE(s, 0);
    ::close(s);
}

TEST(AsyncDriver, ARefusedConnectIsAnIoErrorWithItsCause) {
    int port;
    {
        Listener l;  // bound then closed: nothing listens on the port any more
        port = l.port;
    }
    Rig r;
    ListAlgorithm a;
    const HostTarget t = loopback(port);
    a.actions = {Action::open_socket(t)};
    r.start(a);
    for (int i = 0; i < 1000 && !r.final_action; ++i) r.driver->advance();
    ASSERT_TRUE(r.final_action);
    ASSERT_EQ(a.events.size(), 2u);
    EXPECT_EQ(a.events[1], Event::Kind::io_error);
    ASSERT_EQ(a.errors.size(), 1u);
    EXPECT_NE(a.errors[0].find("Connection refused"), std::string::npos) << a.errors[0];
}

TEST(AsyncDriver, ACloseActionClosesTheSocket) {
    Pair p;
    Rig r(p.mine);
    ListAlgorithm a;
    a.actions = {Action::close()};
    r.start(a);
    ASSERT_TRUE(r.final_action);
    EXPECT_FALSE(r.channel.is_open());
    char c;
    EXPECT_EQ(::read(p.peer, &c, 1), 0);  // EOF: the driver's end is closed
}

TEST(AsyncDriver, RunsCloseFlowToTheEnd) {
    Pair p;
    Rig r(p.mine);
    protocol::CloseFlow flow(protocol::Wire{r.in, r.out, r.session}, std::chrono::seconds(5));
    r.start(flow);
    ASSERT_TRUE(r.final_action);
    EXPECT_FALSE(r.final_action->error);
    EXPECT_EQ(p.drain_peer(), std::string("X\0\0\0\4", 5));
    EXPECT_FALSE(r.channel.is_open());
}

TEST(AsyncDriver, AFailedOperationRetiresTheConnection) {
    Pair p;
    Rig r(p.mine);
    ListAlgorithm a;
    a.actions = {Action::failure(std::make_exception_ptr(Error(ErrorKind::protocol, "bad")), Action::Connection::retired)};
    r.start(a);
    ASSERT_TRUE(r.final_action);
    EXPECT_TRUE(r.final_action->error);
    EXPECT_FALSE(r.channel.is_open());
}

TEST(AsyncDriver, APeerThatHangsUpIsAnIoErrorForTheRead) {
    Pair p;
    Rig r(p.mine);
    ListAlgorithm a;
    a.actions = {Action::read()};
    r.start(a);
    ::close(p.peer);
    p.peer = -1;
    r.driver->advance();
    ASSERT_TRUE(r.final_action);
    EXPECT_EQ(a.events.back(), Event::Kind::io_error);
    ASSERT_FALSE(a.errors.empty());
    EXPECT_NE(a.errors.back().find("server closed the connection unexpectedly"), std::string::npos);
}

TEST(AsyncDriver, TheCompletionMayDestroyTheDriver) {
    Pair p;
    auto r = std::make_unique<Rig>(p.mine);
    ListAlgorithm a;
    a.actions = {Action::read()};
    bool ran = false;
    r->driver->start(a, [&](const Action&) {
        ran = true;
        r.reset();  // the driver is idle when its completion runs
    });
    ASSERT_EQ(::write(p.peer, "z", 1), 1);
    r->driver->advance();
    EXPECT_TRUE(ran);
    EXPECT_FALSE(r);
}

TEST(AsyncDriver, ACancelRunsItsSideAlgorithmOnItsOwnSocketWhileTheMainOneWaits) {
    Listener l;
    const HostTarget side_target = loopback(l.port);
    Pair p;
    async::DriverSetup setup;
    ListAlgorithm* side_algo = nullptr;
    setup.make_cancel = [&](protocol::Wire w) {
        auto s = std::make_unique<ListAlgorithm>();
        w.out = "cancel!";
        s->actions = {Action::open_socket(side_target), Action::write(), Action::close()};
        side_algo = s.get();
        return s;
    };
    Rig r(p.mine, setup);
    ListAlgorithm a;
    a.actions = {Action::cancel(protocol::Timer::set(std::chrono::seconds(10))), Action::read()};
    r.start(a);
    for (int i = 0; i < 1000 && a.events.size() < 2; ++i) r.driver->advance();
    ASSERT_GE(a.events.size(), 2u);
    EXPECT_EQ(a.events[1], Event::Kind::cancel_done);
    EXPECT_TRUE(a.errors.empty()) << a.errors.front();
    ASSERT_NE(side_algo, nullptr);
    const int s = l.accept_one();
    ASSERT_GE(s, 0);
    char buf[16] = {};
    EXPECT_EQ(::read(s, buf, sizeof buf), 7);
    EXPECT_EQ(std::string(buf, 7), "cancel!");
    ::close(s);
    EXPECT_EQ(r.driver->interest()[1].fd, -1);  // the side socket is gone
    EXPECT_EQ(r.driver->interest()[0].fd, p.mine);
    EXPECT_TRUE(r.driver->interest()[0].read);
}

TEST(AsyncDriver, AbandoningARunningOperationCompletesItWithTheError) {
    Pair p;
    Rig r(p.mine);
    ListAlgorithm a;
    a.actions = {Action::read()};
    r.start(a);
    ASSERT_FALSE(r.final_action);
    r.driver->abandon(std::make_exception_ptr(Error(ErrorKind::usage, "connection destroyed")));
    ASSERT_TRUE(r.final_action);
    EXPECT_TRUE(r.final_action->error);
    EXPECT_FALSE(r.driver->busy());
    EXPECT_FALSE(r.channel.is_open());
}
