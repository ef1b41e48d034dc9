// The blocking driver: runs the sans-I/O flows over a Channel with deadlines, and decides
// per libpq which hosts and which TLS attempts to make.
#include "pgtls/client.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <mutex>
#include <random>
#include <sys/stat.h>

#include "auth/authenticator.hpp"
#include "core/protocol/backend_messages.hpp"
#include "core/protocol/frontend.hpp"
#include "core/protocol/message_reader.hpp"
#include "core/protocol/query_flow.hpp"
#include "core/protocol/session_state.hpp"
#include "core/protocol/startup_flow.hpp"
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
    switch (s.sslmode) {
        case SslMode::verify_ca:
        case SslMode::verify_full: return true;
        // libpq: with a root certificate present, require behaves as verify-ca.
        case SslMode::require: return !s.sslrootcert.empty();
        default: return false;
    }
}

double ms_since(Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

}  // namespace

// TLS configuration shared by connections with the same settings (a pool makes one).
struct TlsSetup {
    const tls::Backend* backend = nullptr;
    std::shared_ptr<tls::Context> context;
    bool verify_full = false;
};

static TlsSetup make_tls_setup(const Settings& s) {
    TlsSetup setup;
    setup.backend = &tls::find_backend(s.sslbackend);
    tls::ContextConfig c;
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

struct Client::Impl {
    Settings settings;
    transport::Channel channel;
    protocol::MessageReader reader;
    std::string out;
    protocol::SessionState session;
    ConnectionInfo info;
    protocol::BackendKey key;
    HostTarget connected_target;
    std::string connected_address;
    protocol::TlsStart connected_tls = protocol::TlsStart::none;
    std::shared_ptr<TlsSetup> tls;
    bool healthy = false;
    bool tls_accepted = false;  // this attempt got past SSL negotiation into a TLS handshake
    std::chrono::milliseconds query_timeout{0};

    // ---- connecting ----
    void connect_all();
    void connect_host(const HostTarget& target);
    void attempt(const HostTarget& target, protocol::TlsStart tls_start, Deadline deadline);
    bool session_attrs_match(TargetSessionAttrs want);

    // ---- running ----
    Deadline query_deadline() const {
        if (query_timeout.count() <= 0) return std::nullopt;
        return Clock::now() + query_timeout;
    }
    void send(Deadline d) {
        channel.write_all(out, d);
        out.clear();
    }
    protocol::BackendMessage next_message(Deadline d);
    std::vector<Result> run(protocol::QueryFlow& flow, Deadline d);
    void ensure_ready() const {
        if (!channel.is_open()) throw Error(ErrorKind::usage, "connection is closed");
        if (!healthy) throw Error(ErrorKind::connection, "connection is broken after an earlier error; reconnect");
    }
    void cancel_request();
};

protocol::BackendMessage Client::Impl::next_message(Deadline d) {
    while (true) {
        if (auto m = reader.next()) return *m;
        channel.read_some(reader, d);
    }
}

// ---------------------------------------------------------------------------------------------
// Connecting

void Client::Impl::attempt(const HostTarget& target, protocol::TlsStart tls_start, Deadline deadline) {
    const auto t0 = Clock::now();
    info = ConnectionInfo{};
    tls_accepted = false;
    info.host = target.host;
    info.port = target.port;
    {
        auto handler = std::move(session.notice_handler);
        session = protocol::SessionState{};
        session.notice_handler = std::move(handler);
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
    opt.auth.crypto = tls ? &tls->backend->crypto() : &tls::default_crypto();
    {
        const Settings* s = &settings;
        HostTarget t = target;
        opt.auth.get_password = [s, t]() -> std::optional<std::string> {
            if (s->password && !s->password->empty()) return s->password;
            // libpq looks .pgpass up with the host name (or hostaddr when no host is given),
            // and a Unix socket directory counts as "localhost".
            std::string host = t.host.empty() ? t.hostaddr : t.host;
            if (t.is_unix_socket()) host = "localhost";
            if (!s->passfile.empty()) {
                if (auto p = pgpass_lookup(s->passfile, host, std::to_string(t.port), s->dbname, s->user, nullptr))
                    return p;
            }
            if (s->password_callback) return s->password_callback(host, std::to_string(t.port), s->user);
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
                tls::SessionParams params;
                if (settings.sslsni && !target.host.empty() && !target.is_unix_socket() && tls::host_wants_sni(target.host))
                    params.sni = target.host;
                try {
                    channel.start_tls(*tls->context, params, deadline);
                } catch (const Error& e) {
                    if (tls_start != protocol::TlsStart::direct || e.kind() != ErrorKind::tls) throw;
                    throw Error(ErrorKind::tls, std::string(e.what()) +
                                                    " (with sslnegotiation=direct the server must be PostgreSQL 17 or "
                                                    "later; older servers need sslnegotiation=postgres)");
                }
                tls::Session& s = *channel.tls_session();
                const tls::SessionInfo si = s.info();
                if (tls_start == protocol::TlsStart::direct && si.alpn != "postgresql")
                    throw Error(ErrorKind::tls, si.alpn.empty()
                                                    ? "direct SSL connection was established without ALPN protocol negotiation extension"
                                                    : "SSL connection was established with unexpected ALPN protocol \"" + si.alpn + "\"");
                if (!si.alpn.empty() && si.alpn != "postgresql")
                    throw Error(ErrorKind::tls, "SSL connection was established with unexpected ALPN protocol \"" + si.alpn + "\"");
                auto peer = s.peer_certificate();
                if (tls->verify_full) {
                    if (!peer) throw Error(ErrorKind::tls, "server did not present a certificate");
                    std::string reason;
                    if (!tls::verify_host_name(*peer, target.host, &reason)) throw Error(ErrorKind::tls, reason);
                }
                if (settings.sslcertmode == SslCertMode::require && !s.client_certificate_sent())
                    throw Error(ErrorKind::tls, "server accepted connection without a valid SSL certificate");
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
    if (const auto* a = flow.authenticator()) {
        info.auth_method = a->method() == auth::Method::none ? "trust" : auth::to_string(a->method());
        info.channel_binding = a->channel_binding_used();
    }
    if (auto it = session.parameters.find("server_version"); it != session.parameters.end())
        info.server_version = it->second;
    connected_target = target;
    connected_address = info.address;
    connected_tls = flow.tls_active() ? tls_start : protocol::TlsStart::none;
    healthy = true;
}

bool Client::Impl::session_attrs_match(TargetSessionAttrs want) {
    if (want == TargetSessionAttrs::any) return true;
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
    switch (want) {
        case TargetSessionAttrs::read_write: return !read_only;
        case TargetSessionAttrs::read_only: return read_only;
        case TargetSessionAttrs::primary: return !standby;
        case TargetSessionAttrs::standby:
        case TargetSessionAttrs::prefer_standby: return standby;
        case TargetSessionAttrs::any: return true;
    }
    return true;
}

void Client::Impl::connect_host(const HostTarget& target) {
    Deadline deadline;
    if (settings.connect_timeout.count() > 0) {
        // libpq: a timeout below 2 s is raised to 2 s.
        deadline = Clock::now() + std::max(settings.connect_timeout, std::chrono::seconds(2));
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
                if (!tls) tls = std::make_shared<TlsSetup>(make_tls_setup(settings));
                attempt(target, tls_kind, deadline);
            }
            return;
        case SslMode::prefer:
            if (!tls) tls = std::make_shared<TlsSetup>(make_tls_setup(settings));
            try {
                attempt(target, tls_kind, deadline);
            } catch (const Error& e) {
                // libpq retries without TLS when the handshake fails or the server rejects
                // the TLS connection (e.g. a hostnossl line). Never after a timeout, a protocol
                // violation, or an error reply to SSLRequest: an unauthenticated server's
                // complaint is no reason to downgrade.
                if (!tls_accepted || e.kind() == ErrorKind::timeout || e.kind() == ErrorKind::protocol) throw;
                channel.abort();
                attempt(target, protocol::TlsStart::none, deadline);
            }
            return;
        case SslMode::require:
        case SslMode::verify_ca:
        case SslMode::verify_full:
        case SslMode::no_verify:
            if (!tls) tls = std::make_shared<TlsSetup>(make_tls_setup(settings));
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
                                                         : "server at \"" + h.host + "\", port " + std::to_string(h.port);
            try {
                connect_host(h);
                if (session_attrs_match(w)) return;
                channel.close();
                healthy = false;
                if (!errors.empty()) errors += "\n";
                errors += "connection to " + where + " failed: session does not match target_session_attrs=" +
                          to_string(want);
                last_kind = ErrorKind::connection;
            } catch (const Error& e) {
                channel.abort();
                healthy = false;
                if (!errors.empty()) errors += "\n";
                const std::string msg = e.what();
                errors += msg.rfind("connection to ", 0) == 0 ? msg : "connection to " + where + " failed: " + msg;
                last_kind = e.kind();
                if (auto* se = dynamic_cast<const ServerError*>(&e); se && hosts.size() == 1 && passes == 1) {
                    only_server_error = se->fields();
                    only_context = "connection to " + where + " failed: ";
                }
            }
        }
    }
    // One host: keep the server's fields (SQLSTATE, detail, ...) for the caller.
    if (only_server_error) throw ServerError(std::move(*only_server_error), *last_kind, only_context);
    throw Error(last_kind.value_or(ErrorKind::connection), errors);
}

// ---------------------------------------------------------------------------------------------
// Queries

std::vector<Result> Client::Impl::run(protocol::QueryFlow& flow, Deadline d) {
    try {
        while (true) {
            protocol::BackendMessage m;
            try {
                m = next_message(d);
            } catch (const Error& e) {
                if (e.kind() != ErrorKind::timeout) throw;
                // Client-side timeout: cancel on the server, then drain to ReadyForQuery so the
                // connection stays usable.
                cancel_request();
                const Deadline grace = Clock::now() + std::chrono::seconds(30);
                while (true) {
                    auto mm = next_message(grace);
                    if (flow.on_message(mm)) break;
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
        }
        throw;
    }
    if (flow.error()) throw *flow.error();
    return std::move(flow.results());
}

void Client::Impl::cancel_request() {
    if (key.secret.empty()) throw Error(ErrorKind::usage, "no cancel key: not connected");
    HostTarget t = connected_target;
    if (!t.is_unix_socket()) t.hostaddr = connected_address;  // the same server, not a re-resolve
    Deadline deadline = Clock::now() + std::chrono::seconds(settings.connect_timeout.count() > 0 ? settings.connect_timeout.count() : 30);
    transport::SocketOptions so{settings.keepalives, 0, 0, 0, 0};
    auto sock = transport::open_socket(t, so, deadline);
    transport::Channel c(sock.fd);
    protocol::MessageReader r(1024);
    std::string buf;
    if (connected_tls != protocol::TlsStart::none) {
        if (connected_tls == protocol::TlsStart::ssl_request) {
            protocol::ssl_request(buf);
            c.write_all(buf, deadline);
            buf.clear();
            c.read_some(r, deadline);
            if (r.raw()[0] != 'S') throw Error(ErrorKind::tls, "server refused SSL for the cancel request");
            if (r.buffered() > 1) throw Error(ErrorKind::protocol, "received unencrypted data after SSL response");
            r.consume_raw(1);
        }
        tls::SessionParams params;
        if (settings.sslsni && !connected_target.is_unix_socket() && tls::host_wants_sni(connected_target.host))
            params.sni = connected_target.host;
        c.start_tls(*tls->context, params, deadline);
        if (tls->verify_full) {
            auto peer = c.tls_session()->peer_certificate();
            std::string reason;
            if (!peer || !tls::verify_host_name(*peer, connected_target.host, &reason))
                throw Error(ErrorKind::tls, reason.empty() ? "server did not present a certificate" : reason);
        }
    }
    protocol::cancel_request(buf, key.pid, key.secret);
    c.write_all(buf, deadline);
    // The server closes the connection when done; wait for that (bounded) so the cancel has
    // been processed before we return.
    try {
        while (true) c.read_some(r, deadline);
    } catch (const Error&) {
    }
    c.close();
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

void Client::connect(Settings settings) {
    if (impl_->channel.is_open()) close();
    impl_->settings = std::move(settings);
    impl_->tls.reset();
    impl_->connect_all();
}

void Client::close() noexcept {
    if (!impl_ || !impl_->channel.is_open()) return;
    if (impl_->healthy) {
        try {
            impl_->out.clear();
            protocol::terminate(impl_->out);
            impl_->send(Clock::now() + std::chrono::seconds(5));
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

std::vector<Result> Client::query_all(std::string_view sql) {
    impl_->ensure_ready();
    const Deadline d = impl_->query_deadline();
    impl_->out.clear();
    protocol::query(impl_->out, sql);
    impl_->send(d);
    protocol::QueryFlow flow(protocol::QueryFlow::Kind::simple, impl_->session);
    return impl_->run(flow, d);
}

Result Client::execute(std::string_view sql, const Params& params) {
    impl_->ensure_ready();
    const Deadline d = impl_->query_deadline();
    auto& out = impl_->out;
    out.clear();
    std::vector<std::uint32_t> types;
    std::vector<protocol::BindParam> bp;
    types.reserve(params.size());
    bp.reserve(params.size());
    for (const auto& p : params) {
        types.push_back(p.type_oid);
        if (p.value) bp.push_back({p.value->data(), static_cast<std::int32_t>(p.value->size()), p.format});
        else bp.push_back({nullptr, 0, p.format});
    }
    protocol::parse(out, "", sql, types);
    protocol::bind(out, "", "", bp, {});
    protocol::describe(out, 'P', "");
    protocol::execute(out, "", 0);
    protocol::sync(out);
    impl_->send(d);
    protocol::QueryFlow flow(protocol::QueryFlow::Kind::extended, impl_->session);
    auto rs = impl_->run(flow, d);
    if (rs.empty()) return Result();
    return std::move(rs.back());
}

void Client::set_query_timeout(std::chrono::milliseconds timeout) noexcept { impl_->query_timeout = timeout; }

TransactionStatus Client::transaction_status() const noexcept {
    return is_open() ? impl_->session.transaction_status : TransactionStatus::unknown;
}

std::optional<std::string> Client::parameter_status(const std::string& name) const {
    if (auto it = impl_->session.parameters.find(name); it != impl_->session.parameters.end()) return it->second;
    return std::nullopt;
}

const ConnectionInfo& Client::info() const noexcept { return impl_->info; }
const Settings& Client::settings() const noexcept { return impl_->settings; }
int Client::socket() const noexcept { return impl_->channel.fd(); }

void Client::cancel() { impl_->cancel_request(); }

void Client::set_notice_handler(std::function<void(const Notice&)> handler) {
    impl_->session.notice_handler = std::move(handler);
}

std::vector<Notification> Client::take_notifications() {
    std::vector<Notification> v(impl_->session.notifications.begin(), impl_->session.notifications.end());
    impl_->session.notifications.clear();
    return v;
}

std::optional<Notification> Client::wait_for_notification(std::chrono::milliseconds timeout) {
    impl_->ensure_ready();
    const Deadline d = Clock::now() + timeout;
    auto& s = impl_->session;
    while (s.notifications.empty()) {
        while (auto m = impl_->reader.next()) {
            if (!s.handle_async(*m)) {
                impl_->healthy = false;
                throw Error(ErrorKind::protocol, std::string("unexpected ") + protocol::backend_message_name(m->type) +
                                                     " message from server while idle");
            }
        }
        if (!s.notifications.empty()) break;
        try {
            impl_->channel.read_some(impl_->reader, d);
        } catch (const Error& e) {
            if (e.kind() == ErrorKind::timeout) return std::nullopt;
            impl_->healthy = false;
            throw;
        }
    }
    Notification n = std::move(s.notifications.front());
    s.notifications.pop_front();
    return n;
}

}  // namespace pgtls
