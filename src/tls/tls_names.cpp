#include "tls/tls_names.hpp"

#include <array>

namespace pgtls::tls {
namespace {

constexpr std::array<CipherNamePair, 38> kCipherNames{{
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CCM", "ECDHE-ECDSA-AES256-CCM"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CCM", "ECDHE-ECDSA-AES128-CCM"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE-ECDSA-AES128-SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA-AES128-SHA256"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", "ECDHE-ECDSA-AES256-SHA384"},
    {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", "ECDHE-RSA-AES256-SHA384"},
    {"TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", "DHE-RSA-AES256-GCM-SHA384"},
    {"TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "DHE-RSA-AES128-GCM-SHA256"},
    {"TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "DHE-RSA-CHACHA20-POLY1305"},
    {"TLS_DHE_RSA_WITH_AES_256_CCM", "DHE-RSA-AES256-CCM"},
    {"TLS_DHE_RSA_WITH_AES_128_CCM", "DHE-RSA-AES128-CCM"},
    {"TLS_DHE_RSA_WITH_AES_256_CBC_SHA", "DHE-RSA-AES256-SHA"},
    {"TLS_DHE_RSA_WITH_AES_128_CBC_SHA", "DHE-RSA-AES128-SHA"},
    {"TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", "DHE-RSA-AES256-SHA256"},
    {"TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", "DHE-RSA-AES128-SHA256"},
    {"TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384"},
    {"TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256"},
    {"TLS_RSA_WITH_AES_256_CCM", "AES256-CCM"},
    {"TLS_RSA_WITH_AES_128_CCM", "AES128-CCM"},
    {"TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA"},
    {"TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA"},
    {"TLS_RSA_WITH_AES_256_CBC_SHA256", "AES256-SHA256"},
    {"TLS_RSA_WITH_AES_128_CBC_SHA256", "AES128-SHA256"},
    {"TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384"},
    {"TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256"},
    {"TLS_CHACHA20_POLY1305_SHA256", "TLS_CHACHA20_POLY1305_SHA256"},
    {"TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_SHA256"},
    {"TLS_AES_128_CCM_8_SHA256", "TLS_AES_128_CCM_8_SHA256"},
}};

}  // namespace

const char* version_name(TlsVersion v, const char* unspecified) noexcept {
    const int rank = version_rank(v);
    return rank < 0 ? unspecified : rank_name(rank);
}

int version_rank(TlsVersion v) noexcept {
    switch (v) {
        case TlsVersion::tls1_0: return 0;
        case TlsVersion::tls1_1: return 1;
        case TlsVersion::tls1_2: return 2;
        case TlsVersion::tls1_3: return 3;
        case TlsVersion::unspecified: break;
    }
    return -1;
}

const char* rank_name(int rank) noexcept {
    static const char* const names[] = {"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"};
    return rank >= 0 && rank < 4 ? names[rank] : "unknown";
}

std::string openssl_protocol_name(std::string_view reported) {
    if (reported == "TLSv1.0") return "TLSv1";
    return std::string(reported);
}

std::string openssl_cipher_name(std::string_view iana_name) {
    std::string iana(iana_name);
    for (char& c : iana)
        if (c == '-') c = '_';
    for (const auto& p : kCipherNames)
        if (p.iana == iana) return std::string(p.openssl);
    return iana;
}

std::span<const CipherNamePair> cipher_name_table() { return kCipherNames; }

}  // namespace pgtls::tls
