// PeerCertificate (names for core's host-name check, signature hash for channel binding) from
// a certificate's DER, through wolfSSL's native X509 API and the shared DER SAN decoder.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "tls/tls_backend.hpp"

namespace pgtls::tls::wolfssl {

// nullopt when wolfSSL cannot parse the certificate.
std::optional<PeerCertificate> describe_certificate(std::span<const std::uint8_t> der);

// The subject of a certificate signed with MD5 or SHA-1 that is not self-issued, else empty.
// OpenSSL 3 refuses those in a verified chain at its default security level ("ca md too
// weak"), so libpq does; wolfSSL has no security levels and accepts them.
std::string weak_signature_subject(std::span<const std::uint8_t> der);

}  // namespace pgtls::tls::wolfssl
