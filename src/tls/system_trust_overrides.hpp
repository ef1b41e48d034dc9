// Where sslrootcert=system looks, for every backend alike. libpq calls OpenSSL's
// SSL_CTX_set_default_verify_paths: a bundle file plus a hashed directory, where
// $SSL_CERT_FILE replaces the default file and $SSL_CERT_DIR the default directory, each on
// its own. A backend loads what is named here and stands its platform store in for whichever
// part is not named. An empty variable counts as unset, as it does for OpenSSL.
#pragma once

#include <cstdlib>
#include <optional>
#include <string>

namespace pgtls::tls {

struct SystemTrustOverrides {
    std::optional<std::string> file;  // $SSL_CERT_FILE
    std::optional<std::string> dir;   // $SSL_CERT_DIR
    // Both parts named: the platform store is not consulted at all.
    bool replaces_platform_store() const noexcept { return file && dir; }
};

inline SystemTrustOverrides system_trust_overrides() {
    SystemTrustOverrides o;
    if (const char* f = std::getenv("SSL_CERT_FILE"); f && *f) o.file = f;
    if (const char* d = std::getenv("SSL_CERT_DIR"); d && *d) o.dir = d;
    return o;
}

}  // namespace pgtls::tls
