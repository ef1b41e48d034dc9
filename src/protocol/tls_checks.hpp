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

// What the server had sent when a TLS handshake failed, as the transport saw it.
enum class TlsPeerAnswer : std::uint8_t {
    nothing,  // no byte came back (a server before 17 closes on a ClientHello without a word)
    tls,      // a TLS record: the server speaks TLS, whatever went wrong after
    not_tls,  // bytes that are no TLS record (e.g. an ErrorResponse)
};

// The Error a transport throws for a failed TLS handshake (kind tls, cause tls_handshake).
class TlsHandshakeError : public Error {
public:
    TlsHandshakeError(const std::string& message, TlsPeerAnswer answer)
        : Error(ErrorKind::tls, ErrorCause::tls_handshake, message), answer_(answer) {}
    TlsPeerAnswer answer() const noexcept { return answer_; }

private:
    TlsPeerAnswer answer_;
};

// Whether a failed direct handshake gets the hint: only when the server's answer shows that it
// may not speak direct TLS (nothing or no TLS came back), never after it answered in TLS (a
// network cut, a certificate it presented). An error without that knowledge gets it.
bool direct_hint_applies(const Error& handshake_error);

}  // namespace pgtls::protocol
