// pgtls_bench — issue 10's workloads W1..W6 for pgtls (every compiled TLS backend) and libpq,
// interleaved run by run against the same server.
//
// Every run happens in a forked child, so client CPU (getrusage(RUSAGE_SELF), user+sys, around
// the timed part only) and peak RSS (ru_maxrss) belong to one client and one workload; the
// child sends its figures back through a pipe. W2, W3, W3s, W3i, W3ic and W7 also report the server
// backends' CPU per query (their /proc/<pg_backend_pid>/stat, readable when the server runs on
// this machine as the same user, or the bench runs as root). Per (workload, client) the parent reports the
// median and min/max over the runs and the pgtls/libpq ratio of medians.
//
//   pgtls_bench [--workloads W1,W2,...] [--clients libpq,openssl,gnutls,mbedtls]
//               [--repeats R] [--n W2=20000 ...] [--conninfo STR] [--smoke]
//               [--latency-ms MS] [--interleave-workloads]
//
// Workloads: W1 connect+TLS+SCRAM+SELECT 1+close (W1d: sslnegotiation=direct, pgtls only,
// libpq 15 lacks it; W1cb: channel_binding=require; W1p: the same through a pgtls::Pool that
// retires each connection after one use, so every acquisition reconnects with the pool's
// shared TLS context and cached SCRAM keys), W2 sequential SELECT $1::int, W3 the same
// pipelined in batches of 1000 with a sync, W3s the same batches with a Sync after every query
// (each query its own sync group and implicit transaction, as implicit pipelining sends them),
// W3i the same queries from 64 independent callers on one non-blocking connection
// (pgtls::AsyncConnection, one poll() loop), each issuing its next query when its result
// arrives — implicit pipelining; libpq has none, so its W3i row is
// its sequential W2 loop, the baseline the async API is measured against — W3ic the same as
// W3i with the statement cache on (set_statement_cache_capacity(16): each query binds and
// executes a statement prepared once, still with its own Sync; libpq's row: a sequential
// PQexecPrepared loop), W7 one thread
// with 100 TLS connections sharing n SELECT $1::int, each connection one query at a time
// (pgtls::AsyncConnection vs libpq's non-blocking API, PQsendQueryParams / PQconsumeInput /
// PQisBusy, both on one poll() loop; connects not timed), W4b / W4s bulk read buffered / streaming (libpq:
// PQsetSingleRowMode), W5 COPY FROM STDIN, W5b the same rows from typed values (pgtls: binary
// COPY through CopyRowWriter; libpq: the application formats text COPY lines), W6 pool of 4 shared by 8 threads, SELECT 1, W8 n
// idle TLS connections held at once (resident memory per connection).
//
// --latency-ms MS puts every client behind a proxy (bench/delay_proxy.hpp) that delays each
// chunk MS milliseconds in each direction, so round trips show on loopback: W1 vs W1d then
// shows what direct TLS negotiation saves (one round trip: the SSLRequest exchange).
//
// --pin-cpus C,S pins the timed client thread to CPU C and the server backends it measures to
// CPU S (sched_setaffinity; root, or the server's user) in W2, W3, W3s, W3i, W3ic and W7, the
// single-threaded workloads that measure server CPU: to tell a spread between runs that comes
// from where the scheduler puts client and backend from one that does not (on this project's
// 2-vCPU machine, W3i's did not: BENCHMARKS.md, session 16).
#include <libpq-fe.h>

#include <poll.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cerrno>
#include <cmath>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "pgtls/async.hpp"
#include "pgtls/client.hpp"
#include "pgtls/config.hpp"
#include "pgtls/copy_rows.hpp"
#include "pgtls/pool.hpp"

#include "delay_proxy.hpp"

#ifndef PGTLS_BENCH_BACKENDS
#define PGTLS_BENCH_BACKENDS "openssl"
#endif

namespace {

using Clock = std::chrono::steady_clock;

struct Sample {
    double wall_s = 0;     // timed part
    double cpu_s = 0;      // user+sys of the client process during the timed part
    double ops = 0;        // connections, queries or rows
    double p50_ms = 0;     // W1: per-connection latency
    double p99_ms = 0;
    long maxrss_kb = 0;    // peak RSS of the child (whole life)
    long rss_delta_kb = 0; // W8: resident memory the n idle connections added
    double server_cpu_s = -1;  // user+sys of the server backend(s) during the timed part; < 0: not measured
    int ok = 0;
    char error[200] = {};
};

// Resident set of this process in KiB (/proc/self/statm).
long rss_kb() {
    long pages = 0, resident = 0;
    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        std::fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

double cpu_now() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// CPU time (user+sys) the server backends `pids` used so far, from /proc/<pid>/stat (fields 14
// and 15, in clock ticks: 10 ms resolution); < 0 when unreadable (a remote server, or a server
// running as another user without root). The bench's server runs on this machine.
double backend_cpu(const std::vector<int>& pids) {
    double ticks = 0;
    for (const int pid : pids) {
        char path[64];
        std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
        FILE* f = std::fopen(path, "r");
        if (!f) return -1;
        char buf[1024];
        const std::size_t got = std::fread(buf, 1, sizeof buf - 1, f);
        std::fclose(f);
        buf[got] = 0;
        const char* p = std::strrchr(buf, ')');  // the command name may hold spaces
        unsigned long utime = 0, stime = 0;
        if (!p || std::sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2) return -1;
        ticks += double(utime + stime);
    }
    return ticks / double(sysconf(_SC_CLK_TCK));
}

// --pin-cpus: the client's CPU and the server backends' CPU (< 0: not pinned).
int g_pin_client_cpu = -1, g_pin_server_cpu = -1;

// Pins the calling thread to g_pin_client_cpu and `server_pids` to g_pin_server_cpu, when
// --pin-cpus was given; exits when the kernel refuses (a pin asked for and silently missing
// would publish figures of another setup).
void pin_cpus(const std::vector<int>& server_pids) {
    if (g_pin_client_cpu < 0) return;
    auto pin = [](int pid, int cpu) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (::sched_setaffinity(pid, sizeof set, &set) != 0) {
            std::fprintf(stderr, "--pin-cpus: cannot pin %s to CPU %d: %s\n", pid == 0 ? "the client" : "a server backend",
                         cpu, std::strerror(errno));
            std::exit(2);
        }
    };
    pin(0, g_pin_client_cpu);
    for (const int pid : server_pids) pin(pid, g_pin_server_cpu);
}
std::vector<int> pinned(std::vector<int> server_pids) {
    pin_cpus(server_pids);
    return server_pids;
}

// Times the measured part: wall clock, this process's CPU, and with `server_pids` the CPU of
// those server backends (the connections' pg_backend_pid()). With --pin-cpus, pins both first
// (only here: the workloads measuring server CPU run one client thread).
struct Timer {
    std::vector<int> server_pids;
    double s0 = backend_cpu(server_pids);
    Clock::time_point t0 = Clock::now();
    double c0 = cpu_now();
    Timer() = default;
    // Pinned first (members initialize in declaration order: the clocks start after).
    explicit Timer(std::vector<int> pids) : server_pids(pinned(std::move(pids))), s0(backend_cpu(server_pids)) {}
    void finish(Sample& s) const {
        s.wall_s = std::chrono::duration<double>(Clock::now() - t0).count();
        s.cpu_s = cpu_now() - c0;
        if (!server_pids.empty() && s0 >= 0) {
            const double s1 = backend_cpu(server_pids);
            if (s1 >= 0) s.server_cpu_s = s1 - s0;
        }
    }
};

// Decoding shared by both clients, so W4 compares protocol handling, not parsers.
std::int64_t parse_int(std::string_view s) {
    std::int64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
}

// "2026-11-27 17:00:00.123456+00" -> microseconds since the epoch (UTC offset applied).
std::int64_t parse_timestamptz(std::string_view s) {
    if (s.size() < 19) throw std::runtime_error("bad timestamptz");
    auto num = [&](std::size_t at, std::size_t n) { return int(parse_int(s.substr(at, n))); };
    int y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2), mi = num(14, 2), se = num(17, 2);
    std::size_t i = 19;
    std::int64_t us = 0;
    if (i < s.size() && s[i] == '.') {
        int digits = 0;
        ++i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') { us = us * 10 + (s[i] - '0'); ++i; ++digits; }
        while (digits++ < 6) us *= 10;
    }
    int off = 0;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) off = (s[i] == '-' ? -1 : 1) * num(i + 1, 2) * 3600;
    // days from civil (Howard Hinnant)
    y -= mo <= 2;
    const int era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = unsigned(y - era * 400);
    const unsigned doy = unsigned((153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1);
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    const std::int64_t days = std::int64_t(era) * 146097 + std::int64_t(doe) - 719468;
    return ((days * 86400 + h * 3600 + mi * 60 + se - off) * 1'000'000) + us;
}

