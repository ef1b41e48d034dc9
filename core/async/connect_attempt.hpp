// One connection attempt as an algorithm, for the non-blocking connection until the connect
// policy (host list, sslmode fallbacks, target_session_attrs) is an algorithm of its own
// (issue Engine, ConnectFlow): opens a socket to the first host, negotiates TLS the way
// sslmode asks first (Unix sockets never use TLS), applies the checks every TLS connection
// passes (protocol::check_tls_up) and runs the StartupFlow. Settings whose connect needs a
// policy decision — several hosts, sslmode allow/prefer, target_session_attrs other than
// any — are refused with Error(usage) naming the setting, never run weaker.
#pragma once

#include <memory>
#include <string>

#include "core/protocol/startup_flow.hpp"
#include "pgtls/config.hpp"
#include "pgtls/session.hpp"

namespace pgtls::async {

class ConnectAttempt final : public protocol::Algorithm {
public:
    // `settings` outlives the attempt; `crypto` is the SCRAM provider (the TLS backend's).
    ConnectAttempt(const Settings& settings, protocol::Wire wire, const crypto::Provider& crypto, bool verify_full);
    protocol::Action resume(const protocol::Event& event) override;

    const HostTarget& target() const noexcept { return settings_.hosts.front(); }
    protocol::TlsStart tls() const noexcept { return tls_; }
    const std::string& address() const noexcept { return address_; }
    const protocol::StartupFlow& startup() const noexcept { return *startup_; }
    const protocol::TlsUp* tls_up() const noexcept { return tls_done_ ? &tls_up_ : nullptr; }

private:
    const Settings& settings_;
    protocol::Wire wire_;
    protocol::TlsStart tls_ = protocol::TlsStart::none;
    bool verify_full_;
    std::unique_ptr<protocol::StartupFlow> startup_;
    std::string address_;
    protocol::TlsUp tls_up_;
    bool tls_done_ = false;
    bool opened_ = false;
};

}  // namespace pgtls::async
