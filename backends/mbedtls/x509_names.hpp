// Peer-certificate facts for core/: the names libpq's host-name check needs and the
// signature hash for channel binding, extracted from a parsed mbedTLS certificate.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <mbedtls/x509_crt.h>

#include "core/tls/tls_backend.hpp"

namespace pgtls::tls::mbed {

struct SubjectAltNames {
    std::vector<std::string> dns;
    std::vector<std::vector<std::uint8_t>> ip;
};

// Decodes the subjectAltName extension straight from a certificate's DER. mbedTLS 2.28 keeps
// only dNSName and otherName entries in crt->subject_alt_names, but libpq matches iPAddress
// entries too, so we read the extension ourselves. Malformed or absent extension: empty result.
SubjectAltNames subject_alt_names_from_der(std::span<const std::uint8_t> certificate_der);

PeerCertificate describe_certificate(const mbedtls_x509_crt& crt);

}  // namespace pgtls::tls::mbed
