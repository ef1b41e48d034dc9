#include "tls/certificate_signature.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "tls/der_reader.hpp"

namespace pgtls::auth {
namespace {

using crypto::ByteView;
using crypto::Hash;
using tls::DerElement;
using tls::DerReader;
namespace der = tls::der;

template <std::size_t N>
bool equals(ByteView oid, const std::array<std::uint8_t, N>& ref) {
    return oid.size() == N && std::equal(oid.begin(), oid.end(), ref.begin());
}

constexpr std::array<std::uint8_t, 8> pkcs1_prefix = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01};  // 1.2.840.113549.1.1
constexpr std::array<std::uint8_t, 7> ecdsa_sha1 = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x01};         // 1.2.840.10045.4.1
constexpr std::array<std::uint8_t, 7> ecdsa_sha2_prefix = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03};  // 1.2.840.10045.4.3
constexpr std::array<std::uint8_t, 7> dsa_sha1 = {0x2A, 0x86, 0x48, 0xCE, 0x38, 0x04, 0x03};          // 1.2.840.10040.4.3
constexpr std::array<std::uint8_t, 8> nist_sig_prefix = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03};  // 2.16.840.1.101.3.4.3
constexpr std::array<std::uint8_t, 8> nist_hash_prefix = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02};  // 2.16.840.1.101.3.4.2
constexpr std::array<std::uint8_t, 5> sha1_oid = {0x2B, 0x0E, 0x03, 0x02, 0x1A};                      // 1.3.14.3.2.26
constexpr std::array<std::uint8_t, 8> md5_oid = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x02, 0x05};     // 1.2.840.113549.2.5
constexpr std::array<std::uint8_t, 3> ed25519 = {0x2B, 0x65, 0x70};                                   // 1.3.101.112
constexpr std::array<std::uint8_t, 3> ed448 = {0x2B, 0x65, 0x71};                                     // 1.3.101.113

bool has_prefix(ByteView oid, const std::array<std::uint8_t, 8>& p, std::uint8_t& last) {
    if (oid.size() != 9 || !std::equal(p.begin(), p.end(), oid.begin())) return false;
    last = oid[8];
    return true;
}
bool has_prefix7(ByteView oid, const std::array<std::uint8_t, 7>& p, std::uint8_t& last) {
    if (oid.size() != 8 || !std::equal(p.begin(), p.end(), oid.begin())) return false;
    last = oid[7];
    return true;
}

std::optional<Hash> hash_oid(ByteView oid) {
    std::uint8_t last;
    if (equals(oid, sha1_oid)) return Hash::sha1;
    if (equals(oid, md5_oid)) return Hash::md5;
    if (has_prefix(oid, nist_hash_prefix, last)) {
        switch (last) {
            case 1: return Hash::sha256;
            case 2: return Hash::sha384;
            case 3: return Hash::sha512;
            case 4: return Hash::sha224;
        }
    }
    return std::nullopt;
}

// RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] AlgorithmIdentifier DEFAULT sha1, ... }
// `params` is what follows the algorithm OID inside its AlgorithmIdentifier.
std::optional<Hash> pss_hash(DerReader& params) {
    DerElement seq, explicit_alg, alg, oid;
    if (!params.expect(der::sequence, seq)) return std::nullopt;
    DerReader fields(seq.value);
    if (fields.peek_tag() != der::context(0, true)) return Hash::sha1;
    if (!fields.next(explicit_alg)) return std::nullopt;
    DerReader wrapped(explicit_alg.value);
    if (!wrapped.expect(der::sequence, alg)) return std::nullopt;
    DerReader alg_fields(alg.value);
    if (!alg_fields.expect(der::oid, oid)) return std::nullopt;
    return hash_oid(oid.value);
}

}  // namespace

CertificateSignature certificate_signature(crypto::ByteView certificate_der) noexcept {
    CertificateSignature r;
    DerElement cert, tbs, alg, oid_element;
    DerReader top(certificate_der);
    if (!top.expect(der::sequence, cert)) return r;
    DerReader cert_fields(cert.value);
    if (!cert_fields.expect(der::sequence, tbs) || !cert_fields.expect(der::sequence, alg)) return r;
    DerReader params(alg.value);
    if (!params.expect(der::oid, oid_element)) return r;
    const ByteView oid = oid_element.value;

    auto found = [&r](Hash h) {
        r.kind = CertificateSignature::Kind::hash;
        r.hash = h;
        return r;
    };
    std::uint8_t last;
    if (equals(oid, ed25519) || equals(oid, ed448)) {
        r.kind = CertificateSignature::Kind::no_hash;
        return r;
    }
    if (has_prefix(oid, pkcs1_prefix, last)) {
        switch (last) {
            case 0x04: return found(Hash::md5);
            case 0x05: return found(Hash::sha1);
            case 0x0E: return found(Hash::sha224);
            case 0x0B: return found(Hash::sha256);
            case 0x0C: return found(Hash::sha384);
            case 0x0D: return found(Hash::sha512);
            case 0x0A:
                if (auto h = pss_hash(params)) return found(*h);
                return r;
        }
        return r;
    }
    if (equals(oid, ecdsa_sha1) || equals(oid, dsa_sha1)) return found(Hash::sha1);
    if (has_prefix7(oid, ecdsa_sha2_prefix, last)) {
        switch (last) {
            case 1: return found(Hash::sha224);
            case 2: return found(Hash::sha256);
            case 3: return found(Hash::sha384);
            case 4: return found(Hash::sha512);
        }
        return r;
    }
    if (has_prefix(oid, nist_sig_prefix, last)) {
        switch (last) {
            case 1: return found(Hash::sha224);  // dsa-with-sha224
            case 2: return found(Hash::sha256);  // dsa-with-sha256
        }
    }
    return r;
}

}  // namespace pgtls::auth
