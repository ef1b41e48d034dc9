#include "protocol/connect_flow.hpp"

#include <algorithm>
#include <random>

#include "protocol/tls_checks.hpp"
#include "config/host_target.hpp"

namespace pgtls::protocol {

namespace {
// The server answered with an ErrorResponse (not the network, TLS or the client's checks).
bool is_server_error(const Error& e) { return e.server_fields() != nullptr; }
// Whether target_session_attrs asks about hot standby (else about a read-only session).
bool asks_standby(TargetSessionAttrs want) {
    return want == TargetSessionAttrs::primary || want == TargetSessionAttrs::standby ||
           want == TargetSessionAttrs::prefer_standby;
}
const char* reason_for(TargetSessionAttrs want, bool standby, bool read_only) {
    // libpq's wording; the caller adds which setting asked for it.
    switch (want) {
        case TargetSessionAttrs::read_write: return read_only ? "session is read-only" : nullptr;
        case TargetSessionAttrs::read_only: return read_only ? nullptr : "session is not read-only";
        case TargetSessionAttrs::primary: return standby ? "server is in hot standby mode" : nullptr;
        case TargetSessionAttrs::standby:
        case TargetSessionAttrs::prefer_standby: return standby ? nullptr : "server is not in hot standby mode";
        case TargetSessionAttrs::any: return nullptr;
    }
    return nullptr;
}
}  // namespace

ConnectFlow::ConnectFlow(ConnectOptions options, Wire wire) : options_(std::move(options)), wire_(wire) {
    if (options_.shuffle_hosts) {
        std::mt19937_64 g(options_.seed);
        std::shuffle(options_.hosts.begin(), options_.hosts.end(), g);
    }
    // prefer-standby: first look for a standby, then accept anything.
    passes_ = options_.target_session_attrs == TargetSessionAttrs::prefer_standby ? 2 : 1;
}

std::string ConnectFlow::where() const {
    const HostTarget& h = *target_;
    if (h.is_unix_socket()) return "socket \"" + config::unix_socket_path(h) + "\"";
    return "server at \"" + (h.host.empty() ? h.hostaddr : h.host) + "\", port " + std::to_string(h.port);
}

Action ConnectFlow::resume(const Event& event) {
    using K = Event::Kind;
    switch (state_) {
        case State::opening:
            if (event.kind == K::start) {
                if (options_.hosts.empty())
                    return Action::failure(std::make_exception_ptr(Error(ErrorKind::config, ErrorCause::config,
                                                                         "no host to connect to")),
                                           Action::Connection::retired);
                return begin_host();
            }
            if (event.kind == K::socket_open) {
                address_ = std::string(event.address);
                StartupOptions so = options_.startup_options(*target_, tls_);
                // allow's TLS retry is its last method: an 'N' ends it rather than starting up
                // in plaintext again with the credentials just refused (libpq 17+).
                if (allow_plaintext_error_) so.tls_required = true;
                so.gss = gss_try_;
                so.gss_required = options_.gssencmode == GssEncMode::require;
                startup_ = std::make_unique<StartupFlow>(std::move(so), wire_);
                state_ = State::starting;
                return forward(startup_->resume(Event::start()));
            }
            if (event.kind == K::timeout)
                return attempt_failed(std::make_exception_ptr(
                    Error(ErrorKind::timeout, ErrorCause::connect_timeout, "timeout expired")));
            if (event.kind == K::io_error) return attempt_failed(std::make_exception_ptr(*event.error));
            break;
        case State::starting:
            if (event.kind == K::tls_up && event.tls && !gss_accepted_) {  // GSSAPI has no certificate to check
                try {
                    check_tls_up(*event.tls, {tls_, options_.verify_full, target_->host, options_.require_client_certificate});
                } catch (const Error&) {
                    return attempt_failed(std::current_exception());
                }
                tls_up_ = *event.tls;
                tls_established_ = true;
            } else if (event.kind == K::io_error && tls_accepted_ && !tls_established_ && tls_ == TlsStart::direct &&
                       event.error->kind() == ErrorKind::tls && direct_hint_applies(*event.error)) {
                // A failed direct handshake most often means a server older than 17: say so.
                return attempt_failed(std::make_exception_ptr(Error(
                    ErrorKind::tls, ErrorCause::tls_handshake, with_direct_negotiation_hint(event.error->what(), tls_))));
            }
            return forward(startup_->resume(event));
        case State::showing: {
            // The host's connect_timeout, not a query timeout: the query is abandoned with the
            // connection (no cancel request for a session that never became the caller's).
            if (event.kind == K::timeout)
                return attempt_failed(std::make_exception_ptr(
                    Error(ErrorKind::timeout, ErrorCause::connect_timeout, "timeout expired")));
            Action a = show_->resume(event);
            if (a.kind != Action::Kind::done) return a;
            if (a.error) return attempt_failed(a.error);
            return after_show();
        }
        case State::closing:
            return next_host();
        case State::done: break;
    }
    throw Error(ErrorKind::usage, ErrorCause::usage, "ConnectFlow resumed with an event it never asked for");
}

Action ConnectFlow::begin_host() {
    if (host_ == options_.hosts.size()) {
        if (++pass_ >= passes_) return give_up();
        host_ = 0;
    }
    target_ = &options_.hosts[host_];
    plan_.clear();
    allow_plaintext_error_ = nullptr;
    const TlsStart tls_kind = options_.negotiation == SslNegotiation::direct ? TlsStart::direct : TlsStart::ssl_request;
    // libpq never uses TLS over a Unix-domain socket, whatever sslmode says: the kernel already
    // authenticates the peer and nothing crosses a network.
    if (target_->is_unix_socket()) {
        plan_ = {TlsStart::none};
    } else {
        switch (options_.sslmode) {
            case SslMode::disable: plan_ = {TlsStart::none}; break;
            case SslMode::allow: plan_ = {TlsStart::none, tls_kind}; break;
            case SslMode::prefer: plan_ = {tls_kind, TlsStart::none}; break;
            case SslMode::require:
            case SslMode::verify_ca:
            case SslMode::verify_full:
            case SslMode::no_verify: plan_ = {tls_kind}; break;
        }
    }
    step_ = 0;
    gss_try_ = options_.gssencmode != GssEncMode::disable && !target_->is_unix_socket() && options_.gss_credentials &&
               options_.gss_credentials();
    Timer timer = Timer::clear();
    if (options_.connect_timeout.count() > 0)
        timer = Timer::set(std::max<std::chrono::milliseconds>(options_.connect_timeout, std::chrono::seconds(2)));
    return open_attempt(timer);  // the host's timer covers all of its attempts
}

Action ConnectFlow::open_attempt(Timer timer) {
    tls_ = plan_[step_];
    tls_accepted_ = tls_established_ = gss_accepted_ = false;
    startup_.reset();
    show_.reset();
    address_.clear();
    {
        auto handler = std::move(wire_.session.notice_handler);
        wire_.session = SessionState{};
        wire_.session.notice_handler = std::move(handler);
        wire_.session.limits = options_.limits;
    }
    wire_.in = MessageReader(options_.max_message_size);
    wire_.out.clear();
    state_ = State::opening;
    if (options_.gssencmode == GssEncMode::require && !gss_try_)
        return attempt_failed(std::make_exception_ptr(
            Error(ErrorKind::connection, ErrorCause::ssl_refused,
                  "GSSAPI encryption required but was impossible (possibly no credential cache, no server support, "
                  "or using a local socket)")));
    if (tls_ != TlsStart::none && options_.prepare_tls) {
        try {
            options_.prepare_tls();
        } catch (...) {
            return attempt_failed(std::current_exception());
        }
    }
    return Action::open_socket(*target_, timer);
}

Action ConnectFlow::forward(Action a) {
    if (a.kind == Action::Kind::start_tls) (a.tls.how == TlsStart::gss ? gss_accepted_ : tls_accepted_) = true;
    if (a.kind != Action::Kind::done) return a;
    if (a.error) return attempt_failed(a.error);
    return attempt_succeeded();
}

Action ConnectFlow::attempt_succeeded() {
    const TargetSessionAttrs want = pass_ == 1 ? TargetSessionAttrs::any : options_.target_session_attrs;
    if (want == TargetSessionAttrs::any) {
        state_ = State::done;
        return Action::success();
    }
    // PostgreSQL 14+ reports both as ParameterStatus; older servers are asked what libpq asks
    // them: whether the session is read-only, or (primary, standby, prefer-standby) whether
    // the server is in recovery. A read-only primary is read-only, but no standby.
    const auto& p = wire_.session.parameters;
    const bool have_standby = p.count("in_hot_standby") != 0;
    const bool standby = have_standby && p.at("in_hot_standby") == "on";
    const char* sql = nullptr;
    if (asks_standby(want)) {
        if (!have_standby) sql = "SELECT pg_catalog.pg_is_in_recovery()";
    } else if (!have_standby || (!standby && p.count("default_transaction_read_only") == 0)) {
        sql = "SHOW transaction_read_only";
    }
    if (sql) {
        show_ = std::make_unique<SimpleQuery>(wire_, sql, RequestOptions{});
        state_ = State::showing;
        Action a = show_->resume(Event::start());
        a.timer = Timer::keep();  // still within the host's connect_timeout
        return a;
    }
    return after_show();
}

Action ConnectFlow::after_show() {
    const TargetSessionAttrs want = pass_ == 1 ? TargetSessionAttrs::any : options_.target_session_attrs;
    const auto& p = wire_.session.parameters;
    std::optional<bool> shown;
    if (show_) {
        const bool recovery = asks_standby(want);
        auto& rs = show_->results();
        if (rs.empty() || rs.back().empty())
            return attempt_failed(std::make_exception_ptr(
                Error(ErrorKind::protocol, ErrorCause::protocol_violation,
                      recovery ? "SELECT pg_is_in_recovery() returned no row" : "SHOW transaction_read_only returned no row")));
        shown = rs.back()[0][0].view() == (recovery ? "t" : "on");
    }
    const auto hs = p.find("in_hot_standby");
    const bool standby = hs != p.end() ? hs->second == "on" : *shown;
    const auto dtro = p.find("default_transaction_read_only");
    // Nothing shown and no default_transaction_read_only (a server that reports only
    // in_hot_standby) happens only when `want` asks about standby, which never reads read_only.
    const bool read_only = standby || (dtro != p.end() ? dtro->second == "on" : shown.value_or(false));
    const char* mismatch = reason_for(want, standby, read_only);
    if (!mismatch) {
        state_ = State::done;
        return Action::success();
    }
    const Error e(ErrorKind::connection, ErrorCause::session_attrs_mismatch,
                  std::string(mismatch) + " (target_session_attrs=" + to_string(options_.target_session_attrs) + ")");
    record(e, true);
    state_ = State::closing;
    return Action::close();
}

Action ConnectFlow::attempt_failed(std::exception_ptr error) {
    // A user callback threw (the password callback): its exception ends the connect unchanged.
    if (auto cb = std::exchange(wire_.session.callback_error, nullptr)) {
        state_ = State::done;
        return Action::failure(cb, Action::Connection::retired);
    }
    try {
        std::rethrow_exception(error);
    } catch (const Error& caught) {
        if (startup_ && startup_->gss_refused()) gss_try_ = false;  // 'N': the TLS attempts went on
        if (startup_ && startup_->needs_new_connection() && state_ != State::showing)
            return open_attempt(Timer::keep());  // 'N' before direct TLS: the same step, a new socket
        if (gss_try_ && state_ != State::showing) {
            // libpq: an error reply to GSSENCRequest means a server without it (any mode: require
            // then fails for want of it); with prefer, a failed GSSAPI handshake or the server
            // refusing the login over GSSAPI encryption. Never after a timeout (the host's).
            const bool established = startup_ && startup_->gss_active();
            bool retry = startup_ && startup_->gss_error_reply();
            if (options_.gssencmode == GssEncMode::prefer && gss_accepted_ && caught.kind() != ErrorKind::timeout)
                retry = retry || !established || is_server_error(caught);
            if (retry) {
                record(caught, false);
                gss_try_ = false;
                return open_attempt(Timer::keep());
            }
        }
        // The fallbacks are for the login: a logged-in session whose target_session_attrs
        // check fails moves on to the next host, never to a plaintext retry (libpq).
        if (step_ + 1 < plan_.size() && state_ != State::showing) {
            bool retry = false;
            if (options_.sslmode == SslMode::allow) {
                // The server refused a plaintext connection (e.g. hostssl only): try TLS.
                retry = is_server_error(caught);
                if (retry) allow_plaintext_error_ = error;
            } else if (options_.sslmode == SslMode::prefer) {
                // libpq retries without TLS when the handshake fails or the server rejects the
                // TLS connection with an ErrorResponse (e.g. a hostnossl line). Never after a
                // timeout, a protocol violation, or an error reply to SSLRequest: an
                // unauthenticated server's complaint is no reason to downgrade. Nor when an
                // established TLS connection is lost during authentication: libpq gives up
                // there, and a plaintext retry would hand a network fault a downgrade.
                retry = tls_accepted_ && caught.kind() != ErrorKind::timeout && caught.kind() != ErrorKind::protocol &&
                        !(tls_established_ && !is_server_error(caught));
            }
            if (retry) {
                record(caught, false);
                ++step_;
                return open_attempt(Timer::keep());
            }
        }
        if (allow_plaintext_error_ && caught.cause() == ErrorCause::ssl_refused) {
            // The refusal tells the caller nothing new: report the plaintext login's error.
            record(caught, false);
            try {
                std::rethrow_exception(allow_plaintext_error_);
            } catch (const Error& plaintext) {
                report(plaintext);
            }
        } else {
            record(caught, true);
        }
    } catch (...) {
        state_ = State::done;  // not a pgtls::Error: rethrown unchanged
        return Action::failure(error, Action::Connection::retired);
    }
    return next_host();
}

void ConnectFlow::report(const Error& e) {
    // A socket that could not be opened names the server itself (SocketOpener's text).
    const bool named = state_ == State::opening && e.cause() == ErrorCause::connect_failed;
    const std::string context = "connection to " + where() + " failed: ";
    if (!errors_.empty()) errors_ += "\n";
    errors_ += named ? std::string(e.what()) : context + e.what();
    last_kind_ = e.kind();
    last_cause_ = e.cause();
    // One host: the caller keeps the server's fields (SQLSTATE, detail, ...).
    if (const ServerErrorFields* f = e.server_fields(); f && options_.hosts.size() == 1 && passes_ == 1) {
        only_server_error_ = *f;
        only_context_ = context;
    }
}

void ConnectFlow::record(const Error& e, bool reported) {
    if (reported) report(e);  // a fallback's first attempt is in attempts() only, as libpq reports the last
    ConnectAttempt a;
    a.host = target_->is_unix_socket() ? config::unix_socket_path(*target_)
                                       : (target_->host.empty() ? target_->hostaddr : target_->host);
    a.address = address_;
    a.port = target_->port;
    a.encryption = gss_accepted_ ? "gss" : tls_ == TlsStart::none ? "plaintext" : "tls";
    a.kind = e.kind();
    a.cause = e.cause();
    a.message = e.what();
    if (const ServerErrorFields* f = e.server_fields()) a.server = std::make_shared<const ServerErrorFields>(*f);
    attempts_.push_back(std::move(a));
}

Action ConnectFlow::next_host() {
    ++host_;
    return begin_host();  // its open_socket closes this attempt's socket first
}

Action ConnectFlow::give_up() {
    state_ = State::done;
    const ErrorKind kind = last_kind_.value_or(ErrorKind::connection);
    std::exception_ptr e;
    if (only_server_error_) {
        ServerError se(std::move(*only_server_error_), kind, only_context_);
        se.set_attempts(std::move(attempts_));
        e = std::make_exception_ptr(std::move(se));
    } else {
        Error err(kind, last_cause_, errors_);
        err.set_attempts(std::move(attempts_));
        e = std::make_exception_ptr(std::move(err));
    }
    return Action::failure(e, Action::Connection::retired);
}

}  // namespace pgtls::protocol