struct RowValue {
    std::int32_t i;
    std::string text;
    std::int64_t ts;
};
volatile std::int64_t g_sink = 0;  // keeps the decoded values alive
pgtls::PipelineOverlap g_pipeline_overlap = pgtls::PipelineOverlap::automatic;  // W3i, W3ic (--pipeline-overlap)
inline void consume(const RowValue& v) { g_sink = g_sink + v.i + std::int64_t(v.text.size()) + (v.ts & 1); }

struct Options {
    std::vector<std::string> workloads{"W1", "W1d", "W1cb", "W1p", "W2", "W3", "W3s", "W3i", "W3ic", "W7", "W4b", "W4s", "W5", "W5b", "W6", "W8"};
    std::vector<std::string> clients;
    int repeats = 5;
    std::map<std::string, long> n{{"W1", 200}, {"W2", 20000}, {"W3", 100000}, {"W3s", 100000}, {"W3i", 100000}, {"W3ic", 100000}, {"W7", 100000}, {"W4", 1000000}, {"W5", 1000000}, {"W5b", 1000000}, {"W6", 20000},
                                  {"W8", 200}};
    std::string conninfo = "host=127.0.0.1 dbname=pgtls user=scramuser password=scram-secret sslmode=require";
    bool smoke = false;
    bool quiet = false;
    bool no_fork = false;  // run in this process (for valgrind: one process, one profile)
    double latency_ms = 0;  // > 0: through a DelayProxy adding this much each way
    bool interleave_workloads = false;
};

// The value of `key` in a keyword=value conninfo (no quoting support: the benchmark's own).
std::string conninfo_value(const std::string& conninfo, const std::string& key, const std::string& fallback) {
    std::string value = fallback;
    std::size_t at = 0;
    while (at < conninfo.size()) {
        const auto end = std::min(conninfo.find(' ', at), conninfo.size());
        const std::string token = conninfo.substr(at, end - at);
        if (token.rfind(key + "=", 0) == 0) value = token.substr(key.size() + 1);
        at = end + 1;
    }
    return value;
}

long count_for(const Options& o, const std::string& w) {
    const std::string base = w.substr(0, 2);
    auto it = o.n.find(w);
    if (it == o.n.end()) it = o.n.find(base);
    return it->second;
}

std::string conninfo_for(const Options& o, const std::string& w) {
    if (w == "W1d") return o.conninfo + " sslnegotiation=direct";
    if (w == "W1cb") return o.conninfo + " channel_binding=require";
    return o.conninfo;
}

// ---------------------------------------------------------------------------------- libpq

PGconn* pq_connect(const std::string& conninfo) {
    PGconn* c = PQconnectdb(conninfo.c_str());
    if (PQstatus(c) != CONNECTION_OK) {
        std::string msg = PQerrorMessage(c);
        PQfinish(c);
        throw std::runtime_error("libpq connect: " + msg);
    }
    return c;
}

void pq_check(PGresult* r, ExecStatusType want, PGconn* c) {
    if (PQresultStatus(r) != want) {
        std::string msg = PQerrorMessage(c);
        PQclear(r);
        throw std::runtime_error("libpq: " + msg);
    }
}

std::int32_t pq_select_int(PGconn* c, long i) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%ld", i);
    const char* values[1] = {buf};
    PGresult* r = PQexecParams(c, "SELECT $1::int", 1, nullptr, values, nullptr, nullptr, 0);
    pq_check(r, PGRES_TUPLES_OK, c);
    auto v = std::int32_t(parse_int(PQgetvalue(r, 0, 0)));
    PQclear(r);
    return v;
}

RowValue pq_row(const PGresult* r, int row) {
    return RowValue{std::int32_t(parse_int({PQgetvalue(r, row, 0), std::size_t(PQgetlength(r, row, 0))})),
                    std::string(PQgetvalue(r, row, 1), std::size_t(PQgetlength(r, row, 1))),
                    parse_timestamptz({PQgetvalue(r, row, 2), std::size_t(PQgetlength(r, row, 2))})};
}

// ---------------------------------------------------------------------------------- pgtls

pgtls::Config pg_config(const std::string& conninfo, const std::string& backend) {
    pgtls::Config c;
    c.conninfo = conninfo;
    c.use_environment = false;
    c.sslbackend = backend;
    return c;
}

RowValue pg_row(const pgtls::Row& row) {
    return RowValue{row[0].as<std::int32_t>(), row[1].as<std::string>(), parse_timestamptz(row[2].view())};
}

// ------------------------------------------------------------------------------ workloads

const char* kBulkSql = "SELECT i, i::text, now() FROM generate_series(1,%ld) i";

std::string bulk_sql(long n) {
    char buf[128];
    std::snprintf(buf, sizeof buf, kBulkSql, n);
    return buf;
}

// Text COPY rows "i\tname-i\t2026-11-27 12:00:00+00\n" in 64 KiB chunks, made before the clock
// starts so W5's CPU figure is the client library's, not the row formatting's.
std::vector<std::string> copy_chunks(long n) {
    std::vector<std::string> chunks(1);
    chunks.back().reserve(66 * 1024);
    char line[96];
    for (long i = 1; i <= n; ++i) {
        const int len = std::snprintf(line, sizeof line, "%ld\tname-%ld\t2026-11-27 12:00:00+00\n", i, i);
        if (chunks.back().size() + std::size_t(len) > 64 * 1024) {
            chunks.emplace_back();
            chunks.back().reserve(66 * 1024);
        }
        chunks.back().append(line, std::size_t(len));
    }
    return chunks;
}

