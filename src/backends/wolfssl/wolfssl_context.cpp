#include "backends/wolfssl/wolfssl_context.hpp"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "backends/wolfssl/wolfssl_credentials.hpp"
#include "backends/wolfssl/wolfssl_errors.hpp"
#include "backends/wolfssl/wolfssl_session.hpp"
#include "tls/tls_names.hpp"
#include "pgtls/error.hpp"

namespace pgtls::tls::wolfssl {
namespace {

// wolfSSL_Init is reference-counted; once for the process is enough and it is never undone,
// so contexts may be destroyed during static destruction.
void init_library() {
    static const int rc = wolfSSL_Init();
    if (rc != WOLFSSL_SUCCESS) throw Error(ErrorKind::tls, "wolfssl: library initialisation failed: " + error_text(rc));
}

}  // namespace

WolfsslContext::WolfsslContext(const ContextConfig& config) {
    // The capability is absent (see WolfsslBackend::capabilities()): asking for it is an error
    // before anything is set up, never a key log that silently stays empty.
    if (!config.keylog_file.empty())
        throw Error(ErrorKind::config, ErrorCause::config,
                    "sslkeylogfile is not supported by the wolfssl backend: this wolfSSL build cannot export TLS "
                    "secrets (built without HAVE_SECRET_CALLBACK); use another sslbackend or unset sslkeylogfile");
    init_library();
    ctx_ = wolfSSL_CTX_new(wolfSSLv23_client_method());
    if (ctx_ == nullptr) throw Error(ErrorKind::tls, "wolfssl: could not create a TLS context (out of memory)");
    try {
        set_protocol_range(config.min_version, config.max_version);
        verify_chain_ = config.verify_chain;
        if (config.verify_chain) {
            if (config.ca.empty())
                throw Error(ErrorKind::config, "certificate verification requested but no root certificate (sslrootcert) given");
            out_of_date_roots_ = load_trust(ctx_, config);
            wolfSSL_CTX_set_verify(ctx_, WOLFSSL_VERIFY_PEER, nullptr);
        } else {
            // sslmode=require without a root certificate: encrypt, trust anything (as libpq).
            wolfSSL_CTX_set_verify(ctx_, WOLFSSL_VERIFY_NONE, nullptr);
        }
        if (config.send_client_cert) has_own_cert_ = load_client_identity(ctx_, config);
        set_alpn(config.alpn);
        WolfsslSession::install_callbacks(ctx_, has_own_cert_);
    } catch (...) {
        wolfSSL_CTX_free(ctx_);
        throw;
    }
}

WolfsslContext::~WolfsslContext() { wolfSSL_CTX_free(ctx_); }

std::unique_ptr<Session> WolfsslContext::create_session(int fd, const SessionParams& params) {
    return std::make_unique<WolfsslSession>(shared_from_this(), fd, params);
}

void WolfsslContext::set_protocol_range(TlsVersion min, TlsVersion max) {
    if (max != TlsVersion::unspecified && min != TlsVersion::unspecified && version_rank(max) < version_rank(min))
        throw Error(ErrorKind::config, std::string("invalid SSL protocol version range: ssl_max_protocol_version ") +
                                           version_name(max) + " is below ssl_min_protocol_version " + version_name(min));
    // TLS 1.0/1.1 may be compiled out (Debian's build keeps 1.1, not 1.0): a lower minimum
    // than the library has just means its lowest, as with OpenSSL at a higher security level.
    static constexpr int floor_ids[] = {WOLFSSL_TLSV1, WOLFSSL_TLSV1_1, WOLFSSL_TLSV1_2, WOLFSSL_TLSV1_3};
    int wanted = min == TlsVersion::unspecified ? 0 : version_rank(min);
    int rc = WOLFSSL_FAILURE;
    for (int i = wanted; i < 4 && rc != WOLFSSL_SUCCESS; ++i) {
        rc = wolfSSL_CTX_SetMinVersion(ctx_, floor_ids[i]);
        if (i >= 2 && rc != WOLFSSL_SUCCESS) break;  // 1.2 and 1.3 must be honoured exactly
    }
    if (rc != WOLFSSL_SUCCESS)
        throw Error(ErrorKind::config, std::string("ssl_min_protocol_version=") + version_name(min) +
                                           " cannot be honoured by wolfSSL: " + error_text(rc));
    // max TLSv1.3 is the library's highest anyway.
    if (max == TlsVersion::tls1_2 || max == TlsVersion::tls1_1 || max == TlsVersion::tls1_0) {
        const int version = max == TlsVersion::tls1_2 ? 0x0303 : max == TlsVersion::tls1_1 ? 0x0302 : 0x0301;
        if (wolfSSL_CTX_set_max_proto_version(ctx_, version) != WOLFSSL_SUCCESS)
            throw Error(ErrorKind::config, std::string("ssl_max_protocol_version=") + version_name(max) +
                                               " cannot be honoured by this wolfSSL build");
    }
}

void WolfsslContext::set_alpn(const std::vector<std::string>& protocols) {
    for (const std::string& p : protocols) {
        if (p.empty() || p.size() > 255 || p.find(',') != std::string::npos)
            throw Error(ErrorKind::config, "invalid ALPN protocol name \"" + p + "\" (1..255 bytes, no comma)");
        if (!alpn_list_.empty()) alpn_list_ += ',';
        alpn_list_ += p;
    }
}

}  // namespace pgtls::tls::wolfssl
