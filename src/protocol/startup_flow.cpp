#include "protocol/startup_flow.hpp"

#include "protocol/frontend.hpp"
#include "protocol/ssl_reply.hpp"

namespace pgtls::protocol {

StartupFlow::StartupFlow(StartupOptions options, SessionState& state, MessageReader& input, std::string& output)
    : options_(std::move(options)), session_(state), in_(input), out_(output) {
    // Until ReadyForQuery the server is not yet who it claims: no message may be long.
    in_.set_long_messages_allowed(false);
}

StartupFlow::Phase StartupFlow::phase() const noexcept {
    switch (state_) {
        case State::start:
        case State::awaiting_gss_reply:
        case State::awaiting_gss:
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

Action StartupFlow::resume(const Event& event) {
    using K = Event::Kind;
    if (event.kind == K::socket_open || event.kind == K::closed || event.kind == K::cancel_done)
        throw Error(ErrorKind::usage, ErrorCause::usage, "StartupFlow resumed with an event it never asked for");
    const auto retired = Action::Connection::retired;
    if (event.kind == K::timeout)
        return Action::failure(std::make_exception_ptr(Error(ErrorKind::timeout, ErrorCause::connect_timeout,
                                                             "timeout expired")),
                               retired);
    if (event.kind == K::io_error)
        return Action::failure(event.error ? std::make_exception_ptr(*event.error)
                                           : std::make_exception_ptr(Error(ErrorKind::connection, "I/O error")),
                               retired);
    try {
        if (event.kind == K::tls_up) {
            if (!event.tls) throw Error(ErrorKind::usage, ErrorCause::usage, "tls_up without the handshake's result");
            if (state_ == State::awaiting_gss) {
                gss_active_ = true;
                options_.auth.gss_encrypted = true;
                state_ = State::send_startup;
            } else {
                tls_established(event.tls->peer);
            }
        }
        switch (step()) {
            case Step::write: return Action::write();
            case Step::read: return Action::read();
            case Step::start_tls:
                if (state_ == State::awaiting_gss)
                    return Action::start_tls(
                        TlsRequest::gss(options_.auth.krbsrvname, options_.auth.gss_host, options_.auth.gss_delegation));
                return Action::start_tls(TlsRequest{options_.tls, options_.sni});
            case Step::done: return Action::success();
        }
    } catch (Error& e) {
        // The size and framing checks of MessageReader and the negotiation checks carry no
        // cause of their own: every protocol error here is the server breaking the protocol.
        if (e.kind() == ErrorKind::protocol && e.cause() == ErrorCause::unspecified)
            e.set_cause(ErrorCause::protocol_violation);
        return Action::failure(std::current_exception(), retired);
    } catch (...) {
        return Action::failure(std::current_exception(), retired);
    }
    return Action::failure(std::make_exception_ptr(Error(ErrorKind::usage, ErrorCause::usage, "unreachable")), retired);
}

StartupFlow::Step StartupFlow::step() {
    while (true) {
        switch (state_) {
            case State::start:
                if (options_.gss) {
                    gssenc_request(out_);
                    state_ = State::awaiting_gss_reply;
                    return Step::write;
                }
                if (options_.tls == TlsStart::ssl_request) {
                    ssl_request(out_);
                    state_ = State::awaiting_ssl_reply;
                    return Step::write;
                }
                if (options_.tls == TlsStart::direct) {
                    state_ = State::awaiting_tls;
                    return Step::start_tls;
                }
                state_ = State::send_startup;
                continue;

            case State::awaiting_ssl_reply: {
                const auto got = take_ssl_reply(in_);
                if (!got) return Step::read;
                const char reply = got->byte;
                if (got->trailing && (reply == 'S' || reply == 'N'))
                    throw Error(ErrorKind::protocol, ErrorCause::protocol_violation,
                                reply == 'S' ? "received unencrypted data after SSL response"
                                             : "received unexpected data after SSL refusal");
                if (reply == 'S') {
                    state_ = State::awaiting_tls;
                    return Step::start_tls;
                }
                if (reply == 'N') {
                    if (options_.tls_required)
                        throw Error(ErrorKind::tls, ErrorCause::ssl_refused, "server does not support SSL, but SSL was required");
                    ssl_refused_ = true;
                    state_ = State::send_startup;
                    continue;
                }
                if (reply == 'E') {
                    // The server is not authenticated yet, so its error text is not trusted or
                    // shown (CVE-2024-10977); and an error is never a reason to downgrade.
                    throw Error(ErrorKind::connection, ErrorCause::server_fatal, "server sent an error response during SSL exchange");
                }
                throw Error(ErrorKind::protocol, ErrorCause::protocol_violation,
                            std::string("received invalid response to SSL negotiation: ") +
                                (reply >= 0x20 && reply < 0x7f ? std::string(1, reply)
                                                               : "byte " + std::to_string(int(std::uint8_t(reply)))));
            }

            case State::awaiting_gss_reply: {
                const auto got = take_ssl_reply(in_);
                if (!got) return Step::read;
                if (on_gss_reply(got->byte, got->trailing)) return Step::start_tls;
                continue;
            }

            case State::awaiting_gss:
            case State::awaiting_tls:
                throw Error(ErrorKind::usage, "startup resumed before the TLS handshake completed");

            case State::send_startup:
                options_.auth.tls = tls_active_;
                auth_ = std::make_unique<auth::Authenticator>(std::move(options_.auth));
                startup_message(out_, options_.startup_params, options_.protocol_version);
                state_ = State::authenticating;
                return Step::write;

            case State::authenticating:
            case State::post_auth: {
                auto m = in_.next();
                if (!m) return Step::read;
                const auto before = out_.size();
                const Step a = on_message(*m);
                if (a == Step::done) return a;
                if (out_.size() != before) return Step::write;
                continue;
            }

            case State::ready: return Step::done;
        }
    }
}

// libpq's CONNECTION_GSS_STARTUP: 'G' starts the GSSAPI handshake; 'N' goes on with the TLS
// negotiation on this socket (or fails gssencmode=require); 'E' is a server that predates
// GSSAPI encryption (the connect policy retries without it).
bool StartupFlow::on_gss_reply(char reply, bool trailing) {
    if (trailing && (reply == 'G' || reply == 'N'))
        throw Error(ErrorKind::protocol, ErrorCause::protocol_violation,
                    reply == 'G' ? "received unencrypted data after GSSAPI encryption response"
                                 : "received unexpected data after GSSAPI encryption refusal");
    if (reply == 'G') {
        state_ = State::awaiting_gss;
        return true;
    }
    if (reply == 'N') {
        if (options_.gss_required)
            throw Error(ErrorKind::connection, ErrorCause::ssl_refused,
                        "server doesn't support GSSAPI encryption, but it was required");
        options_.gss = false;
        gss_refused_ = true;
        if (options_.tls == TlsStart::direct) {
            needs_new_connection_ = true;
            throw Error(ErrorKind::connection, ErrorCause::ssl_refused,
                        "server doesn't support GSSAPI encryption; direct SSL needs a new connection");
        }
        state_ = State::start;  // the TLS negotiation sslmode asks for, on this socket
        return false;
    }
    if (reply == 'E') {
        // Not authenticated: its text is not shown (CVE-2024-10977), as for SSL.
        gss_error_reply_ = true;
        throw Error(ErrorKind::connection, ErrorCause::server_fatal,
                    "server sent an error response during GSSAPI encryption negotiation");
    }
    throw Error(ErrorKind::protocol, ErrorCause::protocol_violation,
                std::string("received invalid response to GSSAPI negotiation: ") +
                    (reply >= 0x20 && reply < 0x7f ? std::string(1, reply) : "byte " + std::to_string(int(std::uint8_t(reply)))));
}

StartupFlow::Step StartupFlow::on_message(const BackendMessage& m) {
    if (m.type == 'E') {
        ServerErrorFields f = parse_error_fields(m.body);
        // Class 28 = invalid authorization specification (wrong password, no pg_hba entry).
        const bool auth_failure = f.sqlstate.rfind("28", 0) == 0;
        ServerError e(std::move(f), auth_failure ? ErrorKind::authentication : ErrorKind::connection);
        e.set_cause(auth_failure ? ErrorCause::auth_failed : ErrorCause::server_fatal);
        throw e;
    }
    if (m.type == 'N') {
        session_.handle_async(m);
        return Step::read;
    }
    if (state_ == State::authenticating) {
        if (m.type == 'R') {
            const std::int32_t code = auth_code(m.body);
            auth_->on_request(m.body, out_);
            if (code == 0) state_ = State::post_auth;
            return Step::read;
        }
        if (m.type == 'v') {
            on_negotiate_protocol_version(m.body);
            return Step::read;
        }
        throw Error(ErrorKind::protocol, ErrorCause::protocol_violation,
                    std::string("unexpected ") + backend_message_name(m.type) +
                        " message from server during authentication");
    }
    // post_auth: ParameterStatus, BackendKeyData, then ReadyForQuery.
    switch (m.type) {
        case 'S': session_.handle_async(m); return Step::read;
        case 'K': on_backend_key_data(m.body); return Step::read;
        case 'Z':
            session_.transaction_status = parse_ready_for_query(m.body);
            state_ = State::ready;
            in_.set_long_messages_allowed(true);
            return Step::done;
        case 'R':
            throw Error(ErrorKind::protocol, ErrorCause::protocol_violation,
                        "server sent a second authentication request after AuthenticationOk");
        default:
            throw Error(ErrorKind::protocol, ErrorCause::protocol_violation,
                        std::string("unexpected ") + backend_message_name(m.type) +
                            " message from server during session setup");
    }
}

namespace {
std::string version_text(std::int32_t v) { return std::to_string(v >> 16) + "." + std::to_string(v & 0xffff); }
[[noreturn]] void invalid_negotiation(const std::string& why) {
    throw Error(ErrorKind::protocol, "received invalid protocol negotiation message: " + why);
}
}  // namespace

// libpq 18's rules: a downgrade within [min, asked], once, naming no protocol option (we
// request none, so any the server lists was not asked for).
void StartupFlow::on_negotiate_protocol_version(std::span<const std::uint8_t> body) {
    if (version_negotiated_) throw Error(ErrorKind::protocol, "received duplicate protocol negotiation message");
    version_negotiated_ = true;
    ByteReader r(body, "NegotiateProtocolVersion");
    const std::int32_t theirs = r.i32();
    const std::int32_t options = r.i32();
    if (theirs > options_.protocol_version) invalid_negotiation("server requested downgrade to a higher-numbered version");
    if (theirs < protocol_version_3_0) invalid_negotiation("server requested downgrade to pre-3.0 protocol version");
    if (theirs == ((3 << 16) | 1)) invalid_negotiation("server requested downgrade to non-existent 3.1 protocol version");
    if (options < 0) invalid_negotiation("server reported negative number of unsupported parameters");
    if (theirs == options_.protocol_version && options == 0) invalid_negotiation("server negotiated but asks for no changes");
    if (theirs < options_.min_protocol_version)
        throw Error(ErrorKind::protocol, "server only supports protocol version " + version_text(theirs) +
                                             ", but \"min_protocol_version\" was set to " +
                                             version_text(options_.min_protocol_version));
    if (options > 0) {
        const std::string name(r.cstring());
        if (name.rfind("_pq_.", 0) != 0)
            invalid_negotiation("server reported unsupported parameter name without a \"_pq_.\" prefix (\"" + name + "\")");
        invalid_negotiation("server reported an unsupported parameter that was not requested (\"" + name + "\")");
    }
    r.expect_end();
    options_.protocol_version = theirs;
}

// Protocol 3.0 keys are 4 bytes; 3.2 allows 4 to 256 (PostgreSQL 18 sends 32).
void StartupFlow::on_backend_key_data(std::span<const std::uint8_t> body) {
    const std::size_t key_len = body.size() >= 4 ? body.size() - 4 : 0;
    if (body.size() >= 4 && key_len != 4 && options_.protocol_version == protocol_version_3_0)
        throw Error(ErrorKind::protocol, "received invalid BackendKeyData message: cancel key with length " +
                                             std::to_string(key_len) +
                                             " not allowed in protocol version 3.0 (must be 4 bytes)");
    if (key_len < 4)
        throw Error(ErrorKind::protocol, "received invalid BackendKeyData message: cancel key with length " +
                                             std::to_string(key_len) + " is too short (minimum 4 bytes)");
    if (key_len > 256)
        throw Error(ErrorKind::protocol, "received invalid BackendKeyData message: cancel key with length " +
                                             std::to_string(key_len) + " is too long (maximum 256 bytes)");
    key_ = parse_backend_key_data(body);
}

}  // namespace pgtls::protocol
