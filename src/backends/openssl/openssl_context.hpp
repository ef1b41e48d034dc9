#pragma once

#include <memory>
#include <string>

#include "backends/openssl/openssl_common.hpp"
#include "tls/tls_backend.hpp"

namespace pgtls::tls::openssl {

// An SSL_CTX configured once from a ContextConfig (libpq's initialize_SSL) and then only
// read: SSL_new on a shared SSL_CTX is thread-safe, so create_session needs no lock.
class OpenSslContext final : public Context, public std::enable_shared_from_this<OpenSslContext> {
public:
    // Throws Error(config) for unusable settings/files, Error(tls) for library failures.
    static std::shared_ptr<OpenSslContext> create(const ContextConfig& config);

    std::unique_ptr<Session> create_session(int fd, const SessionParams& params) override;

    SSL_CTX* native() const noexcept { return ctx_.get(); }
    const std::string& keylog_file() const noexcept { return keylog_file_; }
    TlsVersion min_version() const noexcept { return min_version_; }
    TlsVersion max_version() const noexcept { return max_version_; }

    OpenSslContext(SslCtxPtr ctx, const ContextConfig& config);

private:
    SslCtxPtr ctx_;
    std::string keylog_file_;
    TlsVersion min_version_;
    TlsVersion max_version_;
};

}  // namespace pgtls::tls::openssl
