// Placeholder until the mbedtls backend lands; replaced by the real implementation.
#include "core/tls/tls_backend.hpp"
#include "pgtls/error.hpp"

namespace pgtls::tls {
const crypto::Provider& builtin_crypto();
namespace {
class Placeholder final : public Backend {
public:
    std::string_view name() const noexcept override { return "mbedtls"; }
    std::string library_version() const override { return "mbedtls"; }
    std::uint32_t capabilities() const noexcept override { return 0; }
    std::shared_ptr<Context> create_context(const ContextConfig&) const override {
        throw Error(ErrorKind::tls, "mbedtls backend: placeholder");
    }
    const crypto::Provider& crypto() const noexcept override { return builtin_crypto(); }
};
}  // namespace
const Backend& mbedtls_backend() { static Placeholder b; return b; }
}  // namespace pgtls::tls