// W5b's rows as the application holds them: (i, "name-i", one timestamptz), made before the
// clock starts; turning them into COPY data is timed, as it is the client's work.
using CopyBenchRow = std::tuple<std::int32_t, std::string, pgtls::TimestampTz>;
std::vector<CopyBenchRow> copy_rows(long n) {
    const pgtls::TimestampTz at = std::chrono::sys_days(std::chrono::year{2026} / 11 / 27) + std::chrono::hours(12);
    std::vector<CopyBenchRow> rows;
    rows.reserve(std::size_t(n));
    for (long i = 1; i <= n; ++i) rows.emplace_back(std::int32_t(i), "name-" + std::to_string(i), at);
    return rows;
}

// W5b for libpq: `row` as the COPY text line a libpq application writes; the one timestamp
// is formatted once, in its favour. Flattened, so that what the compiler inlines here does not
// move with unrelated code in this file (pgtls's writer growing once cost this loop 40
// instructions per row: push_back and append no longer inlined).
[[gnu::flatten]] void append_text_copy_row(std::string& chunk, const CopyBenchRow& row) {
    static constexpr std::string_view at = "\t2026-11-27 12:00:00+00\n";
    char digits[16];
    const auto end = std::to_chars(digits, digits + sizeof digits, std::get<0>(row)).ptr;
    chunk.append(digits, end);
    chunk.push_back('\t');
    for (const char ch : std::get<1>(row)) {  // COPY text escaping
        if (ch == '\\' || ch == '\t' || ch == '\n' || ch == '\r') chunk.push_back('\\');
        chunk.push_back(ch);
    }
    chunk += at;
}

void latency_stats(std::vector<double>& ms, Sample& s) {
    std::sort(ms.begin(), ms.end());
    s.p50_ms = ms[ms.size() / 2];
    s.p99_ms = ms[std::min(ms.size() - 1, std::size_t(double(ms.size()) * 0.99))];
}

// A mutex-protected pool of PGconn, the "simple" pool issue 10 compares with.
class PqPool {
public:
    PqPool(const std::string& conninfo, int size) {
        for (int i = 0; i < size; ++i) idle_.push_back(pq_connect(conninfo));
    }
    ~PqPool() { for (PGconn* c : idle_) PQfinish(c); }
    PGconn* acquire() {
        std::unique_lock lock(m_);
        cv_.wait(lock, [&] { return !idle_.empty(); });
        PGconn* c = idle_.back();
        idle_.pop_back();
        return c;
    }
    void release(PGconn* c) {
        { std::lock_guard lock(m_); idle_.push_back(c); }
        cv_.notify_one();
    }

private:
    std::mutex m_;
    std::condition_variable cv_;
    std::vector<PGconn*> idle_;
};

constexpr int kW7Connections = 100;
constexpr long kPipelineBatch = 1000;  // W3 / W3s: queries per run of the explicit pipeline

// W7, libpq: kW7Connections non-blocking connections on one poll() loop, each sending its next
// query when the previous result is in, until n queries have completed.
void run_libpq_many(const std::string& ci, long n, Sample& s) {
    std::vector<PGconn*> conns;
    for (int i = 0; i < kW7Connections; ++i) {
        conns.push_back(pq_connect(ci));
        if (PQsetnonblocking(conns.back(), 1) != 0) throw std::runtime_error("PQsetnonblocking failed");
    }
    long issued = 0, completed = 0;
    std::vector<long> sent(conns.size(), -1);
    auto send = [&](std::size_t k) {
        char buf[24];
        std::snprintf(buf, sizeof buf, "%ld", issued);
        const char* values[1] = {buf};
        if (!PQsendQueryParams(conns[k], "SELECT $1::int", 1, nullptr, values, nullptr, nullptr, 0))
            throw std::runtime_error(std::string("PQsendQueryParams: ") + PQerrorMessage(conns[k]));
        sent[k] = issued++;
    };
    std::vector<int> server;
    for (PGconn* c : conns) server.push_back(PQbackendPID(c));
    Timer t(server);
    for (std::size_t k = 0; k < conns.size() && issued < n; ++k) send(k);
    std::vector<pollfd> fds(conns.size());
    while (completed < n) {
        for (std::size_t k = 0; k < conns.size(); ++k) {
            const int flush = sent[k] >= 0 ? PQflush(conns[k]) : 0;
            fds[k] = {PQsocket(conns[k]), static_cast<short>(sent[k] >= 0 ? (POLLIN | (flush == 1 ? POLLOUT : 0)) : 0), 0};
        }
        if (::poll(fds.data(), fds.size(), 1000) < 0) throw std::runtime_error("poll failed");
        for (std::size_t k = 0; k < conns.size(); ++k) {
            if (!(fds[k].revents & POLLIN)) continue;
            if (!PQconsumeInput(conns[k])) throw std::runtime_error(std::string("PQconsumeInput: ") + PQerrorMessage(conns[k]));
            while (sent[k] >= 0 && !PQisBusy(conns[k])) {
                PGresult* r = PQgetResult(conns[k]);
                if (!r) {  // the query is complete
                    ++completed;
                    sent[k] = -1;
                    if (issued < n) send(k);
                    break;
                }
                pq_check(r, PGRES_TUPLES_OK, conns[k]);
                if (parse_int(PQgetvalue(r, 0, 0)) != sent[k]) throw std::runtime_error("W7: wrong result");
                g_sink = g_sink + sent[k];
                PQclear(r);
            }
        }
    }
    t.finish(s);
    for (PGconn* c : conns) PQfinish(c);
    s.ops = double(n);
}

