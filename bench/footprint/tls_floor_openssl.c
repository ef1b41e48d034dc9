/* Size floor with OpenSSL: see tls_floor.h. */
#include <openssl/ssl.h>
#include "tls_floor.h"
int main(int argc, char** argv) {
    if (argc != 5) return 2;
    int fd = connect_for_tls(argv[1], argv[2]);
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    if (fd < 0 || !ctx || SSL_CTX_load_verify_locations(ctx, argv[3], NULL) != 1) return 1;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL* ssl = SSL_new(ctx);
    if (!ssl || SSL_set1_host(ssl, argv[4]) != 1 || SSL_set_fd(ssl, fd) != 1 || SSL_connect(ssl) != 1) return 1;
    puts("verified");
    SSL_shutdown(ssl);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    return 0;
}
