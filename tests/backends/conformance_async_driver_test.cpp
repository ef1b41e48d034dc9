// The non-blocking driver (src/client/async/driver.hpp) over every backend: a handshake and an
// echo exchange, each step returning to the caller instead of waiting, as an event loop
// drives it.
#include <poll.h>

#include <deque>

#include "conformance_fixture.hpp"
#include "client/async/driver.hpp"

namespace pgtls::conformance {
namespace {

using protocol::Action;
using protocol::Event;

class ListAlgorithm final : public protocol::Algorithm {
public:
    std::deque<Action> actions;
    std::vector<Event::Kind> events;
    std::optional<protocol::TlsUp> tls;
    Action resume(const Event& e) override {
        events.push_back(e.kind);
        if (e.tls) tls = *e.tls;
        if (actions.empty()) return Action::success();
        Action a = std::move(actions.front());
        actions.pop_front();
        return a;
    }
};

// Waits (bounded) for what the driver asks, then advances it; returns whether it finished.
bool run_loop(async::Driver& d, const bool& finished) {
    for (int i = 0; i < 2000 && !finished; ++i) {
        const auto want = d.interest()[0];
        if (want.fd >= 0) {
            pollfd p{want.fd, static_cast<short>((want.read ? POLLIN : 0) | (want.write ? POLLOUT : 0)), 0};
            ::poll(&p, 1, 10);
        }
        d.advance();
    }
    return finished;
}

}  // namespace

TEST_P(BackendConformance, TheNonBlockingDriverHandshakesAndEchoesOverTls) {
    auto so = server_options("server");
    so.alpn = test::TlsServerOptions::Alpn::select;
    test::TlsTestServer server(so);
    tls::ContextConfig c;
    c.verify_chain = true;
    c.ca = pki_file("ca.crt");
    c.alpn = {"postgresql"};
    auto ctx = backend().create_context(c);

    HostTarget target;
    target.host = target.hostaddr = server.address();
    target.port = server.port();
    protocol::MessageReader in;
    std::string out;
    protocol::SessionState session;
    transport::Channel channel;
    // What the driver's completions write and the algorithms it runs outlive it (declared
    // first), as in the async suites.
    bool finished = false;
    std::exception_ptr error;
    ListAlgorithm a, b;
    async::DriverSetup setup;
    setup.tls_context = [&] { return ctx.get(); };
    async::Driver driver(channel, protocol::Wire{in, out, session}, setup);

    a.actions = {Action::open_socket(target), Action::start_tls({protocol::TlsStart::direct, {}})};
    driver.start(a, [&](const Action& done) {
        finished = true;
        error = done.error;
    });
    ASSERT_TRUE(run_loop(driver, finished));
    EXPECT_FALSE(error);
    ASSERT_TRUE(a.tls) << "no TLS handshake";
    EXPECT_EQ(a.tls->info.alpn, "postgresql");
    ASSERT_TRUE(a.tls->peer);
    // An exchange bigger than the socket buffers: the write must wait for writability.
    b.actions = {Action::write(), Action::read()};
    const std::string payload(200000, 'p');
    out = payload;
    finished = false;
    driver.start(b, [&](const Action& done) {
        finished = true;
        error = done.error;
    });
    ASSERT_TRUE(run_loop(driver, finished));
    EXPECT_FALSE(error);
    EXPECT_GT(in.buffered(), 0u);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(in.raw().data()), in.buffered()),
              payload.substr(0, in.buffered()));
}

}  // namespace pgtls::conformance
