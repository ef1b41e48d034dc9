#include "tests/support/tls/tls_test_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace pgtls::test {
namespace {

constexpr int kIoTimeoutMs = 10000;

std::string openssl_error() {
    unsigned long code = ERR_get_error();
    if (code == 0) return "unknown OpenSSL error";
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    ERR_clear_error();
    return buf;
}

void set_io_timeouts(int fd) {
    timeval tv{kIoTimeoutMs / 1000, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

std::string x509_name_rfc2253(X509_NAME* name) {
    BIO* bio = BIO_new(BIO_s_mem());
    X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<std::size_t>(len));
    BIO_free(bio);
    return out;
}

std::string x509_cn(X509_NAME* name) {
    int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (idx < 0) return {};
    ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
    return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       static_cast<std::size_t>(ASN1_STRING_length(s)));
}

}  // namespace

struct TlsTestServer::Impl {
    SSL_CTX* ctx = nullptr;
    std::vector<unsigned char> alpn_wire_wrong;  // length-prefixed alpn_protocols[0]
    TlsServerConnection* current = nullptr;      // record being filled by callbacks (server thread only)
    std::pair<TlsServerOptions*, Impl*> alpn_arg{nullptr, nullptr};
    bool accept_any = false;                     // TlsServerOptions::accept_any_client_cert
    std::string keylog_file;                     // TlsServerOptions::keylog_file
    ~Impl() { SSL_CTX_free(ctx); }
};

namespace {

void keylog_callback(const SSL* ssl, const char* line) {
    auto* impl = static_cast<TlsTestServer::Impl*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
    if (!impl || impl->keylog_file.empty()) return;
    std::ofstream(impl->keylog_file, std::ios::app) << line << '\n';
}

// Records the client's leaf before verification can reject it: OpenSSL forgets a peer
// certificate that failed verification.
int verify_callback(int preverify_ok, X509_STORE_CTX* store) {
    auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    auto* impl = ssl ? static_cast<TlsTestServer::Impl*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl))) : nullptr;
    X509* leaf = X509_STORE_CTX_get0_cert(store);
    if (impl && impl->current && leaf && !impl->current->client_cert_presented) {
        impl->current->client_cert_presented = true;
        impl->current->client_cert_subject = x509_name_rfc2253(X509_get_subject_name(leaf));
        impl->current->client_cert_cn = x509_cn(X509_get_subject_name(leaf));
        impl->current->client_cert_issuer_cn = x509_cn(X509_get_issuer_name(leaf));
    }
    return impl && impl->accept_any ? 1 : preverify_ok;
}

int alpn_callback(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                  unsigned int inlen, void* arg) {
    auto* self = static_cast<std::pair<TlsServerOptions*, TlsTestServer::Impl*>*>(arg);
    const TlsServerOptions& opts = *self->first;
    TlsServerConnection* rec = self->second->current;
    std::vector<std::pair<const unsigned char*, unsigned char>> offered;
    for (unsigned int i = 0; i < inlen;) {
        unsigned char len = in[i];
        if (i + 1 + len > inlen) break;
        offered.emplace_back(in + i + 1, len);
        if (rec) rec->alpn_offered.emplace_back(reinterpret_cast<const char*>(in + i + 1), len);
        i += 1u + len;
    }
    if (opts.alpn == TlsServerOptions::Alpn::force_wrong) {
        const auto& wire = self->second->alpn_wire_wrong;
        *out = wire.data() + 1;
        *outlen = wire[0];
        return SSL_TLSEXT_ERR_OK;
    }
    for (const std::string& want : opts.alpn_protocols)
        for (const auto& [p, len] : offered)
            if (want.size() == len && std::memcmp(want.data(), p, len) == 0) {
                *out = p;
                *outlen = len;
                return SSL_TLSEXT_ERR_OK;
            }
    return SSL_TLSEXT_ERR_ALERT_FATAL;  // as a PostgreSQL server does
}

}  // namespace

