#include "backends/gnutls/gnutls_chain_verify.hpp"

#include <gnutls/x509.h>

#include <vector>

namespace pgtls::tls::gnutls {
namespace {

std::string raw_dn(gnutls_x509_crt_t crt, bool issuer) {
    gnutls_datum_t dn{nullptr, 0};
    int rc = issuer ? gnutls_x509_crt_get_raw_issuer_dn(crt, &dn) : gnutls_x509_crt_get_raw_dn(crt, &dn);
    if (rc < 0) return {};
    std::string out(reinterpret_cast<const char*>(dn.data), dn.size);
    gnutls_free(dn.data);
    return out;
}

std::string issuer_text(gnutls_x509_crt_t crt) {
    OwnedDatum dn;
    if (gnutls_x509_crt_get_issuer_dn3(crt, &dn, 0) < 0) return "?";
    return dn.str();
}

// The kit's CRL-coverage rule (src/tls/crl_coverage.hpp) over the path GnuTLS verified,
// which it does not expose: rebuilt here from the peer's certificates and the trust store.
std::optional<std::string> check_crl_coverage(gnutls_session_t session, const ContextState& state) {
    unsigned n = 0;
    const gnutls_datum_t* peers = gnutls_certificate_get_peers(session, &n);
    if (!peers || n == 0) return std::string("the server sent no certificate");

    std::vector<Crt> chain;
    for (unsigned i = 0; i < n; ++i) {
        Crt c = make_crt();
        if (gnutls_x509_crt_import(c.get(), &peers[i], GNUTLS_X509_FMT_DER) < 0) break;
        chain.push_back(std::move(c));
    }
    if (chain.empty()) return std::string("could not parse the server certificate");

    auto has_crl_from = [&](const std::string& issuer) {
        return state.crl_issuers.covers(
            {reinterpret_cast<const std::uint8_t*>(issuer.data()), issuer.size()});
    };
    auto missing = [](gnutls_x509_crt_t crt) { return missing_crl_reason(issuer_text(crt)); };

    gnutls_x509_crt_t cur = chain.front().get();
    std::vector<bool> used(chain.size(), false);
    used[0] = true;
    Crt anchor_holder;
    for (std::size_t step = 0; step <= chain.size() + 1; ++step) {
        const std::string issuer = raw_dn(cur, true);
        if (!has_crl_from(issuer)) return missing(cur);
        if (issuer == raw_dn(cur, false)) return std::nullopt;  // self-issued: the path ends here
        gnutls_x509_crt_t next = nullptr;
        for (std::size_t i = 0; i < chain.size(); ++i) {
            if (!used[i] && raw_dn(chain[i].get(), false) == issuer) {
                used[i] = true;
                next = chain[i].get();
                break;
            }
        }
        if (!next) {
            // The issuer is a trust anchor the server did not send; take it from the store.
            gnutls_x509_crt_t anchor = nullptr;
            if (gnutls_certificate_get_issuer(state.cred.get(), cur, &anchor, GNUTLS_TL_GET_COPY) < 0 || !anchor)
                return std::nullopt;
            anchor_holder.reset(anchor);
            next = anchor;
        }
        cur = next;
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::string> verify_server_chain(gnutls_session_t session, const ContextState& state) {
    gnutls_typed_vdata_st purpose{};
    purpose.type = GNUTLS_DT_KEY_PURPOSE_OID;
    purpose.data = reinterpret_cast<unsigned char*>(const_cast<char*>(GNUTLS_KP_TLS_WWW_SERVER));
    purpose.size = 0;
    unsigned status = 0;
    int rc = gnutls_certificate_verify_peers(session, &purpose, 1, &status);
    if (rc < 0) return "could not verify the server certificate: " + error_text(rc);
    if (status != 0) {
        OwnedDatum text;
        if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0) < 0)
            return std::string("the server certificate is not trusted");
        std::string reason = text.str();
        reason.erase(reason.find_last_not_of(" \n") + 1);
        return reason;
    }
    if (state.crl_active) return check_crl_coverage(session, state);
    return std::nullopt;
}

}  // namespace pgtls::tls::gnutls
