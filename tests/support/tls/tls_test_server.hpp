// The one in-process TLS peer of the backend tests, built on OpenSSL directly (independent of the
// backend under test). It accepts connections one at a time on a loopback address and an
// ephemeral port, in its own thread; for each it records what the client presented (SNI,
// ALPN list, client certificate) and then echoes application bytes until the client closes.
//
// Every wait is bounded; the destructor stops the thread and closes every socket.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace pgtls::test {

struct TlsServerOptions {
    std::string cert_file;             // server certificate chain (PEM)
    std::string key_file;              // its private key (PEM, unencrypted)
    std::string bind_address = "127.0.0.1";  // or "::1"

    // Client certificates: with a CA file the server sends a CertificateRequest and verifies
    // what it gets against that CA; `require_client_cert` makes a missing one fatal.
    std::string client_ca_file;
    bool require_client_cert = false;
    bool accept_any_client_cert = false;  // request one, record it, never refuse it

    enum class Alpn {
        ignore,        // no ALPN callback: the server never selects a protocol
        select,        // select the first client-offered protocol found in `alpn_protocols`;
                       // none in common -> fatal no_application_protocol alert
        force_wrong,   // answer `alpn_protocols[0]` even though the client did not offer it
    };
    Alpn alpn = Alpn::ignore;
    std::vector<std::string> alpn_protocols = {"postgresql"};

    // OpenSSL protocol versions (TLS1_2_VERSION...), 0 = library default.
    int min_version = 0;
    int max_version = 0;

    // After a handshake: `greeting` (when not empty) is written, then the connection ends as
    // `end` says — echo until the client closes, close_notify at once, or a close of the
    // socket without close_notify.
    std::string greeting;
    enum class End { echo, close_notify, abrupt };
    End end = End::echo;
    // > 0 (with End::echo): instead of echoing, read that many bytes, answer with how many
    // arrived in decimal ("300000") and send close_notify.
    std::size_t sink_bytes = 0;

    // Appends the server's TLS secrets to this file in NSS key-log format (as s_server
    // -keylogfile), so a test can compare them with the client's; empty = off.
    std::string keylog_file;

    // Each connection waits, before its handshake, until release_handshakes() (or stop()): a
    // client's first handshake step on a non-blocking socket then surely finds no answer.
    bool hold_handshakes = false;
};

// What the server saw on one connection; published when the handshake ends.
struct TlsServerConnection {
    bool handshake_ok = false;
    std::string error;                        // OpenSSL's reason when the handshake failed
    std::string sni;                          // empty when the client sent none
    std::vector<std::string> alpn_offered;    // the client's list, empty when none
    std::string alpn_selected;
    std::string protocol;                     // "TLSv1.3"
    std::string cipher;                       // OpenSSL's name, "ECDHE-RSA-AES256-GCM-SHA384"
    bool client_cert_presented = false;
    std::string client_cert_subject;          // RFC 2253 one-liner
    std::string client_cert_cn;
    std::string client_cert_issuer_cn;
    int client_intermediates = -1;            // certificates the client sent after its leaf
};

class TlsTestServer {
public:
    // Binds, listens and starts the accept thread; throws std::runtime_error on failure
    // (bad cert/key file, no loopback address).
    explicit TlsTestServer(TlsServerOptions options);
    ~TlsTestServer();
    TlsTestServer(const TlsTestServer&) = delete;
    TlsTestServer& operator=(const TlsTestServer&) = delete;

    std::uint16_t port() const noexcept { return port_; }
    const std::string& address() const noexcept { return options_.bind_address; }

    // The record of the next connection whose handshake ended, in accept order; nullopt
    // when none arrives within `timeout`.
    std::optional<TlsServerConnection> next_connection(
        std::chrono::milliseconds timeout = std::chrono::seconds(10));

    // True once a connection's echo ended on the client's close_notify (each such end is
    // counted once); false when none comes within `timeout`.
    bool wait_for_close_notify(std::chrono::milliseconds timeout = std::chrono::seconds(10));

    // Lets held handshakes (TlsServerOptions::hold_handshakes) go on, now and from now on.
    void release_handshakes();

    // Stops accepting and echoing; idempotent. Called by the destructor.
    void stop();

    struct Impl;  // OpenSSL state; public only so the .cpp's callbacks can name it

private:
    void run();
    void serve(int fd);
    void publish(TlsServerConnection record);

    TlsServerOptions options_;
    std::unique_ptr<Impl> impl_;
    int listen_fd_ = -1;
    int wake_pipe_[2] = {-1, -1};
    std::uint16_t port_ = 0;
    std::thread thread_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<TlsServerConnection> records_;
    bool stopping_ = false;
    int close_notifies_ = 0;
    bool released_ = false;   // release_handshakes() was called  // echo loops ended by the client's close_notify, not yet waited for
};

// A connected TCP socket to address:port (blocking, with 10 s send/receive timeouts so a
// broken backend cannot hang a test). Throws std::runtime_error on failure.
int connect_tcp(const std::string& address, std::uint16_t port);

// The DER bytes of the first certificate in a PEM file.
std::vector<std::uint8_t> pem_certificate_der(const std::string& pem_file);

// The whole content of a file.
std::string read_file(const std::string& path);

}  // namespace pgtls::test
