// A scripted PostgreSQL server for misbehaviour a real server won't produce (malformed
// messages, downgrade attempts, stalls). Listens on 127.0.0.1 on an ephemeral port and runs
// one script per accepted connection in its own thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pgtls::test {

class FakeConnection {
public:
    explicit FakeConnection(int fd) : fd_(fd) {}
    int fd() const { return fd_; }
    // Reads exactly n bytes; returns false on EOF/timeout.
    bool read_exact(std::string& out, std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // Reads an untyped startup-phase packet (SSLRequest, StartupMessage, CancelRequest).
    // Returns its code (e.g. 80877103) or -1; body receives the rest.
    std::int32_t read_startup_packet(std::string* body = nullptr);
    // Reads one typed frontend message; returns the type or 0 on EOF.
    char read_message(std::string* body = nullptr);
    void send(const std::string& bytes);
    // Waits until the client closes (or timeout).
    void wait_for_close(std::chrono::milliseconds timeout = std::chrono::seconds(10));

private:
    int fd_;
};

class FakeServer {
public:
    using Script = std::function<void(FakeConnection&)>;
    explicit FakeServer(Script script);
    ~FakeServer();
    std::uint16_t port() const { return port_; }
    int connections() const { return connections_.load(); }
    // Conninfo prefix for this server: "host=127.0.0.1 port=N".
    std::string conninfo() const;

private:
    void accept_loop();
    Script script_;
    int listen_fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> connections_{0};
    std::thread acceptor_;
    std::mutex mu_;
    std::vector<std::thread> workers_;
    std::vector<int> fds_;
};

}  // namespace pgtls::test
