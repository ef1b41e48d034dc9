#include "backends/gnutls/gnutls_priority.hpp"

#include "tls/tls_files.hpp"
#include "tls/tls_names.hpp"

namespace pgtls::tls::gnutls {
namespace {

const char* name(int r) { return rank_name(r); }

const char* gnutls_token(int r) {
    static const char* const tokens[] = {"+VERS-TLS1.0", "+VERS-TLS1.1", "+VERS-TLS1.2", "+VERS-TLS1.3"};
    return tokens[r];
}

int lower_rank(TlsVersion min) { return min == TlsVersion::unspecified ? 0 : version_rank(min); }
int upper_rank(TlsVersion max) { return max == TlsVersion::unspecified ? 3 : version_rank(max); }

}  // namespace

std::string priority_string(TlsVersion min, TlsVersion max) {
    const int lo = lower_rank(min), hi = upper_rank(max);
    if (lo > hi)
        throw Error(ErrorKind::config, std::string("invalid SSL protocol version range: ssl_min_protocol_version (") +
                                           name(lo) + ") is higher than ssl_max_protocol_version (" + name(hi) + ")");
    std::string s = "NORMAL:-VERS-ALL";
    for (int r = hi; r >= lo; --r) {
        s += ':';
        s += gnutls_token(r);
    }
    return s;
}

Priority make_priority(TlsVersion min, TlsVersion max) {
    const std::string text = priority_string(min, max);
    gnutls_priority_t p = nullptr;
    const char* err_pos = nullptr;
    if (int rc = gnutls_priority_init(&p, text.c_str(), &err_pos); rc < 0)
        throw Error(ErrorKind::config, "GnuTLS rejected priority string \"" + text + "\"" +
                                           (err_pos ? std::string(" at \"") + err_pos + "\"" : std::string()) + ": " +
                                           error_text(rc));
    Priority priority(p);
    const unsigned* list = nullptr;
    const int n = gnutls_priority_protocol_list(p, &list);
    if (n <= 0) {
        const int lo = lower_rank(min), hi = upper_rank(max);
        throw Error(ErrorKind::config, std::string("unsupported SSL protocol version range ") + name(lo) + " to " +
                                           name(hi) + ": none of these versions is enabled in GnuTLS " +
                                           gnutls_check_version(nullptr) + " (see its system priority configuration)");
    }
    return priority;
}

}  // namespace pgtls::tls::gnutls
