// A configured GnuTLS client context: certificate credentials (trust store, CRLs, client
// certificate), the priority string for the protocol-version bounds, and the settings every
// session made from it shares.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backends/gnutls/gnutls_util.hpp"
#include "tls/tls_backend.hpp"

namespace pgtls::tls::gnutls {

// Immutable after construction; sessions keep it alive with a shared_ptr, so a session may
// outlive the Context object that made it.
struct ContextState {
    ContextState() = default;
    ContextState(const ContextState&) = delete;
    ContextState& operator=(const ContextState&) = delete;
    ~ContextState();

    Credentials cred;
    Priority priority;
    bool verify_chain = false;

    // Client certificate chain and key, handed to GnuTLS by the retrieve callback so that
    // the certificate is sent whatever CA names the server lists (as OpenSSL does).
    std::vector<gnutls_pcert_st> client_chain;
    PrivKey client_key;

    // CRL checking is on exactly when libpq would set X509_V_FLAG_CRL_CHECK_ALL: a CRL file or
    // directory was named. crls holds every CRL loaded, those of the root certificate file too:
    // the coverage rule checks each one's signature and dates itself (GnuTLS does neither).
    bool crl_active = false;
    std::vector<Crl> crls;

    std::vector<std::string> alpn;
    std::string keylog_file;
    std::vector<std::string> warnings;  // non-fatal problems met while loading
};

class GnutlsContext final : public Context {
public:
    explicit GnutlsContext(const ContextConfig& config);
    std::unique_ptr<Session> create_session(int fd, const SessionParams& params) override;
    const ContextState& state() const noexcept { return *state_; }

private:
    std::shared_ptr<ContextState> state_;
};

}  // namespace pgtls::tls::gnutls
