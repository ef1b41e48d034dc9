// The mbedTLS 2.28 backend: TLS 1.0-1.2 client sessions and the crypto provider.
#include <memory>
#include <string>

#include <mbedtls/version.h>

#include "backends/mbedtls/mbedtls_context.hpp"
#include "backends/mbedtls/mbedtls_crypto.hpp"
#include "tls/tls_backend.hpp"

namespace pgtls::tls {
namespace {

class MbedtlsBackend final : public Backend {
public:
    std::string_view name() const noexcept override { return "mbedtls"; }

    std::string library_version() const override {
        char buf[64] = {};  // mbedtls_version_get_string_full writes at most 18 bytes
        mbedtls_version_get_string_full(buf);
        return buf;
    }

    // No TLS 1.3: the 2.28 LTS line has only an experimental TLS 1.3 client, off in Debian.
    std::uint32_t capabilities() const noexcept override {
        return cap_tls12 | cap_alpn | cap_sni | cap_crl_file | cap_crl_dir | cap_system_ca | cap_encrypted_keys |
               cap_keylog | cap_pem_in_memory;
    }

    std::shared_ptr<Context> create_context(const ContextConfig& config) const override {
        return std::make_shared<mbedtls::MbedtlsContext>(config);
    }

    const crypto::Provider& crypto() const noexcept override { return mbedtls::crypto_provider(); }
};

}  // namespace

const Backend& mbedtls_backend() {
    static const MbedtlsBackend backend;
    return backend;
}

}  // namespace pgtls::tls
