// The GnuTLS backend: registry entry point, version and capabilities.
#include <gnutls/gnutls.h>

#include "backends/gnutls/gnutls_context.hpp"
#include "backends/gnutls/gnutls_crypto.hpp"
#include "tls/tls_backend.hpp"

namespace pgtls::tls {
namespace {

class GnutlsBackend final : public Backend {
public:
    std::string_view name() const noexcept override { return "gnutls"; }

    std::string library_version() const override {
        const char* v = gnutls_check_version(nullptr);
        return std::string("GnuTLS ") + (v ? v : "unknown");
    }

    std::uint32_t capabilities() const noexcept override {
        return cap_tls12 | cap_tls13 | cap_alpn | cap_sni | cap_crl_file | cap_crl_dir | cap_system_ca |
               cap_encrypted_keys | cap_keylog | cap_pem_in_memory;
    }

    std::shared_ptr<Context> create_context(const ContextConfig& config) const override {
        return std::make_shared<gnutls::GnutlsContext>(config);
    }

    const crypto::Provider& crypto() const noexcept override { return gnutls::gnutls_crypto(); }
};

}  // namespace

const Backend& gnutls_backend() {
    static const GnutlsBackend backend;
    return backend;
}

}  // namespace pgtls::tls
