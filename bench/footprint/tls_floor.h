/* The size floor of the footprint table (scripts/footprint.sh): a program that does only what
   every TLS client of PostgreSQL must — connect, SSLRequest, a handshake that verifies the
   server's chain against a root certificate and its host name — with one TLS library, and
   nothing of PostgreSQL's protocol. What a pgtls program weighs above it is pgtls's.
   Usage: tls_floor_<library> ADDRESS PORT ROOTCERT HOSTNAME (the name the certificate must
   carry; mbedTLS 2.28 matches no IP addresses); prints "verified" on success. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* A socket to HOST:PORT (an IPv4 literal) after the server accepted an SSLRequest; -1 if not. */
static int connect_for_tls(const char* host, const char* port) {
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)atoi(port));
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) return -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr*)&a, sizeof a) != 0) return -1;
    const unsigned char ssl_request[8] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};
    char answer = 0;
    if (send(fd, ssl_request, sizeof ssl_request, 0) != 8 || recv(fd, &answer, 1, 0) != 1 || answer != 'S') return -1;
    return fd;
}
