#include "backends/mbedtls/x509_names.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include <mbedtls/oid.h>

#include "backends/mbedtls/der_reader.hpp"

namespace pgtls::tls::mbed {
namespace {

constexpr std::array<std::uint8_t, 3> subject_alt_name_oid{0x55, 0x1d, 0x11};  // 2.5.29.17

// Appends the entries of a GeneralNames SEQUENCE.
void read_general_names(std::span<const std::uint8_t> general_names, SubjectAltNames& out) {
    DerReader outer(general_names);
    DerElement seq;
    if (!outer.expect(der::sequence, seq)) return;
    DerReader names(seq.value);
    DerElement name;
    while (names.next(name)) {
        if (name.tag == der::context(2, false)) {  // dNSName [2] IA5String
            out.dns.emplace_back(name.value.begin(), name.value.end());
        } else if (name.tag == der::context(7, false)) {  // iPAddress [7] OCTET STRING
            out.ip.emplace_back(name.value.begin(), name.value.end());
        }
    }
}

}  // namespace

SubjectAltNames subject_alt_names_from_der(std::span<const std::uint8_t> certificate_der) {
    SubjectAltNames result;
    DerReader top(certificate_der);
    DerElement cert, tbs;
    if (!top.expect(der::sequence, cert)) return result;
    DerReader cert_reader(cert.value);
    if (!cert_reader.expect(der::sequence, tbs)) return result;

    DerReader t(tbs.value);
    t.skip_if(der::context(0, true));  // version
    DerElement skipped;
    // serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo
    for (int i = 0; i < 6; ++i)
        if (!t.next(skipped)) return result;
    t.skip_if(der::context(1, false));  // issuerUniqueID
    t.skip_if(der::context(2, false));  // subjectUniqueID
    DerElement explicit_ext, extensions;
    if (!t.expect(der::context(3, true), explicit_ext)) return result;
    DerReader ext_wrapper(explicit_ext.value);
    if (!ext_wrapper.expect(der::sequence, extensions)) return result;

    DerReader exts(extensions.value);
    DerElement ext;
    while (exts.expect(der::sequence, ext)) {
        DerReader e(ext.value);
        DerElement oid, value;
        if (!e.expect(der::oid, oid)) continue;
        e.skip_if(der::boolean);  // critical
        if (!e.expect(der::octet_string, value)) continue;
        if (std::ranges::equal(oid.value, subject_alt_name_oid)) read_general_names(value.value, result);
    }
    return result;
}

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
    for (const mbedtls_x509_name* n = &crt.subject; n != nullptr; n = n->next) {
        if (n->oid.p != nullptr && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0)
            pc.common_names.emplace_back(reinterpret_cast<const char*>(n->val.p), n->val.len);
    }
    pc.subject = distinguished_name(crt.subject);
    pc.issuer = distinguished_name(crt.issuer);
    pc.signature_hash = hash_of(crt.sig_md);
    return pc;
}

}  // namespace pgtls::tls::mbed
