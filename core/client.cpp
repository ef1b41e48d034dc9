// The blocking driver: runs the sans-I/O flows over a Channel with deadlines, and decides
// per libpq which hosts and which TLS attempts to make.
#include "pgtls/client.hpp"

#include <algorithm>
#include <cstdio>
#include <list>
#include <unordered_map>
#include <arpa/inet.h>
#include <atomic>
#include <mutex>
#include <random>
#include <sys/stat.h>

#include "auth/authenticator.hpp"
#include "core/client_impl.hpp"
#include "core/client_shared.hpp"
#include "core/crypto/pbkdf2_cache.hpp"
#include "core/protocol/backend_messages.hpp"
#include "core/protocol/cancel_flow.hpp"
#include "core/protocol/close_flow.hpp"
#include "core/protocol/frontend.hpp"
#include "core/protocol/message_reader.hpp"
#include "core/protocol/pipeline_flow.hpp"
#include "core/protocol/query_flow.hpp"
#include "core/protocol/session_state.hpp"
#include "core/protocol/startup_flow.hpp"
#include "core/protocol/tls_checks.hpp"
#include "core/tls/hostname.hpp"
#include "core/tls/key_file_check.hpp"
#include "core/tls/tls_backend.hpp"
#include "core/transport/channel.hpp"

namespace pgtls {

const char* to_string(TransactionStatus s) noexcept {
    switch (s) {
        case TransactionStatus::idle: return "idle";
        case TransactionStatus::in_transaction: return "in transaction";
        case TransactionStatus::failed: return "in failed transaction";
        case TransactionStatus::unknown: return "unknown";
    }
    return "unknown";
}

namespace {

using transport::Clock;
using transport::Deadline;

tls::Material material(const Pem& pem) {
    tls::Material m;
    if (pem.pem) {
        m.kind = tls::Material::Kind::pem;
        m.value = *pem.pem;
    } else if (pem.path && !pem.path->empty()) {
        m.kind = *pem.path == "system" ? tls::Material::Kind::system : tls::Material::Kind::file;
        m.value = *pem.path;
    }
    return m;
}

bool verifies_chain(const Settings& s) {
    // resolve() applies libpq's rule: verify-ca/verify-full, and any TLS mode but no-verify
    // when a root certificate is present (require then behaves as verify-ca).
    return s.ssl_verify_chain || s.sslmode == SslMode::verify_ca || s.sslmode == SslMode::verify_full;
}

double ms_since(Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

}  // namespace


// Wipes the copies of the key passphrase and of inline (PEM) key bytes that a ContextConfig
// holds once the backend has loaded them, on success and on error alike.
struct ContextConfigWiper {
    tls::ContextConfig& c;
    ~ContextConfigWiper() {
        crypto::secure_zero(c.key_password.data(), c.key_password.size());
        if (c.key.kind == tls::Material::Kind::pem) crypto::secure_zero(c.key.value.data(), c.key.value.size());
    }
};

static TlsSetup make_tls_setup(const Settings& s) {
    TlsSetup setup;
    setup.backend = &tls::find_backend(s.sslbackend);
    tls::ContextConfig c;
    ContextConfigWiper wipe{c};
    c.verify_chain = verifies_chain(s);
    setup.verify_full = s.sslmode == SslMode::verify_full;
    c.ca = material(s.sslrootcert);
    if (c.verify_chain && c.ca.empty())
        throw Error(ErrorKind::config,
                    "root certificate file \"~/.postgresql/root.crt\" does not exist\nEither provide the file, use "
                    "the system's trusted roots with sslrootcert=system, or change sslmode to disable server "
                    "certificate verification.");
    c.crl = material(s.sslcrl);
    c.crl_dir = s.sslcrldir;
    c.send_client_cert = s.sslcertmode != SslCertMode::disable;
    if (c.send_client_cert) {
        c.cert = material(s.sslcert);
        c.key = material(s.sslkey);
        if (c.key.kind == tls::Material::Kind::file) tls::check_private_key_file(c.key.value);
    }
    c.key_password = s.sslpassword;
    c.min_version = s.ssl_min_protocol_version;
    c.max_version = s.ssl_max_protocol_version;
    c.alpn = {"postgresql"};
    c.keylog_file = s.sslkeylogfile;
    setup.context = setup.backend->create_context(c);
    return setup;
}

// See core/client_shared.hpp.
struct ConnectShared {
    mutable std::mutex m;
    std::shared_ptr<TlsSetup> tls;
    std::uint64_t tls_built = 0;
    std::list<crypto::Pbkdf2CachingProvider> auth_crypto;  // one per underlying provider

