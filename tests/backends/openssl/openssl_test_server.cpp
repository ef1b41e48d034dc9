#include "openssl_test_server.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <stdexcept>

#include <openssl/err.h>
#include <openssl/x509.h>

namespace pgtls::test {
namespace {

std::string errors() {
    std::string out;
    while (unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        if (!out.empty()) out += "; ";
        out += buf;
    }
    return out;
}

int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
                void*) {
    static const unsigned char wanted[] = {10, 'p', 'o', 's', 't', 'g', 'r', 'e', 's', 'q', 'l'};
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, outlen, wanted, sizeof wanted, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

// Accept any client certificate: the tests only look at what was sent.
int accept_any(int, X509_STORE_CTX*) { return 1; }

}  // namespace

TestServer::TestServer(ServerOptions options) : options_(std::move(options)) {
    std::signal(SIGPIPE, SIG_IGN);  // the server side writes with plain write()
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) throw std::runtime_error("socketpair failed");
    client_fd_ = fds[0];
    server_fd_ = fds[1];

    ctx_ = SSL_CTX_new(TLS_server_method());
    if (ctx_ == nullptr || SSL_CTX_use_certificate_chain_file(ctx_, options_.cert.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx_, options_.key.c_str(), SSL_FILETYPE_PEM) != 1)
        throw std::runtime_error("test server: cannot load " + options_.cert + ": " + errors());
    if (options_.min_version) SSL_CTX_set_min_proto_version(ctx_, options_.min_version);
    if (options_.max_version) SSL_CTX_set_max_proto_version(ctx_, options_.max_version);
    if (options_.alpn) SSL_CTX_set_alpn_select_cb(ctx_, select_alpn, nullptr);
    if (!options_.client_ca.empty()) {
        STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options_.client_ca.c_str());
        if (names == nullptr) throw std::runtime_error("test server: cannot load " + options_.client_ca);
        SSL_CTX_set_client_CA_list(ctx_, names);
        SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, accept_any);
    }
    thread_ = std::thread([this] { run(); });
}

TestServer::~TestServer() {
    finish();
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
}

const ServerReport& TestServer::finish() {
    if (finished_) return report_;
    finished_ = true;
    if (client_fd_ >= 0) {
        ::shutdown(client_fd_, SHUT_RDWR);
        ::close(client_fd_);
        client_fd_ = -1;
    }
    if (thread_.joinable()) thread_.join();
    return report_;
}

void TestServer::run() {
    SSL* ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, server_fd_);
    if (SSL_accept(ssl) != 1) {
        report_.error = errors();
    } else {
        report_.handshake_ok = true;
        if (const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) report_.sni = sni;
        if (X509* peer = SSL_get_peer_certificate(ssl)) {
            char buf[256];
            X509_NAME_oneline(X509_get_subject_name(peer), buf, sizeof buf);
            report_.client_subject = buf;
            X509_free(peer);
        }
        if (!options_.greeting.empty())
            SSL_write(ssl, options_.greeting.data(), static_cast<int>(options_.greeting.size()));
        switch (options_.end) {
            case ServerOptions::End::echo: {
                char buf[16384];
                int n;
                while ((n = SSL_read(ssl, buf, sizeof buf)) > 0)
                    if (SSL_write(ssl, buf, n) <= 0) break;
                // A TLS 1.3 client certificate rejected after the handshake shows up here.
                if (n <= 0 && report_.error.empty()) report_.error = errors();
                break;
            }
            case ServerOptions::End::close_notify:
                SSL_shutdown(ssl);
                break;
            case ServerOptions::End::abrupt:
                break;
        }
    }
    SSL_free(ssl);
    ::shutdown(server_fd_, SHUT_RDWR);
    ::close(server_fd_);
    server_fd_ = -1;
}

}  // namespace pgtls::test
