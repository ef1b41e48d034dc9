#include "backends/gnutls/gnutls_chain_verify.hpp"

#include <gnutls/x509.h>

#include <ctime>
#include <string_view>
#include <vector>

#include "tls/crl_coverage.hpp"

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

bool issued_by(gnutls_x509_crl_t crl, const std::string& raw_issuer) {
    gnutls_datum_t dn{nullptr, 0};
    if (gnutls_x509_crl_get_raw_issuer_dn(crl, &dn) < 0) return false;
    const bool same = raw_issuer == std::string_view(reinterpret_cast<const char*>(dn.data), dn.size);
    gnutls_free(dn.data);
    return same;
}

// Why no loaded CRL vouches for `cert`, whose issuer certificate is `issuer`; nullopt when one
// does. As OpenSSL (libpq) accepts a CRL: issued under the issuer's name, signed by its key,
// thisUpdate not in the future and nextUpdate (when present) not past. GnuTLS checks neither
// the signature nor the dates of CRLs it was given, so a forged or stale CRL must not count.
std::optional<std::string> crl_problem(const ContextState& state, gnutls_x509_crt_t cert, gnutls_x509_crt_t issuer) {
    const std::string issuer_dn = raw_dn(cert, true);
    const std::time_t now = std::time(nullptr);
    std::optional<std::string> problem;
    for (const Crl& crl : state.crls) {
        if (!issued_by(crl.get(), issuer_dn)) continue;
        // The dates are judged below: gnutls_x509_crl_verify would call a CRL without
        // nextUpdate superseded (and so invalid), where OpenSSL accepts it.
        constexpr unsigned date_bits =
            GNUTLS_CERT_REVOCATION_DATA_SUPERSEDED | GNUTLS_CERT_REVOCATION_DATA_ISSUED_IN_FUTURE;
        unsigned status = 0;
        const int rc = gnutls_x509_crl_verify(crl.get(), &issuer, 1, 0, &status);
        const bool only_dates = (status & date_bits) != 0 && (status & ~(date_bits | GNUTLS_CERT_INVALID)) == 0;
        const char* bad = nullptr;
        const std::time_t next_update = gnutls_x509_crl_get_next_update(crl.get());
        if (rc < 0 || (status != 0 && !only_dates))
            bad = "CRL signature failure";
        else if (gnutls_x509_crl_get_this_update(crl.get()) > now)
            bad = "CRL is not yet valid";
        else if (next_update != static_cast<std::time_t>(-1) && next_update < now)
            bad = "CRL has expired";
        if (!bad) return std::nullopt;
        if (!problem) problem = std::string(bad) + " (CRL from issuer \"" + issuer_text(cert) + "\")";
    }
    if (problem) return problem;
    return missing_crl_reason(issuer_text(cert));
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

    gnutls_x509_crt_t cur = chain.front().get();
    std::vector<bool> used(chain.size(), false);
    used[0] = true;
    std::vector<Crt> anchors;  // issuers taken from the store, alive while the walk uses them
    for (std::size_t step = 0; step <= chain.size() + 1; ++step) {
        const std::string issuer = raw_dn(cur, true);
        const bool self_issued = issuer == raw_dn(cur, false);
        gnutls_x509_crt_t next = self_issued ? cur : nullptr;
        for (std::size_t i = 0; next == nullptr && i < chain.size(); ++i) {
            if (!used[i] && raw_dn(chain[i].get(), false) == issuer) {
                used[i] = true;
                next = chain[i].get();
            }
        }
        if (!next) {
            // The issuer is a trust anchor the server did not send; take it from the store.
            gnutls_x509_crt_t anchor = nullptr;
            if (gnutls_certificate_get_issuer(state.cred.get(), cur, &anchor, GNUTLS_TL_GET_COPY) < 0 || !anchor)
                return missing_crl_reason(issuer_text(cur));  // no key to check a CRL with
            anchors.emplace_back(anchor);
            next = anchor;
        }
        if (auto problem = crl_problem(state, cur, next)) return problem;
        if (self_issued) return std::nullopt;  // the path ends here
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
