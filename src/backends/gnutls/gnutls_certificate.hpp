// PeerCertificate from a DER certificate, with the names as raw as OpenSSL's accessors give
// them, so the tls layer's libpq host-name rules see the same bytes on every backend.
#pragma once

#include <gnutls/gnutls.h>

#include <optional>

#include "tls/tls_backend.hpp"

namespace pgtls::tls::gnutls {

// Throws Error(tls) if the DER does not parse.
PeerCertificate describe_certificate(const gnutls_datum_t& der);

// The hash of a certificate signature algorithm (RSA-PSS included); nullopt when the algorithm
// has none (Ed25519, Ed448) or uses one crypto::Hash cannot name.
std::optional<crypto::Hash> signature_hash_of(int gnutls_sign_algorithm);

}  // namespace pgtls::tls::gnutls
