#include "backends/mbedtls/mbedtls_context.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

#include <dirent.h>
#include <unistd.h>
#include <sys/stat.h>

#include "backends/mbedtls/mbedtls_errors.hpp"
#include "backends/mbedtls/mbedtls_session.hpp"
#include "backends/mbedtls/mbedtls_key_log.hpp"
#include "backends/mbedtls/mbedtls_private_key.hpp"
#include "crypto/crypto.hpp"
#include "tls/material.hpp"
#include "tls/root_file_anchors.hpp"
#include "tls/system_trust_overrides.hpp"
#include "tls/tls_files.hpp"
#include "tls/tls_names.hpp"
#include "pgtls/error.hpp"

namespace pgtls::tls::mbedtls {
namespace {

using tls::read_file;  // src/tls/tls_files.hpp

bool looks_like_pem(const std::string& data) { return data.find("-----BEGIN ") != std::string::npos; }

// mbedTLS parses PEM only when the buffer's length includes the terminating NUL.
std::size_t parse_length(const std::string& data) { return looks_like_pem(data) ? data.size() + 1 : data.size(); }

const unsigned char* bytes(const std::string& s) { return reinterpret_cast<const unsigned char*>(s.c_str()); }

std::string describe(const Material& m, const std::string& what) {
    return material_label(m, {what, what + " (in-memory PEM)"});
}

// Certificates into `chain`. Returns the number of certificates that failed to parse, or
// throws when none parsed. A CA bundle may legitimately hold certificates mbedTLS 2.28
// cannot read (Ed25519); those are skipped as long as something usable remains.
int parse_certificates(mbedtls_x509_crt& chain, const std::string& data, const std::string& label) {
    const int rc = mbedtls_x509_crt_parse(&chain, bytes(data), parse_length(data));
    if (rc < 0) throw Error(ErrorKind::config, "could not load " + label + ": " + error_text(rc));
    if (chain.raw.p == nullptr)
        throw Error(ErrorKind::config, "could not load " + label + ": no certificate could be parsed");
    return rc;
}

// mbedTLS would take an intermediate CA of the root file as an anchor; libpq does not.
void parse_root_certificates(mbedtls_x509_crt& ca, const std::string& data, const std::string& label) {
    const RootFileAnchors anchors = keep_anchored_certificates(data);
    if (!anchors.trusts_nothing()) parse_certificates(ca, anchors.data, label);
}

// $SSL_CERT_FILE, else the first distribution bundle found (Debian's first); then
// $SSL_CERT_DIR, else the hashed directory — as OpenSSL's default verify paths, which libpq's
// sslrootcert=system uses. The default directory repeats the default bundle, so it is read
// only when no bundle was.
void load_system_trust(mbedtls_x509_crt& ca) {
    const SystemTrustOverrides env = system_trust_overrides();
    bool default_bundle = false;
    if (env.file) {
        if (::access(env.file->c_str(), R_OK) == 0) mbedtls_x509_crt_parse_file(&ca, env.file->c_str());
    } else {
        for (const char* f : {"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt",
                              "/etc/ssl/ca-bundle.pem", "/etc/ssl/cert.pem"}) {
            if (::access(f, R_OK) != 0) continue;
            const int rc = mbedtls_x509_crt_parse_file(&ca, f);
            if (rc >= 0 && ca.raw.p != nullptr) {
                default_bundle = true;
                break;
            }
        }
    }
    const std::string dir = env.dir.value_or("/etc/ssl/certs");
    if (env.dir || !default_bundle) mbedtls_x509_crt_parse_path(&ca, dir.c_str());
    if (ca.raw.p != nullptr) return;
    throw Error(ErrorKind::config,
                "could not load the system trust store (sslrootcert=system): no readable CA bundle found "
                "(tried $SSL_CERT_FILE, /etc/ssl/certs/ca-certificates.crt and others, and directory " + dir + ")");
}


int minor_version(TlsVersion v) {
    switch (v) {
        case TlsVersion::tls1_0: return MBEDTLS_SSL_MINOR_VERSION_1;
        case TlsVersion::tls1_1: return MBEDTLS_SSL_MINOR_VERSION_2;
        case TlsVersion::unspecified:
        case TlsVersion::tls1_2:
        case TlsVersion::tls1_3: return MBEDTLS_SSL_MINOR_VERSION_3;
    }
    return MBEDTLS_SSL_MINOR_VERSION_3;
}

// Forward-secret suites only, AEAD first, as an OpenSSL 3 client would prefer; the CBC-SHA
// suites remain for servers limited to TLS 1.0/1.1 when the minimum is lowered.
constexpr int preferred_ciphersuites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_DHE_RSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_DHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
    MBEDTLS_TLS_DHE_RSA_WITH_AES_256_CBC_SHA256,
    MBEDTLS_TLS_DHE_RSA_WITH_AES_128_CBC_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
    MBEDTLS_TLS_DHE_RSA_WITH_AES_256_CBC_SHA,
    MBEDTLS_TLS_DHE_RSA_WITH_AES_128_CBC_SHA,
};

}  // namespace

