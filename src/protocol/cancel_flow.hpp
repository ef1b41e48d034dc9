// A cancel request, sans I/O: a new socket to the server the session is connected to, the
// same negotiation the session used (SSLRequest or direct TLS with the same checks, or
// GSSENCRequest and GSSAPI encryption to the same service principal), the
// CancelRequest (a key of any length: protocol 3.2 keys are up to 256 bytes), then a bounded
// wait for the server to close, so the cancel has been processed when the flow ends. All of
// it within one grace timer; the socket is always closed at the end.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "protocol/algorithm.hpp"
#include "protocol/tls_checks.hpp"
#include "pgtls/config.hpp"

namespace pgtls::protocol {

struct CancelOptions {
    HostTarget target;  // the connected server (its numeric address, not a re-resolve)
    TlsStart tls = TlsStart::none;  // how the session negotiated
    std::string sni;
    std::string host;   // the host name for verify-full (TlsChecks::host refers to it) and GSSAPI
    std::string gss_service = "postgres";  // krbsrvname, for TlsStart::gss
    bool verify_full = false;
    std::int32_t pid = 0;
    std::vector<std::uint8_t> secret;
    std::chrono::milliseconds grace{30000};
};

class CancelFlow final : public Algorithm {
public:
    Operation operation() const noexcept override { return Operation::cancel; }
    // Bytes the server may send before it closes; more ends the wait (a hostile server
    // cannot keep the canceller reading).
    static constexpr std::size_t drain_limit = 256;

    // `wire` is the side channel's own, not the session's.
    CancelFlow(CancelOptions options, Wire wire);
    Action resume(const Event& event) override;

private:
    enum class State { start, opening, ssl_request, ssl_reply, gss_reply, tls, sending, draining, closing, done };
    Action fail(std::exception_ptr e);
    Action send_cancel();
    Action close_then(std::exception_ptr e);

    CancelOptions options_;
    Wire wire_;
    State state_ = State::start;
    std::size_t drained_ = 0;
    std::exception_ptr error_;  // reported once the socket is closed
};

}  // namespace pgtls::protocol
