// A one-connection OpenSSL TLS server on 127.0.0.1, run on a thread, so the GnuTLS client is
// tested against a different implementation. It records what it saw for the test to check.
#pragma once

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace pgtls::test {

struct PeerOptions {
    std::string cert;                  // PEM file
    std::string key;                   // PEM file
    int min_version = 0;               // TLS1_2_VERSION etc.; 0 = library default
    int max_version = 0;
    std::vector<std::string> alpn;     // protocols the server accepts (first match wins); empty = no ALPN
    std::string alpn_force;            // non-empty: select this protocol whatever the client offered
    std::string client_ca;             // non-empty: request a client certificate, listing this CA
    std::string greeting;              // non-empty: send it after the handshake, then close
    bool abrupt_close = false;         // close the socket without close_notify
    std::size_t sink_bytes = 0;        // >0: read this many bytes, then reply "done" and close
};

struct PeerObservation {
    bool handshake_ok = false;
    std::string error;
    std::string version;               // SSL_get_version
    std::string cipher;                // SSL_get_cipher_name
    std::string alpn;
    std::string sni;
    bool client_cert = false;
    std::string client_cn;
    std::string client_issuer_cn;      // CN of the client certificate's issuer
    std::string received;              // bytes echoed (echo mode)
};

class OpensslPeer {
public:
    explicit OpensslPeer(PeerOptions options);
    ~OpensslPeer();
    OpensslPeer(const OpensslPeer&) = delete;
    OpensslPeer& operator=(const OpensslPeer&) = delete;

    int port() const { return port_; }
    // Waits for the connection to finish (at most ~20 s) and returns what the server saw.
    PeerObservation finish();

private:
    void run();

    PeerOptions options_;
    int listen_fd_ = -1;
    int port_ = 0;
    PeerObservation observation_;
    std::thread thread_;
    bool joined_ = false;
};

// Connected blocking TCP socket to 127.0.0.1:port (throws on failure).
int connect_loopback(int port);

}  // namespace pgtls::test
