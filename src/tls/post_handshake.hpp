// The checks libpq adds once a handshake succeeded, on top of the chain the backend verified:
// ALPN, the server's host name (verify-full) and, when asked for, that the client's certificate
// was sent. The same for every backend and for every TLS connection (a session or a cancel
// request); protocol/tls_checks.hpp applies them to a handshake's result.
#pragma once

#include <optional>
#include <string_view>

#include "tls/tls_backend.hpp"

namespace pgtls::tls {

struct PostHandshakeChecks {
    bool direct = false;                   // sslnegotiation=direct: ALPN "postgresql" is required
    bool verify_full = false;              // sslmode=verify-full: the certificate names `host`
    std::string_view host;                 // the host as the user wrote it (not the address)
    bool require_client_certificate = false;  // sslcertmode=require
};

// What became of the client's certificate in the handshake.
struct ClientCertificateExchange {
    bool requested = false;  // the server sent a CertificateRequest
    bool sent = false;       // a certificate went out in answer
};

// Throws Error(ErrorKind::tls) with libpq's texts, in libpq's order, each with its cause:
// tls_alpn (no ALPN on a direct connection, or another protocol than "postgresql"),
// tls_host_name (no certificate, or one that does not name the host), tls_client_certificate
// (the server did not ask for the client's certificate, or accepted the connection without it).
void check_post_handshake(const SessionInfo& info, const std::optional<PeerCertificate>& peer,
                          ClientCertificateExchange client_certificate, const PostHandshakeChecks& checks);

}  // namespace pgtls::tls
