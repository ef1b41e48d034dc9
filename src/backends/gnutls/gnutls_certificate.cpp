#include "backends/gnutls/gnutls_certificate.hpp"

#include <gnutls/x509-ext.h>
#include <gnutls/x509.h>

#include "backends/gnutls/gnutls_util.hpp"

namespace pgtls::tls::gnutls {
namespace {

constexpr const char* kSubjectAltNameOid = "2.5.29.17";

// The content octets of one DER TLV (tag + definite length + value); nullopt if malformed.
std::optional<std::string> der_content(const unsigned char* p, std::size_t n) {
    if (n < 2) return std::nullopt;
    std::size_t pos = 1, len = p[pos++];
    if (len & 0x80) {
        const std::size_t count = len & 0x7f;
        if (count == 0 || count > 4 || pos + count > n) return std::nullopt;
        len = 0;
        for (std::size_t i = 0; i < count; ++i) len = (len << 8) | p[pos++];
    }
    if (pos + len != n) return std::nullopt;
    return std::string(reinterpret_cast<const char*>(p + pos), len);
}

// Subject CN attributes, as the bytes of the ASN.1 string (what OpenSSL's
// X509_NAME_ENTRY_get_data gives libpq), embedded NULs included.
std::vector<std::string> common_names(gnutls_x509_crt_t crt) {
    std::vector<std::string> out;
    for (unsigned idx = 0;; ++idx) {
        size_t size = 0;
        int rc = gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, idx, 1, nullptr, &size);
        if (rc != GNUTLS_E_SHORT_MEMORY_BUFFER) break;
        std::string raw(size, '\0');
        rc = gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, idx, 1, raw.data(), &size);
        if (rc < 0) break;
        raw.resize(size);
        if (auto content = der_content(reinterpret_cast<const unsigned char*>(raw.data()), raw.size()))
            out.push_back(std::move(*content));
    }
    return out;
}

void subject_alt_names(gnutls_x509_crt_t crt, PeerCertificate& pc) {
    OwnedDatum ext;
    unsigned critical = 0;
    if (gnutls_x509_crt_get_extension_by_oid2(crt, kSubjectAltNameOid, 0, &ext, &critical) < 0) return;
    gnutls_subject_alt_names_t sans = nullptr;
    if (gnutls_subject_alt_names_init(&sans) < 0) return;
    if (gnutls_x509_ext_import_subject_alt_names(&ext.get(), sans, 0) >= 0) {
        for (unsigned i = 0;; ++i) {
            unsigned type = 0;
            gnutls_datum_t san{nullptr, 0}, oid{nullptr, 0};
            if (gnutls_subject_alt_names_get(sans, i, &type, &san, &oid) < 0) break;
            if (type == GNUTLS_SAN_DNSNAME) {
                pc.san_dns.emplace_back(reinterpret_cast<const char*>(san.data), san.size);
                pc.san_order += 'd';
            } else if (type == GNUTLS_SAN_IPADDRESS) {
                pc.san_ip.emplace_back(san.data, san.data + san.size);
                pc.san_order += 'i';
            }
        }
    }
    gnutls_subject_alt_names_deinit(sans);
}

}  // namespace

std::optional<crypto::Hash> signature_hash_of(int sign_algorithm) {
    const auto sign = static_cast<gnutls_sign_algorithm_t>(sign_algorithm);
    // GnuTLS reports SHA-512 for Ed25519 (the hash inside EdDSA); the signature algorithm has
    // no separate digest, as OpenSSL reports (NID_undef), and channel binding must see none.
    switch (gnutls_sign_get_pk_algorithm(sign)) {
        case GNUTLS_PK_EDDSA_ED25519:
        case GNUTLS_PK_EDDSA_ED448: return std::nullopt;
        default: break;
    }
    switch (gnutls_sign_get_hash_algorithm(sign)) {
        case GNUTLS_DIG_MD5: return crypto::Hash::md5;
        case GNUTLS_DIG_SHA1: return crypto::Hash::sha1;
        case GNUTLS_DIG_SHA224: return crypto::Hash::sha224;
        case GNUTLS_DIG_SHA256: return crypto::Hash::sha256;
        case GNUTLS_DIG_SHA384: return crypto::Hash::sha384;
        case GNUTLS_DIG_SHA512: return crypto::Hash::sha512;
        default: return std::nullopt;
    }
}

PeerCertificate describe_certificate(const gnutls_datum_t& der) {
    Crt crt = make_crt();
    if (int rc = gnutls_x509_crt_import(crt.get(), &der, GNUTLS_X509_FMT_DER); rc < 0)
        throw Error(ErrorKind::tls, "could not parse the server certificate: " + error_text(rc));

    PeerCertificate pc;
    pc.der.assign(der.data, der.data + der.size);
    subject_alt_names(crt.get(), pc);
    pc.common_names = common_names(crt.get());
    {
        OwnedDatum dn;
        if (gnutls_x509_crt_get_dn3(crt.get(), &dn, 0) >= 0) pc.subject = dn.str();
    }
    {
        OwnedDatum dn;
        if (gnutls_x509_crt_get_issuer_dn3(crt.get(), &dn, 0) >= 0) pc.issuer = dn.str();
    }
    const int sign = gnutls_x509_crt_get_signature_algorithm(crt.get());
    if (sign >= 0) pc.signature_hash = signature_hash_of(sign);
    return pc;
}

}  // namespace pgtls::tls::gnutls
