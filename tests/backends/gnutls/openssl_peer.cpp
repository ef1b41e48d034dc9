#include "openssl_peer.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <stdexcept>

namespace pgtls::test {
namespace {

std::string openssl_errors() {
    std::string out;
    while (unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        if (!out.empty()) out += "; ";
        out += buf;
    }
    return out;
}

int accept_all(int, X509_STORE_CTX*) { return 1; }

int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned inlen,
                void* arg) {
    auto* accepted = static_cast<std::vector<std::string>*>(arg);
    for (const auto& want : *accepted) {
        for (unsigned i = 0; i < inlen;) {
            const unsigned len = in[i];
            if (i + 1 + len > inlen) break;
            if (std::string(reinterpret_cast<const char*>(in + i + 1), len) == want) {
                *out = in + i + 1;
                *outlen = static_cast<unsigned char>(len);
                return SSL_TLSEXT_ERR_OK;
            }
            i += 1 + len;
        }
    }
    return SSL_TLSEXT_ERR_NOACK;
}

int force_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char*, unsigned, void* arg) {
    const auto* forced = static_cast<const std::string*>(arg);
    *out = reinterpret_cast<const unsigned char*>(forced->data());
    *outlen = static_cast<unsigned char>(forced->size());
    return SSL_TLSEXT_ERR_OK;
}

int record_sni(SSL* ssl, int*, void* arg) {
    if (const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name))
        static_cast<PeerObservation*>(arg)->sni = name;
    return SSL_TLSEXT_ERR_OK;
}

}  // namespace

int connect_loopback(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("socket failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        throw std::runtime_error("connect failed");
    }
    return fd;
}

OpensslPeer::OpensslPeer(PeerOptions options) : options_(std::move(options)) {
    // The server writes (session tickets, echoes) to clients that may already have gone.
    std::signal(SIGPIPE, SIG_IGN);
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 1) != 0)
        throw std::runtime_error("cannot listen on 127.0.0.1");
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
}

OpensslPeer::~OpensslPeer() {
    if (!joined_) finish();
}

PeerObservation OpensslPeer::finish() {
    if (!joined_) {
        thread_.join();
        joined_ = true;
        ::close(listen_fd_);
    }
    return observation_;
}

void OpensslPeer::run() {
    PeerObservation& obs = observation_;
    pollfd pfd{listen_fd_, POLLIN, 0};
    if (::poll(&pfd, 1, 20000) != 1) {
        obs.error = "no client connected";
        return;
    }
    const int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) {
        obs.error = "accept failed";
        return;
    }
    timeval tv{20, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);

    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_security_level(ctx, 0);
    if (options_.min_version) SSL_CTX_set_min_proto_version(ctx, options_.min_version);
    if (options_.max_version) SSL_CTX_set_max_proto_version(ctx, options_.max_version);
    if (SSL_CTX_use_certificate_chain_file(ctx, options_.cert.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, options_.key.c_str(), SSL_FILETYPE_PEM) != 1) {
        obs.error = "server cannot load its certificate: " + openssl_errors();
        SSL_CTX_free(ctx);
        ::close(fd);
        return;
    }
    if (!options_.alpn.empty()) SSL_CTX_set_alpn_select_cb(ctx, select_alpn, &options_.alpn);
    if (!options_.alpn_force.empty()) SSL_CTX_set_alpn_select_cb(ctx, force_alpn, &options_.alpn_force);
    SSL_CTX_set_tlsext_servername_callback(ctx, record_sni);
    SSL_CTX_set_tlsext_servername_arg(ctx, &obs);
    if (!options_.client_ca.empty()) {
        SSL_CTX_set_client_CA_list(ctx, SSL_load_client_CA_file(options_.client_ca.c_str()));
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_all);
    }

    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) != 1) {
        obs.error = "handshake failed: " + openssl_errors();
    } else {
        obs.handshake_ok = true;
        obs.version = SSL_get_version(ssl);
        obs.cipher = SSL_get_cipher_name(ssl);
        const unsigned char* alpn = nullptr;
        unsigned alpn_len = 0;
        SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
        if (alpn) obs.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
        if (X509* peer = SSL_get1_peer_certificate(ssl)) {
            obs.client_cert = true;
            char cn[256] = {0};
            X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
            obs.client_cn = cn;
            char issuer_cn[256] = {0};
            X509_NAME_get_text_by_NID(X509_get_issuer_name(peer), NID_commonName, issuer_cn, sizeof issuer_cn);
            obs.client_issuer_cn = issuer_cn;
            X509_free(peer);
        }
        char buf[16384];
        if (!options_.greeting.empty()) {
            SSL_write(ssl, options_.greeting.data(), static_cast<int>(options_.greeting.size()));
            if (!options_.abrupt_close) SSL_shutdown(ssl);
        } else if (options_.sink_bytes > 0) {
            std::size_t got = 0;
            while (got < options_.sink_bytes) {
                const int n = SSL_read(ssl, buf, sizeof buf);
                if (n <= 0) break;
                got += static_cast<std::size_t>(n);
            }
            obs.received = std::to_string(got);
            SSL_write(ssl, "done", 4);
            SSL_shutdown(ssl);
        } else {
            for (;;) {
                const int n = SSL_read(ssl, buf, sizeof buf);
                if (n <= 0) break;
                obs.received.append(buf, static_cast<std::size_t>(n));
                SSL_write(ssl, buf, n);
            }
            SSL_shutdown(ssl);
        }
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ::close(fd);
}

}  // namespace pgtls::test
