#include "backends/gnutls/gnutls_names.hpp"

#include "tls/tls_names.hpp"

namespace pgtls::tls::gnutls {

std::string protocol_name(gnutls_protocol_t version) {
    switch (version) {
        case GNUTLS_TLS1_3: return version_name(TlsVersion::tls1_3);
        case GNUTLS_TLS1_2: return version_name(TlsVersion::tls1_2);
        case GNUTLS_TLS1_1: return version_name(TlsVersion::tls1_1);
        case GNUTLS_TLS1_0: return version_name(TlsVersion::tls1_0);
        case GNUTLS_SSL3: return "SSLv3";
        default: break;
    }
    const char* n = gnutls_protocol_get_name(version);
    return n ? n : "unknown";
}

}  // namespace pgtls::tls::gnutls
