// The blocking client's connect: the TLS setup, the host list × sslmode attempts ×
// target_session_attrs policy, each attempt's startup, and the cancel request.
#include <algorithm>
#include <list>
#include <mutex>
#include <random>

#include "auth/authenticator.hpp"
#include "core/client_call.hpp"
#include "core/client_impl.hpp"
#include "core/client_shared.hpp"
#include "core/crypto/pbkdf2_cache.hpp"
#include "core/protocol/cancel_flow.hpp"
#include "core/protocol/frontend.hpp"
#include "core/protocol/startup_flow.hpp"
#include "core/protocol/tls_checks.hpp"
#include "core/tls/hostname.hpp"
#include "core/tls/key_file_check.hpp"
#include "core/tls/tls_backend.hpp"
#include "core/transport/channel.hpp"

namespace pgtls {

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
    opt.auth.krbsrvname = settings.krbsrvname;
    opt.auth.gss_host = target.host;  // libpq: the host name, never hostaddr
    opt.auth.gss_delegation = settings.gssdelegation;
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
    info.encryption = flow.tls_active() ? "tls" : "plaintext";
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

}  // namespace pgtls