TlsTestServer::TlsTestServer(TlsServerOptions options) : options_(std::move(options)), impl_(new Impl) {
    // A client that drops the connection must not kill the test binary on our next write.
    ::signal(SIGPIPE, SIG_IGN);

    impl_->ctx = SSL_CTX_new(TLS_server_method());
    if (!impl_->ctx) throw std::runtime_error("SSL_CTX_new: " + openssl_error());
    SSL_CTX* ctx = impl_->ctx;
    // Level 0: the server must be able to present test certificates signed with SHA-1.
    SSL_CTX_set_security_level(ctx, 0);
    if (SSL_CTX_use_certificate_chain_file(ctx, options_.cert_file.c_str()) != 1)
        throw std::runtime_error("test server cert " + options_.cert_file + ": " + openssl_error());
    if (SSL_CTX_use_PrivateKey_file(ctx, options_.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
        throw std::runtime_error("test server key " + options_.key_file + ": " + openssl_error());
    SSL_CTX_set_app_data(ctx, impl_.get());
    if (!options_.keylog_file.empty()) {
        impl_->keylog_file = options_.keylog_file;
        SSL_CTX_set_keylog_callback(ctx, keylog_callback);
    }
    if (options_.min_version && SSL_CTX_set_min_proto_version(ctx, options_.min_version) != 1)
        throw std::runtime_error("test server min version: " + openssl_error());
    if (options_.max_version && SSL_CTX_set_max_proto_version(ctx, options_.max_version) != 1)
        throw std::runtime_error("test server max version: " + openssl_error());
    if (!options_.client_ca_file.empty()) {
        if (SSL_CTX_load_verify_locations(ctx, options_.client_ca_file.c_str(), nullptr) != 1)
            throw std::runtime_error("test server client CA " + options_.client_ca_file + ": " + openssl_error());
        STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options_.client_ca_file.c_str());
        if (names) SSL_CTX_set_client_CA_list(ctx, names);
        int mode = SSL_VERIFY_PEER | (options_.require_client_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
        impl_->accept_any = options_.accept_any_client_cert;
        SSL_CTX_set_verify(ctx, mode, verify_callback);
    }
    if (options_.alpn != TlsServerOptions::Alpn::ignore) {
        if (options_.alpn_protocols.empty() || options_.alpn_protocols[0].empty() ||
            options_.alpn_protocols[0].size() > 255)
            throw std::runtime_error("test server: alpn_protocols needs a first entry of 1..255 bytes");
        const std::string& p = options_.alpn_protocols[0];
        impl_->alpn_wire_wrong.push_back(static_cast<unsigned char>(p.size()));
        impl_->alpn_wire_wrong.insert(impl_->alpn_wire_wrong.end(), p.begin(), p.end());
        impl_->alpn_arg = {&options_, impl_.get()};
        SSL_CTX_set_alpn_select_cb(ctx, alpn_callback, &impl_->alpn_arg);
    }

    bool v6 = options_.bind_address.find(':') != std::string::npos;
    listen_fd_ = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_storage ss{};
    socklen_t sslen = 0;
    if (v6) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
        a->sin6_family = AF_INET6;
        if (inet_pton(AF_INET6, options_.bind_address.c_str(), &a->sin6_addr) != 1)
            throw std::runtime_error("bad bind address " + options_.bind_address);
        sslen = sizeof *a;
    } else {
        auto* a = reinterpret_cast<sockaddr_in*>(&ss);
        a->sin_family = AF_INET;
        if (inet_pton(AF_INET, options_.bind_address.c_str(), &a->sin_addr) != 1)
            throw std::runtime_error("bad bind address " + options_.bind_address);
        sslen = sizeof *a;
    }
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&ss), sslen) != 0 || ::listen(listen_fd_, 16) != 0) {
        int err = errno;
        ::close(listen_fd_);
        throw std::runtime_error("bind/listen " + options_.bind_address + ": " + std::strerror(err));
    }
    sslen = sizeof ss;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &sslen);
    port_ = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    if (::pipe2(wake_pipe_, O_CLOEXEC) != 0) {
        ::close(listen_fd_);
        throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    }
    thread_ = std::thread([this] { run(); });
}

