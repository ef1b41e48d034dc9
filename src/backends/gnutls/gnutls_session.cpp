#include "backends/gnutls/gnutls_session.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "backends/gnutls/gnutls_chain_verify.hpp"
#include "backends/gnutls/gnutls_names.hpp"
#include "backends/gnutls/gnutls_certificate.hpp"
#include "tls/key_log_file.hpp"
#include "tls/tls_names.hpp"

namespace pgtls::tls::gnutls {
namespace {

// Bounds the retries on non-fatal GnuTLS results (warning alerts, refused renegotiation) so a
// hostile peer cannot keep one call spinning.
constexpr int kMaxSoftRetries = 64;

GnutlsSession* self_of(gnutls_session_t s) { return static_cast<GnutlsSession*>(gnutls_session_get_ptr(s)); }

// On a blocking socket GNUTLS_E_AGAIN does not always mean "no data yet": GnuTLS also returns
// it after consuming a record that carried no application data (a TLS 1.3 NewSessionTicket,
// a key update), and the call must simply be repeated, as OpenSSL's SSL_MODE_AUTO_RETRY does.
bool is_blocking(int fd) {
    const int flags = ::fcntl(fd, F_GETFL);
    return flags >= 0 && !(flags & O_NONBLOCK);
}

}  // namespace

void install_session_callbacks(ContextState& state) {
    gnutls_certificate_set_retrieve_function2(state.cred.get(), &GnutlsSession::retrieve_client_cert);
    if (state.verify_chain) gnutls_certificate_set_verify_function(state.cred.get(), &GnutlsSession::verify_callback);
}

GnutlsSession::GnutlsSession(std::shared_ptr<const ContextState> state, int fd, const SessionParams& params)
    : state_(std::move(state)), warnings_(state_->warnings) {
    if (int rc = gnutls_init(&session_, GNUTLS_CLIENT | GNUTLS_NO_SIGNAL); rc < 0)
        throw Error(ErrorKind::tls, "could not create a GnuTLS session: " + error_text(rc));
    gnutls_session_set_ptr(session_, this);
    auto check = [this](int rc, const char* what) {
        if (rc < 0) {
            gnutls_deinit(session_);
            session_ = nullptr;
            throw Error(ErrorKind::tls, std::string("could not set up the GnuTLS session (") + what + "): " + error_text(rc));
        }
    };
    check(gnutls_priority_set(session_, state_->priority.get()), "priority");
    check(gnutls_credentials_set(session_, GNUTLS_CRD_CERTIFICATE, state_->cred.get()), "credentials");
    if (!params.sni.empty())
        check(gnutls_server_name_set(session_, GNUTLS_NAME_DNS, params.sni.data(), params.sni.size()), "server name");
    if (!state_->alpn.empty()) {
        std::vector<gnutls_datum_t> protos;
        for (const auto& p : state_->alpn) protos.push_back(datum_of(p));
        // GNUTLS_ALPN_MANDATORY only acts when the server answers with an ALPN extension: a
        // protocol we did not offer then fails the handshake (RFC 7301 3.2, as OpenSSL does),
        // while a server without ALPN is still accepted (core decides about that).
        check(gnutls_alpn_set_protocols(session_, protos.data(), static_cast<unsigned>(protos.size()),
                                        GNUTLS_ALPN_MANDATORY),
              "ALPN");
    }
    // Without sslkeylogfile, secrets go nowhere: GnuTLS's default hook would honour the
    // SSLKEYLOGFILE environment variable, which OpenSSL-based libpq ignores.
    gnutls_session_set_keylog_function(session_, state_->keylog_file.empty() ? &GnutlsSession::discard_keylog
                                                                             : &GnutlsSession::keylog_callback);
    // Deadlines are core's business (connect_timeout), as with OpenSSL, which has none.
    gnutls_handshake_set_timeout(session_, 0);
    // Reads go through pull() so that peer_answer() sees the server's first bytes even when
    // GnuTLS reads them and the EOF inside one handshake call; writes stay GnuTLS's own on the fd.
    gnutls_transport_set_ptr2(session_, this, reinterpret_cast<gnutls_transport_ptr_t>(static_cast<std::intptr_t>(fd)));
    gnutls_transport_set_pull_function(session_, &GnutlsSession::pull);
    gnutls_transport_set_pull_timeout_function(session_, &GnutlsSession::pull_timeout);
    fd_ = fd;
}

GnutlsSession::~GnutlsSession() {
    if (session_) gnutls_deinit(session_);
}

// errno is left as recv/poll set it: GnuTLS reads it (EAGAIN, EINTR) when no errno function
// was installed.
ssize_t GnutlsSession::pull(gnutls_transport_ptr_t self, void* buf, std::size_t len) {
    auto* s = static_cast<GnutlsSession*>(self);
    const ssize_t n = ::recv(s->fd_, buf, len, 0);
    if (n > 0) s->peer_answer_.received(buf, static_cast<std::size_t>(n));
    return n;
}

ssize_t GnutlsSession::pull_established(gnutls_transport_ptr_t self, void* buf, std::size_t len) {
    return ::recv(static_cast<GnutlsSession*>(self)->fd_, buf, len, 0);
}

// GnuTLS's contract: > 0 when data (or EOF) is readable, 0 when `ms` passed, -1 on error;
// GNUTLS_INDEFINITE_TIMEOUT waits without limit.
int GnutlsSession::pull_timeout(gnutls_transport_ptr_t self, unsigned int ms) {
    auto* s = static_cast<GnutlsSession*>(self);
    pollfd p{s->fd_, POLLIN, 0};
    const int timeout = ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : static_cast<int>(ms);
    for (;;) {
        const int rc = ::poll(&p, 1, timeout);
        if (rc < 0 && errno == EINTR) continue;
        return rc;
    }
}

int GnutlsSession::verify_callback(gnutls_session_t s) {
    GnutlsSession* self = self_of(s);
    if (!self) return -1;
    if (auto failure = verify_server_chain(s, *self->state_)) {
        self->verify_failure_ = std::move(*failure);
        return -1;
    }
    return 0;
}

int GnutlsSession::retrieve_client_cert(gnutls_session_t s, const gnutls_datum_t*, int, const gnutls_pk_algorithm_t*,
                                        int, gnutls_pcert_st** pcert, unsigned* pcert_length,
                                        gnutls_privkey_t* privkey) {
    GnutlsSession* self = self_of(s);
    *pcert = nullptr;
    *pcert_length = 0;
    *privkey = nullptr;
    if (!self) return -1;
    self->cert_requested_ = true;
    const ContextState& st = *self->state_;
    if (st.client_chain.empty() || !st.client_key) return 0;  // send an empty Certificate
    // GnuTLS only reads these; they stay owned by the context state.
    *pcert = const_cast<gnutls_pcert_st*>(st.client_chain.data());
    *pcert_length = static_cast<unsigned>(st.client_chain.size());
    *privkey = st.client_key.get();
    self->cert_sent_ = true;
    return 0;
}

int GnutlsSession::keylog_callback(gnutls_session_t s, const char* label, const gnutls_datum_t* secret) {
    GnutlsSession* self = self_of(s);
    if (!self || !label || !secret) return 0;
    gnutls_datum_t client_random{nullptr, 0};
    gnutls_session_get_random(s, &client_random, nullptr);
    std::string line = key_log_line(label, {client_random.data, client_random.size}, {secret->data, secret->size});
    if (auto warning = append_key_log_line(self->state_->keylog_file, line)) self->add_warning(std::move(*warning));
    crypto::secure_zero(line.data(), line.size());
    return 0;  // non-zero would abort the handshake; a key log is never worth that
}

int GnutlsSession::discard_keylog(gnutls_session_t, const char*, const gnutls_datum_t*) { return 0; }

void GnutlsSession::add_warning(std::string w) {
    std::lock_guard<std::mutex> lock(warnings_mutex_);
    for (const auto& existing : warnings_)
        if (existing == w) return;  // one line per distinct problem, not one per secret
    warnings_.push_back(std::move(w));
}

std::vector<std::string> GnutlsSession::warnings() const {
    std::lock_guard<std::mutex> lock(warnings_mutex_);
    return warnings_;
}

IoResult GnutlsSession::would_block() const {
    IoResult r;
    r.status = gnutls_record_get_direction(session_) ? IoStatus::want_write : IoStatus::want_read;
    return r;
}

IoResult GnutlsSession::failure(std::string message) const {
    IoResult r;
    r.status = IoStatus::error;
    r.error = std::move(message);
    return r;
}

std::string GnutlsSession::describe_io_error(int rc, int saved_errno, const char* doing) const {
    switch (rc) {
        case GNUTLS_E_PREMATURE_TERMINATION:
            return std::string("server closed the connection unexpectedly while ") + doing +
                   " (EOF without TLS close_notify)";
        case GNUTLS_E_UNEXPECTED_PACKET_LENGTH: {
            // GnuTLS reports an EOF in the middle of a record as a malformed packet; a peek at
            // the socket tells a truncated stream (EOF stays readable) from a bad length.
            char c;
            if (fd_ >= 0 && ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
                return std::string("server closed the connection unexpectedly while ") + doing +
                       " (EOF in the middle of a TLS record)";
            break;
        }
        case GNUTLS_E_PULL_ERROR:
        case GNUTLS_E_PUSH_ERROR:
            if (saved_errno != 0) return std::string("could not ") + (rc == GNUTLS_E_PULL_ERROR ? "receive" : "send") +
                                         " data while " + doing + ": " + std::strerror(saved_errno);
            break;
        case GNUTLS_E_FATAL_ALERT_RECEIVED: {
            const char* alert = gnutls_alert_get_name(gnutls_alert_get(session_));
            return std::string("server sent fatal TLS alert while ") + doing + ": " + (alert ? alert : "unknown alert");
        }
        default: break;
    }
    return std::string("TLS error while ") + doing + ": " + error_text(rc);
}

std::string GnutlsSession::describe_handshake_error(int rc, int saved_errno) const {
    if ((rc == GNUTLS_E_CERTIFICATE_ERROR || rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) && !verify_failure_.empty())
        return "certificate verify failed: " + verify_failure_;
    if (rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
        OwnedDatum text;
        const unsigned status = gnutls_session_get_verify_cert_status(session_);
        if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0) >= 0) {
            std::string reason = text.str();
            reason.erase(reason.find_last_not_of(" \n") + 1);
            return "certificate verify failed: " + reason;
        }
    }
    if (rc == GNUTLS_E_NO_APPLICATION_PROTOCOL)
        return "TLS handshake failed: the server selected no ALPN protocol we offered";
    return describe_io_error(rc, saved_errno, "performing the TLS handshake");
}

