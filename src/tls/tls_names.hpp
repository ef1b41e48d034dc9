// TLS version and cipher-suite names as OpenSSL spells them, which is what libpq reports
// (PQsslAttribute "protocol" and "cipher") and what every backend puts in SessionInfo and in
// its messages, so that names never depend on the TLS stack.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "pgtls/config.hpp"

namespace pgtls::tls {

// "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"; `unspecified` for TlsVersion::unspecified (the
// backends' messages differ here: "(unspecified)" or "any").
const char* version_name(TlsVersion v, const char* unspecified = "(unspecified)") noexcept;
// 0 (TLS 1.0) .. 3 (TLS 1.3); -1 for unspecified.
int version_rank(TlsVersion v) noexcept;
// The name of a rank 0..3 as version_rank numbers them.
const char* rank_name(int rank) noexcept;

// A protocol name a TLS library reported, in OpenSSL's spelling: "TLSv1.0" (mbedTLS) becomes
// "TLSv1"; every other name is kept.
std::string openssl_protocol_name(std::string_view reported);

// OpenSSL's name for a cipher suite given its IANA name, with '-' accepted for '_' (mbedTLS
// spells "TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384"). TLS 1.3 suites have the same name in both;
// TLS 1.2 suites are looked up in a table of the suites the backends can negotiate. An
// unknown suite keeps its IANA name (with underscores).
std::string openssl_cipher_name(std::string_view iana_name);

// The IANA -> OpenSSL table, for tests that compare it with `openssl ciphers -stdname`.
struct CipherNamePair {
    std::string_view iana;
    std::string_view openssl;
};
std::span<const CipherNamePair> cipher_name_table();

}  // namespace pgtls::tls
