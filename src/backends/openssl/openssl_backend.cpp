// The OpenSSL backend as the registry sees it (backends/registry.cpp).
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <openssl/ssl.h>

#include "backends/openssl/openssl_context.hpp"
#include "backends/openssl/openssl_crypto.hpp"
#include "tls/tls_backend.hpp"

namespace pgtls::tls {
namespace {

class OpenSslBackend final : public Backend {
public:
    std::string_view name() const noexcept override { return "openssl"; }

    std::string library_version() const override { return OpenSSL_version(OPENSSL_VERSION); }

    std::uint32_t capabilities() const noexcept override {
        std::uint32_t caps = cap_tls12 | cap_alpn | cap_sni | cap_crl_file | cap_crl_dir | cap_system_ca |
                             cap_encrypted_keys | cap_keylog | cap_pem_in_memory;
#ifdef TLS1_3_VERSION
        caps |= cap_tls13;
#endif
        return caps;
    }

    std::shared_ptr<Context> create_context(const ContextConfig& config) const override {
        return openssl::OpenSslContext::create(config);
    }

    const crypto::Provider& crypto() const noexcept override { return openssl::crypto_provider(); }
};

}  // namespace

const Backend& openssl_backend() {
    static const OpenSslBackend backend;
    return backend;
}

}  // namespace pgtls::tls
