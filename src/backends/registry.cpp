// Name -> backend for the stacks compiled into this build. The only place that knows which
// backends exist; the layers above ask through src/tls/tls_backend.hpp.
#include <string>

#include "tls/tls_backend.hpp"
#include "pgtls/error.hpp"
#include "backends/pgtls_backends_config.h"

namespace pgtls::tls {

#if PGTLS_HAVE_OPENSSL
const Backend& openssl_backend();
#endif
#if PGTLS_HAVE_GNUTLS
const Backend& gnutls_backend();
#endif
#if PGTLS_HAVE_MBEDTLS
const Backend& mbedtls_backend();
#endif
#if PGTLS_HAVE_WOLFSSL
const Backend& wolfssl_backend();
#endif
const crypto::Provider& builtin_crypto();

const std::vector<const Backend*>& available_backends() {
    static const std::vector<const Backend*> list = [] {
        std::vector<const Backend*> v;
#if PGTLS_HAVE_OPENSSL
        v.push_back(&openssl_backend());
#endif
#if PGTLS_HAVE_GNUTLS
        v.push_back(&gnutls_backend());
#endif
#if PGTLS_HAVE_MBEDTLS
        v.push_back(&mbedtls_backend());
#endif
#if PGTLS_HAVE_WOLFSSL
        v.push_back(&wolfssl_backend());
#endif
        return v;
    }();
    return list;
}

const Backend& find_backend(std::string_view name) {
    const auto& all = available_backends();
    std::string wanted(name.empty() ? std::string_view(PGTLS_DEFAULT_BACKEND) : name);
    for (const Backend* b : all)
        if (b->name() == wanted) return *b;
    std::string built;
    for (const Backend* b : all) {
        if (!built.empty()) built += ", ";
        built += b->name();
    }
    if (all.empty())
        throw Error(ErrorKind::config,
                    "TLS requested but this pgtls was built without any TLS backend (plaintext only); "
                    "use sslmode=disable or rebuild with -Dopenssl, -Dgnutls, -Dmbedtls or -Dwolfssl");
    throw Error(ErrorKind::config, "sslbackend \"" + wanted + "\" is not compiled into this pgtls; available: " + built);
}

const crypto::Provider& default_crypto() {
    const auto& all = available_backends();
    std::string_view def(PGTLS_DEFAULT_BACKEND);
    for (const Backend* b : all)
        if (b->name() == def) return b->crypto();
    return builtin_crypto();
}

}  // namespace pgtls::tls
