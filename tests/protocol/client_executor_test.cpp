// The blocking executor (client::ClientCore::drive) over a real socket pair: it performs the
// actions an algorithm returns, turns its timers into deadlines, reports I/O failures to it
// as events, and on done aborts a retired connection and rethrows the error.
#include "client/client_impl.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "protocol/close_flow.hpp"

using namespace pgtls;
using namespace std::chrono_literals;

namespace {

// The client's end of a socket pair in `impl`, the test's end returned.
int connect_pair(client::ClientCore& impl) {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) throw std::runtime_error("socketpair");
    ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK);  // as open_socket() leaves it
    impl.channel = transport::Channel(fds[0]);
    impl.healthy = true;
    return fds[1];
}

std::string read_all(int fd) {
    std::string got;
    char buf[256];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) got.append(buf, static_cast<std::size_t>(n));
    return got;
}

// An algorithm written as a list of steps: each gets the event and returns the next action.
class Steps final : public protocol::Algorithm {
public:
    using Step = std::function<protocol::Action(const protocol::Event&)>;
    explicit Steps(std::vector<Step> steps) : steps_(std::move(steps)) {}
    protocol::Action resume(const protocol::Event& e) override {
        events.push_back(e.kind);
        if (e.error) errors.push_back(e.error->kind());
        return steps_.at(next_++)(e);
    }
    std::vector<protocol::Event::Kind> events;
    std::vector<ErrorKind> errors;

private:
    std::vector<Step> steps_;
    std::size_t next_ = 0;
};

protocol::Action retire_with(ErrorKind k, const char* what) {
    return protocol::Action::failure(std::make_exception_ptr(Error(k, what)), protocol::Action::Connection::retired);
}

}  // namespace

TEST(ClientExecutor, RunsCloseFlowTerminateThenClose) {
    client::ClientCore impl;
    const int peer = connect_pair(impl);
    protocol::CloseFlow flow(impl.wire(), 5s);
    impl.drive(flow);
    EXPECT_FALSE(impl.channel.is_open());
    EXPECT_EQ(read_all(peer), std::string("X\0\0\0\4", 5));
    ::close(peer);
}

TEST(ClientExecutor, ReadsRightAfterAWriteWithReadAfter) {
    client::ClientCore impl;
    const int peer = connect_pair(impl);
    ASSERT_EQ(::write(peer, "Z\0\0\0\5I", 6), 6);  // the reply is there before the request
    std::vector<bool> write_done;
    Steps algo({
        [&](const protocol::Event&) {
            impl.out = "request";
            auto a = protocol::Action::write(protocol::Timer::set(5s));
            a.read_after = true;
            return a;
        },
        [&](const protocol::Event& e) {
            write_done.push_back(e.write_done);
            auto m = impl.reader.next();
            EXPECT_TRUE(m && m->type == 'Z');
            return protocol::Action::success();
        },
    });
    impl.drive(algo);
    EXPECT_EQ(algo.events, (std::vector{protocol::Event::Kind::start, protocol::Event::Kind::read}));
    EXPECT_EQ(write_done, std::vector<bool>{true});
    char buf[64];
    const auto n = ::read(peer, buf, sizeof buf);
    EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n > 0 ? n : 0)), "request");
    ::close(peer);
}

TEST(ClientExecutor, CloseFlowStillClosesWhenThePeerIsGone) {
    client::ClientCore impl;
    ::close(connect_pair(impl));
    protocol::CloseFlow flow(impl.wire(), 5s);
    EXPECT_NO_THROW(impl.drive(flow));
    EXPECT_FALSE(impl.channel.is_open());
}

