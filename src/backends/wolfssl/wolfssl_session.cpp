#include "backends/wolfssl/wolfssl_session.hpp"

#include <cerrno>
#include <climits>
#include <cstring>

#include <sys/socket.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include "backends/wolfssl/wolfssl_context.hpp"
#include "backends/wolfssl/wolfssl_errors.hpp"
#include "backends/wolfssl/wolfssl_certificate.hpp"
#include "tls/tls_names.hpp"
#include "pgtls/error.hpp"

namespace pgtls::tls::wolfssl {
namespace {

int clamp(std::size_t len) { return len > INT_MAX ? INT_MAX : static_cast<int>(len); }

bool is_verification_error(int err) {
    switch (err) {
        case VERIFY_CERT_ERROR:
        case CRL_CERT_REVOKED:
        case CRL_MISSING:
        case ASN_NO_SIGNER_E:
        case ASN_AFTER_DATE_E:
        case ASN_BEFORE_DATE_E:
        case ASN_SIG_CONFIRM_E:
            return true;
        default:
            return false;
    }
}

}  // namespace

WolfsslSession::WolfsslSession(std::shared_ptr<const WolfsslContext> context, int fd, const SessionParams& params)
    : context_(std::move(context)), fd_(fd) {
    ssl_ = wolfSSL_new(context_->native());
    if (ssl_ == nullptr) throw Error(ErrorKind::tls, "wolfssl: could not create a TLS session (out of memory)");
    wolfSSL_SetIOReadCtx(ssl_, this);
    wolfSSL_SetIOWriteCtx(ssl_, this);
    int rc = WOLFSSL_SUCCESS;
    // SNI only when asked for; wolfSSL does not check the certificate against it (src/tls checks
    // host names itself, with libpq's rules, for every backend alike).
    if (!params.sni.empty())
        rc = wolfSSL_UseSNI(ssl_, WOLFSSL_SNI_HOST_NAME, params.sni.data(), static_cast<unsigned short>(params.sni.size()));
    if (rc == WOLFSSL_SUCCESS && !context_->alpn_list().empty()) {
        std::string list = context_->alpn_list();  // wolfSSL_UseALPN takes a mutable buffer
        rc = wolfSSL_UseALPN(ssl_, list.data(), static_cast<unsigned int>(list.size()),
                             WOLFSSL_ALPN_CONTINUE_ON_MISMATCH);
    }
    if (rc != WOLFSSL_SUCCESS) {
        wolfSSL_free(ssl_);
        throw Error(ErrorKind::tls, "wolfssl: could not set up the TLS session: " + error_text(rc));
    }
}

WolfsslSession::~WolfsslSession() { wolfSSL_free(ssl_); }

void WolfsslSession::install_callbacks(WOLFSSL_CTX* ctx, bool has_client_certificate) {
    wolfSSL_CTX_SetIORecv(ctx, &WolfsslSession::recv_callback);
    wolfSSL_CTX_SetIOSend(ctx, &WolfsslSession::send_callback);
    // wolfSSL 5.5 fails the handshake (BUFFER_E) when the certificate-setup callback runs on a
    // context without a certificate; there it calls the client-certificate callback instead.
    if (has_client_certificate)
        wolfSSL_CTX_set_cert_cb(ctx, &WolfsslSession::certificate_request_callback, nullptr);
    else
        wolfSSL_CTX_set_client_cert_cb(ctx, &WolfsslSession::no_certificate_callback);
}

int WolfsslSession::send_callback(WOLFSSL*, char* buf, int len, void* self) {
    auto* s = static_cast<WolfsslSession*>(self);
    for (;;) {
        ssize_t n = ::send(s->fd_, buf, static_cast<std::size_t>(len), MSG_NOSIGNAL);
        if (n < 0 && errno == ENOTSOCK) n = ::write(s->fd_, buf, static_cast<std::size_t>(len));  // pipes in tests
        if (n >= 0) return static_cast<int>(n);
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return WOLFSSL_CBIO_ERR_WANT_WRITE;
        s->io_errno_ = errno;
        // Reported to wolfSSL as "try again": a send error puts a WOLFSSL into an error state
        // in which wolfSSL_read refuses to run, but the server's last words (a FATAL before it
        // closed) must stay readable. The session reports the failure itself (failure()).
        s->send_failed_ = true;
        return WOLFSSL_CBIO_ERR_WANT_WRITE;
    }
}

int WolfsslSession::recv_callback(WOLFSSL*, char* buf, int len, void* self) {
    auto* s = static_cast<WolfsslSession*>(self);
    for (;;) {
        ssize_t n = ::recv(s->fd_, buf, static_cast<std::size_t>(len), 0);
        if (n < 0 && errno == ENOTSOCK) n = ::read(s->fd_, buf, static_cast<std::size_t>(len));
        if (n > 0) {
            s->framing_.received(buf, static_cast<std::size_t>(n));
            s->peer_answer_.received(buf, static_cast<std::size_t>(n));
            return static_cast<int>(n);
        }
        if (n == 0) {
            s->transport_eof_ = true;
            return WOLFSSL_CBIO_ERR_CONN_CLOSE;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return WOLFSSL_CBIO_ERR_WANT_READ;
        s->io_errno_ = errno;
        return errno == ECONNRESET ? WOLFSSL_CBIO_ERR_CONN_RST : WOLFSSL_CBIO_ERR_GENERAL;
    }
}

// Called when the server sends a CertificateRequest (TLS 1.2 and 1.3); the certificate
// itself comes from the context.
int WolfsslSession::certificate_request_callback(WOLFSSL* ssl, void*) {
    if (auto* s = static_cast<WolfsslSession*>(wolfSSL_GetIOReadCtx(ssl))) s->cert_requested_ = true;
    return 1;
}

// Called on a CertificateRequest when the context has no certificate: send none.
int WolfsslSession::no_certificate_callback(WOLFSSL* ssl, WOLFSSL_X509**, WOLFSSL_EVP_PKEY**) {
    certificate_request_callback(ssl, nullptr);
    return 0;
}

IoResult WolfsslSession::failure(int rc, const char* during) {
    IoResult r;
    if (send_failed_) {
        r.status = IoStatus::error;
        r.error = std::string("TLS ") + during + " failed: could not send data to the server: " + std::strerror(io_errno_);
        return r;
    }
    const int err = wolfSSL_get_error(ssl_, rc);
    switch (err) {
        case WOLFSSL_ERROR_WANT_READ: r.status = IoStatus::want_read; return r;
        case WOLFSSL_ERROR_WANT_WRITE: r.status = IoStatus::want_write; return r;
        case WOLFSSL_ERROR_ZERO_RETURN: peer_closed_ = true; r.status = IoStatus::closed; return r;
        default: break;
    }
    r.status = IoStatus::error;
    std::string what;
    if (is_verification_error(err)) {
        what = "certificate verify failed: " + error_text(err);
        if (err == CRL_MISSING) what += " (every certificate of the chain needs a CRL from its issuer)";
        if (const std::size_t n = context_->out_of_date_roots(); n > 0)
            what += " (" + std::to_string(n) + (n == 1 ? " certificate" : " certificates") +
                    " of the root certificate file left out: expired or not yet valid)";
    } else if (err == SOCKET_PEER_CLOSED_E || (err == SOCKET_ERROR_E && transport_eof_)) {
        what = "the server closed the connection unexpectedly";
    } else if (err == SOCKET_ERROR_E && io_errno_ != 0) {
        what = std::string("could not exchange data with the server: ") + std::strerror(io_errno_);
    } else if (err == FATAL_ERROR) {
        what = "the server sent a fatal TLS alert: " + error_text(err);
    } else {
        what = error_text(err);
    }
    r.error = std::string("TLS ") + during + " failed: " + what;
    return r;
}

namespace {
// Debian's wolfSSL keeps a fixed-point ECC cache per thread (FP_ECC with HAVE_THREAD_LS),
// about 3 MiB once warm, that only wc_ecc_fp_free() on that thread releases: without this a
// thread that made handshakes leaves it behind when it exits (a pool's threads, any worker).
struct EccCacheRelease {
    ~EccCacheRelease() {
#ifdef FP_ECC
        wc_ecc_fp_free();
#endif
    }
};
}  // namespace

IoResult WolfsslSession::handshake() {
    if (handshake_done_) return {};
    static thread_local EccCacheRelease release_at_thread_exit;
    (void)release_at_thread_exit;
    const int rc = wolfSSL_connect(ssl_);
    if (rc != WOLFSSL_SUCCESS) return failure(rc, "handshake");
    if (context_->verifies_chain()) {
        if (const std::string weak = weakly_signed_certificate(); !weak.empty())
            return {IoStatus::error, 0,
                    "TLS handshake failed: certificate verify failed: \"" + weak +
                        "\" is signed with MD5 or SHA-1, which OpenSSL (and so libpq) refuses at its default "
                        "security level (ca md too weak)"};
    }
    handshake_done_ = true;
    return {};
}

IoResult WolfsslSession::read(void* buf, std::size_t len) {
    if (len == 0) return {};
    const int rc = wolfSSL_read(ssl_, buf, clamp(len));
    if (rc > 0) return {IoStatus::ok, static_cast<std::size_t>(rc), {}};
    const int err = wolfSSL_get_error(ssl_, rc);
    // close_notify, or EOF without it (wolfSSL reports the latter as a socket error).
    if (err == WOLFSSL_ERROR_ZERO_RETURN || err == SOCKET_PEER_CLOSED_E || (err == SOCKET_ERROR_E && transport_eof_)) {
        peer_closed_ = true;
        if (transport_eof_ && framing_.inside_record()) return {IoStatus::error, 0, kEofInsideRecord};
        return {IoStatus::closed, 0, {}};
    }
    return failure(rc, "read");
}

IoResult WolfsslSession::write(const void* buf, std::size_t len) {
    if (len == 0) return {};
    const int rc = wolfSSL_write(ssl_, buf, clamp(len));
    if (rc > 0) return {IoStatus::ok, static_cast<std::size_t>(rc), {}};
    return failure(rc, "write");
}

IoResult WolfsslSession::shutdown() {
    if (!handshake_done_ || peer_closed_ || send_failed_) return {};
    const int rc = wolfSSL_shutdown(ssl_);
    // Sent (and maybe not yet answered): done, best effort. A peer already gone needs none.
    if (rc == WOLFSSL_SUCCESS || rc == WOLFSSL_SHUTDOWN_NOT_DONE) return {};
    const int err = wolfSSL_get_error(ssl_, rc);
    if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE) return failure(rc, "shutdown");
    return {};
}

std::size_t WolfsslSession::pending() const {
    const int n = wolfSSL_pending(ssl_);
    return n > 0 ? static_cast<std::size_t>(n) : 0;
}

SessionInfo WolfsslSession::info() const {
    SessionInfo i;
    if (!handshake_done_) return i;
    if (const char* v = wolfSSL_get_version(ssl_)) i.protocol = openssl_protocol_name(v);
    // OpenSSL's name from the IANA one, as the other backends report it; wolfSSL's own
    // ("TLS13-AES256-GCM-SHA384") only if it has none.
    const int suite = wolfSSL_get_current_cipher_suite(ssl_);
    const char* iana = suite >= 0 ? wolfSSL_get_cipher_name_iana_from_suite(static_cast<unsigned char>(suite >> 8),
                                                                           static_cast<unsigned char>(suite & 0xff))
                                  : nullptr;
    if (iana != nullptr && *iana != '\0' && std::strcmp(iana, "None") != 0)
        i.cipher = openssl_cipher_name(iana);
    else if (const char* c = wolfSSL_get_cipher_name(ssl_))
        i.cipher = c;
    char* alpn = nullptr;
    unsigned short alpn_len = 0;
    if (wolfSSL_ALPN_GetProtocol(ssl_, &alpn, &alpn_len) == WOLFSSL_SUCCESS && alpn != nullptr)
        i.alpn.assign(alpn, alpn_len);
    return i;
}

std::optional<PeerCertificate> WolfsslSession::peer_certificate() const {
    WOLFSSL_X509_CHAIN* chain = wolfSSL_get_peer_chain(ssl_);
    if (chain == nullptr || wolfSSL_get_chain_count(chain) < 1) return std::nullopt;
    const unsigned char* der = wolfSSL_get_chain_cert(chain, 0);
    const int len = wolfSSL_get_chain_length(chain, 0);
    if (der == nullptr || len <= 0) return std::nullopt;
    return describe_certificate({der, static_cast<std::size_t>(len)});
}

std::string WolfsslSession::weakly_signed_certificate() const {
    WOLFSSL_X509_CHAIN* chain = wolfSSL_get_peer_chain(ssl_);
    const int count = chain == nullptr ? 0 : wolfSSL_get_chain_count(chain);
    for (int i = 0; i < count; ++i) {
        const unsigned char* der = wolfSSL_get_chain_cert(chain, i);
        const int len = wolfSSL_get_chain_length(chain, i);
        if (der == nullptr || len <= 0) continue;
        if (std::string subject = weak_signature_subject({der, static_cast<std::size_t>(len)}); !subject.empty())
            return subject;
    }
    return {};
}

bool WolfsslSession::client_certificate_sent() const {
    // wolfSSL answers a CertificateRequest with the context's certificate, or an empty
    // Certificate message when it has none.
    return handshake_done_ && cert_requested_ && context_->has_client_certificate();
}

}  // namespace pgtls::tls::wolfssl