void run_libpq(const Options& o, const std::string& w, Sample& s) {
    const long n = count_for(o, w);
    const std::string ci = conninfo_for(o, w);
    if (w == "W8") {
        // n idle TLS connections, each after one query: what they keep resident. One
        // connection first, so libraries and TLS initialisation are in the baseline.
        PQfinish(pq_connect(ci));
        const long before = rss_kb();
        std::vector<PGconn*> conns;
        Timer t;
        for (long k = 0; k < n; ++k) {
            conns.push_back(pq_connect(ci));
            PGresult* r = PQexec(conns.back(), "SELECT 1");
            pq_check(r, PGRES_TUPLES_OK, conns.back());
            PQclear(r);
        }
        t.finish(s);
        s.rss_delta_kb = rss_kb() - before;
        for (PGconn* c : conns) PQfinish(c);
        s.ops = double(n);
        return;
    }
    if (w.rfind("W1", 0) == 0) {
        std::vector<double> ms;
        Timer t;
        for (long k = 0; k < n; ++k) {
            auto t0 = Clock::now();
            PGconn* c = pq_connect(ci);
            PGresult* r = PQexec(c, "SELECT 1");
            pq_check(r, PGRES_TUPLES_OK, c);
            g_sink = g_sink + parse_int(PQgetvalue(r, 0, 0));
            PQclear(r);
            PQfinish(c);
            ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        }
        t.finish(s);
        latency_stats(ms, s);
        s.ops = double(n);
        return;
    }
    if (w == "W6") {
        PqPool pool(ci, 4);
        std::atomic<long> next{0};
        Timer t;
        std::vector<std::thread> threads;
        for (int k = 0; k < 8; ++k)
            threads.emplace_back([&] {
                while (next.fetch_add(1) < n) {
                    PGconn* c = pool.acquire();
                    PGresult* r = PQexec(c, "SELECT 1");
                    if (PQresultStatus(r) == PGRES_TUPLES_OK) g_sink = g_sink + parse_int(PQgetvalue(r, 0, 0));
                    PQclear(r);
                    pool.release(c);
                }
            });
        for (auto& th : threads) th.join();
        t.finish(s);
        s.ops = double(n);
        return;
    }
    if (w == "W7") {
        run_libpq_many(ci, n, s);
        return;
    }
    PGconn* c = pq_connect(ci);
    const std::vector<int> server{PQbackendPID(c)};
    if (w == "W2" || w == "W3i") {  // W3i: libpq has no implicit pipelining (see the file comment)
        Timer t(server);
        for (long i = 0; i < n; ++i) g_sink = g_sink + pq_select_int(c, i);
        t.finish(s);
    } else if (w == "W3ic") {  // sequential, a statement prepared once (see the file comment)
        PGresult* p = PQprepare(c, "w3ic", "SELECT $1::int", 1, nullptr);
        pq_check(p, PGRES_COMMAND_OK, c);
        PQclear(p);
        Timer t(server);
        char buf[24];
        for (long i = 0; i < n; ++i) {
            std::snprintf(buf, sizeof buf, "%ld", i);
            const char* values[1] = {buf};
            PGresult* r = PQexecPrepared(c, "w3ic", 1, values, nullptr, nullptr, 0);
            pq_check(r, PGRES_TUPLES_OK, c);
            g_sink = g_sink + parse_int(PQgetvalue(r, 0, 0));
            PQclear(r);
        }
        t.finish(s);
    } else if (w == "W3" || w == "W3s") {
        // Batches of kPipelineBatch queries; W3 ends each batch with one Sync, W3s follows
        // every query with its own (PQpipelineSync, which also flushes: libpq 15 has no
        // PQsendPipelineSync).
        const bool sync_each = w == "W3s";
        Timer t(server);
        if (!PQenterPipelineMode(c)) throw std::runtime_error("PQenterPipelineMode failed");
        char buf[24];
        auto expect_sync = [&] {
            PGresult* r = PQgetResult(c);
            pq_check(r, PGRES_PIPELINE_SYNC, c);
            PQclear(r);
        };
        for (long done = 0; done < n;) {
            const long batch = std::min(kPipelineBatch, n - done);
            for (long i = 0; i < batch; ++i) {
                std::snprintf(buf, sizeof buf, "%ld", done + i);
                const char* values[1] = {buf};
                if (!PQsendQueryParams(c, "SELECT $1::int", 1, nullptr, values, nullptr, nullptr, 0))
                    throw std::runtime_error(std::string("PQsendQueryParams: ") + PQerrorMessage(c));
                if (sync_each && !PQpipelineSync(c)) throw std::runtime_error("PQpipelineSync failed");
            }
            if (!sync_each && !PQpipelineSync(c)) throw std::runtime_error("PQpipelineSync failed");
            for (long i = 0; i < batch; ++i) {
                PGresult* r = PQgetResult(c);
                pq_check(r, PGRES_TUPLES_OK, c);
                g_sink = g_sink + parse_int(PQgetvalue(r, 0, 0));
                PQclear(r);
                if (PQgetResult(c) != nullptr) throw std::runtime_error("expected end of query");
                if (sync_each) expect_sync();
            }
            if (!sync_each) expect_sync();
            done += batch;
        }
        PQexitPipelineMode(c);
        t.finish(s);
    } else if (w == "W4b") {
        const std::string sql = bulk_sql(n);
        Timer t;
        PGresult* r = PQexec(c, sql.c_str());
        pq_check(r, PGRES_TUPLES_OK, c);
        const int rows = PQntuples(r);
        for (int row = 0; row < rows; ++row) consume(pq_row(r, row));
        PQclear(r);
        t.finish(s);
        if (rows != n) throw std::runtime_error("W4: wrong row count");
    } else if (w == "W4s") {
        const std::string sql = bulk_sql(n);
        Timer t;
        if (!PQsendQuery(c, sql.c_str()) || !PQsetSingleRowMode(c)) throw std::runtime_error("single-row mode failed");
        long rows = 0;
        while (PGresult* r = PQgetResult(c)) {
            const auto st = PQresultStatus(r);
            if (st == PGRES_SINGLE_TUPLE) { consume(pq_row(r, 0)); ++rows; }
            else if (st != PGRES_TUPLES_OK) { PQclear(r); throw std::runtime_error(std::string("libpq: ") + PQerrorMessage(c)); }
            PQclear(r);
        }
        t.finish(s);
        if (rows != n) throw std::runtime_error("W4: wrong row count");
    } else if (w == "W5") {
        PQclear(PQexec(c, "CREATE TEMP TABLE bench_copy (id int, name text, at timestamptz)"));
        const auto chunks = copy_chunks(n);
        Timer t;
        PGresult* r = PQexec(c, "COPY bench_copy FROM STDIN");
        pq_check(r, PGRES_COPY_IN, c);
        PQclear(r);
        for (const auto& b : chunks)
            if (PQputCopyData(c, b.data(), int(b.size())) != 1) throw std::runtime_error("PQputCopyData failed");
        if (PQputCopyEnd(c, nullptr) != 1) throw std::runtime_error("PQputCopyEnd failed");
        r = PQgetResult(c);
        pq_check(r, PGRES_COMMAND_OK, c);
        const long rows = parse_int(PQcmdTuples(r));
        PQclear(r);
        while (PGresult* extra = PQgetResult(c)) PQclear(extra);
        t.finish(s);
        if (rows != n) throw std::runtime_error("W5: wrong row count");
    } else if (w == "W5b") {
        PQclear(PQexec(c, "CREATE TEMP TABLE bench_copy (id int, name text, at timestamptz)"));
        const auto rows_in = copy_rows(n);
        Timer t;
        PGresult* r = PQexec(c, "COPY bench_copy FROM STDIN");
        pq_check(r, PGRES_COPY_IN, c);
        PQclear(r);
        std::string chunk;
        chunk.reserve(66 * 1024);
        for (const auto& row : rows_in) {
            append_text_copy_row(chunk, row);
            if (chunk.size() >= 64 * 1024) {
                if (PQputCopyData(c, chunk.data(), int(chunk.size())) != 1) throw std::runtime_error("PQputCopyData failed");
                chunk.clear();
            }
        }
        if (!chunk.empty() && PQputCopyData(c, chunk.data(), int(chunk.size())) != 1)
            throw std::runtime_error("PQputCopyData failed");
        if (PQputCopyEnd(c, nullptr) != 1) throw std::runtime_error("PQputCopyEnd failed");
        r = PQgetResult(c);
        pq_check(r, PGRES_COMMAND_OK, c);
        const long rows = parse_int(PQcmdTuples(r));
        PQclear(r);
        while (PGresult* extra = PQgetResult(c)) PQclear(extra);
        t.finish(s);
        if (rows != n) throw std::runtime_error("W5b: wrong row count");
    } else {
        PQfinish(c);
        throw std::runtime_error("unknown workload " + w);
    }
    s.ops = double(n);
    PQfinish(c);
}

