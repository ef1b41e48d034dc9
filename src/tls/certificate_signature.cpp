#include "tls/certificate_signature.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace pgtls::auth {
namespace {

using crypto::ByteView;
using crypto::Hash;

// One DER TLV; `value` is the contents. False on any malformation.
bool read_tlv(ByteView& in, std::uint8_t& tag, ByteView& value) {
    if (in.size() < 2) return false;
    tag = in[0];
    std::size_t len = in[1];
    std::size_t header = 2;
    if (len & 0x80) {
        const std::size_t n = len & 0x7f;
        if (n == 0 || n > 4 || in.size() < 2 + n) return false;
        len = 0;
        for (std::size_t i = 0; i < n; ++i) len = (len << 8) | in[2 + i];
        header += n;
    }
    if (in.size() - header < len) return false;
    value = in.subspan(header, len);
    in = in.subspan(header + len);
    return true;
}

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
std::optional<Hash> pss_hash(ByteView params) {
    std::uint8_t tag;
    ByteView seq;
    if (!read_tlv(params, tag, seq) || tag != 0x30) return std::nullopt;
    if (seq.empty() || seq[0] != 0xA0) return Hash::sha1;
    ByteView explicit_alg, alg, oid;
    if (!read_tlv(seq, tag, explicit_alg)) return std::nullopt;
    if (!read_tlv(explicit_alg, tag, alg) || tag != 0x30) return std::nullopt;
    if (!read_tlv(alg, tag, oid) || tag != 0x06) return std::nullopt;
    return hash_oid(oid);
}

}  // namespace

CertificateSignature certificate_signature(crypto::ByteView der) noexcept {
    CertificateSignature r;
    std::uint8_t tag;
    ByteView cert, tbs, alg, oid;
    ByteView in = der;
    if (!read_tlv(in, tag, cert) || tag != 0x30) return r;
    if (!read_tlv(cert, tag, tbs) || tag != 0x30) return r;
    if (!read_tlv(cert, tag, alg) || tag != 0x30) return r;
    if (!read_tlv(alg, tag, oid) || tag != 0x06) return r;
    const ByteView params = alg;

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
