// tls::Session: one WOLFSSL over a caller-owned socket, through our own I/O callbacks so that
// pipes (tests) work and EAGAIN maps to want_read / want_write.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tls/peer_answer_probe.hpp"
#include "tls/record_framing.hpp"
#include "tls/tls_backend.hpp"

struct WOLFSSL;
struct WOLFSSL_CTX;
struct WOLFSSL_X509;
struct WOLFSSL_EVP_PKEY;

namespace pgtls::tls::wolfssl {

class WolfsslContext;

class WolfsslSession final : public Session {
public:
    // Throws pgtls::Error(tls) if wolfSSL cannot set the session up (out of memory).
    WolfsslSession(std::shared_ptr<const WolfsslContext> context, int fd, const SessionParams& params);
    ~WolfsslSession() override;
    WolfsslSession(const WolfsslSession&) = delete;
    WolfsslSession& operator=(const WolfsslSession&) = delete;

    // The I/O and certificate-request callbacks every session of `ctx` uses.
    static void install_callbacks(WOLFSSL_CTX* ctx, bool has_client_certificate);

    IoResult handshake() override;
    IoResult read(void* buf, std::size_t len) override;
    IoResult write(const void* buf, std::size_t len) override;
    IoResult shutdown() override;
    std::size_t pending() const override;
    SessionInfo info() const override;
    std::optional<PeerCertificate> peer_certificate() const override;
    bool client_certificate_requested() const override { return cert_requested_; }
    bool client_certificate_sent() const override;
    std::vector<std::string> warnings() const override { return warnings_; }
    TlsPeerAnswer peer_answer() const noexcept override { return peer_answer_.answer(); }

private:
    static int send_callback(WOLFSSL* ssl, char* buf, int len, void* self);
    static int recv_callback(WOLFSSL* ssl, char* buf, int len, void* self);
    static int certificate_request_callback(WOLFSSL* ssl, void* arg);
    static int no_certificate_callback(WOLFSSL* ssl, WOLFSSL_X509** x509, WOLFSSL_EVP_PKEY** pkey);

    // Subject of a certificate the server sent that is signed with MD5/SHA-1 (not a root's
    // self-signature); empty when none. wolfSSL has no security levels to refuse them.
    std::string weakly_signed_certificate() const;

    // Maps a failed call's return value to an IoResult; `during` names the operation.
    IoResult failure(int rc, const char* during);

    std::shared_ptr<const WolfsslContext> context_;
    WOLFSSL* ssl_ = nullptr;
    int fd_;
    int io_errno_ = 0;          // errno of the last failed send/recv
    bool transport_eof_ = false;  // recv saw end of stream
    PeerAnswerProbe peer_answer_; // of what recv returned: the server's first bytes
    RecordFraming framing_;       // of what recv returned: was the end of stream inside a record?
    bool send_failed_ = false;    // send failed for good (io_errno_ says why)
    bool handshake_done_ = false;
    bool peer_closed_ = false;  // close_notify or EOF seen: nothing left to shut down
    bool cert_requested_ = false;
    std::vector<std::string> warnings_;
};

}  // namespace pgtls::tls::wolfssl
