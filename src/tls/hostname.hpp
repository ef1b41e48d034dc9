// libpq-compatible server host-name verification (sslmode=verify-full), shared by every TLS
// backend: the backend reports the certificate's names in a PeerCertificate, this decides.
//
// Rules (libpq 14-18, fe-secure-common.c / fe-secure-openssl.c):
//  - an empty host is an error;
//  - the host is an IP address when inet_aton() accepts it (so "127.1" counts) or
//    inet_pton(AF_INET6) does; otherwise it is a DNS name;
//  - every dNSName SAN is compared with the host as a string: equal ignoring ASCII case,
//    or a wildcard "*.rest" whose '*' stands for exactly one non-empty leading label;
//    nothing else is special (no trailing-dot folding, no IDNA, one '*' only, leftmost);
//  - every iPAddress SAN (4 or 16 bytes; other lengths are an error) is compared bytewise
//    with the host's address when the host parses as one of that family;
//  - the subject's first CN is compared like a dNSName, but only when no SAN has the host's
//    own type: a DNS host ignores the CN once any dNSName SAN exists, an IP host ignores it
//    once any iPAddress SAN exists (and still uses it when only dNSName SANs exist);
//  - a name containing a NUL byte is an error, not a mismatch.
//
// Known difference: PeerCertificate keeps dNSName and iPAddress SANs in separate lists, so
// names are examined DNS first, then IP. libpq walks the SAN extension in certificate
// order; only the first name quoted in the mismatch message can differ.
#pragma once

#include <string>
#include <string_view>

#include "tls/tls_backend.hpp"

namespace pgtls::tls {

// True when `host` matches the certificate. On false, `reason` (when non-null) receives
// libpq's message, e.g.
//   server certificate for "wrong.example" does not match host name "localhost"
//   server certificate for "localhost" (and 2 other names) does not match host name "x"
//   could not get server's host name from server certificate
//   SSL certificate's name contains embedded null
bool verify_host_name(const PeerCertificate& cert, std::string_view host, std::string* reason);

// True when libpq would treat `host` as an IP address literal (inet_aton or IPv6 inet_pton).
bool host_is_ip_address(std::string_view host);

// libpq's SNI rule: no SNI for an empty host, an all-digits-and-dots host or any host
// containing ':' (RFC 6066 forbids IP literals in SNI).
bool host_wants_sni(std::string_view host);

// Every name the certificate offers for diagnostics: DNS:a, DNS:b, IP:127.0.0.1, CN:c.
std::string describe_cert_names(const PeerCertificate& cert);

}  // namespace pgtls::tls
