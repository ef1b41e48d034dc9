#include "core/protocol/startup_flow.hpp"

#include "core/protocol/frontend.hpp"

namespace pgtls::protocol {

StartupFlow::StartupFlow(StartupOptions options, SessionState& state, MessageReader& input, std::string& output)
    : options_(std::move(options)), session_(state), in_(input), out_(output) {
    // Until ReadyForQuery the server is not yet who it claims: no message may be long.
    in_.set_long_messages_allowed(false);
}

StartupFlow::Phase StartupFlow::phase() const noexcept {
    switch (state_) {
        case State::start:
        case State::awaiting_ssl_reply:
        case State::awaiting_tls: return Phase::ssl_negotiation;
        case State::send_startup:
        case State::authenticating: return Phase::authentication;
        case State::post_auth: return Phase::session_setup;
        case State::ready: return Phase::ready;
    }
    return Phase::ready;
}

void StartupFlow::tls_established(std::optional<tls::PeerCertificate> peer) {
    if (state_ != State::awaiting_tls) throw Error(ErrorKind::usage, "tls_established() called out of order");
    tls_active_ = true;
    options_.auth.tls = true;
    options_.auth.peer_certificate = std::move(peer);
    state_ = State::send_startup;
}

StartupAction StartupFlow::resume() {
    while (true) {
        switch (state_) {
            case State::start:
                if (options_.tls == TlsStart::ssl_request) {
                    ssl_request(out_);
                    state_ = State::awaiting_ssl_reply;
                    return StartupAction::write;
                }
                if (options_.tls == TlsStart::direct) {
                    state_ = State::awaiting_tls;
                    return StartupAction::start_tls;
                }
                state_ = State::send_startup;
                continue;

            case State::awaiting_ssl_reply: {
                if (in_.buffered() == 0) return StartupAction::read;
                const char reply = static_cast<char>(in_.raw()[0]);
                // Anything after the one-byte reply arrived before the TLS handshake and so was
                // never protected by it (CVE-2021-23222): refuse rather than process it.
                if (in_.buffered() > 1 && (reply == 'S' || reply == 'N'))
                    throw Error(ErrorKind::protocol, reply == 'S'
                                                         ? "received unencrypted data after SSL response"
                                                         : "received unexpected data after SSL refusal");
                in_.consume_raw(1);
                if (reply == 'S') {
                    state_ = State::awaiting_tls;
                    return StartupAction::start_tls;
                }
                if (reply == 'N') {
                    if (options_.tls_required)
                        throw Error(ErrorKind::tls, "server does not support SSL, but SSL was required");
                    ssl_refused_ = true;
                    state_ = State::send_startup;
                    continue;
                }
                if (reply == 'E') {
                    // The server is not authenticated yet, so its error text is not trusted or
                    // shown (CVE-2024-10977); and an error is never a reason to downgrade.
                    throw Error(ErrorKind::connection, "server sent an error response during SSL exchange");
                }
                throw Error(ErrorKind::protocol,
                            std::string("received invalid response to SSL negotiation: ") +
                                (reply >= 0x20 && reply < 0x7f ? std::string(1, reply)
                                                               : "byte " + std::to_string(int(std::uint8_t(reply)))));
            }

            case State::awaiting_tls:
                throw Error(ErrorKind::usage, "startup resumed before the TLS handshake completed");

            case State::send_startup:
                options_.auth.tls = tls_active_;
                auth_ = std::make_unique<auth::Authenticator>(std::move(options_.auth));
                startup_message(out_, options_.startup_params);
                state_ = State::authenticating;
                return StartupAction::write;

            case State::authenticating:
            case State::post_auth: {
                auto m = in_.next();
                if (!m) return StartupAction::read;
                const auto before = out_.size();
                const StartupAction a = on_message(*m);
                if (a == StartupAction::done) return a;
                if (out_.size() != before) return StartupAction::write;
                continue;
            }

            case State::ready: return StartupAction::done;
        }
    }
}

StartupAction StartupFlow::on_message(const BackendMessage& m) {
    if (m.type == 'E') {
        ServerErrorFields f = parse_error_fields(m.body);
        // Class 28 = invalid authorization specification (wrong password, no pg_hba entry).
        const bool auth_failure = f.sqlstate.rfind("28", 0) == 0;
        throw ServerError(std::move(f), auth_failure ? ErrorKind::authentication : ErrorKind::connection);
    }
    if (m.type == 'N') {
        session_.handle_async(m);
        return StartupAction::read;
    }
    if (state_ == State::authenticating) {
        if (m.type == 'R') {
            const std::int32_t code = auth_code(m.body);
            auth_->on_request(m.body, out_);
            if (code == 0) state_ = State::post_auth;
            return StartupAction::read;
        }
        if (m.type == 'v') {
            // NegotiateProtocolVersion: we ask for 3.0 with no protocol options, so only a
            // server that cannot do 3.0 at all would send this.
            ByteReader r(m.body, "NegotiateProtocolVersion");
            const std::int32_t newest = r.i32();
            if (newest < protocol_version_3_0 || (newest >> 16) != 3)
                throw Error(ErrorKind::protocol, "server does not support protocol version 3.0");
            return StartupAction::read;
        }
        throw Error(ErrorKind::protocol, std::string("unexpected ") + backend_message_name(m.type) +
                                             " message from server during authentication");
    }
    // post_auth: ParameterStatus, BackendKeyData, then ReadyForQuery.
    switch (m.type) {
        case 'S': session_.handle_async(m); return StartupAction::read;
        case 'K': key_ = parse_backend_key_data(m.body); return StartupAction::read;
        case 'Z':
            session_.transaction_status = parse_ready_for_query(m.body);
            state_ = State::ready;
            in_.set_long_messages_allowed(true);
            return StartupAction::done;
        case 'R':
            throw Error(ErrorKind::protocol, "server sent a second authentication request after AuthenticationOk");
        default:
            throw Error(ErrorKind::protocol, std::string("unexpected ") + backend_message_name(m.type) +
                                                 " message from server during session setup");
    }
}

}  // namespace pgtls::protocol
