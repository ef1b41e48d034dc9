#include "backends/openssl/openssl_session.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include <openssl/err.h>
#include <openssl/x509_vfy.h>

#include "backends/openssl/openssl_certificate.hpp"
#include "crypto/crypto.hpp"
#include "tls/key_log_file.hpp"
#include "tls/record_framing.hpp"
#include "pgtls/error.hpp"

namespace pgtls::tls::openssl {
namespace {

int session_index() {
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

OpenSslSession* session_of(const SSL* ssl) {
    return static_cast<OpenSslSession*>(SSL_get_ex_data(ssl, session_index()));
}

// --- socket BIO: recv/send on the caller's fd; EAGAIN becomes an OpenSSL retry ----------

int socket_read(BIO* bio, char* buf, int size) {
    auto* session = static_cast<OpenSslSession*>(BIO_get_data(bio));
    BIO_clear_retry_flags(bio);
    if (size <= 0) return 0;
    for (;;) {
        ssize_t n = ::recv(session->fd(), buf, static_cast<std::size_t>(size), 0);
        if (n > 0) session->note_received(buf, static_cast<std::size_t>(n));
        if (n >= 0) return static_cast<int>(n);
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            BIO_set_retry_read(bio);
            return -1;
        }
        session->set_io_errno(errno);
        return -1;
    }
}

int socket_write(BIO* bio, const char* buf, int size) {
    auto* session = static_cast<OpenSslSession*>(BIO_get_data(bio));
    BIO_clear_retry_flags(bio);
    if (size <= 0) return 0;
    for (;;) {
        ssize_t n = ::send(session->fd(), buf, static_cast<std::size_t>(size), MSG_NOSIGNAL);
        if (n >= 0) return static_cast<int>(n);
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            BIO_set_retry_write(bio);
            return -1;
        }
        session->set_io_errno(errno);
        return -1;
    }
}

long socket_ctrl(BIO*, int cmd, long, void*) {
    // Writes go straight to the socket, so there is never anything to flush; every other
    // control (fd queries, kTLS, ...) is unsupported, which OpenSSL handles.
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

int socket_create(BIO*) { return 1; }
int socket_destroy(BIO*) { return 1; }  // the fd belongs to the caller

const BIO_METHOD* socket_method() {
    static BIO_METHOD* const method = [] {
        BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "pgtls socket");
        if (m == nullptr) return m;
        BIO_meth_set_read(m, socket_read);
        BIO_meth_set_write(m, socket_write);
        BIO_meth_set_ctrl(m, socket_ctrl);
        BIO_meth_set_create(m, socket_create);
        BIO_meth_set_destroy(m, socket_destroy);
        return m;
    }();
    return method;
}

// Called when the server sends a CertificateRequest, before OpenSSL picks what to send.
int certificate_request_callback(SSL* ssl, void*) {
    if (OpenSslSession* session = session_of(ssl)) session->note_certificate_request();
    return 1;
}

bool is_protocol_version_reason(int reason) {
    switch (reason) {
#ifdef SSL_R_NO_PROTOCOLS_AVAILABLE
        case SSL_R_NO_PROTOCOLS_AVAILABLE:
#endif
#ifdef SSL_R_UNSUPPORTED_PROTOCOL
        case SSL_R_UNSUPPORTED_PROTOCOL:
#endif
#ifdef SSL_R_BAD_PROTOCOL_VERSION_NUMBER
        case SSL_R_BAD_PROTOCOL_VERSION_NUMBER:
#endif
#ifdef SSL_R_UNKNOWN_PROTOCOL
        case SSL_R_UNKNOWN_PROTOCOL:
#endif
#ifdef SSL_R_UNKNOWN_SSL_VERSION
        case SSL_R_UNKNOWN_SSL_VERSION:
#endif
#ifdef SSL_R_UNSUPPORTED_SSL_VERSION
        case SSL_R_UNSUPPORTED_SSL_VERSION:
#endif
#ifdef SSL_R_WRONG_SSL_VERSION
        case SSL_R_WRONG_SSL_VERSION:
#endif
#ifdef SSL_R_WRONG_VERSION_NUMBER
        case SSL_R_WRONG_VERSION_NUMBER:
#endif
#ifdef SSL_R_TLSV1_ALERT_PROTOCOL_VERSION
        case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
#endif
#ifdef SSL_R_VERSION_TOO_HIGH
        case SSL_R_VERSION_TOO_HIGH:
#endif
#ifdef SSL_R_VERSION_TOO_LOW
        case SSL_R_VERSION_TOO_LOW:
#endif
            return true;
        default:
            return false;
    }
}

IoResult error_result(std::string message) {
    IoResult r;
    r.status = IoStatus::error;
    r.error = std::move(message);
    return r;
}

IoResult status_result(IoStatus status, std::size_t bytes = 0) {
    IoResult r;
    r.status = status;
    r.bytes = bytes;
    return r;
}

}  // namespace

