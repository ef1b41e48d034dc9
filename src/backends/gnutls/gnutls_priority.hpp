// The GnuTLS priority string for a protocol-version range.
#pragma once

#include <string>

#include "backends/gnutls/gnutls_util.hpp"
#include "pgtls/config.hpp"

namespace pgtls::tls::gnutls {

// "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2" for [tls1_2, unspecified]. An unspecified
// minimum means the lowest version GnuTLS has (TLS 1.0), an unspecified maximum the highest
// (TLS 1.3). Throws Error(config) when min > max.
std::string priority_string(TlsVersion min, TlsVersion max);

// Compiles priority_string(min, max) and checks that at least one protocol version survives
// the system-wide GnuTLS configuration; throws Error(config) naming the range otherwise.
Priority make_priority(TlsVersion min, TlsVersion max);

}  // namespace pgtls::tls::gnutls