IoResult GnutlsSession::handshake() {
    if (handshake_done_) return {};
    for (int soft = 0;;) {
        errno = 0;
        const int rc = gnutls_handshake(session_);
        const int saved_errno = errno;
        if (rc == GNUTLS_E_SUCCESS) {
            handshake_done_ = true;
            // The server's first bytes are known: later reads (every record of every query)
            // skip the probe.
            gnutls_transport_set_pull_function(session_, &GnutlsSession::pull_established);
            return {};
        }
        if (rc == GNUTLS_E_INTERRUPTED) continue;
        if (rc == GNUTLS_E_AGAIN) return would_block();
        if (!gnutls_error_is_fatal(rc) && ++soft < kMaxSoftRetries) continue;
        return failure(describe_handshake_error(rc, saved_errno));
    }
}

IoResult GnutlsSession::read(void* buf, std::size_t len) {
    if (len == 0) return {};
    for (int soft = 0;;) {
        errno = 0;
        const ssize_t n = gnutls_record_recv(session_, buf, len);
        const int saved_errno = errno;
        if (n > 0) {
            IoResult r;
            r.bytes = static_cast<std::size_t>(n);
            return r;
        }
        if (n == 0) {
            IoResult r;
            r.status = IoStatus::closed;  // close_notify received
            return r;
        }
        const int rc = static_cast<int>(n);
        if (rc == GNUTLS_E_INTERRUPTED) continue;
        if (rc == GNUTLS_E_AGAIN) {
            // recv() itself said EAGAIN: the socket is non-blocking or its SO_RCVTIMEO expired
            // (a blocking socket without a timeout never says so), so there is nothing to read
            // now. Decided without a syscall: this is every would-block read of a streaming or
            // pipelined reply on pgtls's non-blocking sockets.
            if (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK) return would_block();
            // Otherwise GnuTLS consumed a record without application data; on a blocking
            // socket the call is simply repeated.
            if (++soft < kMaxSoftRetries && is_blocking(fd_)) continue;
            return would_block();
        }
        // A renegotiation request (TLS 1.2 HelloRequest) is declined by ignoring it, as the
        // GnuTLS manual advises for clients that do not renegotiate; warning alerts likewise.
        if ((rc == GNUTLS_E_REHANDSHAKE || !gnutls_error_is_fatal(rc)) && ++soft < kMaxSoftRetries) continue;
        return failure(describe_io_error(rc, saved_errno, "reading"));
    }
}

