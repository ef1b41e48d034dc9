// Human-readable mbedTLS error and certificate-verification texts.
#pragma once

#include <cstdint>
#include <string>

namespace pgtls::tls::mbedtls {

// mbedtls_strerror text, e.g. "X509 - Certificate verification failed, e.g. CRL, CA or
// signature check failed (-0x2700)".
std::string error_text(int code);

// mbedtls_x509_crt_verify_info flags as one line: "The certificate has been revoked (is on
// a CRL); ...". Empty when flags == 0.
std::string verify_text(std::uint32_t flags);

// TLS alert description name ("handshake_failure") or "alert N".
std::string alert_name(unsigned char description);

}  // namespace pgtls::tls::mbedtls
