#pragma once

#include <string>

#include <openssl/x509.h>

#include "tls/tls_backend.hpp"

namespace pgtls::tls::openssl {

// Everything the tls layer needs from a peer certificate, with names kept as the raw bytes in the
// certificate (embedded NULs included) so it can apply — and refuse — as libpq does.
PeerCertificate describe_certificate(X509* cert);

// "CN=localhost,O=Example" (RFC 2253 order, UTF-8 kept); "" for a null name.
std::string name_one_line(const X509_NAME* name);

}  // namespace pgtls::tls::openssl
