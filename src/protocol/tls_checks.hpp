// The post-handshake checks (tls/post_handshake.hpp) applied to what a handshake yielded (TlsUp),
// for every TLS connection to the server: a session (connect) or a cancel request.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/algorithm.hpp"
#include "pgtls/error.hpp"

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

using pgtls::TlsPeerAnswer;

// The Error a transport throws for a failed TLS handshake: kind tls, cause tls_handshake, and
// the server's answer in Error::tls_peer_answer(), which survives copies (no subclass to slice).
Error tls_handshake_error(const std::string& message, TlsPeerAnswer answer);

// Whether a failed direct handshake gets the hint: only when the server's answer shows that it
// may not speak direct TLS (nothing or no TLS came back), never after it answered in TLS (a
// network cut, a certificate it presented). An error without that knowledge gets it.
bool direct_hint_applies(const Error& handshake_error);

}  // namespace pgtls::protocol