// Runs `conns` on one poll() loop until `finished()` or an operation failed, advancing only the
// connections whose socket is ready or whose deadline has come (as libpq's loop in W7 only
// reads the connections poll() reports).
void async_loop(const std::vector<std::unique_ptr<pgtls::AsyncConnection>>& conns, const std::function<bool()>& finished,
                const std::exception_ptr& failure) {
    std::vector<pollfd> fds;
    std::vector<std::size_t> owner;
    std::vector<char> due(conns.size(), 1);
    while (!finished() && !failure) {
        fds.clear();
        owner.clear();
        int timeout = 1000;
        const auto now = pgtls::AsyncConnection::Clock::now();
        for (std::size_t k = 0; k < conns.size(); ++k) {
            for (const pgtls::AsyncWatch& w : conns[k]->watches())
                if (w.fd >= 0 && (w.read || w.write)) {
                    fds.push_back({w.fd, static_cast<short>((w.read ? POLLIN : 0) | (w.write ? POLLOUT : 0)), 0});
                    owner.push_back(k);
                }
            due[k] = 0;
            if (auto d = conns[k]->deadline()) {
                const long long ms = std::chrono::ceil<std::chrono::milliseconds>(*d - now).count();
                if (ms <= 0) due[k] = 1;
                timeout = std::min<int>(timeout, static_cast<int>(std::max<long long>(0, ms)));
            }
        }
        ::poll(fds.data(), fds.size(), timeout);
        for (std::size_t j = 0; j < fds.size(); ++j)
            if (fds[j].revents) due[owner[j]] = 1;
        for (std::size_t k = 0; k < conns.size(); ++k)
            if (due[k]) conns[k]->advance();
    }
    if (failure) std::rethrow_exception(failure);
}

// W3i: 64 callers on one AsyncConnection, each issuing SELECT $1::int when its previous
// result arrives, until n queries have completed; one poll() loop. W3ic: the same with a
// statement cache of `cache` statements.
void run_implicit_pipelining(const pgtls::Config& cfg, long n, Sample& s, std::size_t cache) {
    constexpr long kCallers = 64;
    std::vector<std::unique_ptr<pgtls::AsyncConnection>> conns;
    conns.push_back(std::make_unique<pgtls::AsyncConnection>());
    pgtls::AsyncConnection& c = *conns.front();
    c.set_pipeline_overlap(g_pipeline_overlap);
    bool connected = false;
    std::exception_ptr failure;
    c.connect(cfg, [&](std::exception_ptr e) {
        failure = e;
        connected = true;
    });
    async_loop(conns, [&] { return connected; }, failure);
    if (cache > 0) {
        bool set = false;
        c.set_statement_cache_capacity(cache, [&](std::exception_ptr e) {
            failure = e;
            set = true;
        });
        async_loop(conns, [&] { return set; }, failure);
    }
    long issued = 0, completed = 0;
    std::function<void()> issue = [&] {
        const long i = issued++;
        c.execute_args("SELECT $1::int", [&, i](std::exception_ptr e, pgtls::Result r) {
            if (e) {
                failure = e;
                return;
            }
            if (r[0][0].as<std::int32_t>() != i) failure = std::make_exception_ptr(std::runtime_error("W3i: wrong result"));
            g_sink = g_sink + i;
            ++completed;
            if (issued < n) issue();
        }, std::int32_t(i));
    };
    Timer t({c.info().backend_pid});
    for (long k = 0; k < std::min(kCallers, n); ++k) issue();
    async_loop(conns, [&] { return completed == n; }, failure);
    t.finish(s);
    s.ops = double(n);
}

// W7, pgtls: as run_libpq_many, on pgtls::AsyncConnection.
void run_pgtls_many(const pgtls::Config& cfg, long n, Sample& s) {
    std::vector<std::unique_ptr<pgtls::AsyncConnection>> conns;
    std::exception_ptr failure;
    int connected = 0;
    for (int i = 0; i < kW7Connections; ++i) {
        conns.push_back(std::make_unique<pgtls::AsyncConnection>());
        conns.back()->connect(cfg, [&](std::exception_ptr e) {
            if (e) failure = e;
            ++connected;
        });
    }
    async_loop(conns, [&] { return connected == kW7Connections; }, failure);
    long issued = 0, completed = 0;
    std::function<void(std::size_t)> issue = [&](std::size_t k) {
        const long i = issued++;
        conns[k]->execute_args("SELECT $1::int", [&, i, k](std::exception_ptr e, pgtls::Result r) {
            if (e) {
                failure = e;
                return;
            }
            if (r[0][0].as<std::int32_t>() != i) failure = std::make_exception_ptr(std::runtime_error("W7: wrong result"));
            g_sink = g_sink + i;
            ++completed;
            if (issued < n) issue(k);
        }, std::int32_t(i));
    };
    std::vector<int> server;
    for (const auto& c : conns) server.push_back(c->info().backend_pid);
    Timer t(server);
    for (std::size_t k = 0; k < conns.size() && issued < n; ++k) issue(k);
    async_loop(conns, [&] { return completed == n; }, failure);
    t.finish(s);
    s.ops = double(n);
}

