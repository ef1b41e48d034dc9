#include "backends/mbedtls/mbedtls_session.hpp"

#include <cerrno>
#include <cstring>

#include <mbedtls/net_sockets.h>
#include <mbedtls/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backends/mbedtls/mbedtls_context.hpp"
#include "backends/mbedtls/mbedtls_errors.hpp"
#include "backends/mbedtls/mbedtls_key_log.hpp"
#include "backends/mbedtls/mbedtls_certificate.hpp"
#include "tls/crl_coverage.hpp"
#include "tls/tls_names.hpp"
#include "pgtls/error.hpp"

namespace pgtls::tls::mbedtls {
namespace {

// Errors mbedTLS raises while decoding the server's Certificate message (the high-level part
// of a combined code), as happens for key types 2.28 does not know (Ed25519, Ed448).
bool is_certificate_parse_error(int rc) {
    const int high = -((-rc) & 0xff80);
    return high == MBEDTLS_ERR_X509_UNKNOWN_SIG_ALG || high == MBEDTLS_ERR_X509_INVALID_ALG ||
           high == MBEDTLS_ERR_PK_UNKNOWN_PK_ALG || high == MBEDTLS_ERR_X509_INVALID_FORMAT;
}

}  // namespace

MbedtlsSession::MbedtlsSession(std::shared_ptr<const MbedtlsContext> context, int fd, const SessionParams& params)
    : context_(std::move(context)), fd_(fd) {
    mbedtls_ssl_init(&ssl_);
    int rc = mbedtls_ssl_setup(&ssl_, context_->ssl_config());
    // SNI only when asked for. mbedTLS also checks the certificate's names against this
    // value; verify_callback discards that result because src/tls checks host names itself,
    // with libpq's rules, for every backend alike.
    if (rc == 0 && !params.sni.empty()) rc = mbedtls_ssl_set_hostname(&ssl_, params.sni.c_str());
    if (rc != 0) {
        mbedtls_ssl_free(&ssl_);
        throw Error(ErrorKind::tls, "mbedtls: could not create a TLS session: " + error_text(rc));
    }
    mbedtls_ssl_set_verify(&ssl_, &MbedtlsSession::verify_callback, this);
    mbedtls_ssl_set_bio(&ssl_, this, &MbedtlsSession::send_callback, &MbedtlsSession::recv_callback, nullptr);
}

MbedtlsSession::~MbedtlsSession() { mbedtls_ssl_free(&ssl_); }

int MbedtlsSession::send_callback(void* self, const unsigned char* buf, std::size_t len) {
    auto* s = static_cast<MbedtlsSession*>(self);
    for (;;) {
        ssize_t n = ::send(s->fd_, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == ENOTSOCK) n = ::write(s->fd_, buf, len);  // pipes in tests
        if (n >= 0) return static_cast<int>(n);
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return MBEDTLS_ERR_SSL_WANT_WRITE;
        s->io_errno_ = errno;
        return (errno == EPIPE || errno == ECONNRESET) ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_SEND_FAILED;
    }
}

int MbedtlsSession::recv_callback(void* self, unsigned char* buf, std::size_t len) {
    auto* s = static_cast<MbedtlsSession*>(self);
    for (;;) {
        ssize_t n = ::recv(s->fd_, buf, len, 0);
        if (n < 0 && errno == ENOTSOCK) n = ::read(s->fd_, buf, len);
        if (n > 0) {
            s->framing_.received(buf, static_cast<std::size_t>(n));
            s->peer_answer_.received(buf, static_cast<std::size_t>(n));
        }
        if (n >= 0) return static_cast<int>(n);  // 0: EOF, reported by mbedTLS as CONN_EOF
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return MBEDTLS_ERR_SSL_WANT_READ;
        s->io_errno_ = errno;
        return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
    }
}

int MbedtlsSession::verify_callback(void* self, mbedtls_x509_crt* crt, int depth, std::uint32_t* flags) {
    auto* s = static_cast<MbedtlsSession*>(self);
    // The name mbedtls_ssl_set_hostname gave (our SNI) is not a verification criterion here.
    if (depth == 0) *flags &= ~static_cast<std::uint32_t>(MBEDTLS_X509_BADCERT_CN_MISMATCH);
    if (s->context_->requires_crls() && !s->context_->has_crl_from(crt->issuer_raw)) {
        *flags |= MBEDTLS_X509_BADCERT_OTHER;
        char dn[512];
        if (s->missing_crl_issuer_.empty() && mbedtls_x509_dn_gets(dn, sizeof dn, &crt->issuer) >= 0)
            s->missing_crl_issuer_ = dn;
    }
    s->verify_flags_ |= *flags;
    return 0;
}

IoResult MbedtlsSession::failure(int rc, const char* during) {
    IoResult r;
    switch (rc) {
        case MBEDTLS_ERR_SSL_WANT_READ: r.status = IoStatus::want_read; return r;
        case MBEDTLS_ERR_SSL_WANT_WRITE: r.status = IoStatus::want_write; return r;
        case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY: r.status = IoStatus::closed; return r;
        default: break;
    }
    r.status = IoStatus::error;
    std::string what;
    switch (rc) {
        case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED: {
            std::uint32_t flags = mbedtls_ssl_get_verify_result(&ssl_);
            if (flags == 0 || flags == 0xffffffffu) flags = verify_flags_;
            flags &= ~static_cast<std::uint32_t>(MBEDTLS_X509_BADCERT_CN_MISMATCH);
            std::string reasons;
            if (flags & MBEDTLS_X509_BADCERT_OTHER) {
                flags &= ~static_cast<std::uint32_t>(MBEDTLS_X509_BADCERT_OTHER);
                reasons = missing_crl_reason(missing_crl_issuer_);
            }
            if (flags) reasons = verify_text(flags) + (reasons.empty() ? "" : "; " + reasons);
            what = "certificate verify failed: " + (reasons.empty() ? error_text(rc) : reasons);
            break;
        }
        case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE: {
            const int alert = ssl_.in_msg != nullptr ? ssl_.in_msg[1] : -1;
            what = "the server sent a fatal TLS alert: " +
                   (alert >= 0 ? alert_name(static_cast<unsigned char>(alert)) : std::string("unknown"));
            // Before the server's Certificate arrives, these alerts usually mean it wants
            // something 2.28 cannot offer; say so rather than leave the user guessing.
            if (!handshake_done_ && alert == MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION)
                what += " (the server may require TLS 1.3, which mbedTLS 2.28 does not support)";
            else if (!handshake_done_ && alert == MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE &&
                     mbedtls_ssl_get_peer_cert(&ssl_) == nullptr)
                what += " (no cipher suite, signature algorithm or certificate type in common; mbedTLS 2.28 "
                        "offers TLS 1.2 ECDHE/DHE suites and cannot use Ed25519/Ed448 server certificates)";
            break;
        }
        case MBEDTLS_ERR_SSL_CONN_EOF:
            what = "the server closed the connection unexpectedly";
            break;
        case MBEDTLS_ERR_NET_CONN_RESET:
            what = std::string("connection reset: ") + std::strerror(io_errno_ ? io_errno_ : ECONNRESET);
            break;
        case MBEDTLS_ERR_NET_SEND_FAILED:
            what = std::string("could not send data to server: ") + std::strerror(io_errno_);
            break;
        case MBEDTLS_ERR_NET_RECV_FAILED:
            what = std::string("could not receive data from server: ") + std::strerror(io_errno_);
            break;
        case MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION:
            what = "no protocol version in common with the server (mbedTLS 2.28 speaks TLS 1.0-1.2, no TLS 1.3): " +
                   error_text(rc);
            break;
        default:
            what = error_text(rc);
            if (!handshake_done_ && is_certificate_parse_error(rc))
                what += " (mbedTLS 2.28 cannot parse the server certificate; Ed25519/Ed448 certificates are not supported)";
            break;
    }
    r.error = std::string("TLS ") + during + " failed: " + what;
    return r;
}

IoResult MbedtlsSession::handshake() {
    if (handshake_done_) return {};
    KeyLogScope keylog(warnings_);
    const int rc = mbedtls_ssl_handshake(&ssl_);
    if (rc != 0) return failure(rc, "handshake");
    handshake_done_ = true;
    return {};
}

IoResult MbedtlsSession::read(void* buf, std::size_t len) {
    if (len == 0) return {};
    const int rc = mbedtls_ssl_read(&ssl_, static_cast<unsigned char*>(buf), len);
    if (rc > 0) return {IoStatus::ok, static_cast<std::size_t>(rc), {}};
    if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {  // 0: transport EOF without close_notify
        peer_closed_ = true;
        if (rc == 0 && framing_.inside_record()) return {IoStatus::error, 0, kEofInsideRecord};
        return {IoStatus::closed, 0, {}};
    }
    return failure(rc, "read");
}

IoResult MbedtlsSession::write(const void* buf, std::size_t len) {
    if (len == 0) return {};
    const int rc = mbedtls_ssl_write(&ssl_, static_cast<const unsigned char*>(buf), len);
    if (rc >= 0) return {IoStatus::ok, static_cast<std::size_t>(rc), {}};
    return failure(rc, "write");
}

IoResult MbedtlsSession::shutdown() {
    if (!handshake_done_ || peer_closed_) return {};
    const int rc = mbedtls_ssl_close_notify(&ssl_);
    // A peer that already went away needs no close_notify: best effort means success.
    if (rc == 0 || rc == MBEDTLS_ERR_NET_CONN_RESET) return {};
    return failure(rc, "shutdown");
}

std::size_t MbedtlsSession::pending() const { return mbedtls_ssl_get_bytes_avail(&ssl_); }

SessionInfo MbedtlsSession::info() const {
    SessionInfo i;
    if (!handshake_done_) return i;
    if (const char* version = mbedtls_ssl_get_version(&ssl_)) i.protocol = openssl_protocol_name(version);
    if (const char* suite = mbedtls_ssl_get_ciphersuite(&ssl_)) i.cipher = openssl_cipher_name(suite);
    if (const char* alpn = mbedtls_ssl_get_alpn_protocol(&ssl_)) i.alpn = alpn;
    return i;
}

std::optional<PeerCertificate> MbedtlsSession::peer_certificate() const {
    const mbedtls_x509_crt* crt = mbedtls_ssl_get_peer_cert(&ssl_);
    if (crt == nullptr || crt->raw.p == nullptr) return std::nullopt;
    return describe_certificate(*crt);
}

bool MbedtlsSession::client_certificate_requested() const { return ssl_.client_auth != 0; }

bool MbedtlsSession::client_certificate_sent() const {
    // mbedTLS answers a CertificateRequest with the configured certificate, or an empty
    // Certificate message when none is configured.
    return handshake_done_ && ssl_.client_auth != 0 && context_->has_client_certificate();
}

}  // namespace pgtls::tls::mbedtls
