#include "backends/wolfssl/wolfssl_certificate.hpp"

#include <algorithm>
#include <array>
#include <memory>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn_public.h>

#include "tls/certificate_signature.hpp"
#include "tls/der_reader.hpp"
#include "tls/subject_alt_names.hpp"

namespace pgtls::tls::wolfssl {
namespace {

struct X509Free {
    void operator()(WOLFSSL_X509* x) const noexcept { wolfSSL_X509_free(x); }
};

// The shared DER reading decides (auth/ binds channels with the same), so every backend
// reports the same hash; wolfSSL's own answer only for algorithms that reader does not know.
std::optional<crypto::Hash> signature_hash(WOLFSSL_X509* x509, std::span<const std::uint8_t> der) {
    const auth::CertificateSignature parsed = auth::certificate_signature(der);
    if (parsed.kind == auth::CertificateSignature::Kind::hash) return parsed.hash;
    if (parsed.kind == auth::CertificateSignature::Kind::no_hash || x509 == nullptr) return std::nullopt;
    switch (wolfSSL_X509_get_signature_type(x509)) {
        case CTC_MD5wRSA: return crypto::Hash::md5;
        case CTC_SHAwRSA:
        case CTC_SHAwECDSA: return crypto::Hash::sha1;
        case CTC_SHA224wRSA:
        case CTC_SHA224wECDSA: return crypto::Hash::sha224;
        case CTC_SHA256wRSA:
        case CTC_SHA256wECDSA: return crypto::Hash::sha256;
        case CTC_SHA384wRSA:
        case CTC_SHA384wECDSA: return crypto::Hash::sha384;
        case CTC_SHA512wRSA:
        case CTC_SHA512wECDSA: return crypto::Hash::sha512;
        default: return std::nullopt;  // Ed25519, Ed448: no separate digest (libpq's rule)
    }
}

std::string one_line(WOLFSSL_X509_NAME* name) {
    if (name == nullptr) return {};
    char buf[1024] = {};
    if (wolfSSL_X509_NAME_oneline(name, buf, sizeof buf) == nullptr) return {};
    return buf;
}

// Every CN attribute, bytes as in the certificate (a NUL stays, for core to reject).
std::vector<std::string> common_names(WOLFSSL_X509_NAME* name) {
    std::vector<std::string> out;
    if (name == nullptr) return out;
    for (int i = wolfSSL_X509_NAME_get_index_by_NID(name, NID_commonName, -1); i >= 0;
         i = wolfSSL_X509_NAME_get_index_by_NID(name, NID_commonName, i)) {
        WOLFSSL_ASN1_STRING* s = wolfSSL_X509_NAME_ENTRY_get_data(wolfSSL_X509_NAME_get_entry(name, i));
        if (s == nullptr) continue;
        const unsigned char* data = wolfSSL_ASN1_STRING_data(s);
        const int len = wolfSSL_ASN1_STRING_length(s);
        if (data != nullptr && len >= 0) out.emplace_back(reinterpret_cast<const char*>(data), static_cast<std::size_t>(len));
    }
    return out;
}

// Name attributes straight from DER, for certificates wolfSSL 5.5 cannot turn into a
// WOLFSSL_X509 (Ed25519/Ed448 keys, although its TLS layer verifies them). Display form as
// wolfSSL_X509_NAME_oneline: "/O=pgtls test/CN=localhost".
struct DerNames {
    std::string issuer, subject;
    std::vector<std::string> subject_cns;
};

void read_name(std::span<const std::uint8_t> name, std::string& line, std::vector<std::string>* cns) {
    static constexpr std::array<std::uint8_t, 2> attribute_prefix{0x55, 0x04};  // 2.5.4.x
    DerReader rdns(name);
    DerElement rdn;
    while (rdns.next(rdn)) {
        DerReader atvs(rdn.value);
        DerElement atv, oid, value;
        while (atvs.expect(der::sequence, atv)) {
            DerReader a(atv.value);
            if (!a.expect(der::oid, oid) || !a.next(value)) continue;
            std::string key = "OID";
            if (oid.value.size() == 3 && std::equal(attribute_prefix.begin(), attribute_prefix.end(), oid.value.begin())) {
                switch (oid.value[2]) {
                    case 3: key = "CN"; break;
                    case 6: key = "C"; break;
                    case 7: key = "L"; break;
                    case 8: key = "ST"; break;
                    case 10: key = "O"; break;
                    case 11: key = "OU"; break;
                    default: break;
                }
            }
            std::string text(value.value.begin(), value.value.end());
            if (key == "CN" && cns != nullptr) cns->push_back(text);
            line += "/" + key + "=" + text;
        }
    }
}

DerNames names_from_der(std::span<const std::uint8_t> certificate_der) {
    DerNames out;
    DerReader top(certificate_der);
    DerElement cert, tbs, skipped, issuer, validity, subject;
    if (!top.expect(der::sequence, cert)) return out;
    DerReader c(cert.value);
    if (!c.expect(der::sequence, tbs)) return out;
    DerReader t(tbs.value);
    t.skip_if(der::context(0, true));  // version
    if (!t.next(skipped) || !t.next(skipped)) return out;  // serialNumber, signature
    if (!t.expect(der::sequence, issuer) || !t.next(validity) || !t.expect(der::sequence, subject)) return out;
    read_name(issuer.value, out.issuer, nullptr);
    read_name(subject.value, out.subject, &out.subject_cns);
    return out;
}

}  // namespace

std::optional<PeerCertificate> describe_certificate(std::span<const std::uint8_t> der) {
    PeerCertificate pc;
    pc.der.assign(der.begin(), der.end());
    SubjectAltNames san = subject_alt_names_from_der(der);
    pc.san_dns = std::move(san.dns);
    pc.san_ip = std::move(san.ip);
    pc.san_order = std::move(san.order);
    std::unique_ptr<WOLFSSL_X509, X509Free> x509(
        wolfSSL_X509_d2i(nullptr, der.data(), static_cast<int>(der.size())));
    pc.signature_hash = signature_hash(x509.get(), der);
    if (!x509) {
        DerNames names = names_from_der(der);
        if (names.subject.empty()) return std::nullopt;
        pc.common_names = std::move(names.subject_cns);
        pc.subject = std::move(names.subject);
        pc.issuer = std::move(names.issuer);
        return pc;
    }
    WOLFSSL_X509_NAME* subject = wolfSSL_X509_get_subject_name(x509.get());
    pc.common_names = common_names(subject);
    pc.subject = one_line(subject);
    pc.issuer = one_line(wolfSSL_X509_get_issuer_name(x509.get()));
    return pc;
}

std::string weak_signature_subject(std::span<const std::uint8_t> der) {
    const auth::CertificateSignature sig = auth::certificate_signature(der);
    if (sig.kind != auth::CertificateSignature::Kind::hash ||
        (sig.hash != crypto::Hash::md5 && sig.hash != crypto::Hash::sha1))
        return {};
    DerNames names = names_from_der(der);
    if (names.subject.empty() || names.subject == names.issuer) return {};  // a root's self-signature is not checked
    return names.subject;
}

}  // namespace pgtls::tls::wolfssl