TlsTestServer::~TlsTestServer() {
    stop();
    if (listen_fd_ >= 0) ::close(listen_fd_);
    for (int fd : wake_pipe_)
        if (fd >= 0) ::close(fd);
}

void TlsTestServer::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) {
            if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
            return;
        }
        stopping_ = true;
        cv_.notify_all();  // a held handshake (hold_handshakes) ends
    }
    char b = 'x';
    [[maybe_unused]] ssize_t n = ::write(wake_pipe_[1], &b, 1);
    if (thread_.joinable()) thread_.join();
    cv_.notify_all();
}

std::optional<TlsServerConnection> TlsTestServer::next_connection(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    if (!cv_.wait_for(lock, timeout, [this] { return !records_.empty(); })) return std::nullopt;
    TlsServerConnection rec = std::move(records_.front());
    records_.pop_front();
    return rec;
}

bool TlsTestServer::wait_for_close_notify(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    if (!cv_.wait_for(lock, timeout, [this] { return close_notifies_ > 0; })) return false;
    --close_notifies_;
    return true;
}

void TlsTestServer::release_handshakes() {
    std::lock_guard lock(mutex_);
    released_ = true;
    cv_.notify_all();
}

void TlsTestServer::publish(TlsServerConnection record) {
    {
        std::lock_guard lock(mutex_);
        records_.push_back(std::move(record));
    }
    cv_.notify_all();
}

void TlsTestServer::run() {
    for (;;) {
        pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
        int r = ::poll(fds, 2, -1);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 || (fds[1].revents & POLLIN)) return;
        if (!(fds[0].revents & POLLIN)) continue;
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        set_io_timeouts(fd);
        serve(fd);
        ::close(fd);
    }
}

namespace {

// After a failed handshake: our alert is on its way, but the client may still be sending its
// flight. Closing with those bytes unread would make the kernel send a reset, which can destroy
// the alert before the client reads it; so read and drop until the client closes (2 s at most).
void drain_until_client_closes(int fd) {
    ::shutdown(fd, SHUT_WR);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    char sink[4096];
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return;
        pollfd p{fd, POLLIN, 0};
        const int pr = ::poll(&p, 1, static_cast<int>(left.count()));
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) return;
        if (::recv(fd, sink, sizeof sink, 0) <= 0) return;
    }
}

}  // namespace

