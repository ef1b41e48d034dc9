// A one-connection TLS server thread built directly on OpenSSL, over a socketpair, so the
// backend can be exercised without PostgreSQL. The client end's fd is handed to the test.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <thread>

#include <openssl/ssl.h>

namespace pgtls::test {

struct ServerOptions {
    std::string cert;                 // PEM file paths
    std::string key;
    std::string client_ca;            // non-empty: send a CertificateRequest naming this CA
    bool alpn = true;                 // select "postgresql" when offered
    int min_version = 0;              // TLS1_2_VERSION etc.; 0 = library default
    int max_version = 0;
    enum class End { echo, close_notify, abrupt } end = End::echo;
    std::string greeting;             // written right after the handshake
};

// What the server saw; read after finish().
struct ServerReport {
    bool handshake_ok = false;
    std::string sni;
    std::string client_subject;       // "" when no client certificate
    std::string error;
};

class TestServer {
public:
    explicit TestServer(ServerOptions options);
    ~TestServer();
    TestServer(const TestServer&) = delete;
    TestServer& operator=(const TestServer&) = delete;

    int client_fd() const { return client_fd_; }
    // Closes the client end (if still open) and waits for the server thread.
    const ServerReport& finish();

private:
    void run();

    ServerOptions options_;
    SSL_CTX* ctx_ = nullptr;
    int client_fd_ = -1;
    int server_fd_ = -1;
    std::thread thread_;
    ServerReport report_;
    bool finished_ = false;
};

}  // namespace pgtls::test
