// subjectAltName entries decoded straight from a certificate's DER, for backends whose library
// does not report iPAddress entries (mbedTLS 2.28) or reports them only through its OpenSSL
// compatibility layer (wolfSSL). libpq matches dNSName and iPAddress entries.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace pgtls::tls {

struct SubjectAltNames {
    std::vector<std::string> dns;                 // dNSName entries, bytes as in the certificate
    std::vector<std::vector<std::uint8_t>> ip;    // iPAddress entries, raw (4 or 16 bytes if sane)
    std::string order;                            // PeerCertificate::san_order of the entries
};

// Malformed, truncated or absent extension: an empty (or partial) result, never a throw.
SubjectAltNames subject_alt_names_from_der(std::span<const std::uint8_t> certificate_der);

}  // namespace pgtls::tls
