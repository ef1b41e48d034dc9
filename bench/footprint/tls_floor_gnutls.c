/* Size floor with GnuTLS: see tls_floor.h. */
#include <gnutls/gnutls.h>
#include "tls_floor.h"
int main(int argc, char** argv) {
    if (argc != 5) return 2;
    int fd = connect_for_tls(argv[1], argv[2]);
    gnutls_certificate_credentials_t cred;
    gnutls_session_t s;
    if (fd < 0 || gnutls_certificate_allocate_credentials(&cred) < 0 ||
        gnutls_certificate_set_x509_trust_file(cred, argv[3], GNUTLS_X509_FMT_PEM) <= 0 ||
        gnutls_init(&s, GNUTLS_CLIENT) < 0 || gnutls_set_default_priority(s) < 0 ||
        gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred) < 0)
        return 1;
    gnutls_session_set_verify_cert(s, argv[4], 0);
    gnutls_transport_set_int(s, fd);
    int rc;
    do rc = gnutls_handshake(s);
    while (rc < 0 && !gnutls_error_is_fatal(rc));
    if (rc < 0) return 1;
    puts("verified");
    gnutls_bye(s, GNUTLS_SHUT_WR);
    gnutls_deinit(s);
    gnutls_certificate_free_credentials(cred);
    return 0;
}
