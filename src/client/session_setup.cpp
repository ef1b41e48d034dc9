#include "client/session_setup.hpp"

#include <random>

#include "auth/authenticator.hpp"
#include "protocol/frontend.hpp"
#include "tls/hostname.hpp"
#include "transport/gss_session.hpp"

namespace pgtls {

std::string sni_for(const Settings& settings, const HostTarget& target) {
    if (settings.sslsni && !target.host.empty() && !target.is_unix_socket() && tls::host_wants_sni(target.host))
        return target.host;
    return {};
}

protocol::ConnectOptions connect_options(const Settings& settings) {
    protocol::ConnectOptions o;
    o.hosts = settings.hosts;
    o.sslmode = settings.sslmode;
    o.negotiation = settings.sslnegotiation;
    o.target_session_attrs = settings.target_session_attrs;
    o.shuffle_hosts = settings.load_balance_hosts == LoadBalanceHosts::random;
    if (o.shuffle_hosts) {
        std::random_device rd;
        o.seed = (std::uint64_t{rd()} << 32) ^ rd();
    }
    o.connect_timeout = settings.connect_timeout;
    o.verify_full = settings.sslmode == SslMode::verify_full;
    o.require_client_certificate = settings.sslcertmode == SslCertMode::require;
    o.max_message_size = settings.max_message_size;
    o.limits = protocol::SessionState::Limits::from(settings);
    o.gssencmode = settings.gssencmode;
    if (transport::gss_available()) o.gss_credentials = [] { return transport::gss_credentials_available(); };
    return o;
}

transport::SocketOptions socket_options(const Settings& settings) {
    return transport::SocketOptions{settings.keepalives, settings.keepalives_idle, settings.keepalives_interval,
                                    settings.keepalives_count, settings.tcp_user_timeout};
}

protocol::StartupOptions startup_options(const Settings& settings, const HostTarget& target, protocol::TlsStart tls,
                                         const crypto::Provider& crypto, protocol::SessionState& session) {
    protocol::StartupOptions opt;
    opt.tls = tls;
    opt.sni = sni_for(settings, target);
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
    opt.auth.crypto = &crypto;
    const Settings* s = &settings;
    protocol::SessionState* st = &session;
    opt.auth.get_password = [s, t = target, st]() -> std::optional<std::string> {
        // Explicit password, else .pgpass for this host (libpq's rules), else the callback.
        // A .pgpass ignored for its permissions is reported as a pgtls warning (libpq prints
        // it to stderr), not dropped silently.
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
            // Without the password the attempt cannot go on: the connect ends with the
            // callback's exception.
            if (st->callback_error) throw Error(ErrorKind::authentication, "the password callback threw");
            return got;
        }
        return std::nullopt;
    };
    return opt;
}

ConnectionInfo connection_info(const HostTarget& target, const std::string& address, protocol::TlsStart tls,
                               const protocol::TlsUp* up, const tls::Backend* backend,
                               const protocol::StartupFlow& startup, const protocol::SessionState& session) {
    ConnectionInfo info;
    info.host = target.host;
    info.port = target.port;
    info.address = address;
    info.encryption = tls == protocol::TlsStart::gss ? "gss" : tls != protocol::TlsStart::none ? "tls" : "plaintext";
    if (up) {
        info.ssl = true;
        info.negotiation = tls == protocol::TlsStart::direct ? "direct" : "postgres";
        if (backend) {
            info.backend = std::string(backend->name());
            info.backend_version = backend->library_version();
        }
        info.tls_version = up->info.protocol;
        info.cipher = up->info.cipher;
        info.alpn = up->info.alpn;
        info.client_cert_sent = up->client_certificate_sent;
        if (up->peer) {
            info.server_cert_subject = up->peer->subject;
            info.server_cert_issuer = up->peer->issuer;
        }
    }
    info.backend_pid = startup.backend_key().pid;
    info.protocol_version = std::to_string(startup.protocol_version() >> 16) + "." +
                            std::to_string(startup.protocol_version() & 0xffff);
    if (const auto* a = startup.authenticator()) {
        info.auth_method = a->method_used();
        info.channel_binding = a->channel_binding_used();
    }
    if (auto it = session.parameters.find("server_version"); it != session.parameters.end())
        info.server_version = it->second;
    return info;
}

protocol::CancelOptions cancel_options(const Settings& settings, const HostTarget& target, const std::string& address,
                                       protocol::TlsStart tls, bool verify_full, const protocol::BackendKey& key) {
    protocol::CancelOptions o;
    o.target = target;
    if (!o.target.is_unix_socket()) o.target.hostaddr = address;
    o.tls = tls;
    o.sni = sni_for(settings, target);
    o.host = target.host;
    o.gss_service = settings.krbsrvname;
    o.verify_full = verify_full;
    o.pid = key.pid;
    o.secret = key.secret;
    o.grace = std::chrono::seconds(settings.connect_timeout.count() > 0 ? settings.connect_timeout.count() : 30);
    return o;
}

}  // namespace pgtls