    std::shared_ptr<TlsSetup> tls_for(const Settings& s) {
        std::lock_guard lk(m);
        if (!tls) {
            tls = std::make_shared<TlsSetup>(make_tls_setup(s));
            ++tls_built;
        }
        return tls;
    }
    const crypto::Provider& auth_crypto_for(const crypto::Provider& base) {
        std::lock_guard lk(m);
        for (auto& p : auth_crypto)
            if (&p.base() == &base) return p;
        return auth_crypto.emplace_back(base);
    }
};


void Client::Impl::ensure_tls() {
    if (!tls) tls = shared ? shared->tls_for(settings) : std::make_shared<TlsSetup>(make_tls_setup(settings));
}

namespace {
// After a user callback threw, the rest of the reply is read and dropped within these bounds;
// past them the connection is closed instead.
constexpr std::chrono::seconds kCallbackDrainTime{5};
constexpr std::size_t kCallbackDrainBytes = 16 * 1024 * 1024;
}  // namespace

protocol::BackendMessage Client::Impl::next_message(Deadline d) {
    const bool draining = session.callback_error != nullptr;
    if (draining) {
        if (!drain_until) drain_until = Clock::now() + kCallbackDrainTime;
        if (!d || *drain_until < *d) d = drain_until;
    }
    try {
        while (true) {
            if (auto m = reader.next()) {
                if (draining) {
                    drain_bytes += m->body.size() + 5;
                    if (drain_bytes > kCallbackDrainBytes)
                        throw Error(ErrorKind::connection,
                                    "the rest of the reply after a callback's exception is too large to drain");
                }
                return *m;
            }
            if (reply_pending) {
                reply_pending = false;
                // poll() cannot see bytes the TLS library has already decrypted.
                if (!channel.has_buffered()) transport::wait_fd(channel.fd(), false, d, "waiting for the server");
            }
            channel.read_some(reader, d);
        }
    } catch (const Error& e) {
        if (draining && e.kind() == ErrorKind::timeout && d == drain_until)
            throw Error(ErrorKind::connection, "the rest of the reply after a callback's exception did not arrive in time");
        throw;
    }
}

namespace {
// Runs one public call: refuses it while another runs on the same client (a callback using
// its own client), and rethrows the exception a user callback threw during it unchanged, in
// place of the call's result or of an error that followed. The flows have read the reply to
// ReadyForQuery by then, or the connection was closed (see next_message's drain bounds).
class CallScope {
public:
    explicit CallScope(Client::Impl& impl) : impl_(impl) {
        if (impl.busy)
            throw Error(ErrorKind::usage,
                        "another command is already in progress: a Client must not be used from its own callbacks");
        impl.busy = true;
        impl.session.callback_error = nullptr;
        impl.drain_until.reset();
        impl.drain_bytes = 0;
    }
    ~CallScope() { impl_.busy = false; }
    CallScope(const CallScope&) = delete;
    CallScope& operator=(const CallScope&) = delete;
    void rethrow_callback_error() {
        if (auto e = std::exchange(impl_.session.callback_error, nullptr)) std::rethrow_exception(e);
    }

private:
    Client::Impl& impl_;
};

template <class F>
decltype(auto) guarded(Client::Impl& impl, F&& f) {
    CallScope scope(impl);
    const bool was_usable = impl.channel.is_open() && impl.healthy;
    try {
        if constexpr (std::is_void_v<decltype(f())>) {
            f();
            scope.rethrow_callback_error();
        } else {
            auto r = f();
            scope.rethrow_callback_error();
            return r;
        }
    } catch (Error& e) {
        scope.rethrow_callback_error();
        if (was_usable && !(impl.channel.is_open() && impl.healthy)) e.set_connection_lost(true);
        throw;
    } catch (...) {
        scope.rethrow_callback_error();
        throw;
    }
}
}  // namespace

// ---------------------------------------------------------------------------------------------
// Connecting

void Client::Impl::attempt(const HostTarget& target, protocol::TlsStart tls_start, Deadline deadline) {
    const auto t0 = Clock::now();
    info = ConnectionInfo{};
    tls_accepted = false;
    tls_established = false;
    info.host = target.host;
    info.port = target.port;
    {
        auto handler = std::move(session.notice_handler);
        session = protocol::SessionState{};
        session.notice_handler = std::move(handler);
        session.limits = protocol::SessionState::Limits::from(settings);
    }
    reader = protocol::MessageReader(settings.max_message_size);
    out.clear();

    transport::SocketOptions so{settings.keepalives, settings.keepalives_idle, settings.keepalives_interval,
                                settings.keepalives_count, settings.tcp_user_timeout};
    auto sock = transport::open_socket(target, so, deadline);
    channel = transport::Channel(sock.fd);
    info.address = sock.address;
    info.timings.tcp_connect_ms = ms_since(t0);

    protocol::StartupOptions opt;
    opt.tls = tls_start;
    opt.tls_required = settings.sslmode >= SslMode::require;
    opt.startup_params.emplace_back("user", settings.user);
    opt.startup_params.emplace_back("database", settings.dbname);
    if (!settings.application_name.empty()) opt.startup_params.emplace_back("application_name", settings.application_name);
    if (!settings.client_encoding.empty()) opt.startup_params.emplace_back("client_encoding", settings.client_encoding);
    if (!settings.options.empty()) opt.startup_params.emplace_back("options", settings.options);
    for (const auto& [k, v] : settings.runtime_params) opt.startup_params.emplace_back(k, v);

    opt.auth.user = settings.user;
    opt.auth.channel_binding = settings.channel_binding;
    opt.auth.require_auth = settings.require_auth;
    opt.auth.scram_max_iterations = settings.scram_max_iterations;
    auto wire_version = [](ProtocolVersion v) {
        return v == ProtocolVersion::v3_0 ? protocol::protocol_version_3_0 : protocol::protocol_version_3_2;
    };
    opt.protocol_version = wire_version(settings.max_protocol_version);
    opt.min_protocol_version = wire_version(settings.min_protocol_version);
    opt.auth.crypto = tls ? &tls->backend->crypto() : &tls::default_crypto();
    if (shared) opt.auth.crypto = &shared->auth_crypto_for(*opt.auth.crypto);
    {
        const Settings* s = &settings;
        HostTarget t = target;
        protocol::SessionState* st = &session;
        opt.auth.get_password = [s, t, st]() -> std::optional<std::string> {
            // Explicit password, else .pgpass for this host (libpq's rules), else the callback.
            // A .pgpass ignored for its permissions is reported as a pgtls warning (libpq
            // prints it to stderr), not dropped silently.
            std::vector<std::string> warnings;
            auto p = password_for_host(*s, t, &warnings);
            if (st->notice_handler) {
                for (const auto& w : warnings) {
                    Notice n;
                    n.fields.severity = n.fields.severity_nonlocalized = "WARNING";
                    n.fields.message = w;
                    st->call_user([&] { st->notice_handler(n); });
                }
            }
            if (p) return p;
            if (s->password_callback) {
                const std::string host = t.is_unix_socket() ? "localhost" : (t.host.empty() ? t.hostaddr : t.host);
                std::optional<std::string> got;
                st->call_user([&] { got = s->password_callback(host, std::to_string(t.port), s->user); });
                // Without the password the attempt cannot go on: connect_all() closes it and
                // rethrows the callback's exception.
                if (st->callback_error) throw Error(ErrorKind::authentication, "the password callback threw");
                return got;
            }
            return std::nullopt;
        };
    }

    protocol::StartupFlow flow(std::move(opt), session, reader, out);
    auto t_auth = Clock::now();
    while (true) {
        switch (flow.resume()) {
            case protocol::StartupAction::write: send(deadline); break;
            case protocol::StartupAction::read: channel.read_some(reader, deadline); break;
            case protocol::StartupAction::start_tls: {
                const auto t_tls = Clock::now();
                tls_accepted = true;
                auto peer = start_checked_tls(channel, target, tls_start, deadline,
                                              settings.sslcertmode == SslCertMode::require);
                tls::Session& s = *channel.tls_session();
                const tls::SessionInfo si = s.info();
                info.ssl = true;
                info.negotiation = tls_start == protocol::TlsStart::direct ? "direct" : "postgres";
                info.backend = std::string(tls->backend->name());
                info.backend_version = tls->backend->library_version();
                info.tls_version = si.protocol;
                info.cipher = si.cipher;
                info.alpn = si.alpn;
                info.client_cert_sent = s.client_certificate_sent();
                if (peer) {
                    info.server_cert_subject = peer->subject;
                    info.server_cert_issuer = peer->issuer;
                }
                info.timings.tls_handshake_ms = ms_since(t_tls);
                tls_established = true;
                flow.tls_established(std::move(peer));
                t_auth = Clock::now();
                break;
            }
            case protocol::StartupAction::done: goto ready;
        }
    }
ready:
    info.timings.authentication_ms = ms_since(t_auth);
    info.timings.total_ms = ms_since(t0);
    key = flow.backend_key();
    info.backend_pid = key.pid;
    info.protocol_version =
        std::to_string(flow.protocol_version() >> 16) + "." + std::to_string(flow.protocol_version() & 0xffff);
    if (const auto* a = flow.authenticator()) {
        info.auth_method = a->method_used();
        info.channel_binding = a->channel_binding_used();
    }
    if (auto it = session.parameters.find("server_version"); it != session.parameters.end())
        info.server_version = it->second;
    connected_target = target;
    connected_address = info.address;
    connected_tls = flow.tls_active() ? tls_start : protocol::TlsStart::none;
    healthy = true;
}

std::optional<std::string> Client::Impl::session_attrs_mismatch(TargetSessionAttrs want) {
    if (want == TargetSessionAttrs::any) return std::nullopt;
    auto param = [&](const char* name) -> std::optional<std::string> {
        if (auto it = session.parameters.find(name); it != session.parameters.end()) return it->second;
        return std::nullopt;
    };
    auto show = [&](const char* name) -> std::string {
        out.clear();
        protocol::query(out, std::string("SHOW ") + name);
        send(std::nullopt);
        protocol::QueryFlow f(protocol::QueryFlow::Kind::simple, session);
        auto rs = run(f, std::nullopt);
        if (rs.empty() || rs.back().empty()) throw Error(ErrorKind::protocol, std::string("SHOW ") + name + " returned no row");
        return std::string(rs.back()[0][0].view());
    };
    // PostgreSQL 14+ reports both as ParameterStatus; older servers are asked.
    auto hot_standby = param("in_hot_standby");
    const bool standby = hot_standby ? *hot_standby == "on" : show("transaction_read_only") == "on";
    auto dtro = param("default_transaction_read_only");
    const bool read_only = standby || (dtro ? *dtro == "on" : show("transaction_read_only") == "on");
    // libpq's wording; connect_all adds which setting asked for it.
    switch (want) {
        case TargetSessionAttrs::read_write:
            if (read_only) return "session is read-only";
            break;
        case TargetSessionAttrs::read_only:
            if (!read_only) return "session is not read-only";
            break;
        case TargetSessionAttrs::primary:
            if (standby) return "server is in hot standby mode";
            break;
        case TargetSessionAttrs::standby:
        case TargetSessionAttrs::prefer_standby:
            if (!standby) return "server is not in hot standby mode";
            break;
        case TargetSessionAttrs::any: break;
    }
    return std::nullopt;
}

void Client::Impl::connect_host(const HostTarget& target) {
    Deadline deadline;
    if (settings.connect_timeout.count() > 0) {
        // libpq: a timeout below 2 s is raised to 2 s.
        deadline = Clock::now() + std::max(settings.connect_timeout, std::chrono::seconds(2));
    }
    if (connect_limit && (!deadline || *connect_limit < *deadline)) deadline = connect_limit;
    // libpq never uses TLS over a Unix-domain socket, whatever sslmode says: the kernel
    // already authenticates the peer and nothing crosses a network.
    if (target.is_unix_socket()) {
        attempt(target, protocol::TlsStart::none, deadline);
        return;
    }
    const bool direct = settings.sslnegotiation == SslNegotiation::direct;
    const protocol::TlsStart tls_kind = direct ? protocol::TlsStart::direct : protocol::TlsStart::ssl_request;
    switch (settings.sslmode) {
        case SslMode::disable: attempt(target, protocol::TlsStart::none, deadline); return;
        case SslMode::allow:
            try {
                attempt(target, protocol::TlsStart::none, deadline);
            } catch (const ServerError&) {
                // The server refused a plaintext connection (e.g. hostssl only): try TLS.
                channel.abort();
                ensure_tls();
                attempt(target, tls_kind, deadline);
            }
            return;
        case SslMode::prefer:
            ensure_tls();
            try {
                attempt(target, tls_kind, deadline);
            } catch (const Error& e) {
                // libpq retries without TLS when the handshake fails or the server rejects
                // the TLS connection with an ErrorResponse (e.g. a hostnossl line). Never after
                // a timeout, a protocol violation, or an error reply to SSLRequest: an
                // unauthenticated server's complaint is no reason to downgrade. Nor when an
                // established TLS connection is lost (EOF, reset) during authentication: libpq
                // gives up there, and a plaintext retry would hand a network fault a downgrade.
                if (!tls_accepted || e.kind() == ErrorKind::timeout || e.kind() == ErrorKind::protocol) throw;
                if (tls_established && dynamic_cast<const ServerError*>(&e) == nullptr) throw;
                channel.abort();
                attempt(target, protocol::TlsStart::none, deadline);
            }
            return;
        case SslMode::require:
        case SslMode::verify_ca:
        case SslMode::verify_full:
        case SslMode::no_verify:
            ensure_tls();
            attempt(target, tls_kind, deadline);
            return;
    }
}

void Client::Impl::connect_all() {
    if (settings.hosts.empty()) throw Error(ErrorKind::config, "no host to connect to");
    std::vector<HostTarget> hosts = settings.hosts;
    if (settings.load_balance_hosts == LoadBalanceHosts::random) {
        std::random_device rd;
        std::mt19937 g(rd());
        std::shuffle(hosts.begin(), hosts.end(), g);
    }
    std::string errors;
    std::optional<ErrorKind> last_kind;
    std::optional<ServerErrorFields> only_server_error;
    std::string only_context;
    const auto want = settings.target_session_attrs;
    // prefer-standby: first look for a standby, then accept anything.
    const int passes = want == TargetSessionAttrs::prefer_standby ? 2 : 1;
    for (int pass = 0; pass < passes; ++pass) {
        const TargetSessionAttrs w = pass == 1 ? TargetSessionAttrs::any : want;
        for (const auto& h : hosts) {
            const std::string where = h.is_unix_socket() ? "socket \"" + transport::unix_socket_path(h) + "\""
                                                         : "server at \"" + (h.host.empty() ? h.hostaddr : h.host) +
                                                               "\", port " + std::to_string(h.port);
            try {
                connect_host(h);
                const auto mismatch = session_attrs_mismatch(w);
                if (!mismatch) return;
                channel.close();
                healthy = false;
                if (!errors.empty()) errors += "\n";
                errors += "connection to " + where + " failed: " + *mismatch + " (target_session_attrs=" +
                          to_string(want) + ")";
                last_kind = ErrorKind::connection;
            } catch (const Error& e) {
                channel.abort();
                healthy = false;
                // A user callback threw (the password callback): its exception, unchanged.
                if (auto cb = std::exchange(session.callback_error, nullptr)) std::rethrow_exception(cb);
                if (!errors.empty()) errors += "\n";
                const std::string msg = e.what();
                errors += msg.rfind("connection to ", 0) == 0 ? msg : "connection to " + where + " failed: " + msg;
                last_kind = e.kind();
                if (auto* se = dynamic_cast<const ServerError*>(&e); se && hosts.size() == 1 && passes == 1) {
                    only_server_error = se->fields();
                    only_context = "connection to " + where + " failed: ";
                }
            } catch (...) {
                channel.abort();  // not a pgtls::Error: a user callback's, rethrown unchanged
                healthy = false;
                throw;
            }
        }
    }
    // One host: keep the server's fields (SQLSTATE, detail, ...) for the caller.
    if (only_server_error) throw ServerError(std::move(*only_server_error), *last_kind, only_context);
    throw Error(last_kind.value_or(ErrorKind::connection), errors);
}

// ---------------------------------------------------------------------------------------------
// Queries

std::vector<Result> Client::Impl::run(protocol::QueryFlow& flow, Deadline d, bool cancel_on_timeout) {
    try {
        while (true) {
            protocol::BackendMessage m;
            try {
                m = next_message(d);
            } catch (const Error& e) {
                if (e.kind() != ErrorKind::timeout) throw;
                if (!cancel_on_timeout) {
                    fail_connection();
                    throw;
                }
                // Client-side timeout: cancel on the server, then drain to ReadyForQuery so the
                // connection stays usable.
                // If the server does not stop within a grace period, the connection is in an
                // unknown state: close it rather than hand it back mid-query.
                const auto grace_len = std::clamp<std::chrono::milliseconds>(2 * query_timeout, std::chrono::seconds(2),
                                                                           std::chrono::seconds(30));
                try {
                    // The cancel shares the grace period: on an unresponsive network its own
                    // connect would otherwise wait connect_timeout (or 30 s) on top.
                    const Deadline grace = Clock::now() + grace_len;
                    cancel_request(grace);
                    while (true) {
                        auto mm = next_message(grace);
                        if (flow.on_message(mm)) break;
                    }
                } catch (const Error& drain) {
                    fail_connection();
                    throw Error(ErrorKind::timeout, "query timed out after " + std::to_string(query_timeout.count()) +
                                                        " ms and did not stop after a cancel request (" + drain.what() +
                                                        "); the connection was closed");
                }
                throw Error(ErrorKind::timeout, "query cancelled after the client-side timeout of " +
                                                    std::to_string(query_timeout.count()) + " ms");
            }
            const bool done = flow.on_message(m);
            if (flow.needs_copy_fail()) {
                protocol::copy_fail(out, "COPY FROM STDIN is not supported by query(); use the COPY API");
                send(d);
                flow.copy_fail_sent();
            }
            if (done) break;
        }
    } catch (const Error& e) {
        if (e.kind() != ErrorKind::server && e.kind() != ErrorKind::timeout) {
            healthy = false;
            channel.abort();
            // The server said why before it hung up (a FATAL such as 57P01 from
            // pg_terminate_backend or a shutdown): that is the error to report, as libpq does.
            if (e.kind() == ErrorKind::connection && flow.error()) throw *flow.error();
        }
        throw;
    }
    if (flow.error()) throw *flow.error();
    return std::move(flow.results());
}

std::string Client::Impl::sni_for(const HostTarget& target) const {
    if (settings.sslsni && !target.host.empty() && !target.is_unix_socket() && tls::host_wants_sni(target.host))
        return target.host;
    return {};
}

protocol::TlsUp Client::Impl::tls_handshake(transport::Channel& c, const std::string& sni, protocol::TlsStart how,
                                            Deadline deadline) const {
    tls::SessionParams params;
    params.sni = sni;
    try {
        c.start_tls(*tls->context, params, deadline);
    } catch (const Error& e) {
        if (how != protocol::TlsStart::direct || e.kind() != ErrorKind::tls) throw;
        throw Error(ErrorKind::tls, ErrorCause::tls_handshake, protocol::with_direct_negotiation_hint(e.what(), how));
    }
    return protocol::TlsUp::of(*c.tls_session());
}

std::optional<tls::PeerCertificate> Client::Impl::start_checked_tls(transport::Channel& c, const HostTarget& target,
                                                                    protocol::TlsStart how, Deadline deadline,
                                                                    bool require_client_certificate) const {
    protocol::TlsUp up = tls_handshake(c, sni_for(target), how, deadline);
    protocol::check_tls_up(up, {how, tls->verify_full, target.host, require_client_certificate});
    return std::move(up.peer);
}

// Runs protocol::CancelFlow on its own socket. Every I/O failure (a timeout included) reaches
// the flow as io_error carrying the transport's own error, so the texts users see are the
// transport's, as before.
void Client::Impl::cancel_request(Deadline limit) {
    if (key.secret.empty()) throw Error(ErrorKind::usage, "no cancel key: not connected");
    protocol::CancelOptions o;
    o.target = connected_target;
    if (!o.target.is_unix_socket()) o.target.hostaddr = connected_address;  // the same server, not a re-resolve
    o.tls = connected_tls;
    o.sni = sni_for(connected_target);
    o.host = connected_target.host;
    o.verify_full = tls && tls->verify_full;
    o.pid = key.pid;
    o.secret = key.secret;
    Deadline deadline = Clock::now() + std::chrono::seconds(settings.connect_timeout.count() > 0 ? settings.connect_timeout.count() : 30);
    if (limit && *limit < *deadline) deadline = limit;
    o.grace = std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now());

