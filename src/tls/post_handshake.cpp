#include "tls/post_handshake.hpp"

#include <string>

#include "pgtls/error.hpp"
#include "tls/hostname.hpp"

namespace pgtls::tls {

void check_post_handshake(const SessionInfo& info, const std::optional<PeerCertificate>& peer,
                          ClientCertificateExchange client_certificate, const PostHandshakeChecks& checks) {
    const std::string& alpn = info.alpn;
    if (checks.direct && alpn.empty())
        throw Error(ErrorKind::tls, ErrorCause::tls_alpn,
                    "direct SSL connection was established without ALPN protocol negotiation extension");
    if (!alpn.empty() && alpn != "postgresql")
        throw Error(ErrorKind::tls, ErrorCause::tls_alpn,
                    "SSL connection was established with unexpected ALPN protocol \"" + alpn + "\"");
    if (checks.verify_full) {
        if (!peer) throw Error(ErrorKind::tls, ErrorCause::tls_host_name, "server did not present a certificate");
        std::string reason;
        if (!verify_host_name(*peer, checks.host, &reason))
            throw Error(ErrorKind::tls, ErrorCause::tls_host_name, reason);
    }
    if (checks.require_client_certificate && !client_certificate.requested)
        throw Error(ErrorKind::tls, ErrorCause::tls_client_certificate, "server did not request an SSL certificate");
    if (checks.require_client_certificate && !client_certificate.sent)
        throw Error(ErrorKind::tls, ErrorCause::tls_client_certificate,
                    "server accepted connection without a valid SSL certificate");
}

}  // namespace pgtls::tls