void run_pgtls(const Options& o, const std::string& w, const std::string& backend, Sample& s) {
    const long n = count_for(o, w);
    const pgtls::Config cfg = pg_config(conninfo_for(o, w), backend);
    if (w == "W8") {  // as run_libpq's W8
        pgtls::Client(cfg).close();
        const long before = rss_kb();
        std::vector<pgtls::Client> conns;
        conns.reserve(std::size_t(n));
        Timer t;
        for (long k = 0; k < n; ++k) {
            conns.emplace_back(cfg);
            g_sink = g_sink + conns.back().query("SELECT 1")[0][0].as<std::int32_t>();
        }
        t.finish(s);
        s.rss_delta_kb = rss_kb() - before;
        s.ops = double(n);
        return;
    }
    if (w == "W1p") {
        // A pool that retires every connection after one use: each acquisition connects,
        // reusing the pool's TLS context and cached SCRAM keys (src/client/client_shared.hpp).
        pgtls::PoolOptions po;
        po.max_size = 1;
        po.max_uses = 1;
        po.health_check_after = std::chrono::milliseconds(-1);
        pgtls::Pool pool(cfg, po);
        std::vector<double> ms;
        Timer t;
        for (long k = 0; k < n; ++k) {
            auto t0 = Clock::now();
            g_sink = g_sink + pool.query("SELECT 1")[0][0].as<std::int32_t>();
            ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        }
        t.finish(s);
        latency_stats(ms, s);
        s.ops = double(n);
        return;
    }
    if (w.rfind("W1", 0) == 0) {
        std::vector<double> ms;
        Timer t;
        for (long k = 0; k < n; ++k) {
            auto t0 = Clock::now();
            pgtls::Client c(cfg);
            g_sink = g_sink + c.query("SELECT 1")[0][0].as<std::int32_t>();
            c.close();
            ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        }
        t.finish(s);
        latency_stats(ms, s);
        s.ops = double(n);
        return;
    }
    if (w == "W6") {
        pgtls::PoolOptions po;
        po.max_size = 4;
        pgtls::Pool pool(cfg, po);
        {   // open the four connections before timing, as the libpq pool does
            std::vector<pgtls::Pool::Lease> warm;
            for (int k = 0; k < 4; ++k) warm.push_back(pool.acquire());
        }
        std::atomic<long> next{0};
        Timer t;
        std::vector<std::thread> threads;
        for (int k = 0; k < 8; ++k)
            threads.emplace_back([&] {
                // simple query protocol, as the libpq pool's PQexec
                while (next.fetch_add(1) < n) g_sink = g_sink + pool.query("SELECT 1")[0][0].as<std::int32_t>();
            });
        for (auto& th : threads) th.join();
        t.finish(s);
        s.ops = double(n);
        return;
    }
    if (w == "W3i" || w == "W3ic") {
        run_implicit_pipelining(cfg, n, s, w == "W3ic" ? 16 : 0);
        return;
    }
    if (w == "W7") {
        run_pgtls_many(cfg, n, s);
        return;
    }
    pgtls::Client c(cfg);
    const std::vector<int> server{c.info().backend_pid};
    if (w == "W2") {
        Timer t(server);
        for (long i = 0; i < n; ++i) g_sink = g_sink + c.exec("SELECT $1::int", std::int32_t(i))[0][0].as<std::int32_t>();
        t.finish(s);
    } else if (w == "W3" || w == "W3s") {
        // As libpq's: one Sync per batch (W3) or per query (W3s, each query its own sync group).
        const bool sync_each = w == "W3s";
        Timer t(server);
        pgtls::Pipeline p(c);
        for (long done = 0; done < n;) {
            const long batch = std::min(kPipelineBatch, n - done);
            for (long i = 0; i < batch; ++i) {
                p.add_exec("SELECT $1::int", std::int32_t(done + i));
                if (sync_each) p.sync();
            }
            if (!sync_each) p.sync();
            for (const auto& r : p.run()) {
                if (r.status != pgtls::PipelineResult::Status::ok) throw std::runtime_error("pipeline query failed");
                g_sink = g_sink + r.result[0][0].as<std::int32_t>();
            }
            done += batch;
        }
        t.finish(s);
    } else if (w == "W4b") {
        const std::string sql = bulk_sql(n);
        Timer t;
        const pgtls::Result r = c.execute(sql);
        for (const auto& row : r) consume(pg_row(row));
        t.finish(s);
        if (long(r.size()) != n) throw std::runtime_error("W4: wrong row count");
    } else if (w == "W4s") {
        const std::string sql = bulk_sql(n);
        Timer t;
        long rows = 0;
        c.stream(sql, {}, [&](const pgtls::Row& row) { consume(pg_row(row)); ++rows; });
        t.finish(s);
        if (rows != n) throw std::runtime_error("W4: wrong row count");
    } else if (w == "W5") {
        c.query("CREATE TEMP TABLE bench_copy (id int, name text, at timestamptz)");
        const auto chunks = copy_chunks(n);
        Timer t;
        pgtls::CopyIn in = c.copy_in("COPY bench_copy FROM STDIN");
        for (const auto& b : chunks) in.write(b);
        const auto rows = in.finish();
        t.finish(s);
        if (long(rows) != n) throw std::runtime_error("W5: wrong row count");
    } else if (w == "W5b") {
        c.query("CREATE TEMP TABLE bench_copy (id int, name text, at timestamptz)");
        const auto rows_in = copy_rows(n);
        Timer t;
        auto writer = pgtls::copy_in_rows<CopyBenchRow>(c, "COPY bench_copy FROM STDIN (FORMAT binary)");
        for (const auto& row : rows_in) writer.write(row);
        const auto rows = writer.finish();
        t.finish(s);
        if (long(rows) != n) throw std::runtime_error("W5b: wrong row count");
    } else {
        throw std::runtime_error("unknown workload " + w);
    }
    s.ops = double(n);
    c.close();
}

// Runs one (workload, client) in this process: its figures, or the error it failed with.
Sample run_here(const Options& o, const std::string& w, const std::string& client) {
    Sample s;
    try {
        if (client == "libpq") run_libpq(o, w, s);
        else run_pgtls(o, w, client, s);
        s.ok = 1;
    } catch (const std::exception& e) {
        std::snprintf(s.error, sizeof s.error, "%s", e.what());
    }
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    s.maxrss_kb = ru.ru_maxrss;
    return s;
}

// Runs one (workload, client) in a child process (so CPU and RSS are its own) and returns
// its figures; in this process with --no-fork (for callgrind).
Sample run_child(const Options& o, const std::string& w, const std::string& client) {
    if (o.no_fork) return run_here(o, w, client);
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
    std::fflush(stdout);
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        close(fds[0]);
        const Sample s = run_here(o, w, client);
        [[maybe_unused]] auto wr = write(fds[1], &s, sizeof s);
        close(fds[1]);
        _exit(0);
    }
    close(fds[1]);
    Sample s;
    std::size_t got = 0;
    while (got < sizeof s) {
        const ssize_t k = read(fds[0], reinterpret_cast<char*>(&s) + got, sizeof s - got);
        if (k <= 0) break;
        got += std::size_t(k);
    }
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (got != sizeof s) std::snprintf(s.error, sizeof s.error, "child died (status %d)", status);
    return s;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t k = v.size();
    return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
}

struct Stat { double med, lo, hi; };
Stat stat(const std::vector<Sample>& runs, double (*f)(const Sample&)) {
    std::vector<double> v;
    for (const auto& s : runs) v.push_back(f(s));
    return {median(v), *std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end())};
}

double ops_per_s(const Sample& s) { return s.ops / s.wall_s; }
double cpu_per_op(const Sample& s) { return s.cpu_s / s.ops; }
double server_cpu_per_op(const Sample& s) { return s.server_cpu_s / s.ops; }

using Results = std::map<std::string, std::map<std::string, std::vector<Sample>>>;

