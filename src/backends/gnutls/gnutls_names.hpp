// The protocol GnuTLS negotiated, named as OpenSSL (and so libpq) names it; cipher names
// come from the shared src/tls/tls_names.hpp.
#pragma once

#include <gnutls/gnutls.h>

#include <string>

namespace pgtls::tls::gnutls {

// "TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1" (OpenSSL's SSL_get_version spelling).
std::string protocol_name(gnutls_protocol_t version);

}  // namespace pgtls::tls::gnutls
