#include "backends/gnutls/gnutls_context.hpp"

#include "backends/gnutls/gnutls_credentials.hpp"
#include "backends/gnutls/gnutls_priority.hpp"
#include "backends/gnutls/gnutls_session.hpp"

namespace pgtls::tls::gnutls {

ContextState::~ContextState() {
    for (auto& p : client_chain) gnutls_pcert_deinit(&p);
}

GnutlsContext::GnutlsContext(const ContextConfig& config) : state_(std::make_shared<ContextState>()) {
    ContextState& st = *state_;
    st.priority = make_priority(config.min_version, config.max_version);

    gnutls_certificate_credentials_t cred = nullptr;
    if (int rc = gnutls_certificate_allocate_credentials(&cred); rc < 0)
        throw Error(ErrorKind::tls, "could not allocate GnuTLS credentials: " + error_text(rc));
    st.cred.reset(cred);

    st.verify_chain = config.verify_chain;
    if (config.verify_chain && config.ca.empty())
        throw Error(ErrorKind::config, "certificate verification requested but no root certificate (sslrootcert) given");
    load_trust(st, config);  // before the CRLs: GnuTLS keeps only CRLs a trust anchor signed
    load_crls(st, config);
    load_client_certificate(st, config);

    for (const auto& p : config.alpn) {
        if (p.empty() || p.size() > 255)
            throw Error(ErrorKind::config, "invalid ALPN protocol name \"" + p + "\" (1 to 255 bytes)");
        st.alpn.push_back(p);
    }
    st.keylog_file = config.keylog_file;
    install_session_callbacks(st);
}

std::unique_ptr<Session> GnutlsContext::create_session(int fd, const SessionParams& params) {
    if (fd < 0) throw Error(ErrorKind::usage, "TLS session requested on an invalid socket");
    return std::make_unique<GnutlsSession>(state_, fd, params);
}

}  // namespace pgtls::tls::gnutls
