#include "backends/mbedtls/mbedtls_certificate.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include <mbedtls/oid.h>

#include "tls/subject_alt_names.hpp"

namespace pgtls::tls::mbedtls {
namespace {

std::optional<crypto::Hash> hash_of(mbedtls_md_type_t md) {
    switch (md) {
        case MBEDTLS_MD_MD5: return crypto::Hash::md5;
        case MBEDTLS_MD_SHA1: return crypto::Hash::sha1;
        case MBEDTLS_MD_SHA224: return crypto::Hash::sha224;
        case MBEDTLS_MD_SHA256: return crypto::Hash::sha256;
        case MBEDTLS_MD_SHA384: return crypto::Hash::sha384;
        case MBEDTLS_MD_SHA512: return crypto::Hash::sha512;
        default: return std::nullopt;
    }
}

std::string distinguished_name(const mbedtls_x509_name& name) {
    char buf[1024];
    const int n = mbedtls_x509_dn_gets(buf, sizeof buf, &name);
    return n < 0 ? std::string() : std::string(buf, static_cast<std::size_t>(n));
}

}  // namespace

PeerCertificate describe_certificate(const mbedtls_x509_crt& crt) {
    PeerCertificate pc;
    pc.der.assign(crt.raw.p, crt.raw.p + crt.raw.len);
    SubjectAltNames san = subject_alt_names_from_der(pc.der);
    pc.san_dns = std::move(san.dns);
    pc.san_ip = std::move(san.ip);
    pc.san_order = std::move(san.order);
    for (const mbedtls_x509_name* n = &crt.subject; n != nullptr; n = n->next) {
        if (n->oid.p != nullptr && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0)
            pc.common_names.emplace_back(reinterpret_cast<const char*>(n->val.p), n->val.len);
    }
    pc.subject = distinguished_name(crt.subject);
    pc.issuer = distinguished_name(crt.issuer);
    pc.signature_hash = hash_of(crt.sig_md);
    return pc;
}

}  // namespace pgtls::tls::mbedtls