// W3 (one Sync per 1,000 queries), W3s (one Sync per query), W3i (implicit pipelining, one
// Sync per query) and W3ic (the same through the statement cache) of each client side by
// side: how far implicit pipelining is from each explicit pipeline, and what a Sync per query
// and a Parse per query cost the server.
void print_pipelines(const Options& o, const Results& results) {
    static const char* const kinds[] = {"W3", "W3s", "W3i", "W3ic"};
    constexpr int kKinds = 4;
    auto runs = [&](const char* w, const std::string& client) -> const std::vector<Sample>* {
        const auto a = results.find(w);
        if (a == results.end()) return nullptr;
        const auto b = a->second.find(client);
        return b == a->second.end() || b->second.empty() ? nullptr : &b->second;
    };
    if ((!results.count("W3i") && !results.count("W3ic")) || (!results.count("W3") && !results.count("W3s"))) return;
    // "server cap": W3's server CPU per query over W3i's — the W3i / W3 a W3i that kept the
    // server as busy as W3 does would reach, W3 being server-bound (BENCHMARKS.md, sessions
    // 16–17); "of cap": how much of it W3i reached.
    std::printf("\n| medians | client | W3 ops/s | W3s ops/s | W3i ops/s | W3ic ops/s | W3i / W3 | W3i / W3s | W3ic / W3 "
                "| server cap · W3i of cap | client CPU/q W3 · W3s · W3i · W3ic | server CPU/q W3 · W3s · W3i · W3ic |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (const auto& client : o.clients) {
        std::string cells[kKinds], cpu, server;
        double tput[kKinds] = {}, server_med[kKinds] = {};
        for (int k = 0; k < kKinds; ++k) {
            const auto* r = runs(kinds[k], client);
            char b[64];
            if (r) tput[k] = stat(*r, ops_per_s).med;
            std::snprintf(b, sizeof b, r ? "%.0f" : "–", tput[k]);
            cells[k] = b;
            std::snprintf(b, sizeof b, r ? "%.2f" : "–", r ? stat(*r, cpu_per_op).med * 1e6 : 0.0);
            cpu += (k ? " · " : "") + std::string(b);
            const bool has_server = r && std::all_of(r->begin(), r->end(), [](const Sample& x) { return x.server_cpu_s >= 0; });
            if (has_server) server_med[k] = stat(*r, server_cpu_per_op).med;
            std::snprintf(b, sizeof b, has_server ? "%.2f" : "–", server_med[k] * 1e6);
            server += (k ? " · " : "") + std::string(b);
        }
        char cap[48] = "–";
        if (server_med[0] > 0 && server_med[2] > 0 && tput[0] > 0 && tput[2] > 0 && client != "libpq") {
            const double c = server_med[0] / server_med[2];
            std::snprintf(cap, sizeof cap, "%.2f · %.2f", c, tput[2] / tput[0] / c);
        }
        auto ratio = [&](int num, int den) {
            char b[32];
            std::snprintf(b, sizeof b, tput[num] > 0 && tput[den] > 0 ? "%.2f" : "–", tput[den] > 0 ? tput[num] / tput[den] : 0.0);
            return std::string(b);
        };
        std::printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s µs | %s µs |\n",
                    client == "libpq" ? "W3i, W3ic = sequential" : "", client.c_str(), cells[0].c_str(), cells[1].c_str(),
                    cells[2].c_str(), cells[3].c_str(), ratio(2, 0).c_str(), ratio(2, 1).c_str(), ratio(3, 0).c_str(), cap,
                    cpu.c_str(), server.c_str());
    }
}

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at <= s.size()) {
        const auto comma = s.find(',', at);
        const auto part = s.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
        if (!part.empty()) out.push_back(part);
        if (comma == std::string::npos) break;
        at = comma + 1;
    }
    return out;
}