IoResult GnutlsSession::write(const void* buf, std::size_t len) {
    if (len == 0) return {};
    for (;;) {
        errno = 0;
        const ssize_t n = gnutls_record_send(session_, buf, len);
        const int saved_errno = errno;
        if (n >= 0) {
            IoResult r;
            r.bytes = static_cast<std::size_t>(n);
            return r;
        }
        const int rc = static_cast<int>(n);
        if (rc == GNUTLS_E_INTERRUPTED) continue;
        if (rc == GNUTLS_E_AGAIN) return would_block();  // call again with the same buffer
        return failure(describe_io_error(rc, saved_errno, "writing"));
    }
}

IoResult GnutlsSession::shutdown() {
    if (!handshake_done_) return {};
    for (;;) {
        const int rc = gnutls_bye(session_, GNUTLS_SHUT_WR);  // send close_notify, do not wait
        if (rc == GNUTLS_E_SUCCESS) return {};
        if (rc == GNUTLS_E_INTERRUPTED) continue;
        if (rc == GNUTLS_E_AGAIN) return would_block();
        return failure(describe_io_error(rc, errno, "closing the TLS connection"));
    }
}

std::size_t GnutlsSession::pending() const { return gnutls_record_check_pending(session_); }

SessionInfo GnutlsSession::info() const {
    SessionInfo si;
    if (!handshake_done_) return si;
    si.protocol = protocol_name(gnutls_protocol_get_version(session_));
    if (const char* suite = gnutls_ciphersuite_get(session_)) si.cipher = openssl_cipher_name(suite);
    gnutls_datum_t alpn{nullptr, 0};
    if (gnutls_alpn_get_selected_protocol(session_, &alpn) == 0 && alpn.data)
        si.alpn.assign(reinterpret_cast<const char*>(alpn.data), alpn.size);
    return si;
}

std::optional<PeerCertificate> GnutlsSession::peer_certificate() const {
    unsigned n = 0;
    const gnutls_datum_t* list = gnutls_certificate_get_peers(session_, &n);
    if (!list || n == 0) return std::nullopt;
    return describe_certificate(list[0]);
}

bool GnutlsSession::client_certificate_requested() const {
    return cert_requested_ || gnutls_certificate_client_get_request_status(session_) != 0;
}

bool GnutlsSession::client_certificate_sent() const {
    return cert_sent_ && gnutls_certificate_get_ours(session_) != nullptr;
}

}  // namespace pgtls::tls::gnutls
