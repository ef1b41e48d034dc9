// The loop-agnostic non-blocking API (pgtls/async.hpp) on a raw epoll loop: the loop watches
// what watches() names, wakes at deadline(), and calls advance(); every callback runs from
// advance(). Four connections, each running a few queries, on one thread.
//
//   async_epoll CONNINFO
#include <pgtls/async.hpp>

#include <sys/epoll.h>
#include <unistd.h>

#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    pgtls::Config config;
    config.conninfo = argc > 1 ? argv[1] : "";
    constexpr int kConnections = 4, kQueries = 5;

    std::vector<std::unique_ptr<pgtls::AsyncConnection>> conns;
    int answered = 0, failed = 0;
    for (int i = 0; i < kConnections; ++i) {
        conns.push_back(std::make_unique<pgtls::AsyncConnection>());
        pgtls::AsyncConnection& c = *conns.back();
        c.connect(config, [&failed](std::exception_ptr e) {
            if (e) ++failed;
        });
        for (int q = 0; q < kQueries; ++q)  // queued now, run once connected
            c.execute_args("SELECT $1::int * $2::int", [&, i, q](std::exception_ptr e, pgtls::Result r) {
                if (e || r[0][0].as<int>() != i * q) ++failed;
                ++answered;
            }, i, q);
    }

    const int ep = ::epoll_create1(EPOLL_CLOEXEC);
    std::map<int, std::uint64_t> registered;  // fd -> epoch registered
    while (answered < kConnections * kQueries) {
        // Register what each connection wants (a changed epoch is a new socket).
        int timeout_ms = 1000;
        const auto now = pgtls::AsyncConnection::Clock::now();
        std::map<int, std::uint32_t> want;
        for (auto& c : conns) {
            for (const pgtls::AsyncWatch& w : c->watches())
                if (w.fd >= 0) {
                    want[w.fd] |= (w.read ? std::uint32_t{EPOLLIN} : 0u) | (w.write ? std::uint32_t{EPOLLOUT} : 0u);
                    if (registered.count(w.fd) && registered[w.fd] != w.epoch) {
                        ::epoll_ctl(ep, EPOLL_CTL_DEL, w.fd, nullptr);
                        registered.erase(w.fd);
                    }
                    if (!registered.count(w.fd)) {
                        epoll_event ev{};
                        ev.data.fd = w.fd;
                        ::epoll_ctl(ep, EPOLL_CTL_ADD, w.fd, &ev);
                        registered[w.fd] = w.epoch;
                    }
                }
            if (auto d = c->deadline()) {
                const auto ms = std::chrono::ceil<std::chrono::milliseconds>(*d - now).count();
                timeout_ms = static_cast<int>(std::max<long long>(0, std::min<long long>(timeout_ms, ms)));
            }
        }
        for (auto it = registered.begin(); it != registered.end();) {
            if (!want.count(it->first)) {
                ::epoll_ctl(ep, EPOLL_CTL_DEL, it->first, nullptr);
                it = registered.erase(it);
                continue;
            }
            epoll_event ev{};
            ev.events = want[it->first];
            ev.data.fd = it->first;
            ::epoll_ctl(ep, EPOLL_CTL_MOD, it->first, &ev);
            ++it;
        }
        epoll_event events[16];
        ::epoll_wait(ep, events, 16, timeout_ms);
        for (auto& c : conns) c->advance();  // cheap when nothing is ready
        if (failed) break;
    }
    ::close(ep);
    std::cout << answered << " answers on " << kConnections << " connections, " << failed << " failures\n";
    return failed == 0 && answered == kConnections * kQueries ? 0 : 1;
}
