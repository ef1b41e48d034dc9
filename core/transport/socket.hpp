// Opening sockets to a PostgreSQL server: TCP (IPv4/IPv6, with TCP_NODELAY and keepalives)
// and Unix-domain sockets. Sockets are returned non-blocking; the caller owns the fd.
#pragma once

#include <chrono>
#include <string>

#include "pgtls/config.hpp"

namespace pgtls::transport {

using Clock = std::chrono::steady_clock;
using Deadline = std::optional<Clock::time_point>;

struct SocketOptions {
    bool keepalives = true;
    int keepalives_idle = 0, keepalives_interval = 0, keepalives_count = 0;
    int tcp_user_timeout_ms = 0;
};

struct OpenedSocket {
    int fd = -1;
    std::string address;  // "127.0.0.1", "::1" or the socket path
};

// Connects to `target` (hostaddr if given, else resolves host; every resolved address is
// tried in turn). Throws Error(connection) naming host, address and reason, or
// Error(timeout) when the deadline passes.
OpenedSocket open_socket(const HostTarget& target, const SocketOptions& options, Deadline deadline);

// Waits until fd is readable (or writable). Throws Error(timeout) at the deadline.
void wait_fd(int fd, bool for_write, Deadline deadline, const char* what);

std::string unix_socket_path(const HostTarget& target);

}  // namespace pgtls::transport
