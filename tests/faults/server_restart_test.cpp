// The real PostgreSQL 18 server going away under the client: restarted (scripts/test-servers.sh
// restart) while a Pool holds idle connections, and the backend serving a connection killed
// (SIGKILL) or frozen (SIGSTOP) while its handshake is in flight (slowed by a FaultProxy so
// the fault lands inside it; with both drivers: the blocking Client and the AsyncConnection). In plaintext and with sslmode=require on every TLS backend: a
// clear error or a working connection, never a hang or a wrong result; the pool discards the
// dead connections and recovers; no fd or thread is left behind.
//
// Restarts and a crash recovery disturb every connection to pg18, so this binary runs alone
// (is_parallel: false) and leaves the server restarted and healthy.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <string>
#include <thread>

#include "fault_checks.hpp"
#include "pgtls/pool.hpp"
#include "tests/support/proxy/fault_proxy.hpp"

namespace pgtls::test {
namespace {

using namespace std::chrono_literals;

const TestServer& pg18() { return test_env().server("pg18"); }

// The server accepts connections again (after a restart or crash recovery).
void wait_until_up() {
    const auto until = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < until) {
        try {
            Client c(test_env().unix_conninfo(pg18(), "trustuser") + " connect_timeout=2");
            c.query("SELECT 1");
            return;
        } catch (const Error&) {
            std::this_thread::sleep_for(100ms);
        }
    }
    FAIL() << "pg18 did not come back";
}

pid_t postmaster_pid() {
    std::ifstream f(test_env().dir + "/pg18/data/postmaster.pid");
    pid_t pid = 0;
    f >> pid;
    return pid;
}

std::set<pid_t> children_of(pid_t parent) {
    std::set<pid_t> out;
    for (const auto& e : std::filesystem::directory_iterator("/proc")) {
        const std::string name = e.path().filename();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream stat(e.path() / "stat");
        std::string line;
        if (!std::getline(stat, line)) continue;
        // pid (comm) state ppid ...; comm may contain spaces: parse after the last ')'.
        const auto close = line.rfind(')');
        if (close == std::string::npos) continue;
        char state = 0;
        long ppid = 0;
        if (std::sscanf(line.c_str() + close + 1, " %c %ld", &state, &ppid) == 2 && ppid == parent)
            out.insert(static_cast<pid_t>(std::stol(name)));
    }
    return out;
}

// A pool with four idle connections; the server restarts; four leases at once. Each lease
// either works (the health check found the dead connection and replaced it) or fails with a
// clear error; afterwards the pool works and counts the dead ones as destroyed.
TEST(ServerRestart, PooledIdleConnectionsAcrossARestart) {
    for (const Variant& v : variants()) {
        const std::string where = label(v) + " pool across restart";
        const ResourceBaseline baseline;
        {
            PoolOptions o;
            o.max_size = 4;
            o.acquire_timeout = 15s;
            o.connect_timeout = 5s;
            o.connect_backoff_initial = 50ms;
            o.connect_backoff_max = 500ms;
            Pool pool(config_for(test_env().conninfo(pg18(), "scramuser") + " sslmode=" + v.sslmode, v.backend), o);
            {
                std::vector<Pool::Lease> leases;
                for (int i = 0; i < 4; ++i) leases.push_back(pool.acquire());
                for (auto& l : leases) EXPECT_EQ(l->query("SELECT 1")[0][0].as<int>(), 1) << where;
            }
            ASSERT_EQ(pool.stats().idle, 4u) << where;
            restart_test_server("pg18");
            wait_until_up();
            const auto t0 = std::chrono::steady_clock::now();
            std::vector<Pool::Lease> leases;
            std::size_t worked = 0;
            for (int i = 0; i < 4; ++i) {
                const Failure f = run_failing([&] {
                    auto l = pool.acquire();
                    const int got = l->query("SELECT " + std::to_string(100 + i))[0][0].as<int>();
                    EXPECT_EQ(got, 100 + i) << where << ": wrong result";
                    ++worked;
                    leases.push_back(std::move(l));
                });
                if (f.threw) {
                    expect_failure(f, {ErrorKind::connection, ErrorKind::server, ErrorKind::tls}, {}, 15000ms, where);
                }
            }
            EXPECT_LT(std::chrono::steady_clock::now() - t0, 20s) << where;
            leases.clear();
            // Recovered: the next lease works, and the old connections were thrown away.
            EXPECT_EQ(pool.acquire()->query("SELECT 5")[0][0].as<int>(), 5) << where;
            const PoolStats st = pool.stats();
            EXPECT_GE(st.destroyed, 4u) << where << ": dead connections kept";
            EXPECT_GE(st.created, 5u) << where;
            EXPECT_EQ(worked, 4u) << where << ": the health check should have replaced every dead connection";
            pool.close();
        }
        baseline.expect_unchanged(where);
    }
}

// Finds the backend the postmaster forks for the connection being made (a child that was
// not there before), waiting up to 5 s.
pid_t new_backend(pid_t postmaster, const std::set<pid_t>& before) {
    const auto until = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < until) {
        for (pid_t p : children_of(postmaster))
            if (!before.count(p)) return p;
        std::this_thread::sleep_for(10ms);
    }
    return 0;
}

