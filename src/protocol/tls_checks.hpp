// The post-handshake checks (tls/post_handshake.hpp) applied to what a handshake yielded (TlsUp),
// for every TLS connection to the server: a session (connect) or a cancel request.
#pragma once

#include <string>
#include <string_view>

#include "protocol/algorithm.hpp"

namespace pgtls::protocol {

struct TlsChecks {
    TlsStart how = TlsStart::ssl_request;
    bool verify_full = false;              // sslmode=verify-full: the certificate names `host`
    std::string_view host;                 // the host as the user wrote it (not the address)
    bool require_client_certificate = false;  // sslcertmode=require (connect only)
};

// Throws what tls::check_post_handshake throws.
void check_tls_up(const TlsUp& up, const TlsChecks& checks);

// A failed direct handshake most often means a server older than 17: the message the user
// sees says so. Returns `what` unchanged for classic negotiation.
std::string with_direct_negotiation_hint(std::string_view what, TlsStart how);

}  // namespace pgtls::protocol
