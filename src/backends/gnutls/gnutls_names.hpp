// Names GnuTLS reports, translated to the spelling OpenSSL (and so libpq) uses, so that
// SessionInfo reads the same whichever backend negotiated the connection.
#pragma once

#include <gnutls/gnutls.h>

#include <string>
#include <span>
#include <string_view>

namespace pgtls::tls::gnutls_detail {

// "TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1" (OpenSSL's SSL_get_version spelling).
std::string protocol_name(gnutls_protocol_t version);

// OpenSSL's name for a cipher suite given its IANA name (what gnutls_ciphersuite_get returns).
// TLS 1.3 suites have the same name in both; TLS 1.2 suites are looked up in a table of the
// suites GnuTLS can negotiate. An unknown suite keeps its IANA name.
std::string openssl_cipher_name(std::string_view iana_name);

// The IANA -> OpenSSL table, for tests that compare it with `openssl ciphers -stdname`.
struct CipherNamePair {
    std::string_view iana;
    std::string_view openssl;
};
std::span<const CipherNamePair> cipher_name_table();

}  // namespace pgtls::tls::gnutls_detail