// Starts a connect through a proxy that delays every chunk by 100 ms, so that the handshake
// is in flight for a second or so, and hands the backend's pid to `fault` 250 ms in.
Failure connect_while(const Variant& v, const std::string& extra, const std::function<void(pid_t)>& fault) {
    FaultProxy proxy("127.0.0.1", pg18().port);
    proxy.set_chunk_delay(100ms);
    const pid_t pm = postmaster_pid();
    const auto before = children_of(pm);
    auto attempt = std::async(std::launch::async, [&] {
        return run_failing([&] {
            DriverConnection c(v.driver, config_for("host=127.0.0.1 port=" + std::to_string(proxy.port()) +
                                                        " dbname=pgtls user=scramuser password=scram-secret sslmode=" +
                                                        v.sslmode + " " + extra,
                                                    v.backend));
        });
    });
    const pid_t backend = new_backend(pm, before);
    EXPECT_NE(backend, 0) << "no backend forked for the connection";
    std::this_thread::sleep_for(250ms);  // past the first flights, inside the handshake or auth
    if (backend != 0) fault(backend);
    return attempt.get();
}

TEST(ServerRestart, BackendKilledDuringHandshake) {
    for (const Variant& v : driver_variants()) {
        const std::string where = label(v) + " backend SIGKILLed mid-handshake";
        const ResourceBaseline baseline;
        const Failure f = connect_while(v, "connect_timeout=10", [](pid_t p) { ::kill(p, SIGKILL); });
        // "Broken pipe": the kill landed while the client was writing its flight (seen with the
        // async driver, which writes as soon as the socket is writable).
        expect_failure(f, {ErrorKind::connection, ErrorKind::tls}, {"closed", "reset", "EOF", "terminated", "Broken pipe"},
                       6000ms, where);
        baseline.expect_unchanged(where);
        // The postmaster reinitializes after a crashed backend; once it is back (a shutdown
        // request during the reinitialization waits for pg_ctl's escalation), restart it
        // cleanly anyway.
        wait_until_up();
        restart_test_server("pg18");
        wait_until_up();
    }
}

TEST(ServerRestart, BackendFrozenDuringHandshakeFiresConnectTimeout) {
    for (const Variant& v : driver_variants()) {
        const std::string where = label(v) + " backend SIGSTOPped mid-handshake";
        const ResourceBaseline baseline;
        pid_t frozen = 0;
        const Failure f = connect_while(v, "connect_timeout=3", [&](pid_t p) {
            frozen = p;
            ::kill(p, SIGSTOP);
        });
        if (frozen != 0) ::kill(frozen, SIGCONT);  // it finds its client gone and exits
        expect_failure(f, {ErrorKind::timeout}, {"timeout expired"}, 7000ms, where);
        baseline.expect_unchanged(where);
    }
    wait_until_up();
}

}  // namespace
}  // namespace pgtls::test
