// The wolfSSL backend: TLS 1.2/1.3 client sessions and the wolfCrypt crypto provider.
#include <memory>
#include <string>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "backends/wolfssl/wolfssl_context.hpp"
#include "backends/wolfssl/wolfssl_crypto.hpp"
#include "tls/tls_backend.hpp"

namespace pgtls::tls {
namespace {

class WolfsslBackend final : public Backend {
public:
    std::string_view name() const noexcept override { return "wolfssl"; }

    std::string library_version() const override { return std::string("wolfSSL ") + wolfSSL_lib_version(); }

    // No cap_keylog: exporting TLS secrets needs a library built with HAVE_SECRET_CALLBACK,
    // which Debian's is not; asking for a key log is then Error(config) from create_context.
    std::uint32_t capabilities() const noexcept override {
        std::uint32_t caps = cap_tls12 | cap_tls13 | cap_alpn | cap_sni | cap_crl_file | cap_crl_dir | cap_system_ca |
                             cap_encrypted_keys | cap_pem_in_memory;
        return caps;
    }

    std::shared_ptr<Context> create_context(const ContextConfig& config) const override {
        return std::make_shared<wolfssl::WolfsslContext>(config);
    }

    const crypto::Provider& crypto() const noexcept override { return wolfssl::crypto_provider(); }
};

}  // namespace

const Backend& wolfssl_backend() {
    static const WolfsslBackend backend;
    return backend;
}

}  // namespace pgtls::tls
