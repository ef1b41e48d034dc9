// tls::Session: one mbedtls_ssl_context over a caller-owned socket.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <mbedtls/ssl.h>

#include "tls/peer_answer_probe.hpp"
#include "tls/record_framing.hpp"
#include "tls/tls_backend.hpp"

namespace pgtls::tls::mbedtls {

class MbedtlsContext;

class MbedtlsSession final : public Session {
public:
    // Throws pgtls::Error(tls) if mbedTLS cannot set the session up (out of memory).
    MbedtlsSession(std::shared_ptr<const MbedtlsContext> context, int fd, const SessionParams& params);
    ~MbedtlsSession() override;
    MbedtlsSession(const MbedtlsSession&) = delete;
    MbedtlsSession& operator=(const MbedtlsSession&) = delete;

    IoResult handshake() override;
    IoResult read(void* buf, std::size_t len) override;
    IoResult write(const void* buf, std::size_t len) override;
    IoResult shutdown() override;
    std::size_t pending() const override;
    SessionInfo info() const override;
    std::optional<PeerCertificate> peer_certificate() const override;
    bool client_certificate_requested() const override;
    bool client_certificate_sent() const override;
    std::vector<std::string> warnings() const override { return warnings_; }
    TlsPeerAnswer peer_answer() const noexcept override { return peer_answer_.answer(); }

private:
    static int send_callback(void* self, const unsigned char* buf, std::size_t len);
    static int recv_callback(void* self, unsigned char* buf, std::size_t len);
    static int verify_callback(void* self, mbedtls_x509_crt* crt, int depth, std::uint32_t* flags);

    // Maps an mbedTLS return code (< 0) to an IoResult; `during` names the operation.
    IoResult failure(int rc, const char* during);

    std::shared_ptr<const MbedtlsContext> context_;
    mbedtls_ssl_context ssl_;
    int fd_;
    int io_errno_ = 0;             // errno of the last failed send/recv
    PeerAnswerProbe peer_answer_;  // of what recv returned: the server's first bytes
    RecordFraming framing_;        // of what recv returned: was the end of stream inside a record?
    std::uint32_t verify_flags_ = 0;  // union of chain verification flags we kept
    std::string missing_crl_issuer_;  // issuer DN of a chain certificate without a CRL
    bool handshake_done_ = false;
    bool peer_closed_ = false;        // close_notify or EOF seen: nothing left to shut down
    std::vector<std::string> warnings_;
};

}  // namespace pgtls::tls::mbedtls
