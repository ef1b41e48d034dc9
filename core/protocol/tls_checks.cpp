#include "core/protocol/tls_checks.hpp"

#include "core/tls/hostname.hpp"

namespace pgtls::protocol {

void check_tls_up(const TlsUp& up, const TlsChecks& checks) {
    const std::string& alpn = up.info.alpn;
    if (checks.how == TlsStart::direct && alpn.empty())
        throw Error(ErrorKind::tls, ErrorCause::tls_alpn,
                    "direct SSL connection was established without ALPN protocol negotiation extension");
    if (!alpn.empty() && alpn != "postgresql")
        throw Error(ErrorKind::tls, ErrorCause::tls_alpn,
                    "SSL connection was established with unexpected ALPN protocol \"" + alpn + "\"");
    if (checks.verify_full) {
        if (!up.peer) throw Error(ErrorKind::tls, ErrorCause::tls_host_name, "server did not present a certificate");
        std::string reason;
        if (!tls::verify_host_name(*up.peer, checks.host, &reason))
            throw Error(ErrorKind::tls, ErrorCause::tls_host_name, reason);
    }
    if (checks.require_client_certificate && !up.client_certificate_sent)
        throw Error(ErrorKind::tls, ErrorCause::tls_client_certificate,
                    "server accepted connection without a valid SSL certificate");
}

std::string with_direct_negotiation_hint(std::string_view what, TlsStart how) {
    std::string text(what);
    if (how == TlsStart::direct)
        text += " (with sslnegotiation=direct the server must be PostgreSQL 17 or later; older servers need "
                "sslnegotiation=postgres)";
    return text;
}

bool direct_hint_applies(const Error& handshake_error) {
    const auto* e = dynamic_cast<const TlsHandshakeError*>(&handshake_error);
    return !e || e->answer() != TlsPeerAnswer::tls;
}

}  // namespace pgtls::protocol
