#include "auth/channel_binding.hpp"

#include "tls/certificate_signature.hpp"
#include "pgtls/error.hpp"

namespace pgtls::auth {

std::optional<crypto::Hash> end_point_hash(std::optional<crypto::Hash> signature_hash) noexcept {
    if (!signature_hash) return std::nullopt;
    switch (*signature_hash) {
        case crypto::Hash::md5:
        case crypto::Hash::sha1: return crypto::Hash::sha256;
        default: return *signature_hash;
    }
}

crypto::Bytes tls_server_end_point(const crypto::Provider& crypto, const tls::PeerCertificate& cert) {
    if (cert.der.empty())
        throw Error(ErrorKind::authentication,
                    "channel binding not possible: the server presented no certificate to bind to");
    // The algorithm named in the DER decides, so every backend binds to the same bytes; the
    // backend's report is used only for algorithms this parser does not know.
    std::optional<crypto::Hash> signature_hash = cert.signature_hash;
    const CertificateSignature parsed = certificate_signature(cert.der);
    if (parsed.kind == CertificateSignature::Kind::hash) signature_hash = parsed.hash;
    if (parsed.kind == CertificateSignature::Kind::no_hash) signature_hash = std::nullopt;
    auto hash = end_point_hash(signature_hash);
    if (!hash)
        throw Error(ErrorKind::authentication,
                    "channel binding not possible: the server certificate's signature algorithm has no hash "
                    "(e.g. Ed25519), so tls-server-end-point is undefined (libpq: \"could not find digest for "
                    "NID UNDEF\"); use an RSA or ECDSA server certificate, or channel_binding=disable");
    return crypto.digest(*hash, cert.der);
}

}  // namespace pgtls::auth
