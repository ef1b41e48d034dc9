// PeerCertificate (names for core's host-name check, signature hash for channel binding) from
// a certificate's DER, through wolfSSL's native X509 API and the shared DER SAN decoder.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "core/tls/tls_backend.hpp"

namespace pgtls::tls::wolf {

// nullopt when wolfSSL cannot parse the certificate.
std::optional<PeerCertificate> describe_certificate(std::span<const std::uint8_t> der);

}  // namespace pgtls::tls::wolf
