// Shared helpers for the GnuTLS backend tests: a PKI generated once per test program, and a
// small blocking/non-blocking driver for tls::Session.
#pragma once

#include <optional>
#include <string>

#include "tests/support/tls/tls_test_server.hpp"
#include "tls/tls_backend.hpp"

namespace pgtls::test {

// Directory holding the PKI from scripts/make-pki.sh (generated on first use).
const std::string& pki_dir();
std::string pki(const std::string& name);   // full path of a PKI file
std::string slurp(const std::string& path); // whole file; throws if unreadable

tls::Material file_material(const std::string& name);
tls::Material pem_material(const std::string& name);

const tls::Backend& gnutls();

// Runs handshake() until it completes or fails, polling the fd on want_read/want_write
// (so it works on blocking and non-blocking sockets). Gives up after 15 s.
tls::IoResult drive_handshake(tls::Session& s, int fd);
// Writes all of `data` (polling as needed); returns the failing result or ok.
tls::IoResult write_all(tls::Session& s, int fd, const std::string& data);
// Reads until `want` bytes, EOF or an error; `last` gets the final status.
std::string read_some(tls::Session& s, int fd, std::size_t want, tls::IoResult* last = nullptr);

// The one TLS test peer (tests/support/tls) serving one client of a test.
using PeerOptions = TlsServerOptions;
using PeerObservation = TlsServerConnection;
class TlsPeer {
public:
    explicit TlsPeer(PeerOptions options) : server_(std::move(options)) {}
    int port() const { return server_.port(); }
    // With PeerOptions::hold_handshakes: lets the held handshakes go on.
    void release_handshakes() { server_.release_handshakes(); }
    // What the peer saw on the first connection once its handshake ended (waits up to 20 s;
    // an empty record with handshake_ok false when none came).
    const PeerObservation& finish();

private:
    TlsTestServer server_;
    std::optional<PeerObservation> seen_;
};

// A connected client: socket to 127.0.0.1:port and a session on it. Closes the fd.
struct TestClient {
    TestClient(const tls::ContextConfig& config, int port, const std::string& sni = "");
    ~TestClient();
    std::shared_ptr<tls::Context> context;
    int fd = -1;
    std::unique_ptr<tls::Session> session;
};

}  // namespace pgtls::test
