// Pool metrics printed periodically: 6 worker threads share a pool of 2 connections for a
// few seconds while a reporter prints PoolStats every 500 ms as one line (connections by
// state, pending acquires, created/destroyed, connect errors, the acquire wait histogram), the
// numbers an application would export as OpenTelemetry's db.client.connection.* metrics.
//
//   pool_metrics [CONNINFO] [SECONDS]   (PG* environment variables apply as in libpq; 2 s default)
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "pgtls/pgtls.hpp"

namespace {

// "le5=3 le10=1 ... inf=0": the non-empty buckets of the acquire wait histogram.
std::string histogram(const pgtls::PoolStats& s) {
    std::ostringstream out;
    const auto& bounds = pgtls::PoolStats::acquire_wait_bounds_ms;
    for (std::size_t i = 0; i < s.acquire_wait_histogram.size(); ++i) {
        if (s.acquire_wait_histogram[i] == 0) continue;
        out << (i < bounds.size() ? "le" + std::to_string(bounds[i]) : std::string("inf")) << '='
            << s.acquire_wait_histogram[i] << ' ';
    }
    return out.str();
}

void print(const pgtls::PoolStats& s) {
    std::cout << "pool: total=" << s.total << " idle=" << s.idle << " in_use=" << s.in_use
              << " opening=" << s.opening << " pending=" << s.pending_acquires << " created=" << s.created
              << " destroyed=" << s.destroyed << " connect_errors=" << s.connect_errors
              << " acquired=" << s.acquire_count << " timeouts=" << s.acquire_timeouts << " wait_max_ms="
              << std::chrono::duration_cast<std::chrono::milliseconds>(s.acquire_wait_max).count()
              << " wait_ms{ " << histogram(s) << "}";
    for (std::size_t r = 0; r < pgtls::pool_close_reason_count; ++r)
        if (s.destroyed_by_reason[r])
            std::cout << " destroyed_" << pgtls::to_string(static_cast<pgtls::PoolCloseReason>(r)) << '='
                      << s.destroyed_by_reason[r];
    std::cout << std::endl;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        pgtls::Config config;
        config.conninfo = argc > 1 ? argv[1] : "";
        const auto run_for = std::chrono::seconds(argc > 2 ? std::atoi(argv[2]) : 2);
        pgtls::PoolOptions options;
        options.max_size = 2;
        options.name = "pool_metrics";
        pgtls::Pool pool(config, options);

        std::atomic<bool> stop{false};
        std::atomic<int> failures{0};
        std::vector<std::thread> workers;
        for (int i = 0; i < 6; ++i) {
            workers.emplace_back([&] {
                while (!stop) {
                    try {
                        pool.query("SELECT pg_sleep(0.005)");
                    } catch (const pgtls::Error& e) {
                        if (failures++ == 0) std::cerr << "pool_metrics: " << e.what() << '\n';
                    }
                }
            });
        }
        const auto end = std::chrono::steady_clock::now() + run_for;
        while (std::chrono::steady_clock::now() < end) {
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
            print(pool.stats());
        }
        stop = true;
        for (auto& t : workers) t.join();
        pool.close();
        std::cout << "final ";
        print(pool.stats());
        return failures == 0 ? 0 : 2;
    } catch (const pgtls::Error& e) {
        std::cerr << "pool_metrics: " << e.what() << '\n';
        return 2;
    }
}
