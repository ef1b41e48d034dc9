// One client TLS connection over a caller-owned socket (never closed here).
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "backends/gnutls/gnutls_context.hpp"
#include "tls/peer_answer_probe.hpp"

namespace pgtls::tls::gnutls {

class GnutlsSession final : public Session {
public:
    // Throws Error(tls) if GnuTLS cannot set the session up.
    GnutlsSession(std::shared_ptr<const ContextState> state, int fd, const SessionParams& params);
    ~GnutlsSession() override;
    GnutlsSession(const GnutlsSession&) = delete;
    GnutlsSession& operator=(const GnutlsSession&) = delete;

    IoResult handshake() override;
    IoResult read(void* buf, std::size_t len) override;
    IoResult write(const void* buf, std::size_t len) override;
    IoResult shutdown() override;
    std::size_t pending() const override;
    SessionInfo info() const override;
    std::optional<PeerCertificate> peer_certificate() const override;
    bool client_certificate_requested() const override;
    bool client_certificate_sent() const override;
    std::vector<std::string> warnings() const override;
    TlsPeerAnswer peer_answer() const noexcept override { return peer_answer_.answer(); }

private:
    // GnuTLS callbacks; the session pointer is stored with gnutls_session_set_ptr.
    static int verify_callback(gnutls_session_t session);
    static int retrieve_client_cert(gnutls_session_t, const gnutls_datum_t*, int, const gnutls_pk_algorithm_t*, int,
                                    gnutls_pcert_st**, unsigned*, gnutls_privkey_t*);
    static int keylog_callback(gnutls_session_t session, const char* label, const gnutls_datum_t* secret);
    static int discard_keylog(gnutls_session_t session, const char* label, const gnutls_datum_t* secret);
    friend void install_session_callbacks(ContextState& state);
    // Socket reads (the recv transport pointer is the session; sends keep GnuTLS's own
    // send(MSG_NOSIGNAL) on the fd): recv on the fd, noting the bytes for peer_answer().
    static ssize_t pull(gnutls_transport_ptr_t self, void* buf, std::size_t len);
    // pull() once the handshake is done: recv alone.
    static ssize_t pull_established(gnutls_transport_ptr_t self, void* buf, std::size_t len);
    static int pull_timeout(gnutls_transport_ptr_t self, unsigned int ms);

    IoResult would_block() const;
    IoResult failure(std::string message) const;
    std::string describe_handshake_error(int rc, int saved_errno) const;
    std::string describe_io_error(int rc, int saved_errno, const char* doing) const;
    void add_warning(std::string w);

    std::shared_ptr<const ContextState> state_;
    gnutls_session_t session_ = nullptr;
    int fd_ = -1;
    PeerAnswerProbe peer_answer_;  // of what pull() read: the server's first bytes
    bool handshake_done_ = false;
    bool cert_requested_ = false;
    bool cert_sent_ = false;
    std::string verify_failure_;
    mutable std::mutex warnings_mutex_;
    std::vector<std::string> warnings_;
};

// Installs the callbacks above on a context's credentials.
void install_session_callbacks(ContextState& state);

}  // namespace pgtls::tls::gnutls
