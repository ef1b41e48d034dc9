// Opening sockets to a PostgreSQL server: TCP (IPv4/IPv6, with TCP_NODELAY and keepalives)
// and Unix-domain sockets. Sockets are returned non-blocking; the caller owns the fd.
// An Error with cause connect_failed names the server itself ("connection to server at ...
// failed: ..." or "connection to server on socket ... failed: ...", libpq's texts); the
// connect policy adds that context to every other error.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pgtls/error.hpp"

#include "pgtls/config.hpp"

struct addrinfo;

namespace pgtls::transport {

class BackgroundResolver;

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

// How a SocketOpener resolves a host name: getaddrinfo() in its constructor, which blocks
// (as libpq's PQconnectPoll does), or on a thread of its own (BackgroundResolver), which the
// caller's loop waits for through fd(). A hostaddr, an IP literal or a Unix socket needs no
// lookup either way.
enum class Resolution { blocking, background };

// Opens a socket to `target` without ever blocking on the connect: the caller's loop waits
// for fd() to become writable (readable while resolving(), see Resolution) between calls to
// advance(). The same attempts and error texts as open_socket().
class SocketOpener {
public:
    // Throws Error(connection) when the name does not resolve (Resolution::blocking) or the
    // socket path is too long.
    SocketOpener(const HostTarget& target, const SocketOptions& options, Resolution resolution = Resolution::blocking);
    ~SocketOpener();
    SocketOpener(const SocketOpener&) = delete;
    SocketOpener& operator=(const SocketOpener&) = delete;

    // Starts or finishes connect attempts. True: connected (see take()). False: wait for fd()
    // to be writable, then call again. Throws Error(connection) once every address failed.
    // Throws Error(connection) as the constructor does once a background lookup failed.
    bool advance();
    int fd() const noexcept;
    // True while a background lookup runs: wait for fd() to be readable.
    bool resolving() const noexcept { return resolver_ != nullptr; }
    // How many addresses have been tried so far: each attempt is a new socket.
    std::size_t attempts() const noexcept { return next_; }
    // The connected socket; the opener no longer owns it.
    OpenedSocket take();
    // The error to report when the caller's deadline passes before advance() returns true.
    Error timeout_error() const;

private:
    bool start_next();  // starts the next address's connect; false when none is left
    void take_addresses(const addrinfo* list);
    [[noreturn]] void resolve_failed(int gai) const;
    // Closes the attempt's socket, notes why it failed (`what`, else errno `err`'s text).
    void record_failure(int err, const std::string& what = {});
    [[noreturn]] void fail() const;
    HostTarget target_;
    SocketOptions options_;
    std::vector<std::string> addresses_;       // numeric, in getaddrinfo's order
    std::vector<std::vector<unsigned char>> sockaddrs_;
    std::vector<int> families_;
    std::size_t next_ = 0;
    int fd_ = -1;
    bool connecting_ = false;
    std::string current_;                      // address of the attempt in progress
    std::string errors_;
    int last_errno_ = 0;
    std::unique_ptr<BackgroundResolver> resolver_;  // while a background lookup runs
};

// Connects to `target` (hostaddr if given, else resolves host; every resolved address is
// tried in turn). Throws Error(connection) naming host, address and reason, or
// Error(timeout) when the deadline passes.
OpenedSocket open_socket(const HostTarget& target, const SocketOptions& options, Deadline deadline);

// Waits until fd is readable (or writable). Throws Error(timeout) at the deadline.
void wait_fd(int fd, bool for_write, Deadline deadline, const char* what);

// Whether `address` (numeric, as OpenedSocket::address) is a loopback address: 127.0.0.0/8,
// ::1, or 127.0.0.0/8 mapped into IPv6. False for anything else, names included.
bool is_loopback_address(std::string_view address) noexcept;


}  // namespace pgtls::transport
