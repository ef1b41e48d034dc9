// c10k — one thread holds N TLS connections (default 10,000) through PgBouncer, each running Q
// queries (default 10), on pgtls::AsyncConnection driven by one epoll loop; once per TLS
// backend. Reports, per backend: the connect phase (handshakes per second, with at most
// --in-flight connects at a time so the listener's backlog is not the measure), client CPU per
// connection (user + sys over the whole run), resident memory per held connection (RSS growth
// once all are connected, divided by N), the query phase, and any error. Run by
// bench/c10k.sh, which starts PgBouncer with room for the clients.
//
//   c10k --conninfo STR [--connections N] [--queries Q] [--in-flight K] [--backends a,b]
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "pgtls/async.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

long rss_kib() {
    long pages = 0, resident = 0;
    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        std::fclose(f);
    }
    return resident * 4;
}

struct Options {
    std::string conninfo;
    long connections = 10000;
    int queries = 10;
    long in_flight = 200;
    std::vector<std::string> backends;
};

// The connections and the loop that drives them: epoll for the sockets, a sweep for deadlines.
class Loop {
public:
    explicit Loop(long n) : ep_(epoll_create1(EPOLL_CLOEXEC)), conns_(std::size_t(n)) {
        if (ep_ < 0) throw std::runtime_error("epoll_create1 failed");
        for (auto& c : conns_) c.c = std::make_unique<pgtls::AsyncConnection>();
    }
    ~Loop() {
        conns_.clear();
        ::close(ep_);
    }
    pgtls::AsyncConnection& operator[](std::size_t i) { return *conns_[i].c; }
    // Operations were queued on `i`: advance it (operations start from advance()).
    void touch(std::size_t i) { pending_.push_back(i); }
    void run_until(const std::function<bool()>& done) {
        epoll_event ev[256];
        auto next_sweep = Clock::now();
        while (!done()) {
            while (!pending_.empty()) {
                std::vector<std::size_t> p;
                p.swap(pending_);
                for (std::size_t i : p) step(i);
            }
            if (done()) break;
            const int k = epoll_wait(ep_, ev, 256, 10);
            for (int j = 0; j < k; ++j) step(std::size_t(ev[j].data.u64));
            const auto now = Clock::now();
            if (now >= next_sweep) {  // deadlines (connect_timeout, timers): every 50 ms is plenty here
                for (std::size_t i = 0; i < conns_.size(); ++i)
                    if (auto d = conns_[i].c->deadline(); d && *d <= now) step(i);
                next_sweep = now + std::chrono::milliseconds(50);
            }
        }
    }

private:
    struct Slot {
        std::unique_ptr<pgtls::AsyncConnection> c;
        int fd = -1;
        std::uint64_t epoch = 0;
        std::uint32_t events = 0;
    };
    void step(std::size_t i) {
        Slot& s = conns_[i];
        s.c->advance();
        // A completion may have queued more: operations start from advance().
        while (s.c->deadline() && *s.c->deadline() <= Clock::now() && s.c->busy()) {
            const auto before = s.c->watches()[0];
            s.c->advance();
            const auto after = s.c->watches()[0];
            if (after.fd == before.fd && after.read == before.read && after.write == before.write) break;
        }
        sync(i);
    }
    void sync(std::size_t i) {
        Slot& s = conns_[i];
        const pgtls::AsyncWatch w = s.c->watches()[0];
        const std::uint32_t want = (w.read ? std::uint32_t{EPOLLIN} : 0u) | (w.write ? std::uint32_t{EPOLLOUT} : 0u);
        if (s.fd >= 0 && (w.fd != s.fd || w.epoch != s.epoch)) {
            epoll_ctl(ep_, EPOLL_CTL_DEL, s.fd, nullptr);  // may already be closed: harmless
            s.fd = -1;
        }
        if (w.fd < 0) return;
        epoll_event e{};
        e.events = want;
        e.data.u64 = i;
        if (s.fd < 0) {
            if (epoll_ctl(ep_, EPOLL_CTL_ADD, w.fd, &e) == 0) {
                s.fd = w.fd;
                s.epoch = w.epoch;
                s.events = want;
            }
        } else if (want != s.events) {
            epoll_ctl(ep_, EPOLL_CTL_MOD, w.fd, &e);
            s.events = want;
        }
    }
    int ep_;
    std::vector<Slot> conns_;
    std::vector<std::size_t> pending_;
};

