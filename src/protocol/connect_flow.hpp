// libpq's connect policy, sans I/O: the host list (in order, or shuffled for
// load_balance_hosts=random), per host the sslmode attempts and their fallbacks (allow:
// plaintext, then TLS after a server error; prefer: TLS, then plaintext unless that would hand
// a network fault or an unauthenticated complaint a downgrade; Unix sockets never use TLS),
// classic or direct negotiation, target_session_attrs (ParameterStatus, or for servers that
// do not report it SHOW transaction_read_only / pg_is_in_recovery() as libpq asks;
// prefer-standby's second pass) and connect_timeout per host. Each attempt opens a socket (Action::open_socket) and runs a
// StartupFlow in it; the checks every TLS connection passes (protocol::check_tls_up) are
// applied when the handshake is up.
//
// A failed connect ends with libpq's text (one "connection to ... failed: ..." line per
// failed attempt) and Error::attempts() listing every attempt; with one host, the server's
// ErrorResponse stays a ServerError with its fields. A user callback's exception (the
// password callback) ends the connect unchanged. Decisions use what the flow itself saw and
// Error::cause(), never an error's text.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/query.hpp"
#include "protocol/startup_flow.hpp"
#include "pgtls/config.hpp"

namespace pgtls::protocol {

struct ConnectOptions {
    std::vector<HostTarget> hosts;
    SslMode sslmode = SslMode::prefer;
    SslNegotiation negotiation = SslNegotiation::postgres;
    TargetSessionAttrs target_session_attrs = TargetSessionAttrs::any;
    bool shuffle_hosts = false;   // load_balance_hosts=random
    std::uint64_t seed = 0;       // the shuffle's random seed (tests fix it)
    std::chrono::milliseconds connect_timeout{0};  // per host; 0: none (libpq raises < 2 s to 2 s)
    bool verify_full = false;
    bool require_client_certificate = false;       // sslcertmode=require
    std::size_t max_message_size = std::size_t{1} << 30;
    SessionState::Limits limits;
    // Called before a TLS attempt opens its socket (the TLS context is built then, once); an
    // Error it throws fails that attempt, as a failed connect would.
    std::function<void()> prepare_tls;
    // The StartupFlow options of one attempt (user, database, authentication, SNI).
    std::function<StartupOptions(const HostTarget&, TlsStart)> startup_options;
    // GSSAPI encryption (libpq's order): with prefer or require, and when gss_credentials()
    // says initiator credentials can be had, each host's first attempt sends GSSENCRequest
    // before any sslmode negotiation; once it is up no TLS is attempted. prefer falls back to
    // the sslmode attempts after a refusal ('N', on the same socket), an error reply, a failed
    // GSSAPI handshake or a server error during authentication over it; require fails with
    // libpq's texts. Tried once per host; never on Unix sockets. Null gss_credentials: never.
    GssEncMode gssencmode = GssEncMode::disable;
    std::function<bool()> gss_credentials;
};

class ConnectFlow final : public Algorithm {
public:
    Operation operation() const noexcept override { return Operation::connect; }
    ConnectFlow(ConnectOptions options, Wire wire);
    Action resume(const Event& event) override;

    // After success: the attempt that connected.
    const HostTarget& target() const noexcept { return *target_; }
    const std::string& address() const noexcept { return address_; }
    // TlsStart::gss when GSSAPI encryption protects the connection.
    TlsStart tls() const noexcept {
        if (startup_ && startup_->gss_active()) return TlsStart::gss;
        return startup_ && startup_->tls_active() ? tls_ : TlsStart::none;
    }
    const TlsUp* tls_up() const noexcept { return tls_established_ ? &tls_up_ : nullptr; }
    const StartupFlow& startup() const noexcept { return *startup_; }
    // The attempts that failed so far, in order (Error::attempts() of a failed connect).
    const std::vector<ConnectAttempt>& failed_attempts() const noexcept { return attempts_; }

private:
    enum class State { opening, starting, showing, closing, done };
    Action begin_host();
    Action open_attempt(Timer timer);
    Action forward(Action a);
    Action attempt_failed(std::exception_ptr error);
    Action attempt_succeeded();
    Action after_show();
    Action next_host();
    Action give_up();
    // Adds `e` to attempts(); `reported` also makes it part of the final error (report()).
    void record(const Error& e, bool reported);
    void report(const Error& e);
    std::string where() const;

    ConnectOptions options_;
    Wire wire_;
    State state_ = State::opening;
    int pass_ = 0;
    int passes_ = 1;
    std::size_t host_ = 0;
    const HostTarget* target_ = nullptr;
    std::vector<TlsStart> plan_;  // this host's attempts, in order
    std::size_t step_ = 0;
    TlsStart tls_ = TlsStart::none;
    std::unique_ptr<StartupFlow> startup_;
    std::unique_ptr<SimpleQuery> show_;
    std::string address_;
    TlsUp tls_up_;
    bool tls_accepted_ = false;     // this attempt got past SSL negotiation into a handshake
    bool tls_established_ = false;  // ... and the handshake and its checks succeeded
    bool gss_try_ = false;          // this host's next attempt sends GSSENCRequest first
    bool gss_accepted_ = false;     // this attempt got a 'G' and ran the GSSAPI handshake
    std::exception_ptr allow_plaintext_error_;  // sslmode=allow: the pgtls::Error of this host's failed plaintext login

    std::string errors_;
    std::vector<ConnectAttempt> attempts_;
    std::optional<ErrorKind> last_kind_;
    ErrorCause last_cause_ = ErrorCause::unspecified;
    std::optional<ServerErrorFields> only_server_error_;
    std::string only_context_;
};

}  // namespace pgtls::protocol