int verify_callback(int ok, X509_STORE_CTX* store) {
    if (ok == 0) {
        auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
        if (OpenSslSession* session = ssl != nullptr ? session_of(ssl) : nullptr)
            session->note_verify_failure(X509_STORE_CTX_get_error(store), X509_STORE_CTX_get_error_depth(store),
                                         X509_STORE_CTX_get_current_cert(store));
    }
    return ok;
}

void keylog_callback(const SSL* ssl, const char* line) {
    if (OpenSslSession* session = session_of(ssl)) session->append_keylog_line(line);
}

OpenSslSession::OpenSslSession(std::shared_ptr<const OpenSslContext> context, int fd, const SessionParams& params)
    : context_(std::move(context)), fd_(fd) {
    if (fd < 0) throw Error(ErrorKind::usage, "TLS session needs a connected socket (got fd " + std::to_string(fd) + ")");
    ERR_clear_error();
    ssl_.reset(SSL_new(context_->native()));
    if (!ssl_) throw Error(ErrorKind::tls, "could not establish SSL connection: " + drain_errors());
    SSL* ssl = ssl_.get();
    const BIO_METHOD* method = socket_method();
    BIO* bio = method != nullptr ? BIO_new(method) : nullptr;
    if (bio == nullptr) throw Error(ErrorKind::tls, "could not create the SSL socket BIO: " + drain_errors());
    BIO_set_data(bio, this);
    BIO_set_init(bio, 1);
    SSL_set_bio(ssl, bio, bio);  // the SSL owns the BIO now
    if (SSL_set_ex_data(ssl, session_index(), this) != 1)
        throw Error(ErrorKind::tls, "could not attach session data: " + drain_errors());
    SSL_set_cert_cb(ssl, certificate_request_callback, nullptr);
    SSL_set_connect_state(ssl);
    if (!params.sni.empty() && SSL_set_tlsext_host_name(ssl, params.sni.c_str()) != 1)
        throw Error(ErrorKind::tls, "could not set SSL Server Name Indication (SNI) \"" + params.sni + "\": " +
                                        drain_errors());
}

void OpenSslSession::note_verify_failure(int error, int depth, X509* cert) {
    if (!verify_failure_.empty()) return;
    verify_failure_ = std::string(X509_verify_cert_error_string(error)) + " at depth " + std::to_string(depth);
    if (cert != nullptr) verify_failure_ += ", subject \"" + name_one_line(X509_get_subject_name(cert)) + "\"";
}

void OpenSslSession::note_certificate_request() {
    cert_requested_ = true;
    // As libpq's cert_cb: a certificate is sent when one is loaded.
    if (SSL_get_certificate(ssl_.get()) != nullptr) cert_sent_ = true;
}

void OpenSslSession::append_keylog_line(const char* line) {
    // Shared with every backend (src/tls/key_log_file.hpp); failures only warn, once.
    auto warning = append_key_log_line(context_->keylog_file(), line);
    if (warning && !keylog_warned_) warnings_.push_back(std::move(*warning));
    if (warning) keylog_warned_ = true;
}

IoResult OpenSslSession::handshake() {
    ERR_clear_error();
    io_errno_ = 0;
    int ret = SSL_connect(ssl_.get());
    if (ret == 1) return status_result(IoStatus::ok);
    return failure(ret, Op::handshake);
}

IoResult OpenSslSession::read(void* buf, std::size_t len) {
    if (len == 0) return status_result(IoStatus::ok);
    // No ERR_clear_error() before each call (≈ 400 instructions in OpenSSL 3, a fifth of a
    // query's cost): failure() decides from the session's retry state first and reads the
    // queue only for a real failure, draining it (see failure()).
    io_errno_ = 0;
    std::size_t n = 0;
    int ret = SSL_read_ex(ssl_.get(), buf, len, &n);
    if (ret == 1) return status_result(IoStatus::ok, n);
    return failure(ret, Op::read);
}

IoResult OpenSslSession::write(const void* buf, std::size_t len) {
    if (len == 0) return status_result(IoStatus::ok);
    io_errno_ = 0;  // no ERR_clear_error(): see read()
    std::size_t n = 0;
    int ret = SSL_write_ex(ssl_.get(), buf, len, &n);
    if (ret == 1) return status_result(IoStatus::ok, n);
    return failure(ret, Op::write);
}

IoResult OpenSslSession::shutdown() {
    // OpenSSL forbids SSL_shutdown after a fatal error or before the handshake finished.
    if (fatal_ || SSL_is_init_finished(ssl_.get()) != 1) return status_result(IoStatus::ok);
    ERR_clear_error();
    io_errno_ = 0;
    // 0: our close_notify went out; the peer's is not awaited (best effort, as libpq).
    int ret = SSL_shutdown(ssl_.get());
    if (ret >= 0) return status_result(IoStatus::ok);
    bool peer_gone = peer_closed_ || io_errno_ == EPIPE || io_errno_ == ECONNRESET;
    IoResult r = failure(ret, Op::shutdown);
    // Nobody is left to read our close_notify: that is a finished shutdown, not a failure.
    if (r.status == IoStatus::closed || (r.status == IoStatus::error && peer_gone)) return status_result(IoStatus::ok);
    return r;
}