    protocol::MessageReader r(1024);
    std::string buf;
    protocol::SessionState side_session;
    protocol::CancelFlow flow(std::move(o), protocol::Wire{r, buf, side_session});
    const transport::SocketOptions so{settings.keepalives, 0, 0, 0, 0};
    std::optional<transport::Channel> c;
    protocol::TlsUp up;
    std::optional<Error> failure;
    protocol::Event ev = protocol::Event::start();
    while (true) {
        const protocol::Action a = flow.resume(ev);
        try {
            switch (a.kind) {
                case protocol::Action::Kind::open_socket:
                    c.emplace(transport::open_socket(*a.target, so, deadline).fd);
                    ev = protocol::Event::of(protocol::Event::Kind::socket_open);
                    break;
                case protocol::Action::Kind::write:
                case protocol::Action::Kind::write_draining:
                    c->write_all(buf, deadline);
                    buf.clear();
                    ev = protocol::Event::of(protocol::Event::Kind::written);
                    break;
                case protocol::Action::Kind::read:
                    c->read_some(r, deadline);
                    ev = protocol::Event::of(protocol::Event::Kind::read);
                    break;
                case protocol::Action::Kind::start_tls:
                    up = tls_handshake(*c, a.tls.sni, a.tls.how, deadline);
                    ev = protocol::Event::of(protocol::Event::Kind::tls_up);
                    ev.tls = &up;
                    break;
                case protocol::Action::Kind::close:
                    if (c) c->close();
                    ev = protocol::Event::of(protocol::Event::Kind::closed);
                    break;
                case protocol::Action::Kind::cancel:
                    throw Error(ErrorKind::usage, ErrorCause::usage, "a cancel request cannot cancel");
                case protocol::Action::Kind::done:
                    if (a.error) std::rethrow_exception(a.error);
                    return;
            }
        } catch (const Error& e) {
            if (a.kind == protocol::Action::Kind::done || a.kind == protocol::Action::Kind::cancel) throw;
            failure.emplace(e);
            ev = protocol::Event::failed(*failure);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Public API

Client::Client() : impl_(std::make_unique<Impl>()) {}
Client::Client(const Config& config) : Client() { connect(config); }
Client::Client(const std::string& conninfo) : Client() {
    Config c;
    c.conninfo = conninfo;
    connect(c);
}
Client::Client(Settings settings) : Client() { connect(std::move(settings)); }
Client::~Client() {
    if (impl_) close();
}
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

void Client::connect(const Config& config) { connect(resolve(config)); }

struct ClientSetupAccess {
    static std::unique_ptr<Client> connect(Settings settings, const std::shared_ptr<ConnectShared>& shared,
                                           std::chrono::milliseconds limit) {
        auto c = std::make_unique<Client>();
        c->impl_->settings = std::move(settings);
        c->impl_->shared = shared;
        if (limit.count() > 0) c->impl_->connect_limit = Clock::now() + limit;
        c->impl_->connect_all();
        return c;
    }
};

std::shared_ptr<ConnectShared> make_connect_shared() { return std::make_shared<ConnectShared>(); }

std::unique_ptr<Client> connect_shared(Settings settings, const std::shared_ptr<ConnectShared>& shared,
                                       std::chrono::milliseconds limit) {
    return ClientSetupAccess::connect(std::move(settings), shared, limit);
}

ConnectSharedStats connect_shared_stats(const ConnectShared& shared) {
    std::lock_guard lk(shared.m);
    ConnectSharedStats st;
    st.tls_contexts_built = shared.tls_built;
    for (const auto& p : shared.auth_crypto) {
        st.pbkdf2_cache_hits += p.hits();
        st.pbkdf2_cache_misses += p.misses();
    }
    return st;
}

void Client::connect(Settings settings) {
    if (!impl_) impl_ = std::make_unique<Impl>();  // a moved-from client connects afresh
    guarded(*impl_, [&] {
        if (impl_->channel.is_open()) close();
        impl_->settings = std::move(settings);
        impl_->tls.reset();
        impl_->shared.reset();  // a pool's shared setup fits the pool's settings only
        impl_->connect_all();
    });
}

Client::Impl& Client::live() const {
    if (!impl_)
        throw Error(ErrorKind::usage,
                    "this Client was moved from: use the Client it was moved to, or connect() this one again");
    return *impl_;
}

void Client::close() noexcept {
    if (!impl_ || !impl_->channel.is_open()) return;
    if (impl_->healthy) {
        try {
            impl_->out.clear();
            protocol::CloseFlow flow(impl_->wire(), std::chrono::seconds(5));
            impl_->drive(flow);
        } catch (...) {
        }
    }
    impl_->channel.close();
    impl_->healthy = false;
    impl_->session.transaction_status = TransactionStatus::unknown;
}

bool Client::is_open() const noexcept { return impl_ && impl_->channel.is_open(); }
bool Client::is_healthy() const noexcept { return impl_ && impl_->channel.is_open() && impl_->healthy; }

Result Client::query(std::string_view sql) {
    auto all = query_all(sql);
    if (all.empty()) return Result();
    return std::move(all.back());
}

std::vector<Result> Client::Impl::simple_query(std::string_view sql, Deadline d, bool cancel_on_timeout) {
    ensure_ready();
    out.clear();
    // A large statement goes out from the caller's string: copying it into `out` would cost
    // its size again in memory and, under a query timeout, time the deadline cannot bound.
    if (sql.size() < large_statement_bytes) {
        protocol::query(out, sql);
        send(d);
    } else {
        protocol::query_header(out, sql);
        send(d, {sql, std::string_view("", 1)});
    }
    protocol::QueryFlow flow(protocol::QueryFlow::Kind::simple, session);
    auto results = run(flow, d, cancel_on_timeout);
    if (cache_capacity > 0)
        for (const auto& r : results)
            if (r.command_tag() == "DISCARD ALL" || r.command_tag() == "DEALLOCATE ALL") {
                cache.clear();
                cache_lru.clear();
            }
    return results;
}

std::vector<Result> Client::query_all(std::string_view sql) {
    auto& impl = live();
    return guarded(impl, [&] { return impl.simple_query(sql, impl.query_deadline()); });
}

void Client::ping(std::chrono::milliseconds timeout, std::string_view sql) {
    auto& impl = live();
    const std::chrono::milliseconds limit = timeout.count() > 0 ? timeout : impl.query_timeout;
    const Deadline d = limit.count() > 0 ? Deadline(Clock::now() + limit) : std::nullopt;
    try {
        guarded(impl, [&] { impl.simple_query(sql, d, false); });
    } catch (const Error& e) {
        // A timed-out write or read has already closed the connection (send(), run()).
        if (e.kind() != ErrorKind::timeout) throw;
        throw Error(ErrorKind::timeout, "no reply to a ping within " + std::to_string(limit.count()) +
                                            " ms; the connection was closed");
    }
}

void Client::Impl::encode_extended(std::string& o, const PreparedStatement* prepared, std::string_view sql,
                                   std::span<const Param> params, ResultFormat format) {
    protocol::ExtendedQuery q;
    if (prepared) {
        q.parse = false;
        q.statement = prepared->name;
    } else {
        q.sql = sql;
    }
    q.params = params;
    const std::int16_t fmt = static_cast<std::int16_t>(format);
    if (format != ResultFormat::text) q.result_formats = std::span<const std::int16_t>(&fmt, 1);
    protocol::extended_query(o, q);
}

Result Client::Impl::extended_round_trip(const PreparedStatement* prepared, std::string_view sql,
                                         std::span<const Param> params, ResultFormat format,
                                         const std::function<void(const Row&)>* on_row, Deadline d) {
    out.clear();
    encode_extended(out, prepared, sql, params, format);
    protocol::sync(out);
    send(d);
    protocol::QueryFlow flow(protocol::QueryFlow::Kind::extended, session);
    if (prepared) flow.set_expected_columns(session.columns_like(prepared->columns, static_cast<std::int16_t>(format)));
    flow.set_row_callback(on_row);
    Result result;
    flow.set_single_target(&result);
    run(flow, d);
    return result;
}

PreparedStatement Client::Impl::prepare_statement(std::string_view name, std::string_view sql,
                                                  const std::vector<std::uint32_t>& types, Deadline d) {
    out.clear();
    protocol::parse(out, name, sql, types);
    protocol::describe(out, 'S', name);
    protocol::sync(out);
    send(d);
    return read_statement_description(std::string(name), true, d);
}

PreparedStatement Client::Impl::read_statement_description(std::string name, bool after_parse, Deadline d) {
    PreparedStatement ps;
    ps.name = std::move(name);
    std::optional<ServerError> err;
    try {
        while (true) {
            auto m = next_message(d);
            switch (m.type) {
                case '1':
                    if (!after_parse) goto unexpected;
                    break;
                case 't': {
                    protocol::ByteReader r(m.body, "ParameterDescription");
                    const int n = r.i16();
                    if (n < 0) r.fail("negative parameter count");
                    for (int i = 0; i < n; ++i) ps.param_types.push_back(static_cast<std::uint32_t>(r.i32()));
                    r.expect_end();
                    break;
                }
                case 'T': ps.columns = protocol::parse_row_description(m.body); break;
                case 'n': break;
                case 'E':
                    if (!err) err.emplace(protocol::parse_error_fields(m.body));
                    break;
                case 'Z':
                    session.transaction_status = protocol::parse_ready_for_query(m.body);
                    if (err) throw *err;
                    return ps;
                default:
                    if (session.handle_async(m)) break;
                unexpected:
                    throw Error(ErrorKind::protocol, std::string("unexpected ") + protocol::backend_message_name(m.type) +
                                                         " message from server while " +
                                                         (after_parse ? "preparing" : "describing") + " a statement");
            }
        }
    } catch (const ServerError&) {
        throw;
    } catch (const Error&) {
        fail_connection();
        throw;
    }
}

const PreparedStatement* Client::Impl::cached_statement(std::string_view sql, std::span<const Param> params, Deadline d) {
    std::string key(sql);
    for (const auto& p : params) key += "\x1f" + std::to_string(p.type_oid);
    if (auto it = cache.find(key); it != cache.end()) {
        cache_lru.splice(cache_lru.begin(), cache_lru, it->second.lru);
        return &it->second.statement;
    }
    if (cache.size() >= cache_capacity) {
        const std::string victim = cache_lru.back();
        const std::string vname = cache[victim].statement.name;
        cache.erase(victim);
        cache_lru.pop_back();
        out.clear();
        protocol::close(out, 'S', vname);
        protocol::sync(out);
        send(d);
        protocol::QueryFlow f(protocol::QueryFlow::Kind::extended, session);
        run(f, d);
    }
    std::vector<std::uint32_t> types;
    for (const auto& p : params) types.push_back(p.type_oid);
    auto ps = prepare_statement(statement_prefix + std::to_string(++statement_counter), sql, types, d);
    cache_lru.push_front(key);
    auto& entry = cache[key];
    entry.statement = std::move(ps);
    entry.lru = cache_lru.begin();
    return &entry.statement;
}

Result Client::Impl::execute_extended(std::string_view sql, std::span<const Param> params, ResultFormat format,
                                      const std::function<void(const Row&)>* on_row) {
    ensure_ready();
    const Deadline d = query_deadline();
    const PreparedStatement* cached = cache_capacity > 0 ? cached_statement(sql, params, d) : nullptr;
    try {
        return extended_round_trip(cached, sql, params, format, on_row, d);
    } catch (const ServerError& e) {
        // A cached statement the server no longer knows (DISCARD ALL, a pooler) or whose
        // result type changed is evicted so the next call prepares it afresh.
        if (cached && e.sqlstate() == "26000") {
            // Statements vanish together (DISCARD/DEALLOCATE ALL, a pooler's server swap).
            cache.clear();
            cache_lru.clear();
        } else if (cached && e.sqlstate() == "0A000") {
            for (auto it = cache.begin(); it != cache.end(); ++it)
                if (&it->second.statement == cached) {
                    cache_lru.erase(it->second.lru);
                    cache.erase(it);
                    break;
                }
        }
        throw;
    }
}

Result Client::execute(std::string_view sql, const Params& params) {
    return execute(sql, params, ResultFormat::text);
}

Result Client::execute(std::string_view sql, const Params& params, ResultFormat format) {
    return execute_params(sql, params, format);
}

Result Client::execute_params(std::string_view sql, std::span<const Param> params, ResultFormat format) {
    auto& impl = live();
    return guarded(impl, [&] {
        try {
            return impl.execute_extended(sql, params, format, nullptr);
        } catch (const ServerError& e) {
            // The cache lost its statement (DISCARD ALL, a pooler): outside a transaction nothing
            // ran, so preparing again is safe. Inside one the error stands.
            if (impl.cache_capacity == 0 || e.sqlstate() != "26000" ||
                impl.session.transaction_status != TransactionStatus::idle)
                throw;
            return impl.execute_extended(sql, params, format, nullptr);
        }
    });
}

PreparedStatement Client::prepare(std::string_view name, std::string_view sql,
                                  const std::vector<std::uint32_t>& param_types) {
    auto& impl = live();
    return guarded(impl, [&] {
        impl.ensure_ready();
        if (name.empty())
            throw Error(ErrorKind::usage, "prepare() needs a statement name (the unnamed statement is execute()'s)");
        return impl.prepare_statement(name, sql, param_types, impl.query_deadline());
    });
}

Result Client::execute(const PreparedStatement& statement, const Params& params, ResultFormat format) {
    auto& impl = live();
    return guarded(impl, [&] {
        impl.ensure_ready();
        if (params.size() != statement.param_types.size())
            throw Error(ErrorKind::usage, "prepared statement \"" + statement.name + "\" takes " +
                                              std::to_string(statement.param_types.size()) + " parameters, " +
                                              std::to_string(params.size()) + " given");
        return impl.extended_round_trip(&statement, {}, params, format, nullptr, impl.query_deadline());
    });
}

PreparedStatement Client::describe_statement(std::string_view name) {
    auto& impl = live();
    return guarded(impl, [&] {
        impl.ensure_ready();
        const Deadline d = impl.query_deadline();
        impl.out.clear();
        protocol::describe(impl.out, 'S', name);
        protocol::sync(impl.out);
        impl.send(d);
        return impl.read_statement_description(std::string(name), false, d);
    });
}

void Client::close_statement(std::string_view name) {
    auto& impl = live();
    guarded(impl, [&] {
        impl.ensure_ready();
        const Deadline d = impl.query_deadline();
        impl.out.clear();
        protocol::close(impl.out, 'S', name);
        protocol::sync(impl.out);
        impl.send(d);
        protocol::QueryFlow flow(protocol::QueryFlow::Kind::extended, impl.session);
        impl.run(flow, d);
    });
}

void Client::set_statement_cache_capacity(std::size_t capacity) {
    auto& im = live();
    im.cache_capacity = capacity;
    if (im.cache.size() <= capacity) return;
    // The statements the cache forgets are closed on the server too (one round trip), so a
    // pool restoring a lease's capacity leaves no prepared statement behind per lease.
    const bool close_on_server = im.channel.is_open() && im.healthy;
    im.out.clear();
    while (im.cache.size() > capacity) {
        if (close_on_server) protocol::close(im.out, 'S', im.cache[im.cache_lru.back()].statement.name);
        im.cache.erase(im.cache_lru.back());
        im.cache_lru.pop_back();
    }
    if (!close_on_server) return;
    const Deadline d = im.query_deadline();
    protocol::sync(im.out);
    im.send(d);
    protocol::QueryFlow flow(protocol::QueryFlow::Kind::extended, im.session);
    im.run(flow, d);
}

std::size_t Client::statement_cache_capacity() const noexcept { return impl_ ? impl_->cache_capacity : 0; }

std::uint64_t Client::stream(std::string_view sql, const Params& params, const std::function<void(const Row&)>& on_row,
                             ResultFormat format) {
    auto& impl = live();
    return guarded(impl, [&] { return impl.execute_extended(sql, params, format, &on_row).affected_rows(); });
}

void Client::set_query_timeout(std::chrono::milliseconds timeout) noexcept {
    if (impl_) impl_->query_timeout = timeout;
}
std::chrono::milliseconds Client::query_timeout() const noexcept {
    return impl_ ? impl_->query_timeout : std::chrono::milliseconds(0);
}

TransactionStatus Client::transaction_status() const noexcept {
    return is_open() ? impl_->session.transaction_status : TransactionStatus::unknown;
}

std::optional<std::string> Client::parameter_status(const std::string& name) const {
    auto& impl = live();
    if (auto it = impl.session.parameters.find(name); it != impl.session.parameters.end()) return it->second;
    return std::nullopt;
}

namespace {
const ConnectionInfo kNoConnectionInfo{};
const Settings kNoSettings{};
}  // namespace

// noexcept accessors: a moved-from client reports what a never-connected one does.
const ConnectionInfo& Client::info() const noexcept { return impl_ ? impl_->info : kNoConnectionInfo; }
const Settings& Client::settings() const noexcept { return impl_ ? impl_->settings : kNoSettings; }
int Client::socket() const noexcept { return impl_ ? impl_->channel.fd() : -1; }

void Client::cancel() { live().cancel_request(); }

void Client::set_notice_handler(std::function<void(const Notice&)> handler) {
    live().session.notice_handler = std::move(handler);
}

const std::function<void(const Notice&)>& Client::notice_handler() const noexcept {
    static const std::function<void(const Notice&)> none;
    return impl_ ? impl_->session.notice_handler : none;
}

bool Client::listening() const noexcept { return impl_ && impl_->session.listen_seen; }

void Client::unlisten_all() {
    auto& impl = live();
    guarded(impl, [&] {
        impl.simple_query("UNLISTEN *", impl.query_deadline());
        impl.session.listen_seen = false;
        impl.session.notifications.clear();
    });
}

std::vector<Notification> Client::take_notifications() {
    auto& impl = live();
    std::vector<Notification> v(impl.session.notifications.begin(), impl.session.notifications.end());
    impl.session.notifications.clear();
    return v;
}

std::optional<Notification> Client::wait_for_notification(std::chrono::milliseconds timeout) {
    auto& impl = live();
    return guarded(impl, [&] { return impl.wait_notification(timeout); });
}

std::optional<Notification> Client::Impl::wait_notification(std::chrono::milliseconds timeout) {
    ensure_ready();
    const Deadline d = Clock::now() + timeout;
    auto& s = session;
    while (s.notifications.empty() && !s.callback_error) {
        while (auto m = reader.next()) {
            if (!s.handle_async(*m)) {
                healthy = false;
                throw Error(ErrorKind::protocol, std::string("unexpected ") + protocol::backend_message_name(m->type) +
                                                     " message from server while idle");
            }
        }
        if (!s.notifications.empty()) break;
        try {
            channel.read_some(reader, d);
        } catch (const Error& e) {
            if (e.kind() == ErrorKind::timeout) return std::nullopt;
            healthy = false;
            throw;
        }
    }
    if (s.notifications.empty()) return std::nullopt;  // the notice handler threw: rethrown by the caller
    Notification n = std::move(s.notifications.front());
    s.notifications.pop_front();
    return n;
}

}  // namespace pgtls

// ---------------------------------------------------------------------------------------------
// COPY

namespace pgtls {

namespace {
// Reads to ReadyForQuery after an error, so the connection is usable again.
void drain_to_ready(Client::Impl& impl, transport::Deadline d, std::optional<ServerError>& err);
}  // namespace

CopyIn Client::copy_in(std::string_view copy_sql) {
    auto& impl = live();
    return guarded(impl, [&]() -> CopyIn {
        impl.ensure_ready();
        const Deadline d = impl.query_deadline();
        impl.out.clear();
        protocol::query(impl.out, copy_sql);
        impl.send(d);
        std::optional<ServerError> err;
        try {
            while (true) {
                auto m = impl.next_message(d);
                if (m.type == 'G') {
                    impl.copy_in_open = true;
                    return CopyIn(*this);
                }
                if (m.type == 'E') {
                    err.emplace(protocol::parse_error_fields(m.body));
                    drain_to_ready(impl, d, err);
                    throw *err;
                }
                if (impl.session.handle_async(m)) continue;
                if (m.type == 'H' || m.type == 'T' || m.type == 'C' || m.type == 'Z') {
                    protocol::QueryFlow flow(protocol::QueryFlow::Kind::simple, impl.session);
                    bool done = flow.on_message(m);
                    while (!done) done = flow.on_message(impl.next_message(d));
                    throw Error(ErrorKind::usage, "copy_in() needs a COPY ... FROM STDIN statement");
                }
                throw Error(ErrorKind::protocol, std::string("unexpected ") + protocol::backend_message_name(m.type) +
                                                     " message from server at the start of COPY");
            }
        } catch (const ServerError&) {
            throw;
        } catch (const Error& e) {
            if (e.kind() != ErrorKind::usage) impl.fail_connection();
            throw;
        }
    });
}

std::uint64_t Client::copy_out(std::string_view copy_sql, const std::function<void(std::string_view)>& on_data) {
    auto& impl = live();
    return guarded(impl, [&]() -> std::uint64_t {
        impl.ensure_ready();
        const Deadline d = impl.query_deadline();
        impl.out.clear();
        protocol::query(impl.out, copy_sql);
        impl.send(d);
        std::optional<ServerError> err;
        std::uint64_t rows = 0;
        bool in_copy = false;
        try {
            while (true) {
                auto m = impl.next_message(d);
                switch (m.type) {
                    case 'H': in_copy = true; break;
                    case 'd':
                        if (!in_copy) throw Error(ErrorKind::protocol, "server sent CopyData outside COPY");
                        if (!err)
                            impl.session.call_user([&] {
                                on_data(std::string_view(reinterpret_cast<const char*>(m.body.data()), m.body.size()));
                            });
                        break;
                    case 'c': in_copy = false; break;
                    case 'C': {
                        Result r;
                        r.set_command_tag(protocol::parse_command_complete(m.body));
                        rows = r.affected_rows();
                        break;
                    }
                    case 'E':
                        if (!err) err.emplace(protocol::parse_error_fields(m.body));
                        in_copy = false;
                        break;
                    case 'G':
                        impl.out.clear();
                        protocol::copy_fail(impl.out, "copy_out() cannot send COPY FROM STDIN data");
                        impl.send(d);
                        break;
                    case 'T':
                    case 'D':
                        break;  // not a COPY statement: rows are ignored, reported below
                    case 'Z':
                        impl.session.transaction_status = protocol::parse_ready_for_query(m.body);
                        if (err) throw *err;
                        return rows;
                    default:
                        if (impl.session.handle_async(m)) break;
                        throw Error(ErrorKind::protocol, std::string("unexpected ") + protocol::backend_message_name(m.type) +
                                                             " message from server during COPY TO STDOUT");
                }
            }
        } catch (const ServerError&) {
            throw;
        } catch (const Error& e) {
            impl.fail_connection();
            // A FATAL (e.g. 57P01 from pg_terminate_backend) followed by the connection closing:
            // report the server's reason, as run() does.
            if (e.kind() == ErrorKind::connection && err) throw *err;
            throw;
        }
    });
}

CopyIn::CopyIn(CopyIn&& o) noexcept : client_(o.client_), buffer_(std::move(o.buffer_)), done_(o.done_) {
    o.done_ = true;
    o.client_ = nullptr;
}

Client& CopyIn::owner() const {
    if (!client_) throw Error(ErrorKind::usage, "this CopyIn was moved from: use the CopyIn it was moved to");
    return *client_;
}

void CopyIn::end() noexcept {
    done_ = true;
    if (client_ && client_->impl_) client_->impl_->copy_in_open = false;
}

CopyIn::~CopyIn() {
    if (!done_) {
        try {
            abort("COPY abandoned by the client");
        } catch (...) {
        }
    }
}

namespace {
constexpr std::size_t copy_chunk = 64 * 1024;

// An ErrorResponse may arrive while we are still sending (bad data): pick it up early.
void check_copy_error(Client::Impl& impl, transport::Deadline d) {
    if (!impl.channel.read_available(impl.reader) && impl.reader.buffered() == 0) return;
    std::optional<ServerError> err;
    while (auto m = impl.reader.next()) {
        if (m->type == 'E') {
            err.emplace(protocol::parse_error_fields(m->body));
            break;
        }
        if (!impl.session.handle_async(*m))
            throw Error(ErrorKind::protocol, std::string("unexpected ") + protocol::backend_message_name(m->type) +
                                                 " message from server during COPY FROM STDIN");
    }
    if (err) {
        try {
            drain_to_ready(impl, d, err);
        } catch (const Error& e) {
            if (e.kind() != ErrorKind::connection) throw;
            impl.fail_connection();  // a FATAL, then the server hung up: the FATAL is the error
        }
        throw *err;
    }
}

void drain_to_ready(Client::Impl& impl, transport::Deadline d, std::optional<ServerError>& err) {
    while (true) {
        auto m = impl.next_message(d);
        if (m.type == 'Z') {
            impl.session.transaction_status = protocol::parse_ready_for_query(m.body);
            return;
        }
        if (m.type == 'E' && !err) err.emplace(protocol::parse_error_fields(m.body));
    }
}
}  // namespace

void CopyIn::flush() {
    auto& impl = owner().live();
    if (buffer_.empty()) return;
    const Deadline d = impl.query_deadline();
    try {
        check_copy_error(impl, d);
        impl.channel.write_all(buffer_, d);
    } catch (const ServerError&) {
        end();
        buffer_.clear();
        throw;
    } catch (const Error& e) {
        end();
        // The server hung up (e.g. pg_terminate_backend): report its FATAL if it sent one.
        impl.fail_after_write(e);
    }
    buffer_.clear();
}

void CopyIn::write(std::string_view data) {
    auto& impl = owner().live();
    if (done_) throw Error(ErrorKind::usage, "COPY is already finished");
    guarded(impl, [&] {
        while (!data.empty()) {
            const std::size_t n = std::min(data.size(), copy_chunk);
            protocol::copy_data(buffer_, data.substr(0, n));
            data.remove_prefix(n);
            if (buffer_.size() >= copy_chunk) flush();
        }
    });
}

std::uint64_t CopyIn::finish() {
    auto& impl = owner().live();
    if (done_) throw Error(ErrorKind::usage, "COPY is already finished");
    return guarded(impl, [&]() -> std::uint64_t {
        protocol::copy_done(buffer_);
        flush();
        end();
        const Deadline d = impl.query_deadline();
        protocol::QueryFlow flow(protocol::QueryFlow::Kind::simple, impl.session);
        auto rs = impl.run(flow, d);
        return rs.empty() ? 0 : rs.back().affected_rows();
    });
}

void CopyIn::abort(std::string_view reason) {
    if (done_) return;
    auto& impl = owner().live();
    guarded(impl, [&] {
        buffer_.clear();
        protocol::copy_fail(buffer_, reason);
        end();
        const Deadline d = impl.query_deadline();
        try {
            impl.channel.write_all(buffer_, d);
            buffer_.clear();
            std::optional<ServerError> err;
            drain_to_ready(impl, d, err);
        } catch (const Error&) {
            impl.fail_connection();
            throw;
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Pipeline

std::size_t Pipeline::add(std::string_view sql, const std::vector<Param>& params, ResultFormat format) {
    return add_params(sql, params, format);
}

std::size_t Pipeline::add_params(std::string_view sql, std::span<const Param> params, ResultFormat format) {
    client_.live().encode_extended(buffer_, nullptr, sql, params, format);
    return queued_++;
}

void Pipeline::sync() {
    protocol::sync(buffer_);
    sync_after_.push_back(queued_);
}

std::vector<PipelineResult> Pipeline::run() {
    auto& impl = client_.live();
    return guarded(impl, [&]() -> std::vector<PipelineResult> {
        impl.ensure_ready();
        if (sync_after_.empty() || sync_after_.back() != queued_) sync();
        const Deadline d = impl.query_deadline();
        std::vector<PipelineResult> results(queued_);
        protocol::PipelineFlow flow(results, sync_after_, impl.session);
        // What arrives while the pipeline is still being written is parsed at once (within the
        // session's caps), so a server that floods instead of reading cannot grow the buffer.
        const auto consume = [&] {
            while (!flow.done())
                if (auto m = impl.reader.next()) flow.on_message(*m);
                else break;
        };
        try {
            impl.channel.write_all_draining(buffer_, impl.reader, d, consume);
            impl.reply_pending = true;
        } catch (const Error& e) {
            impl.fail_after_write(e);  // the server's FATAL, if it sent one before hanging up
        }
        buffer_.clear();
        // Read every sync group: queries until the error (if any), the rest skipped, then 'Z'.
        try {
            while (!flow.done()) flow.on_message(impl.next_message(d));
        } catch (const Error&) {
            impl.fail_connection();
            throw;
        }
        queued_ = 0;
        sync_after_.clear();
        return results;
    });
}

// ---------------------------------------------------------------------------------------------
// Transaction

Transaction::Transaction(Client& client, std::string_view begin_sql) : client_(client) {
    const TransactionStatus st = client_.transaction_status();
    if (st == TransactionStatus::in_transaction || st == TransactionStatus::failed)
        throw Error(ErrorKind::usage,
                    "a transaction is already open on this client: transactions do not nest; use savepoints "
                    "(Transaction::savepoint, rollback_to, release) inside the open one");
    client_.query(begin_sql);
}

Transaction::~Transaction() {
    if (!open_) return;
    try {
        if (client_.is_healthy()) client_.query("ROLLBACK");
    } catch (...) {
    }
}

void Transaction::commit() {
    if (!open_) throw Error(ErrorKind::usage, "transaction is already finished");
    open_ = false;
    Result r = client_.query("COMMIT");
    // COMMIT of a failed transaction is reported by the server as ROLLBACK.
    if (r.command_tag() == "ROLLBACK")
        throw Error(ErrorKind::server, "COMMIT failed: the transaction was aborted by an earlier error and rolled back");
}

void Transaction::rollback() {
    if (!open_) throw Error(ErrorKind::usage, "transaction is already finished");
    open_ = false;
    client_.query("ROLLBACK");
}

namespace {
std::string quote_ident(std::string_view name) {
    std::string q = "\"";
    for (char c : name) {
        if (c == '"') q += '"';
        q += c;
    }
    return q + '"';
}
}  // namespace

void Transaction::savepoint(std::string_view name) { client_.query("SAVEPOINT " + quote_ident(name)); }
void Transaction::rollback_to(std::string_view name) { client_.query("ROLLBACK TO SAVEPOINT " + quote_ident(name)); }
void Transaction::release(std::string_view name) { client_.query("RELEASE SAVEPOINT " + quote_ident(name)); }

}  // namespace pgtls
