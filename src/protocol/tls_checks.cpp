#include "protocol/tls_checks.hpp"

#include "tls/post_handshake.hpp"

namespace pgtls::protocol {

void check_tls_up(const TlsUp& up, const TlsChecks& checks) {
    tls::check_post_handshake(up.info, up.peer, {up.client_certificate_requested, up.client_certificate_sent},
                              {checks.how == TlsStart::direct, checks.verify_full, checks.host,
                               checks.require_client_certificate});
}

std::string with_direct_negotiation_hint(std::string_view what, TlsStart how) {
    std::string text(what);
    if (how == TlsStart::direct)
        text += " (with sslnegotiation=direct the server must be PostgreSQL 17 or later; older servers need "
                "sslnegotiation=postgres)";
    return text;
}

Error tls_handshake_error(const std::string& message, TlsPeerAnswer answer) {
    Error e(ErrorKind::tls, ErrorCause::tls_handshake, message);
    e.set_tls_peer_answer(answer);
    return e;
}

bool direct_hint_applies(const Error& handshake_error) {
    return handshake_error.tls_peer_answer() != TlsPeerAnswer::tls;
}

}  // namespace pgtls::protocol
