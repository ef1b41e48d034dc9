#include "tls/subject_alt_names.hpp"

#include <algorithm>
#include <array>

#include "tls/der_reader.hpp"

namespace pgtls::tls {
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
            out.order += 'd';
        } else if (name.tag == der::context(7, false)) {  // iPAddress [7] OCTET STRING
            out.ip.emplace_back(name.value.begin(), name.value.end());
            out.order += 'i';
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

}  // namespace pgtls::tls