std::size_t OpenSslSession::pending() const {
    int n = SSL_pending(ssl_.get());
    return n > 0 ? static_cast<std::size_t>(n) : 0;
}

SessionInfo OpenSslSession::info() const {
    SessionInfo out;
    const SSL* ssl = ssl_.get();
    if (SSL_is_init_finished(ssl) != 1) return out;
    if (const char* v = SSL_get_version(ssl)) out.protocol = v;
    if (const SSL_CIPHER* c = SSL_get_current_cipher(ssl))
        if (const char* name = SSL_CIPHER_get_name(c)) out.cipher = name;
    const unsigned char* alpn = nullptr;
    unsigned int alpn_len = 0;
    SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
    if (alpn != nullptr) out.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
    return out;
}

std::optional<PeerCertificate> OpenSslSession::peer_certificate() const {
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    X509* cert = SSL_get0_peer_certificate(ssl_.get());
    if (cert == nullptr) return std::nullopt;
    return describe_certificate(cert);
#else
    X509Ptr cert(SSL_get_peer_certificate(ssl_.get()));
    if (!cert) return std::nullopt;
    return describe_certificate(cert.get());
#endif
}

IoResult OpenSslSession::failure(int ret, Op op) {
    SSL* ssl = ssl_.get();
    if (op == Op::read || op == Op::write) {
        // read()/write() do not clear the thread's error queue before the call. A call that
        // stopped because our socket BIO would block leaves SSL_want_read/write with the BIO's
        // retry flag set and pushes no error, so whatever the queue holds then was left by
        // other code on this thread: not ours to report or to clear.
        if (SSL_want_read(ssl) && BIO_should_read(SSL_get_rbio(ssl))) return status_result(IoStatus::want_read);
        if (SSL_want_write(ssl) && BIO_should_write(SSL_get_wbio(ssl))) return status_result(IoStatus::want_write);
        // A real failure: SSL_get_error() below reads the queue, and every path that reports
        // it drains it (drain_errors), so the next call starts clean. Entries another caller
        // left on this thread may be reported along with ours; they cannot turn a would-block
        // into an error (handled above).
    }
    int code = SSL_get_error(ssl, ret);
    switch (code) {
        case SSL_ERROR_WANT_READ:
            return status_result(IoStatus::want_read);
        case SSL_ERROR_WANT_WRITE:
            return status_result(IoStatus::want_write);
        case SSL_ERROR_ZERO_RETURN:
            if (op == Op::handshake) {
                fatal_ = true;
                return error_result("SSL connection has been closed unexpectedly during the handshake");
            }
            peer_closed_ = true;
            // A partial record left in the read buffer: the stream was cut inside it.
            if (op == Op::read && SSL_has_pending(ssl)) return error_result(kEofInsideRecord);
            return status_result(IoStatus::closed);
        case SSL_ERROR_SYSCALL: {
            std::string queued = drain_errors();
            if (io_errno_ == 0 && queued.empty() && op == Op::read) {
                peer_closed_ = true;
                if (SSL_has_pending(ssl)) return error_result(kEofInsideRecord);
                return status_result(IoStatus::closed);
            }
            fatal_ = true;
            if (io_errno_ != 0) return error_result(std::string("SSL SYSCALL error: ") + std::strerror(io_errno_));
            if (!queued.empty()) return error_result("SSL SYSCALL error: " + queued);
            return error_result(op == Op::handshake
                                    ? "SSL SYSCALL error: EOF detected (server closed the connection during the "
                                      "TLS handshake)"
                                    : "SSL SYSCALL error: EOF detected");
        }
        case SSL_ERROR_SSL: {
            fatal_ = true;
            std::vector<unsigned long> codes;
            std::string queued = drain_errors(&codes);
            std::string message = "SSL error: " + (queued.empty() ? std::string("unknown error") : queued);
            for (unsigned long c : codes) {
                int reason = ERR_GET_REASON(c);
                if (ERR_GET_LIB(c) == ERR_LIB_SSL && reason == SSL_R_CERTIFICATE_VERIFY_FAILED) {
                    long result = SSL_get_verify_result(ssl_.get());
                    if (result != X509_V_OK) {
                        message += std::string(": ") + X509_verify_cert_error_string(result);
                        if (!verify_failure_.empty()) message += " (" + verify_failure_ + ")";
                    }
                    break;
                }
                if (ERR_GET_LIB(c) == ERR_LIB_SSL && is_protocol_version_reason(reason)) {
                    message += std::string(". This may indicate that the server does not support any SSL "
                                           "protocol version between ") +
                               version_name(context_->min_version()) + " and " +
                               version_name(context_->max_version()) + ".";
                    break;
                }
            }
            return error_result(std::move(message));
        }
        default:
            fatal_ = true;
            return error_result("unrecognized SSL error code: " + std::to_string(code));
    }
}

}  // namespace pgtls::tls::openssl
