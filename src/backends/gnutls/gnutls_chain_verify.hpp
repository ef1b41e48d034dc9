// Server certificate chain verification, run from GnuTLS's verify callback during the
// handshake. Checks what OpenSSL-based libpq checks with SSL_VERIFY_PEER: the chain up to a
// trust anchor, validity dates, the TLS-server purpose (extendedKeyUsage), and — when CRL
// checking is active — revocation with a CRL required for every issuer in the chain.
// Never the host name: the tls layer (src/tls/hostname) does that with libpq's rules.
#pragma once

#include <gnutls/gnutls.h>

#include <optional>
#include <string>

#include "backends/gnutls/gnutls_context.hpp"

namespace pgtls::tls::gnutls {

// nullopt when the peer chain is acceptable, else the reason, e.g.
// "The certificate is NOT trusted. The certificate issuer is unknown."
std::optional<std::string> verify_server_chain(gnutls_session_t session, const ContextState& state);

}  // namespace pgtls::tls::gnutls
