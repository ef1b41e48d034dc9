#include "backends/mbedtls/mbedtls_errors.hpp"

#include <cstdio>
#include <string_view>

#include <mbedtls/error.h>
#include <mbedtls/x509_crt.h>

namespace pgtls::tls::mbedtls {

std::string error_text(int code) {
    char buf[256];
    mbedtls_strerror(code, buf, sizeof buf);
    char hex[32];
    std::snprintf(hex, sizeof hex, " (-0x%04x)", static_cast<unsigned>(code < 0 ? -code : code));
    return std::string(buf) + hex;
}

std::string verify_text(std::uint32_t flags) {
    if (flags == 0) return {};
    char buf[1024];
    const int n = mbedtls_x509_crt_verify_info(buf, sizeof buf, "", flags);
    if (n < 0) return "certificate verification flags 0x" + std::to_string(flags);
    // One line per reason, each ending in '\n'; join them with "; ".
    std::string out;
    std::string_view rest(buf, static_cast<std::size_t>(n));
    while (!rest.empty()) {
        const std::size_t nl = rest.find('\n');
        std::string_view line = rest.substr(0, nl);
        while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
        if (!line.empty()) {
            if (!out.empty()) out += "; ";
            out += line;
        }
        if (nl == std::string_view::npos) break;
        rest.remove_prefix(nl + 1);
    }
    return out;
}

std::string alert_name(unsigned char description) {
    switch (description) {
        case 0: return "close_notify";
        case 10: return "unexpected_message";
        case 20: return "bad_record_mac";
        case 22: return "record_overflow";
        case 40: return "handshake_failure";
        case 42: return "bad_certificate";
        case 43: return "unsupported_certificate";
        case 44: return "certificate_revoked";
        case 45: return "certificate_expired";
        case 46: return "certificate_unknown";
        case 47: return "illegal_parameter";
        case 48: return "unknown_ca";
        case 49: return "access_denied";
        case 50: return "decode_error";
        case 51: return "decrypt_error";
        case 70: return "protocol_version";
        case 71: return "insufficient_security";
        case 80: return "internal_error";
        case 86: return "inappropriate_fallback";
        case 90: return "user_canceled";
        case 100: return "no_renegotiation";
        case 109: return "missing_extension";
        case 110: return "unsupported_extension";
        case 112: return "unrecognized_name";
        case 116: return "certificate_required";
        case 120: return "no_application_protocol";
        default: return "alert " + std::to_string(description);
    }
}

}  // namespace pgtls::tls::mbedtls
