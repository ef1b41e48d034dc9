// tls::Context over one mbedtls_ssl_config: trust anchors, CRLs, client certificate and key,
// protocol range, ALPN and key logging, loaded once and shared by every session it creates.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>

#include "backends/mbedtls/mbedtls_random.hpp"
#include "tls/crl_coverage.hpp"
#include "tls/tls_backend.hpp"

namespace pgtls::tls::mbedtls {

class MbedtlsContext final : public Context, public std::enable_shared_from_this<MbedtlsContext> {
public:
    // Throws pgtls::Error(config) naming the setting or file that could not be used.
    explicit MbedtlsContext(const ContextConfig& config);
    ~MbedtlsContext() override;
    MbedtlsContext(const MbedtlsContext&) = delete;
    MbedtlsContext& operator=(const MbedtlsContext&) = delete;

    std::unique_ptr<Session> create_session(int fd, const SessionParams& params) override;

    const mbedtls_ssl_config* ssl_config() const noexcept { return &conf_; }
    bool has_client_certificate() const noexcept { return has_own_cert_; }
    bool verifies_chain() const noexcept { return verify_chain_; }
    const std::string& keylog_file() const noexcept { return keylog_file_; }
    // True once a CRL source (file, PEM or directory) is configured: then, as OpenSSL's
    // X509_V_FLAG_CRL_CHECK_ALL in libpq, every certificate of the chain needs a CRL from its
    // issuer. mbedTLS itself only checks the CRLs it has, so sessions enforce this.
    bool requires_crls() const noexcept { return requires_crls_; }
    bool has_crl_from(const mbedtls_x509_buf& issuer_raw) const noexcept;

private:
    void load_trust_anchors(const Material& ca);
    void load_crls(const Material& crl, const std::string& crl_dir);
    void collect_crl_issuers();  // after every CRL is parsed into crl_
    void load_client_identity(const ContextConfig& config);
    void set_protocol_range(TlsVersion min, TlsVersion max);
    void set_alpn(const std::vector<std::string>& protocols);

    Random random_;
    mbedtls_ssl_config conf_;
    mbedtls_x509_crt ca_;
    mbedtls_x509_crl crl_;
    CrlIssuers crl_issuers_;
    mbedtls_x509_crt own_cert_;
    mbedtls_pk_context own_key_;
    bool has_crl_ = false;
    bool requires_crls_ = false;
    bool has_own_cert_ = false;
    bool verify_chain_ = false;
    std::vector<int> ciphersuites_;             // referenced by conf_; 0-terminated
    std::vector<std::string> alpn_;             // storage behind alpn_list_
    std::vector<const char*> alpn_list_;        // referenced by conf_; nullptr-terminated
    std::string keylog_file_;
};

}  // namespace pgtls::tls::mbedtls
