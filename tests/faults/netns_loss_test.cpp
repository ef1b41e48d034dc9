// Real network loss: the client reaches the server through a veth link into a network
// namespace (where a FaultProxy listens and forwards to pg18), and the test takes that link
// down. Unlike the silent proxy, nothing acknowledges the client's segments any more, so the
// kernel-level settings are what must save the caller: tcp_user_timeout aborts a query whose
// data is never acknowledged, keepalives notice a dead idle connection, connect_timeout ends
// a connect whose SYN goes nowhere. In plaintext and on every TLS backend; no fd or thread
// leaked. Needs root and `ip` (iproute2); skipped with the reason otherwise.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fault_checks.hpp"
#include "pgtls/async.hpp"
#include "tests/integration/driver_connection.hpp"
#include "tests/support/proxy/fault_proxy.hpp"

namespace pgtls::test {
namespace {

using namespace std::chrono_literals;

int sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

// A namespace with one end of a veth pair; the other end stays here. Names and a /30 subnet
// derived from the pid, so concurrent runs do not collide.
class VethNamespace {
public:
    VethNamespace() {
        const unsigned pid = static_cast<unsigned>(::getpid());
        ns_ = "pgtls-faults-" + std::to_string(pid);
        here_ = "pgtf" + std::to_string(pid) + "a";
        there_ = "pgtf" + std::to_string(pid) + "b";
        const std::string net = "10." + std::to_string((pid >> 14) & 0xff) + "." + std::to_string((pid >> 6) & 0xff) + ".";
        const unsigned base = (pid & 63u) << 2;
        here_addr_ = net + std::to_string(base + 1);
        there_addr_ = net + std::to_string(base + 2);
        ok_ = sh("ip netns add " + ns_) == 0 && sh("ip link add " + here_ + " type veth peer name " + there_) == 0 &&
              sh("ip link set " + there_ + " netns " + ns_) == 0 &&
              sh("ip addr add " + here_addr_ + "/30 dev " + here_) == 0 && sh("ip link set " + here_ + " up") == 0 &&
              sh(in_ns("ip addr add " + there_addr_ + "/30 dev " + there_)) == 0 &&
              sh(in_ns("ip link set " + there_ + " up")) == 0 && sh(in_ns("ip link set lo up")) == 0;
    }
    ~VethNamespace() {
        sh("ip link del " + here_);
        sh("ip netns del " + ns_);
    }
    bool ok() const { return ok_; }
    const std::string& name() const { return ns_; }
    const std::string& far_address() const { return there_addr_; }
    // The far end goes down: segments in either direction are lost, nothing is refused.
    void cut() const { EXPECT_EQ(sh(in_ns("ip link set " + there_ + " down")), 0); }
    void restore() const { EXPECT_EQ(sh(in_ns("ip link set " + there_ + " up")), 0); }

private:
    std::string in_ns(const std::string& cmd) const { return "ip netns exec " + ns_ + " " + cmd; }
    std::string ns_, here_, there_, here_addr_, there_addr_;
    bool ok_ = false;
};

class NetnsLoss : public ::testing::Test {
protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root for ip netns";
        if (sh("ip -V") != 0) GTEST_SKIP() << "needs iproute2 (ip)";
        veth_ = std::make_unique<VethNamespace>();
        if (!veth_->ok()) GTEST_SKIP() << "could not set up a network namespace with a veth link";
        baseline_ = std::make_unique<ResourceBaseline>();  // before the proxy: the test ends it
        proxy_ = std::make_unique<FaultProxy>("127.0.0.1", test_env().server("pg18").port, veth_->far_address(), veth_->name());
    }
    void TearDown() override {
        proxy_.reset();
        veth_.reset();
    }
    Config config(const Variant& v, const std::string& extra) const {
        return config_for("host=" + veth_->far_address() + " port=" + std::to_string(proxy_->port()) +
                              " dbname=pgtls user=scramuser password=scram-secret sslmode=" + v.sslmode + " " + extra,
                          v.backend);
    }
    // The proxy's own sockets are in this process too, so fds and threads are compared after
    // it is gone.
    void expect_no_leaks(const std::string& where) {
        proxy_.reset();
        baseline_->expect_unchanged(where);
    }
    std::unique_ptr<VethNamespace> veth_;
    std::unique_ptr<ResourceBaseline> baseline_;
    std::unique_ptr<FaultProxy> proxy_;
};

// Mid-query loss: the query's segments are never acknowledged; tcp_user_timeout (1.5 s) ends
// it with a connection error — no client query timeout is set, so nothing else would.
TEST_F(NetnsLoss, LinkDownMidQueryFiresTcpUserTimeout) {
    {
        std::vector<std::unique_ptr<Client>> clients;
        for (const Variant& v : variants()) {
            clients.push_back(std::make_unique<Client>(config(v, "connect_timeout=5 tcp_user_timeout=1500")));
            EXPECT_EQ(clients.back()->query("SELECT 1")[0][0].as<int>(), 1) << label(v);
        }
        veth_->cut();
        std::vector<std::future<Failure>> running;
        for (auto& c : clients) {
            Client* client = c.get();
            running.push_back(std::async(std::launch::async, [client] { return run_failing([client] { client->query("SELECT 2"); }); }));
        }
        const auto vs = variants();
        for (std::size_t i = 0; i < running.size(); ++i) {
            const Failure f = running[i].get();
            expect_failure(f, {ErrorKind::connection}, {"timed out"}, 10000ms, label(vs[i]) + " link down mid-query");
            EXPECT_FALSE(clients[i]->is_healthy()) << label(vs[i]);
        }
        veth_->restore();
    }
    expect_no_leaks("link down mid-query");
}

// An idle connection whose link died: keepalives (idle 1 s, every 1 s, 2 probes) let the
// kernel declare it dead, so the next query fails at once instead of waiting.
TEST_F(NetnsLoss, KeepalivesDeclareADeadIdleConnection) {
    {
        std::vector<std::unique_ptr<Client>> clients;
        for (const Variant& v : variants())
            clients.push_back(std::make_unique<Client>(
                config(v, "connect_timeout=5 keepalives=1 keepalives_idle=1 keepalives_interval=1 keepalives_count=2")));
        veth_->cut();
        std::this_thread::sleep_for(5s);  // 1 s idle + 2 unanswered probes, with margin
        const auto vs = variants();
        for (std::size_t i = 0; i < clients.size(); ++i) {
            const Failure f = run_failing([&] { clients[i]->query("SELECT 3"); });
            expect_failure(f, {ErrorKind::connection}, {"timed out"}, 1000ms, label(vs[i]) + " dead idle connection");
        }
        veth_->restore();
    }
    expect_no_leaks("keepalives");
}

// Connecting over a dead link: the SYN is never answered; connect_timeout fires.
TEST_F(NetnsLoss, LinkDownDuringConnectFiresConnectTimeout) {
    veth_->cut();
    std::vector<std::future<Failure>> running;
    for (const Variant& v : variants()) {
        const Config c = config(v, "connect_timeout=2");
        running.push_back(std::async(std::launch::async, [c] { return run_failing([&c] { Client client(c); }); }));
    }
    const auto vs = variants();
    for (std::size_t i = 0; i < running.size(); ++i)
        expect_failure(running[i].get(), {ErrorKind::timeout}, {"timeout expired"}, 6000ms, label(vs[i]) + " connect over a dead link");
    veth_->restore();
    expect_no_leaks("connect over a dead link");
}

// Across a real network link (a veth pair, addresses that are not loopback), an
// AsyncConnection overlaps its implicit pipelines by default (PipelineOverlap::automatic):
// queries queued while the server sleeps on a pipeline's first query join that pipeline, and
// each gets its own outcome (the async suite's scenario). Set off, the same queries wait for
// the pipeline to end.
TEST_F(NetnsLoss, PipelinesOverlapAcrossANetworkLinkByDefault) {
    for (const Variant& v : variants()) {
        for (const PipelineOverlap overlap : {PipelineOverlap::automatic, PipelineOverlap::off}) {
            SCOPED_TRACE(label(v) + (overlap == PipelineOverlap::off ? ", overlap off" : ", overlap automatic"));
            AsyncConnection c;
            c.set_pipeline_overlap(overlap);
            await_async_done(c, "connect", [&](auto done) { c.connect(config(v, "connect_timeout=5"), done); });
            // The last query counts its own statement; overlapping, also the one the first
            // write's failed division left, closed only once the pipeline ended (see
            // overlap_scenario and the async suite's QueriesQueuedWhileAPipelineIsAnsweredJoinIt).
            EXPECT_EQ(overlap_scenario(c, 3), overlap == PipelineOverlap::off ? "a E 2 4 E 3 1 " : "a E 2 4 E 3 2 ");
            EXPECT_EQ(c.stats().pipeline_appends, overlap == PipelineOverlap::off ? 0u : 1u);
            EXPECT_EQ(c.stats().pipelines, overlap == PipelineOverlap::off ? 2u : 1u);
            EXPECT_TRUE(c.is_healthy());
        }
    }
    expect_no_leaks("overlapping pipelines");
}

}  // namespace
}  // namespace pgtls::test
