#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backends/openssl/openssl_common.hpp"
#include "backends/openssl/openssl_context.hpp"
#include "tls/peer_answer_probe.hpp"
#include "tls/tls_backend.hpp"

namespace pgtls::tls::openssl {

// Installed on the SSL_CTX by OpenSslContext; they find their session through SSL ex-data.
int verify_callback(int ok, X509_STORE_CTX* store);
void keylog_callback(const SSL* ssl, const char* line);

// One client connection over a caller-owned fd. I/O goes through a BIO of our own that uses
// send(MSG_NOSIGNAL)/recv, so a dead peer never raises SIGPIPE and the fd is never closed.
class OpenSslSession final : public Session {
public:
    OpenSslSession(std::shared_ptr<const OpenSslContext> context, int fd, const SessionParams& params);

    IoResult handshake() override;
    IoResult read(void* buf, std::size_t len) override;
    IoResult write(const void* buf, std::size_t len) override;
    IoResult shutdown() override;
    std::size_t pending() const override;
    SessionInfo info() const override;
    std::optional<PeerCertificate> peer_certificate() const override;
    bool client_certificate_requested() const override { return cert_requested_; }
    bool client_certificate_sent() const override { return cert_sent_; }
    std::vector<std::string> warnings() const override { return warnings_; }
    TlsPeerAnswer peer_answer() const noexcept override { return peer_answer_.answer(); }

    // Called from the OpenSSL callbacks and the socket BIO (same thread as the I/O call).
    void note_verify_failure(int error, int depth, X509* cert);
    void note_certificate_request();
    void append_keylog_line(const char* line);
    int fd() const noexcept { return fd_; }
    void set_io_errno(int e) noexcept { io_errno_ = e; }
    void note_received(const void* data, std::size_t n) noexcept { peer_answer_.received(data, n); }

private:
    enum class Op { handshake, read, write, shutdown };
    IoResult failure(int ret, Op op);

    std::shared_ptr<const OpenSslContext> context_;
    int fd_;
    SslPtr ssl_;
    int io_errno_ = 0;
    PeerAnswerProbe peer_answer_;  // of what the socket BIO read
    bool cert_requested_ = false;
    bool cert_sent_ = false;
    bool keylog_warned_ = false;
    bool peer_closed_ = false;    // read() reported the end of the stream
    bool fatal_ = false;          // a fatal TLS/socket error happened: no close_notify
    std::string verify_failure_;  // first chain error: depth and subject
    std::vector<std::string> warnings_;
};

}  // namespace pgtls::tls::openssl
