// A TCP proxy that adds a fixed one-way delay, for benchmarks that must show round trips on
// loopback (where the round-trip time is ≈ 0 and tc netem is not available).
//
// Every chunk read from one side is written to the other `delay` after it was read, in
// order, in both directions, so each request/response exchange costs 2 × delay more than on
// loopback; bandwidth is not limited. The TCP handshake to the proxy itself is not delayed
// (the same for every client). TCP_NODELAY on all sockets, so small messages are not held back.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

namespace pgtls::bench {

class DelayProxy {
public:
    // Listens on 127.0.0.1 (an ephemeral port) and forwards every accepted connection to
    // upstream_host:upstream_port (a numeric IPv4/IPv6 address or a host name). The proxy runs
    // in a forked child process, so it takes no CPU time from the measured clients and is
    // started before any benchmark thread exists. Throws std::runtime_error on failure.
    DelayProxy(const std::string& upstream_host, int upstream_port, std::chrono::microseconds delay);
    ~DelayProxy();  // stops the child
    DelayProxy(const DelayProxy&) = delete;
    DelayProxy& operator=(const DelayProxy&) = delete;

    int port() const noexcept { return port_; }

private:
    int port_ = 0;
    pid_t child_ = -1;
};

}  // namespace pgtls::bench
