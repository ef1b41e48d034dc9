// The TLS backends this build of pgtls carries, for an application that lets its user pick one
// (Config's `tls_backend`, the `tlsbackend` keyword) or reports what it runs on (`pgtls
// backends`).
#pragma once

#include <string>
#include <vector>

#include "pgtls/version.hpp"

PGTLS_API_BEGIN
namespace pgtls {

/// One TLS backend compiled into this build.
struct TlsBackendInfo {
    std::string name;             ///< the name Config's `tls_backend` takes: "openssl", "gnutls", ...
    std::string library_version;  ///< the TLS library's own version text, e.g. "OpenSSL 3.0.19 27 Jan 2026"
    bool is_default = false;      ///< used when no backend is named
    /// What the backend can do, by name: "tls1.2", "tls1.3", "alpn", "sni", "crl_file",
    /// "crl_dir", "system_ca", "encrypted_keys", "keylog", "pem_in_memory".
    std::vector<std::string> capabilities;
};

/// The compiled backends in preference order (the default one first unless configured
/// otherwise); empty in a build without TLS (plaintext connections only). Never throws
/// anything but std::bad_alloc.
std::vector<TlsBackendInfo> tls_backends();

}  // namespace pgtls
PGTLS_API_END
