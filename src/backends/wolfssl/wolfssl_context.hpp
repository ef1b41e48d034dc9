// tls::Context over one WOLFSSL_CTX: protocol range, trust anchors, CRLs, client identity and
// the ALPN list, loaded once and shared by every session it creates.
#pragma once

#include <memory>
#include <string>

#include "tls/tls_backend.hpp"

struct WOLFSSL_CTX;

namespace pgtls::tls::wolfssl {

class WolfsslContext final : public Context, public std::enable_shared_from_this<WolfsslContext> {
public:
    // Throws pgtls::Error(config) naming the setting or file that could not be used.
    explicit WolfsslContext(const ContextConfig& config);
    ~WolfsslContext() override;
    WolfsslContext(const WolfsslContext&) = delete;
    WolfsslContext& operator=(const WolfsslContext&) = delete;

    std::unique_ptr<Session> create_session(int fd, const SessionParams& params) override;

    WOLFSSL_CTX* native() const noexcept { return ctx_; }
    bool has_client_certificate() const noexcept { return has_own_cert_; }
    bool verifies_chain() const noexcept { return verify_chain_; }
    // Certificates of the root file left out because they were expired or not yet valid.
    std::size_t out_of_date_roots() const noexcept { return out_of_date_roots_; }
    // Comma-separated, as wolfSSL_UseALPN takes it; empty: offer none.
    const std::string& alpn_list() const noexcept { return alpn_list_; }

private:
    void set_protocol_range(TlsVersion min, TlsVersion max);
    void set_alpn(const std::vector<std::string>& protocols);

    WOLFSSL_CTX* ctx_ = nullptr;
    bool has_own_cert_ = false;
    bool verify_chain_ = false;
    std::size_t out_of_date_roots_ = 0;
    std::string alpn_list_;
};

}  // namespace pgtls::tls::wolfssl