void TlsTestServer::serve(int fd) {
    if (options_.hold_handshakes) {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [this] { return released_ || stopping_; });
    }
    TlsServerConnection rec;
    SSL* ssl = SSL_new(impl_->ctx);
    if (!ssl) {
        rec.error = "SSL_new: " + openssl_error();
        publish(std::move(rec));
        return;
    }
    SSL_set_fd(ssl, fd);
    ERR_clear_error();
    impl_->current = &rec;
    int r = SSL_accept(ssl);
    impl_->current = nullptr;
    if (const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) rec.sni = sni;
    if (X509* peer = SSL_get0_peer_certificate(ssl); peer && !rec.client_cert_presented) {
        rec.client_cert_presented = true;
        rec.client_cert_subject = x509_name_rfc2253(X509_get_subject_name(peer));
        rec.client_cert_cn = x509_cn(X509_get_subject_name(peer));
        rec.client_cert_issuer_cn = x509_cn(X509_get_issuer_name(peer));
    }
    if (SSL_get0_peer_certificate(ssl) != nullptr) {
        // On the server side this chain excludes the client's leaf.
        STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
        rec.client_intermediates = chain != nullptr ? sk_X509_num(chain) : 0;
    }
    if (r != 1) {
        rec.error = openssl_error();
        if (long v = SSL_get_verify_result(ssl); v != X509_V_OK)
            rec.error += std::string(" (client certificate: ") + X509_verify_cert_error_string(v) + ")";
        publish(std::move(rec));
        SSL_free(ssl);
        drain_until_client_closes(fd);
        return;
    }
    rec.handshake_ok = true;
    rec.protocol = SSL_get_version(ssl);
    rec.cipher = SSL_get_cipher_name(ssl);
    const unsigned char* sel = nullptr;
    unsigned int sel_len = 0;
    SSL_get0_alpn_selected(ssl, &sel, &sel_len);
    if (sel) rec.alpn_selected.assign(reinterpret_cast<const char*>(sel), sel_len);
    publish(std::move(rec));

    if (!options_.greeting.empty())
        SSL_write(ssl, options_.greeting.data(), static_cast<int>(options_.greeting.size()));
    if (options_.end != TlsServerOptions::End::echo) {
        if (options_.end == TlsServerOptions::End::close_notify) SSL_shutdown(ssl);
        SSL_free(ssl);  // the caller closes the socket: no close_notify for End::abrupt
        ERR_clear_error();
        return;
    }
    if (options_.sink_bytes > 0) {
        std::size_t got = 0;
        char sink[16384];
        while (got < options_.sink_bytes) {
            const int n = SSL_read(ssl, sink, sizeof sink);
            if (n <= 0) break;
            got += static_cast<std::size_t>(n);
        }
        const std::string count = std::to_string(got);
        SSL_write(ssl, count.data(), static_cast<int>(count.size()));
        SSL_shutdown(ssl);
        SSL_free(ssl);
        ERR_clear_error();
        return;
    }
    // Echo until the client closes, an error, a 10 s silence, or stop().
    char buf[16384];
    for (;;) {
        if (SSL_pending(ssl) == 0) {
            pollfd fds[2] = {{fd, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
            int pr = ::poll(fds, 2, kIoTimeoutMs);
            if (pr < 0 && errno == EINTR) continue;
            if (pr <= 0 || (fds[1].revents & POLLIN)) break;
        }
        int n = SSL_read(ssl, buf, sizeof buf);
        if (n <= 0) {
            if (SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN) {
                std::lock_guard<std::mutex> lock(mutex_);
                ++close_notifies_;
                cv_.notify_all();
            }
            break;
        }
        int off = 0;
        while (off < n) {
            int w = SSL_write(ssl, buf + off, n - off);
            if (w <= 0) break;
            off += w;
        }
        if (off < n) break;
    }
    SSL_shutdown(ssl);
    SSL_free(ssl);
    ERR_clear_error();
}

int connect_tcp(const std::string& address, std::uint16_t port) {
    bool v6 = address.find(':') != std::string::npos;
    int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (v6) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        inet_pton(AF_INET6, address.c_str(), &a->sin6_addr);
        len = sizeof *a;
    } else {
        auto* a = reinterpret_cast<sockaddr_in*>(&ss);
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        inet_pton(AF_INET, address.c_str(), &a->sin_addr);
        len = sizeof *a;
    }
    set_io_timeouts(fd);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
        int err = errno;
        ::close(fd);
        throw std::runtime_error("connect " + address + ":" + std::to_string(port) + ": " + std::strerror(err));
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<std::uint8_t> pem_certificate_der(const std::string& pem_file) {
    BIO* bio = BIO_new_file(pem_file.c_str(), "r");
    if (!bio) throw std::runtime_error("cannot open " + pem_file);
    X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    if (!cert) throw std::runtime_error("no certificate in " + pem_file);
    unsigned char* der = nullptr;
    int len = i2d_X509(cert, &der);
    X509_free(cert);
    if (len <= 0) throw std::runtime_error("i2d_X509 failed for " + pem_file);
    std::vector<std::uint8_t> out(der, der + len);
    OPENSSL_free(der);
    return out;
}

}  // namespace pgtls::test