[[noreturn]] void usage() {
    std::fprintf(stderr,
        "usage: pgtls_bench [--workloads W1,W1d,W1cb,W1p,W2,W3,W3s,W3i,W3ic,W7,W4b,W4s,W5,W5b,W6] [--clients libpq,%s]\n"
        "                   [--repeats R] [--n W2=20000] ... [--conninfo STR] [--smoke] [--quiet] [--no-fork]\n"
        "                   [--latency-ms MS] [--interleave-workloads] [--pipeline-overlap automatic|on|off]\n"
        "                   [--pin-cpus CLIENT,SERVER]\n"
        "--n sets an iteration count (W1* share W1's, W4b/W4s share W4's unless given).\n"
        "--smoke: every workload tiny, one run; exits non-zero when any run fails.\n"
        "--no-fork: run in this process (valgrind); CPU and RSS then include earlier runs.\n"
        "--latency-ms: connect through a proxy delaying every chunk MS ms each way (RTT + 2 MS).\n"
        "--interleave-workloads: each repeat runs every workload (default: all repeats of one\n"
        "  workload, then the next), for comparing workloads such as W1 and W1d.\n"
        "--pipeline-overlap: W3i/W3ic's AsyncConnection::set_pipeline_overlap (automatic, the\n"
        "  default, is off to a loopback address: the delaying proxy's too).\n"
        "--pin-cpus: pin the timed client thread and the server backends it measures to these CPUs.\n",
        PGTLS_BENCH_BACKENDS);
    std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    o.clients = split(PGTLS_BENCH_BACKENDS);
    o.clients.push_back("libpq");
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string { if (i + 1 >= argc) usage(); return argv[++i]; };
        if (a == "--workloads") o.workloads = split(value());
        else if (a == "--clients") o.clients = split(value());
        else if (a == "--repeats") o.repeats = std::max(1, std::atoi(value().c_str()));
        else if (a == "--conninfo") o.conninfo = value();
        else if (a == "--quiet") o.quiet = true;
        else if (a == "--no-fork") o.no_fork = true;
        else if (a == "--latency-ms") o.latency_ms = std::atof(value().c_str());
        else if (a == "--interleave-workloads") o.interleave_workloads = true;
        else if (a == "--pipeline-overlap") {
            const std::string v = value();
            if (v == "on") g_pipeline_overlap = pgtls::PipelineOverlap::on;
            else if (v == "off") g_pipeline_overlap = pgtls::PipelineOverlap::off;
            else if (v == "automatic") g_pipeline_overlap = pgtls::PipelineOverlap::automatic;
            else usage();
            std::printf("# W3i/W3ic with pipeline overlap %s\n", v.c_str());
        }
        else if (a == "--pin-cpus") {
            const auto cpus = split(value());
            if (cpus.size() != 2) usage();
            g_pin_client_cpu = std::atoi(cpus[0].c_str());
            g_pin_server_cpu = std::atoi(cpus[1].c_str());
            if (g_pin_client_cpu < 0 || g_pin_server_cpu < 0 || g_pin_client_cpu >= CPU_SETSIZE || g_pin_server_cpu >= CPU_SETSIZE)
                usage();
            std::printf("# client pinned to CPU %d, its server backends to CPU %d\n", g_pin_client_cpu, g_pin_server_cpu);
        }
        else if (a == "--smoke") {
            o.smoke = true;
            o.repeats = 1;
            o.n = {{"W1", 3}, {"W2", 50}, {"W3", 2500}, {"W3s", 2500}, {"W3i", 2500}, {"W3ic", 2500}, {"W7", 2500}, {"W4", 5000}, {"W5", 5000}, {"W5b", 5000}, {"W6", 200}, {"W8", 5}};
        } else if (a == "--n") {
            const std::string kv = value();
            const auto eq = kv.find('=');
            if (eq == std::string::npos) usage();
            o.n[kv.substr(0, eq)] = std::atol(kv.c_str() + eq + 1);
        } else usage();
    }

    std::unique_ptr<pgtls::bench::DelayProxy> proxy;
    if (o.latency_ms > 0) {
        if (o.conninfo.find("hostaddr=") != std::string::npos) {
            std::fprintf(stderr, "--latency-ms: the conninfo must not set hostaddr\n");
            return 2;
        }
        const std::string host = conninfo_value(o.conninfo, "host", "127.0.0.1");
        const int port = std::atoi(conninfo_value(o.conninfo, "port", "5432").c_str());
        try {
            proxy = std::make_unique<pgtls::bench::DelayProxy>(
                host, port, std::chrono::microseconds(std::llround(o.latency_ms * 1000)));
        } catch (const std::exception& e) {
            std::fprintf(stderr, "%s\n", e.what());
            return 2;
        }
        o.conninfo += " host=127.0.0.1 port=" + std::to_string(proxy->port());  // later keywords win
        std::printf("# through a delaying proxy: +%.2f ms each way (round trip +%.2f ms), 127.0.0.1:%d -> %s:%d\n\n",
                    o.latency_ms, 2 * o.latency_ms, proxy->port(), host.c_str(), port);
    }

    // results[workload][client] = runs; interleaved: each repeat runs every client once.
    Results results;
    int failures = 0;
    auto run_repeat = [&](const std::string& w, int rep) {
        for (std::size_t k = 0; k < o.clients.size(); ++k) {
            // rotate the order per repeat so no client always runs first
            const auto& client = o.clients[(k + std::size_t(rep)) % o.clients.size()];
            if (w == "W1d" && client == "libpq") continue;  // libpq 15 has no sslnegotiation
            if (w == "W1p" && client == "libpq") continue;  // pgtls::Pool only
            const Sample s = run_child(o, w, client);
            if (!s.ok) {
                ++failures;
                std::fprintf(stderr, "FAILED %s %s: %s\n", w.c_str(), client.c_str(), s.error);
                continue;
            }
            if (!o.quiet)
                std::fprintf(stderr, "%s %-8s run %d: %.0f ops/s, cpu %.3f us/op, server cpu %.3f us/op, rss %ld KiB\n",
                             w.c_str(), client.c_str(), rep + 1, s.ops / s.wall_s, s.cpu_s / s.ops * 1e6,
                             s.server_cpu_s / s.ops * 1e6, s.maxrss_kb);
            results[w][client].push_back(s);
        }
    };
    if (o.interleave_workloads) {  // every repeat runs every workload: workloads compared with each other
        for (int rep = 0; rep < o.repeats; ++rep)
            for (const auto& w : o.workloads) run_repeat(w, rep);
    } else {
        for (const auto& w : o.workloads)
            for (int rep = 0; rep < o.repeats; ++rep) run_repeat(w, rep);
    }

    std::printf("| workload | client | runs | ops/s median [min–max] | client CPU/op median [min–max] | ratio ops/s | ratio CPU/op | extra |\n");
    std::printf("|---|---|---|---|---|---|---|---|\n");
    for (const auto& w : o.workloads) {
        const auto& byc = results[w];
        const auto lp = byc.find("libpq");
        const bool per_row = w.rfind("W4", 0) == 0 || w.rfind("W5", 0) == 0;
        const bool per_conn = w.rfind("W1", 0) == 0;
        const double cpu_scale = per_row ? 1e9 : 1e6;
        const char* cpu_unit = per_row ? "ns" : per_conn ? "ms" : "µs";
        const double scale = per_conn ? 1e3 : cpu_scale;
        const auto tput = ops_per_s;
        const auto cpu = cpu_per_op;
        for (const auto& client : o.clients) {
            const auto it = byc.find(client);
            if (it == byc.end() || it->second.empty()) continue;
            const Stat t = stat(it->second, tput), c = stat(it->second, cpu);
            std::string ratio_t = "–", ratio_c = "–";
            if (client != "libpq" && lp != byc.end() && !lp->second.empty()) {
                char b[32];
                std::snprintf(b, sizeof b, "%.2f", t.med / stat(lp->second, tput).med); ratio_t = b;
                std::snprintf(b, sizeof b, "%.2f", c.med / stat(lp->second, cpu).med); ratio_c = b;
            }
            std::string extra;
            char b[96];
            if (per_conn) {
                const Stat p50 = stat(it->second, [](const Sample& s) { return s.p50_ms; });
                const Stat p99 = stat(it->second, [](const Sample& s) { return s.p99_ms; });
                std::snprintf(b, sizeof b, "latency p50 %.2f ms, p99 %.2f ms", p50.med, p99.med);
                extra = b;
            }
            if (w == "W8") {
                const Stat kb = stat(it->second, [](const Sample& s) { return double(s.rss_delta_kb) / s.ops; });
                std::snprintf(b, sizeof b, "resident %.1f KiB per idle connection", kb.med);
                if (client != "libpq" && lp != byc.end() && !lp->second.empty()) {
                    const Stat lkb = stat(lp->second, [](const Sample& s) { return double(s.rss_delta_kb) / s.ops; });
                    std::snprintf(b + std::strlen(b), sizeof b - std::strlen(b), " (%.2f× libpq)", kb.med / lkb.med);
                }
                extra = b;
            }
            if (std::all_of(it->second.begin(), it->second.end(), [](const Sample& x) { return x.server_cpu_s >= 0; })) {
                const Stat srv = stat(it->second, server_cpu_per_op);
                std::snprintf(b, sizeof b, "server CPU/op %.2f µs [%.2f–%.2f]", srv.med * 1e6, srv.lo * 1e6, srv.hi * 1e6);
                extra = b;
            }
            if (per_row && w.rfind("W5", 0) != 0) {
                const Stat rss = stat(it->second, [](const Sample& s) { return double(s.maxrss_kb); });
                std::snprintf(b, sizeof b, "peak RSS %.1f MiB", rss.med / 1024);
                extra = b;
            }
            std::printf("| %s | %s | %zu | %.0f [%.0f–%.0f] | %.2f %s [%.2f–%.2f] | %s | %s | %s |\n", w.c_str(), client.c_str(),
                        it->second.size(), t.med, t.lo, t.hi, c.med * scale, cpu_unit, c.lo * scale, c.hi * scale,
                        ratio_t.c_str(), ratio_c.c_str(), extra.c_str());
        }
    }

    print_pipelines(o, results);

    // What direct negotiation saves: classic minus direct connect latency, per backend.
    const auto w1 = results.find("W1"), w1d = results.find("W1d");
    if (w1 != results.end() && w1d != results.end()) {
        auto p50 = [](const Sample& x) { return x.p50_ms; };
        std::printf("\n| connect latency p50, median of runs | client | W1 classic | W1d direct | classic − direct |%s\n",
                    o.latency_ms > 0 ? " in round trips |" : "");
        std::printf("|---|---|---|---|---|%s\n", o.latency_ms > 0 ? "---|" : "");
        for (const auto& client : o.clients) {
            const auto a = w1->second.find(client), b = w1d->second.find(client);
            if (a == w1->second.end() || b == w1d->second.end() || a->second.empty() || b->second.empty()) continue;
            const double classic = stat(a->second, p50).med, direct = stat(b->second, p50).med;
            std::printf("| %s | %s | %.2f ms | %.2f ms | %.2f ms |", o.latency_ms > 0 ? "through the delaying proxy" : "loopback",
                        client.c_str(), classic, direct, classic - direct);
            if (o.latency_ms > 0) std::printf(" %.2f |", (classic - direct) / (2 * o.latency_ms));
            std::printf("\n");
        }
    }
    std::fflush(stdout);
    return failures ? 1 : 0;
}
