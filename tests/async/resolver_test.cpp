// Host names resolved by the non-blocking connection off its loop (BackgroundResolver), against
// the real test servers on every TLS backend. A blackholed name — served by a DNS server that
// answers only when the test says so: a UDP socket of this test on port 53 of a loopback address
// of its own (127.77.x.y from the pid, so concurrent runs do not collide), made the process's
// only name server by a private mount namespace whose /etc/resolv.conf points there (root
// needed; the cases skip otherwise) — never delays another connection on the same loop;
// connect_timeout ends its connect; destroying or cancelling the connection mid-resolution
// completes it without a callback afterwards, closes the resolver's fd at once, and the
// lookup's thread exits when its lookup ends (the server's NXDOMAIN, sent at each case's end).
//
// The server stays silent for as long as a case needs: a lookup that ended by the resolver's
// own timeout while the case still ran would race the case (CI once saw the other connection
// take longer than a 2 s timeout under ASan on a busy machine).
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "pgtls/async.hpp"
#include "tests/integration/integration_fixture.hpp"
#include "tests/support/env/process_counts.hpp"
#include "tests/support/env/sanitizers.hpp"

using namespace pgtls;
using namespace pgtls::test;
using namespace std::chrono_literals;

namespace {

constexpr const char* kBlackholed = "pgtls-blackhole.test";
// resolv.conf's timeout: far longer than any case; a lookup ends when the test answers it.
constexpr int kResolverTimeoutSeconds = 30;  // glibc's most (RES_MAXRETRANS)
// Longer than any advance() may take; a blocking lookup would hold one for kResolverTimeoutSeconds.
constexpr auto kBlockedAdvance = std::chrono::seconds(2);

// The private mount namespace and the silent name server; `why_not` when it could not be set up.
struct SilentDns {
    int udp = -1;
    std::string why_not;
};

SilentDns& silent_dns() {
    static SilentDns dns = [] {
        SilentDns d;
        // Threads created later by this thread share its namespace; gtest runs every case here.
        if (::unshare(CLONE_NEWNS) != 0) {
            d.why_not = "unshare(CLONE_NEWNS) failed (root needed)";
            return d;
        }
        if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
            d.why_not = "could not make the mounts private";
            return d;
        }
        char path[] = "/tmp/pgtls-resolv-XXXXXX";
        const int f = ::mkstemp(path);
        if (f < 0) {
            d.why_not = "mkstemp failed";
            return d;
        }
        ::close(f);
        const unsigned pid = static_cast<unsigned>(::getpid());
        const std::string server = "127.77." + std::to_string((pid >> 8) & 0xff) + "." + std::to_string(1 + pid % 254);
        std::ofstream(path) << "nameserver " << server << "\noptions timeout:" << kResolverTimeoutSeconds
                            << " attempts:1\n";
        const bool mounted = ::mount(path, "/etc/resolv.conf", nullptr, MS_BIND, nullptr) == 0;
        ::unlink(path);
        if (!mounted) {
            d.why_not = "could not bind-mount /etc/resolv.conf";
            return d;
        }
        d.udp = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(53);
        a.sin_addr.s_addr = inet_addr(server.c_str());
        if (d.udp < 0 || ::bind(d.udp, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) d.why_not = "could not bind " + server + ":53";
        return d;
    }();
    return dns;
}

// Set up before the first case, while this is the only thread.
class SilentDnsEnvironment : public ::testing::Environment {
    void SetUp() override { (void)silent_dns(); }
};
[[maybe_unused]] ::testing::Environment* const kSilentDns = ::testing::AddGlobalTestEnvironment(new SilentDnsEnvironment);

#define PGTLS_NEEDS_SILENT_DNS() \
    if (!silent_dns().why_not.empty()) GTEST_SKIP() << silent_dns().why_not

// Answers every query the silent server has received with NXDOMAIN (the header made a response,
// the question kept, no records), which ends the lookups that sent them.
void answer_held_queries() {
    const int udp = silent_dns().udp;
    for (;;) {
        unsigned char m[512];
        sockaddr_storage from{};
        socklen_t from_len = sizeof from;
        const ssize_t n = ::recvfrom(udp, m, sizeof m, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &from_len);
        if (n < 0) return;
        if (n < 12) continue;
        // The question's end: QNAME's labels up to the root label, then QTYPE and QCLASS.
        std::size_t end = 12;
        while (end < static_cast<std::size_t>(n) && m[end] != 0) end += 1 + m[end];
        end += 1 + 4;
        if (end > static_cast<std::size_t>(n)) continue;
        m[2] |= 0x80;                          // QR: a response (opcode and RD kept)
        m[3] = 0x80 | 3;                       // RA, RCODE 3: NXDOMAIN
        m[6] = m[7] = m[8] = m[9] = m[10] = m[11] = 0;  // no answer, authority or additional records
        (void)::sendto(udp, m, end, 0, reinterpret_cast<sockaddr*>(&from), from_len);
    }
}

// Answers the held queries (a search domain may add one after another) until the thread count
// is back to `threads`: each blackholed lookup's thread exits when its lookup ends.
void expect_threads_back_to(std::size_t threads) {
    const auto until = std::chrono::steady_clock::now() + 20s;
    while (thread_count() != threads && std::chrono::steady_clock::now() < until) {
        answer_held_queries();
        pollfd p{silent_dns().udp, POLLIN, 0};
        ::poll(&p, 1, 50);
    }
    EXPECT_EQ(thread_count(), threads) << "the lookup's thread never exited";
}

// The eventfds this process holds (a resolver's descriptor is one).
std::size_t open_eventfds() {
    std::size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
        std::error_code ec;
        if (std::filesystem::read_symlink(e.path(), ec).string() == "anon_inode:[eventfd]") ++n;
    }
    return n;
}

