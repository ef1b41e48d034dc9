#include "backends/openssl/openssl_certificate.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/buffer.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "backends/openssl/openssl_common.hpp"
#include "pgtls/error.hpp"

namespace pgtls::tls::openssl {
namespace {

std::string raw_string(const ASN1_STRING* s) {
    const unsigned char* data = ASN1_STRING_get0_data(s);
    int len = ASN1_STRING_length(s);
    if (data == nullptr || len <= 0) return {};
    return std::string(reinterpret_cast<const char*>(data), static_cast<std::size_t>(len));
}

}  // namespace

std::string name_one_line(const X509_NAME* name) {
    if (name == nullptr) return {};
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio) return {};
    // RFC 2253 order and escaping, but keep UTF-8 readable instead of \XX escapes.
    if (X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0) return {};
    BUF_MEM* mem = nullptr;
    BIO_get_mem_ptr(bio.get(), &mem);
    if (mem == nullptr || mem->data == nullptr) return {};
    return std::string(mem->data, mem->length);
}

namespace {

std::optional<crypto::Hash> hash_from_nid(int nid) {
    switch (nid) {
        case NID_md5: return crypto::Hash::md5;
        case NID_sha1: return crypto::Hash::sha1;
        case NID_sha224: return crypto::Hash::sha224;
        case NID_sha256: return crypto::Hash::sha256;
        case NID_sha384: return crypto::Hash::sha384;
        case NID_sha512: return crypto::Hash::sha512;
        default: return std::nullopt;
    }
}

// The digest the signature algorithm uses. X509_get_signature_info also resolves RSA-PSS
// parameters; OBJ_find_sigid_algs is the fallback libpq and the server use. Ed25519/Ed448
// have no separate digest -> nullopt.
std::optional<crypto::Hash> signature_hash(X509* cert) {
    int md_nid = NID_undef;
    if (X509_get_signature_info(cert, &md_nid, nullptr, nullptr, nullptr) == 1 && md_nid != NID_undef)
        return hash_from_nid(md_nid);
    int alg_nid = NID_undef;
    if (OBJ_find_sigid_algs(X509_get_signature_nid(cert), &alg_nid, nullptr) == 1) return hash_from_nid(alg_nid);
    return std::nullopt;
}

}  // namespace

PeerCertificate describe_certificate(X509* cert) {
    PeerCertificate out;
    int der_len = i2d_X509(cert, nullptr);
    if (der_len <= 0) throw Error(ErrorKind::tls, "could not encode the server certificate: " + drain_errors());
    out.der.resize(static_cast<std::size_t>(der_len));
    unsigned char* p = out.der.data();
    i2d_X509(cert, &p);

    if (auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr))) {
        for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
            const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
            if (name->type == GEN_DNS) {
                out.san_dns.push_back(raw_string(name->d.dNSName));
                out.san_order += 'd';
            } else if (name->type == GEN_IPADD) {
                const unsigned char* data = ASN1_STRING_get0_data(name->d.iPAddress);
                int len = ASN1_STRING_length(name->d.iPAddress);
                out.san_ip.emplace_back(data, data + (len > 0 ? len : 0));
                out.san_order += 'i';
            }
        }
        GENERAL_NAMES_free(names);
    }

    const X509_NAME* subject = X509_get_subject_name(cert);
    for (int i = -1; (i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) >= 0;) {
        const X509_NAME_ENTRY* entry = X509_NAME_get_entry(subject, i);
        // The string's bytes as the certificate holds them, what libpq compares (and what the
        // other backends report): a BMPString CN has NULs and is refused, never decoded.
        out.common_names.push_back(raw_string(X509_NAME_ENTRY_get_data(entry)));
    }
    out.subject = name_one_line(subject);
    out.issuer = name_one_line(X509_get_issuer_name(cert));
    out.signature_hash = signature_hash(cert);
    ERR_clear_error();
    return out;
}

}  // namespace pgtls::tls::openssl
