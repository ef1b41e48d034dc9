// A TLS front for the scripted fake server, so that every hostile case can also run over TLS
// against each client TLS backend. For each connection it accepts, it answers the SSLRequest
// with 'S', runs an OpenSSL server handshake with the given certificate and key, then relays
// bytes both ways between the TLS session and a plaintext connection to 127.0.0.1:backend_port
// (the fake server, whose script then starts at the StartupMessage or CancelRequest). One
// thread per connection; the destructor ends them all.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pgtls::test {

class TlsFront {
public:
    TlsFront(std::uint16_t backend_port, const std::string& cert_file, const std::string& key_file);
    ~TlsFront();
    TlsFront(const TlsFront&) = delete;
    TlsFront& operator=(const TlsFront&) = delete;
    std::uint16_t port() const noexcept { return port_; }

    struct Impl;  // OpenSSL state

private:
    void accept_loop();
    void relay(int client_fd);
    std::unique_ptr<Impl> impl_;
    std::uint16_t backend_port_;
    int listen_fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread acceptor_;
    std::mutex mu_;
    std::vector<std::thread> workers_;
    std::vector<int> fds_;
};

}  // namespace pgtls::test
