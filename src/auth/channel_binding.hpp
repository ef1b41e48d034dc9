// tls-server-end-point channel binding data (RFC 5929 section 4.1), computed once here for
// every TLS backend from the peer certificate the backend reports.
#pragma once

#include <optional>

#include "crypto/crypto.hpp"
#include "tls/tls_backend.hpp"

namespace pgtls::auth {

// The hash RFC 5929 prescribes for a certificate signed with `signature_hash`: MD5 and SHA-1
// become SHA-256, anything else is used as is. nullopt when the signature has no hash of its
// own (Ed25519, Ed448): then no tls-server-end-point value exists.
std::optional<crypto::Hash> end_point_hash(std::optional<crypto::Hash> signature_hash) noexcept;

// Hash of the certificate's DER with end_point_hash() of its signature algorithm, read from the
// DER itself (auth/certificate_signature.hpp); `cert.signature_hash` from the backend is used
// only when the DER names an algorithm the parser does not know. Throws Error(authentication) when the
// certificate has no usable hash — libpq's pgtls_get_peer_certificate_hash fails the same way
// ("could not find digest for NID UNDEF") — or when the DER is empty.
crypto::Bytes tls_server_end_point(const crypto::Provider& crypto, const tls::PeerCertificate& cert);

}  // namespace pgtls::auth