bool run_loop(const std::vector<AsyncConnection*>& conns, const std::function<bool()>& finished,
              std::chrono::milliseconds limit, std::chrono::steady_clock::duration* longest = nullptr) {
    return run_async_loop(conns, finished, limit, std::nullopt, longest);
}

class Resolver : public BackendTest {
protected:
    std::string sslmode() const { return has_tls() ? " sslmode=require" : " sslmode=disable"; }
    // PostgreSQL 18 by `host` (a name or an address).
    Config pg18(const std::string& host, const std::string& extra = "") const {
        return config(env().conninfo(env().server("pg18"), "scramuser", host) + sslmode() + extra);
    }
};

// "localhost" (from /etc/hosts) goes through the resolver's thread and connects.
TEST_P(Resolver, NameResolvedOffTheLoopConnects) {
    std::optional<std::exception_ptr> connected;  // outlives c, whose destructor may complete the connect
    AsyncConnection c;
    c.connect(pg18("localhost"), [&](std::exception_ptr e) { connected = e; });
    ASSERT_TRUE(run_loop({&c}, [&] { return connected.has_value(); }, 30s));
    ASSERT_FALSE(*connected) << "connect failed";
    EXPECT_EQ(c.info().host, "localhost");
}

TEST_P(Resolver, BlackholedNameNeverDelaysAnotherConnectionOnTheLoop) {
    PGTLS_NEEDS_SILENT_DNS();
    const std::size_t threads = thread_count();
    {
        // Declared before the connections: destroying `stuck` completes its connect, and the
        // callback writes to stuck_done, which must still exist then.
        std::optional<std::exception_ptr> stuck_done, other_done;
        std::optional<int> answer;
        AsyncConnection stuck, other;
        stuck.connect(pg18(kBlackholed, " connect_timeout=30"), [&](std::exception_ptr e) { stuck_done = e; });
        other.connect(pg18("127.0.0.1"), [&](std::exception_ptr e) {
            other_done = e;
            if (!e) other.query("SELECT 42", [&](std::exception_ptr qe, std::vector<Result> r) {
                    if (!qe) answer = r.back()[0][0].as<int>();
                });
        });
        std::chrono::steady_clock::duration longest{};
        ASSERT_TRUE(run_loop({&stuck, &other}, [&] { return answer.has_value(); }, 20s, &longest));
        EXPECT_FALSE(stuck_done.has_value()) << "the blackholed lookup ended early";
        // A blocking lookup would hold one advance() for the resolver's whole timeout.
        EXPECT_LT(longest, kBlockedAdvance)
            << "an advance() blocked for " << std::chrono::duration_cast<std::chrono::milliseconds>(longest).count() << " ms";
    }
    expect_threads_back_to(threads);
}

TEST_P(Resolver, ConnectTimeoutEndsAHangingLookup) {
    PGTLS_NEEDS_SILENT_DNS();
    const std::size_t threads = thread_count(), fds = open_fds(), eventfds = open_eventfds();
    {
        std::optional<std::exception_ptr> done;  // outlives c, whose destructor may complete the connect
        AsyncConnection c;
        const auto t0 = std::chrono::steady_clock::now();
        c.connect(pg18(kBlackholed, " connect_timeout=1"), [&](std::exception_ptr e) { done = e; });
        ASSERT_TRUE(run_loop({&c}, [&] { return done.has_value(); }, 20s));
        ASSERT_TRUE(*done);
        try {
            std::rethrow_exception(*done);
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::timeout) << e.what();
            EXPECT_NE(std::string(e.what()).find(kBlackholed), std::string::npos) << e.what();
        }
        // Had it waited for the lookup, the error would be the lookup's failure.
        EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s * sanitizer_slowdown());
        EXPECT_FALSE(c.is_open());
    }
    EXPECT_EQ(open_eventfds(), eventfds) << "the resolver's fd outlived the connect";
    expect_threads_back_to(threads);
    EXPECT_EQ(open_fds(), fds) << "the lookup's thread left a descriptor open";
}

// Destroyed, or its connect cancelled, while the lookup runs: the callback runs once (from the
// destructor or advance()), never after; the fd goes at once, the thread when its lookup ends.
TEST_P(Resolver, DestroyOrCancelDuringTheLookup) {
    PGTLS_NEEDS_SILENT_DNS();
    const std::size_t threads = thread_count(), fds = open_fds(), eventfds = open_eventfds();
    for (const bool cancel : {false, true}) {
        SCOPED_TRACE(cancel ? "cancel" : "destroy");
        int calls = 0;
        std::exception_ptr error;
        {
            auto c = std::make_unique<AsyncConnection>();
            const auto id = c->connect(pg18(kBlackholed, " connect_timeout=30"), [&](std::exception_ptr e) {
                ++calls;
                error = e;
            });
            const auto until = AsyncConnection::Clock::now() + 200ms;
            run_loop({c.get()}, [&] { return AsyncConnection::Clock::now() >= until; }, 5s);
            ASSERT_EQ(calls, 0) << "the lookup of a blackholed name ended";
            EXPECT_TRUE(c->watches()[0].read) << "the loop does not wait for the lookup";
            if (cancel) {
                c->cancel(id);
                run_loop({c.get()}, [&] { return calls > 0; }, 5s);
                EXPECT_FALSE(c->is_open());
            }
        }
        EXPECT_EQ(calls, 1);
        EXPECT_TRUE(error);
        EXPECT_EQ(open_eventfds(), eventfds) << "the resolver's fd outlived its connection";
    }
    expect_threads_back_to(threads);
    EXPECT_EQ(open_fds(), fds) << "the lookups' threads left a descriptor open";
}

PGTLS_INSTANTIATE_PER_BACKEND(Resolver);

}  // namespace