std::string what(std::exception_ptr e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        return x.what();
    }
    return "?";
}

void run(const Options& o, const std::string& backend) {
    pgtls::Config cfg;
    cfg.conninfo = o.conninfo;
    cfg.sslbackend = backend;
    const long n = o.connections;
    const double cpu0 = cpu_seconds();
    const long rss0 = rss_kib();
    long errors = 0;
    std::string first_error;
    auto fail = [&](std::exception_ptr e) {
        if (errors++ == 0) first_error = what(e);
    };
    {
        Loop loop(n);
        long started = 0, connected = 0, settled = 0;
        std::function<void()> start_more = [&] {
            while (started < n && started - settled < o.in_flight) {
                const std::size_t i = std::size_t(started++);
                loop[i].connect(cfg, [&, i](std::exception_ptr e) {
                    ++settled;
                    if (e) fail(e);
                    else ++connected;
                    start_more();
                });
                loop.touch(i);
            }
        };
        const auto t0 = Clock::now();
        start_more();
        loop.run_until([&] { return settled == n; });
        const double connect_s = std::chrono::duration<double>(Clock::now() - t0).count();
        const long rss_held = rss_kib();
        const double cpu_connect = cpu_seconds() - cpu0;

        long answered = 0;
        const long want = connected * o.queries;
        std::function<void(std::size_t, int)> query = [&](std::size_t i, int q) {
            loop[i].execute_args("SELECT $1::int", [&, i, q](std::exception_ptr e, pgtls::Result r) {
                ++answered;
                if (e) fail(e);
                else if (r[0][0].as<int>() != q) fail(std::make_exception_ptr(std::runtime_error("wrong result")));
                if (q + 1 < o.queries) query(i, q + 1);
            }, q);
        };
        const auto t1 = Clock::now();
        for (long i = 0; i < n; ++i)
            if (loop[std::size_t(i)].is_healthy()) {
                query(std::size_t(i), 0);
                loop.touch(std::size_t(i));
            }
        loop.run_until([&] { return answered >= want; });
        const double query_s = std::chrono::duration<double>(Clock::now() - t1).count();
        const double cpu_total = cpu_seconds() - cpu0;
        std::printf("| %s | %ld | %ld | %.1f | %.0f | %.2f ms | %.1f KiB | %.0f | %.2f ms | %ld%s%s |\n", backend.c_str(), n,
                    connected, connect_s, double(connected) / connect_s, 1000.0 * cpu_connect / double(n),
                    double(rss_held - rss0) / double(n), double(answered) / query_s, 1000.0 * cpu_total / double(n),
                    errors, errors ? ": " : "", first_error.c_str());
        std::fflush(stdout);
    }
}

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    std::size_t b = 0;
    while (b <= s.size()) {
        const std::size_t e = s.find(',', b);
        out.push_back(s.substr(b, e == std::string::npos ? std::string::npos : e - b));
        if (e == std::string::npos) break;
        b = e + 1;
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    o.backends = split(PGTLS_BENCH_BACKENDS);
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i], v = argv[i + 1];
        if (k == "--conninfo") o.conninfo = v;
        else if (k == "--connections") o.connections = std::stol(v);
        else if (k == "--queries") o.queries = std::stoi(v);
        else if (k == "--in-flight") o.in_flight = std::stol(v);
        else if (k == "--backends") o.backends = split(v);
        else {
            std::fprintf(stderr, "unknown option %s\n", k.c_str());
            return 2;
        }
    }
    if (o.conninfo.empty()) {
        std::fprintf(stderr, "usage: c10k --conninfo STR [--connections N] [--queries Q] [--in-flight K] [--backends a,b]\n");
        return 2;
    }
    std::printf("| backend | connections | connected | connect phase s | handshakes/s | client CPU per connection (connect) | RSS per held connection | queries/s | client CPU per connection (all) | errors |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
    // Each backend in its own process: resident memory freed by one run would otherwise hide
    // the next one's growth.
    std::fflush(stdout);
    for (const auto& b : o.backends) {
        const pid_t pid = fork();
        if (pid == 0) {
            try {
                run(o, b);
            } catch (const std::exception& e) {
                std::printf("| %s | failed: %s |\n", b.c_str(), e.what());
            }
            std::fflush(stdout);
            std::_Exit(0);
        }
        int status = 0;
        if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
            std::printf("| %s | the run crashed |\n", b.c_str());
        std::fflush(stdout);
    }
    return 0;
}