MbedtlsContext::MbedtlsContext(const ContextConfig& config) {
    mbedtls_ssl_config_init(&conf_);
    mbedtls_x509_crt_init(&ca_);
    mbedtls_x509_crl_init(&crl_);
    mbedtls_x509_crt_init(&own_cert_);
    mbedtls_pk_init(&own_key_);
    // From here on the destructor does not run if we throw: free by hand.
    try {
        const int rc = mbedtls_ssl_config_defaults(&conf_, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                                   MBEDTLS_SSL_PRESET_DEFAULT);
        if (rc != 0) throw Error(ErrorKind::tls, "mbedtls: could not initialise the TLS configuration: " + error_text(rc));
        mbedtls_ssl_conf_rng(&conf_, &Random::callback, &random_);

        for (int id : preferred_ciphersuites)
            if (mbedtls_ssl_ciphersuite_from_id(id) != nullptr) ciphersuites_.push_back(id);
        ciphersuites_.push_back(0);
        mbedtls_ssl_conf_ciphersuites(&conf_, ciphersuites_.data());

        set_protocol_range(config.min_version, config.max_version);

        verify_chain_ = config.verify_chain;
        if (verify_chain_) {
            if (config.ca.empty())
                throw Error(ErrorKind::config, "certificate verification requested but no root certificate (sslrootcert) given");
            load_trust_anchors(config.ca);
            load_crls(config.crl, config.crl_dir);
            collect_crl_issuers();
            mbedtls_ssl_conf_ca_chain(&conf_, &ca_, has_crl_ ? &crl_ : nullptr);
            mbedtls_ssl_conf_authmode(&conf_, MBEDTLS_SSL_VERIFY_REQUIRED);
        } else {
            // sslmode=require without a root certificate: encrypt, trust anything (as libpq).
            mbedtls_ssl_conf_authmode(&conf_, MBEDTLS_SSL_VERIFY_NONE);
        }

        if (config.send_client_cert) load_client_identity(config);
        set_alpn(config.alpn);

        if (!config.keylog_file.empty()) {
            keylog_file_ = config.keylog_file;
            mbedtls_ssl_conf_export_keys_ext_cb(&conf_, &export_keys_to_file, &keylog_file_);
        }
        // PostgreSQL never renegotiates; refuse server-initiated renegotiation.
        mbedtls_ssl_conf_renegotiation(&conf_, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
    } catch (...) {
        mbedtls_pk_free(&own_key_);
        mbedtls_x509_crt_free(&own_cert_);
        mbedtls_x509_crl_free(&crl_);
        mbedtls_x509_crt_free(&ca_);
        mbedtls_ssl_config_free(&conf_);
        throw;
    }
}

MbedtlsContext::~MbedtlsContext() {
    mbedtls_ssl_config_free(&conf_);
    mbedtls_pk_free(&own_key_);
    mbedtls_x509_crt_free(&own_cert_);
    mbedtls_x509_crl_free(&crl_);
    mbedtls_x509_crt_free(&ca_);
}

std::unique_ptr<Session> MbedtlsContext::create_session(int fd, const SessionParams& params) {
    return std::make_unique<MbedtlsSession>(shared_from_this(), fd, params);
}

void MbedtlsContext::set_protocol_range(TlsVersion min, TlsVersion max) {
    if (min == TlsVersion::tls1_3)
        throw Error(ErrorKind::config,
                    "ssl_min_protocol_version=TLSv1.3 cannot be honoured: TLS 1.3 is not supported by mbedTLS 2.28 "
                    "(use sslbackend=openssl or gnutls, or lower the minimum)");
    // The library's range is TLS 1.0 .. 1.2; an unspecified minimum means the lowest.
    const int lo = min == TlsVersion::unspecified ? MBEDTLS_SSL_MINOR_VERSION_1 : minor_version(min);
    // max TLSv1.3 only permits 1.3, it does not require it: cap at 1.2.
    const int hi = minor_version(max);
    if (max != TlsVersion::unspecified && hi < lo)
        throw Error(ErrorKind::config, std::string("invalid SSL protocol version range: ssl_max_protocol_version ") +
                                           version_name(max) + " is below ssl_min_protocol_version " + version_name(min));
    mbedtls_ssl_conf_min_version(&conf_, MBEDTLS_SSL_MAJOR_VERSION_3, lo);
    mbedtls_ssl_conf_max_version(&conf_, MBEDTLS_SSL_MAJOR_VERSION_3, hi);
}

void MbedtlsContext::load_trust_anchors(const Material& ca) {
    switch (ca.kind) {
        case Material::Kind::system: load_system_trust(ca_); return;
        case Material::Kind::file: {
            const std::string data = read_file(ca.value, "root certificate file");
            parse_root_certificates(ca_, data, "root certificate file \"" + ca.value + "\"");
            // libpq loads the root file with X509_STORE_load_locations, which takes CRLs too.
            if (data.find("-----BEGIN X509 CRL-----") != std::string::npos) {
                if (const int rc = mbedtls_x509_crl_parse(&crl_, bytes(data), data.size() + 1); rc != 0)
                    throw Error(ErrorKind::config, "could not load the CRL in root certificate file \"" + ca.value +
                                                       "\": " + error_text(rc));
                has_crl_ = requires_crls_ = true;
            }
            return;
        }
        case Material::Kind::pem: parse_root_certificates(ca_, ca.value, "root certificate (in-memory PEM)"); return;
        case Material::Kind::none: return;
    }
}

void MbedtlsContext::load_crls(const Material& crl, const std::string& crl_dir) {
    if (crl.kind == Material::Kind::file || crl.kind == Material::Kind::pem) {
        const std::string data =
            material_bytes(crl, "SSL certificate revocation list file");
        const int rc = mbedtls_x509_crl_parse(&crl_, bytes(data), parse_length(data));
        if (rc != 0)
            throw Error(ErrorKind::config,
                        "could not load " + describe(crl, "SSL certificate revocation list") + ": " + error_text(rc));
        has_crl_ = requires_crls_ = true;
    }
    if (!crl_dir.empty()) {
        requires_crls_ = true;
        // Like OpenSSL's -CRLpath, the directory holds hashed links (`openssl rehash`); we load
        // every CRL in it up front. Files that are not CRLs (certificates) are skipped.
        for_each_crl_dir_file(crl_dir, [this](const std::string&, const std::string& data) {
            if (data.find("-----BEGIN X509 CRL-----") == std::string::npos && looks_like_pem(data)) return;
            if (mbedtls_x509_crl_parse(&crl_, bytes(data), parse_length(data)) == 0) has_crl_ = true;
        });
    }
}

bool MbedtlsContext::has_crl_from(const mbedtls_x509_buf& issuer_raw) const noexcept {
    return crl_issuers_.covers({issuer_raw.p, issuer_raw.len});
}

void MbedtlsContext::collect_crl_issuers() {
    if (!has_crl_) return;
    for (const mbedtls_x509_crl* c = &crl_; c != nullptr; c = c->next)
        if (c->raw.p != nullptr) crl_issuers_.add({c->issuer_raw.p, c->issuer_raw.len});
}

void MbedtlsContext::load_client_identity(const ContextConfig& config) {
    if (config.cert.empty()) return;  // a key without a certificate is unused, as in libpq
    if (config.key.empty())
        throw Error(ErrorKind::config, "certificate present, but not private key: " +
                                           describe(config.cert, "client certificate") + " needs sslkey");
    const std::string cert_label = describe(config.cert, "client certificate file");
    const std::string cert_data = material_bytes(config.cert, "certificate file");
    const int failed = parse_certificates(own_cert_, cert_data, cert_label);
    if (failed > 0)
        throw Error(ErrorKind::config, "could not load " + cert_label + ": " + std::to_string(failed) +
                                           " certificate(s) could not be parsed");

    const std::string key_label = describe(config.key, "private key file");
    std::string key_data = material_bytes(config.key, "private key file");
    try {
        load_private_key(own_key_, key_data, config.key_password, key_label);
    } catch (...) {
        crypto::secure_zero(key_data.data(), key_data.size());
        throw;
    }
    crypto::secure_zero(key_data.data(), key_data.size());

    if (const int rc = mbedtls_pk_check_pair(&own_cert_.pk, &own_key_); rc != 0)
        throw Error(ErrorKind::config, "certificate does not match " + key_label + ": " + error_text(rc));
    if (const int rc = mbedtls_ssl_conf_own_cert(&conf_, &own_cert_, &own_key_); rc != 0)
        throw Error(ErrorKind::tls, "mbedtls: could not use the client certificate: " + error_text(rc));
    has_own_cert_ = true;
}

void MbedtlsContext::set_alpn(const std::vector<std::string>& protocols) {
    if (protocols.empty()) return;
    alpn_ = protocols;
    for (const std::string& p : alpn_) {
        if (p.empty() || p.size() > 255)
            throw Error(ErrorKind::config, "invalid ALPN protocol name \"" + p + "\" (1..255 bytes)");
        alpn_list_.push_back(p.c_str());
    }
    alpn_list_.push_back(nullptr);
    if (const int rc = mbedtls_ssl_conf_alpn_protocols(&conf_, alpn_list_.data()); rc != 0)
        throw Error(ErrorKind::config, "could not configure ALPN: " + error_text(rc));
}

}  // namespace pgtls::tls::mbedtls
