// The signature algorithm of an X.509 certificate, read from its DER (RFC 5280 section 4.1:
// Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }), so the
// tls-server-end-point hash is chosen in one place for every TLS backend.
#pragma once

#include <optional>

#include "crypto/crypto.hpp"

namespace pgtls::auth {

struct CertificateSignature {
    enum class Kind {
        unknown,  // DER not parseable or algorithm not recognised: ask the backend
        no_hash,  // Ed25519 / Ed448: the signature has no separate hash
        hash,     // RSA (PKCS#1 v1.5 or PSS), ECDSA or DSA with `hash`
    };
    Kind kind = Kind::unknown;
    crypto::Hash hash = crypto::Hash::sha256;
};

CertificateSignature certificate_signature(crypto::ByteView der) noexcept;

}  // namespace pgtls::auth
