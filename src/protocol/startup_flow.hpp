// Connection establishment on one socket, sans I/O: SSL negotiation (SSLRequest or direct),
// StartupMessage, the authentication exchange and the session's initial parameters, up to
// the first ReadyForQuery. The driver executes the actions it returns.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "auth/authenticator.hpp"
#include "protocol/algorithm.hpp"
#include "protocol/backend_messages.hpp"
#include "protocol/message_reader.hpp"
#include "protocol/session_state.hpp"
#include "pgtls/config.hpp"

namespace pgtls::protocol {

struct StartupOptions {
    TlsStart tls = TlsStart::none;
    std::string sni;  // the server name the start_tls action asks for (Algorithm shape only)
    // With ssl_request: whether an 'N' reply is fatal (sslmode require or stronger).
    bool tls_required = false;
    // GSSAPI encryption first (gssencmode prefer/require with credentials): GSSENCRequest, on
    // 'G' the GSSAPI handshake (target auth.krbsrvname@auth.gss_host) and no TLS; on 'N' the
    // `tls` negotiation on the same socket, unless gss_required (libpq's error).
    bool gss = false;
    bool gss_required = false;
    std::vector<std::pair<std::string, std::string>> startup_params;  // user, database, ...
    // The version the StartupMessage asks for, and the lowest a NegotiateProtocolVersion
    // may take it down to ((major << 16) | minor).
    std::int32_t protocol_version = 196608;      // 3.0
    std::int32_t min_protocol_version = 196608;  // 3.0
    auth::AuthParams auth;  // tls/peer_certificate are filled in by the flow
};

// The connect's startup and authentication as a resumable algorithm (resume(Event), every
// failure reported through Action::done with the connection retired).
class StartupFlow final : public Algorithm {
public:
    StartupFlow(StartupOptions options, SessionState& state, MessageReader& input, std::string& output);
    StartupFlow(StartupOptions options, Wire wire) : StartupFlow(std::move(options), wire.session, wire.in, wire.out) {}

    // Algorithm shape. tls_up hands the handshake's peer certificate to the authenticator;
    // the checks a TLS connection must pass (ALPN, host name, client certificate) are the
    // driver's until they move into the protocol layer. A timeout ends with a timeout error
    // (cause connect_timeout), an io_error with that error; both retire the connection.
    Action resume(const Event& event) override;

    bool tls_active() const noexcept { return tls_active_; }
    // True once GSSAPI encryption protects the connection.
    bool gss_active() const noexcept { return gss_active_; }
    // True when the server answered GSSENCRequest with an error (a server that predates GSSAPI
    // encryption: libpq retries without it on a new connection).
    bool gss_error_reply() const noexcept { return gss_error_reply_; }
    // True when the server answered GSSENCRequest with 'N' (the TLS negotiation followed).
    bool gss_refused() const noexcept { return gss_refused_; }
    // True when that 'N' came before a direct TLS handshake: a server that answered
    // GSSENCRequest expects a startup packet or SSLRequest next, never a ClientHello, so the
    // attempt ended (Error(connection)) and direct TLS needs a new connection (libpq 17).
    bool needs_new_connection() const noexcept { return needs_new_connection_; }
    // True when the server answered SSLRequest with 'N' (plaintext continues).
    bool ssl_refused() const noexcept { return ssl_refused_; }
    const BackendKey& backend_key() const noexcept { return key_; }
    // The protocol version in use: the one asked for, or the server's NegotiateProtocolVersion.
    std::int32_t protocol_version() const noexcept { return options_.protocol_version; }
    const auth::Authenticator* authenticator() const noexcept { return auth_.get(); }
    enum class Phase { ssl_negotiation, authentication, session_setup, ready };
    Phase phase() const noexcept;

private:
    // One step of the state machine: what the flow needs next. Throws pgtls::Error or
    // ServerError; resume(Event) turns those into Action::done.
    enum class Step { write, read, start_tls, done };
    Step step();
    // After start_tls succeeded: hands the peer certificate to the authenticator.
    void tls_established(std::optional<tls::PeerCertificate> peer);
    enum class State {
        start,
        awaiting_gss_reply,
        awaiting_gss,
        awaiting_ssl_reply,
        awaiting_tls,
        send_startup,
        authenticating,
        post_auth,
        ready
    };
    bool on_gss_reply(char reply, bool trailing);  // true: start the GSSAPI handshake
    Step on_message(const BackendMessage& m);
    void on_negotiate_protocol_version(std::span<const std::uint8_t> body);
    void on_backend_key_data(std::span<const std::uint8_t> body);

    StartupOptions options_;
    SessionState& session_;
    MessageReader& in_;
    std::string& out_;
    State state_ = State::start;
    bool tls_active_ = false;
    bool ssl_refused_ = false;
    bool gss_active_ = false;
    bool gss_error_reply_ = false;
    bool gss_refused_ = false;
    bool needs_new_connection_ = false;
    bool version_negotiated_ = false;
    BackendKey key_;
    std::unique_ptr<auth::Authenticator> auth_;
};

}  // namespace pgtls::protocol