TEST(ClientExecutor, WritesOutThenTheTailAndReadsTheReply) {
    client::ClientCore impl;
    const int peer = connect_pair(impl);
    std::string seen;
    Steps algo({
        [&](const protocol::Event&) {
            impl.out = "head-";
            auto a = protocol::Action::write(protocol::Timer::set(5s));
            a.tail = {"tail1-", "tail2"};
            return a;
        },
        [&](const protocol::Event&) {
            char buf[64];
            const auto n = ::read(peer, buf, sizeof buf);
            seen.assign(buf, static_cast<std::size_t>(n > 0 ? n : 0));
            EXPECT_EQ(::write(peer, "Z\0\0\0\5I", 6), 6);
            return protocol::Action::read();
        },
        [&](const protocol::Event&) {
            auto m = impl.reader.next();
            EXPECT_TRUE(m && m->type == 'Z');
            return protocol::Action::success();
        },
    });
    impl.drive(algo);
    EXPECT_EQ(seen, "head-tail1-tail2");
    EXPECT_TRUE(impl.out.empty());
    EXPECT_EQ(algo.events,
              (std::vector{protocol::Event::Kind::start, protocol::Event::Kind::written, protocol::Event::Kind::read}));
    EXPECT_TRUE(impl.channel.is_open());
    EXPECT_TRUE(impl.healthy);
    ::close(peer);
}

TEST(ClientExecutor, AnExpiredTimerIsATimeoutEventAndRetiringAbortsAndRethrows) {
    client::ClientCore impl;
    const int peer = connect_pair(impl);
    Steps algo({
        [](const protocol::Event&) { return protocol::Action::read(protocol::Timer::set(50ms)); },
        [](const protocol::Event&) { return retire_with(ErrorKind::timeout, "gave up"); },
    });
    try {
        impl.drive(algo);
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::timeout);
        EXPECT_STREQ(e.what(), "gave up");
    }
    EXPECT_EQ(algo.events.back(), protocol::Event::Kind::timeout);
    EXPECT_FALSE(impl.channel.is_open());
    EXPECT_FALSE(impl.healthy);
    ::close(peer);
}

TEST(ClientExecutor, TheLimitBoundsAnUntimedAction) {
    client::ClientCore impl;
    const int peer = connect_pair(impl);
    Steps algo({
        [](const protocol::Event&) { return protocol::Action::read(); },
        [](const protocol::Event&) { return retire_with(ErrorKind::timeout, "limit"); },
    });
    EXPECT_THROW(impl.drive(algo, transport::Clock::now() + 50ms), Error);
    EXPECT_EQ(algo.events.back(), protocol::Event::Kind::timeout);
    ::close(peer);
}

TEST(ClientExecutor, AnEofIsAnIoErrorEventNotAnException) {
    client::ClientCore impl;
    ::close(connect_pair(impl));
    Steps algo({
        [](const protocol::Event&) { return protocol::Action::read(protocol::Timer::set(5s)); },
        [](const protocol::Event& e) {
            EXPECT_EQ(e.kind, protocol::Event::Kind::io_error);
            return protocol::Action::success();
        },
    });
    EXPECT_NO_THROW(impl.drive(algo));
    ASSERT_EQ(algo.errors.size(), 1u);
    EXPECT_EQ(algo.errors[0], ErrorKind::connection);
}

TEST(ClientExecutor, ConsumeInputStopsADrainingWrite) {
    // The server answers with an error while a large request is being written: the
    // algorithm's consume_input ends the write, and its action is performed.
    class Draining final : public protocol::Algorithm {
    public:
        explicit Draining(client::ClientCore& impl) : impl_(impl) {}
        protocol::Action resume(const protocol::Event& e) override {
            if (e.kind == protocol::Event::Kind::start) {
                impl_.out.assign(8 * 1024 * 1024, 'x');
                return protocol::Action::write_draining(protocol::Timer::set(10s));
            }
            ADD_FAILURE() << "resumed after a stopped write";
            return protocol::Action::success();
        }
        std::optional<protocol::Action> consume_input() override {
            if (!impl_.reader.next()) return std::nullopt;
            return retire_with(ErrorKind::server, "stopped");
        }

    private:
        client::ClientCore& impl_;
    };
    client::ClientCore impl;
    const int peer = connect_pair(impl);
    ASSERT_EQ(::write(peer, "E\0\0\0\4", 5), 5);
    Draining algo(impl);
    try {
        impl.drive(algo);
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "stopped");
    }
    EXPECT_FALSE(impl.channel.is_open());
    EXPECT_TRUE(impl.out.empty());
    ::close(peer);
}
