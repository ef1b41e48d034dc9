// What n idle TLS connections hold, per connection, split into what the allocator hands out
// and what is resident (issue 19's footprint). One client per run:
//
//   idle_memory [--n 200] [--conninfo STR] [--hold S] CLIENT
//     libpq          PQconnectdb + SELECT 1, as W8 of pgtls_bench
//     pgtls:<b>      pgtls::Client with backend <b> + SELECT 1, as W8
//     tls:<b>        the floor: SSLRequest, then only a TLS handshake through pgtls's backend
//                    layer (one shared context, as a Client has); no startup, no pgtls state.
//                    What the TLS library itself holds per session, plus a few words of wrapper.
//
// --hold S: sleep S seconds with the connections open, after printing (for a heap profile of
// the idle state: valgrind --tool=massif --vgdb=yes, then vgdb detailed_snapshot FILE).
// Prints per connection: RSS delta (what W8 reports), heap bytes in use (mallinfo2 uordblks +
// hblkhd: the objects), heap obtained (arena + hblkhd: objects, free holes and the top chunk).
// RSS above "in use" is pages touched then freed, or allocator overhead; "in use" above RSS is
// memory allocated but never touched (a buffer only partly written).
#include <malloc.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <libpq-fe.h>

#include "pgtls/client.hpp"
#include "pgtls/config.hpp"
#include "tls/tls_backend.hpp"

namespace {

long rss_kb() {
    long pages = 0, resident = 0;
    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        std::fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

struct Heap {
    long in_use = 0, obtained = 0;
};

Heap heap() {
    const struct mallinfo2 m = mallinfo2();
    return {long(m.uordblks + m.hblkhd), long(m.arena + m.hblkhd)};
}

std::string value_of(const std::string& conninfo, const std::string& key, const std::string& fallback) {
    const std::string k = key + "=";
    for (std::size_t at = 0; at < conninfo.size();) {
        const std::size_t end = std::min(conninfo.find(' ', at), conninfo.size());
        if (conninfo.compare(at, k.size(), k) == 0) return conninfo.substr(at + k.size(), end - at - k.size());
        at = end + 1;
    }
    return fallback;
}

// The floor: one socket, SSLRequest, TLS handshake; the session is kept open.
struct BareTls {
    int fd = -1;
    std::unique_ptr<pgtls::tls::Session> session;
    BareTls(pgtls::tls::Context& ctx, const std::string& host, int port) {
        fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(std::uint16_t(port));
        ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
        if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("connect failed");
        const unsigned char ssl_request[8] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};
        char answer = 0;
        if (::send(fd, ssl_request, sizeof ssl_request, 0) != 8 || ::recv(fd, &answer, 1, 0) != 1 || answer != 'S')
            throw std::runtime_error("server refused SSL");
        session = ctx.create_session(fd, {});
        for (;;) {
            const pgtls::tls::IoResult r = session->handshake();
            if (r.status == pgtls::tls::IoStatus::ok) break;
            if (r.status != pgtls::tls::IoStatus::want_read && r.status != pgtls::tls::IoStatus::want_write)
                throw std::runtime_error("handshake failed: " + r.error);
            pollfd p{fd, short(r.status == pgtls::tls::IoStatus::want_read ? POLLIN : POLLOUT), 0};
            ::poll(&p, 1, 10000);
        }
    }
    ~BareTls() {
        session.reset();
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

int main(int argc, char** argv) {
    long n = 200;
    unsigned hold = 0;
    std::string conninfo = "host=127.0.0.1 dbname=pgtls user=scramuser password=scram-secret sslmode=require";
    std::string client;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--n" && i + 1 < argc) n = std::atol(argv[++i]);
        else if (a == "--conninfo" && i + 1 < argc) conninfo = argv[++i];
        else if (a == "--hold" && i + 1 < argc) hold = unsigned(std::atoi(argv[++i]));
        else client = a;
    }
    if (const char* port = std::getenv("PGPORT"); port && conninfo.find("port=") == std::string::npos)
        conninfo += std::string(" port=") + port;
    if (client.empty()) {
        std::fprintf(stderr, "usage: idle_memory [--n N] [--conninfo STR] libpq|pgtls:<backend>|tls:<backend>\n");
        return 2;
    }
    try {
        std::vector<PGconn*> pq;
        std::vector<pgtls::Client> clients;
        std::vector<std::unique_ptr<BareTls>> bare;
        std::shared_ptr<pgtls::tls::Context> ctx;
        const auto one = [&](bool keep) {
            if (client == "libpq") {
                PGconn* c = PQconnectdb(conninfo.c_str());
                if (PQstatus(c) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(c));
                PQclear(PQexec(c, "SELECT 1"));
                if (keep) pq.push_back(c);
                else PQfinish(c);
            } else if (client.rfind("pgtls:", 0) == 0) {
                pgtls::Config cfg;
                cfg.conninfo = conninfo;
                cfg.use_environment = false;
                cfg.sslbackend = client.substr(6);
                pgtls::Client c(cfg);
                (void)c.query("SELECT 1");
                if (keep) clients.push_back(std::move(c));
            } else if (client.rfind("tls:", 0) == 0) {
                if (!ctx) ctx = pgtls::tls::find_backend(client.substr(4)).create_context({});
                auto b = std::make_unique<BareTls>(*ctx, value_of(conninfo, "host", "127.0.0.1"),
                                                   std::atoi(value_of(conninfo, "port", "5432").c_str()));
                if (keep) bare.push_back(std::move(b));
            } else {
                throw std::runtime_error("unknown client " + client);
            }
        };
        one(false);  // libraries and TLS initialisation go into the baseline
        clients.reserve(std::size_t(n));
        bare.reserve(std::size_t(n));
        pq.reserve(std::size_t(n));
        const long rss0 = rss_kb();
        const Heap h0 = heap();
        for (long k = 0; k < n; ++k) one(true);
        const long rss1 = rss_kb();
        const Heap h1 = heap();
        std::printf("%-14s n=%ld  KiB per connection: rss %.1f  heap in use %.1f  heap obtained %.1f\n", client.c_str(),
                    n, double(rss1 - rss0) / double(n), double(h1.in_use - h0.in_use) / 1024.0 / double(n),
                    double(h1.obtained - h0.obtained) / 1024.0 / double(n));
        std::fflush(stdout);
        if (hold > 0) ::sleep(hold);
        for (PGconn* c : pq) PQfinish(c);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "idle_memory: %s\n", e.what());
        return 1;
    }
}
