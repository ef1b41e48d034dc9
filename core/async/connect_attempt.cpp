#include "core/async/connect_attempt.hpp"

#include "core/protocol/frontend.hpp"
#include "core/protocol/tls_checks.hpp"
#include "core/tls/hostname.hpp"

namespace pgtls::async {

using protocol::Action;
using protocol::Event;

namespace {
Action refuse(const std::string& what) {
    return Action::failure(std::make_exception_ptr(Error(ErrorKind::usage, ErrorCause::usage,
                                                         "the non-blocking connection does not yet support " + what)),
                           Action::Connection::retired);
}
}  // namespace

ConnectAttempt::ConnectAttempt(const Settings& settings, protocol::Wire wire, const crypto::Provider& crypto,
                               bool verify_full)
    : settings_(settings), wire_(wire), verify_full_(verify_full) {
    const HostTarget& t = settings.hosts.empty() ? HostTarget{} : settings.hosts.front();
    if (!t.is_unix_socket() && settings.sslmode >= SslMode::require)
        tls_ = settings.sslnegotiation == SslNegotiation::direct ? protocol::TlsStart::direct
                                                                 : protocol::TlsStart::ssl_request;
    protocol::StartupOptions opt;
    opt.tls = tls_;
    opt.sni = settings.hosts.empty() ? std::string() : sni();
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
    opt.auth.crypto = &crypto;
    const Settings* s = &settings_;
    HostTarget target = t;
    opt.auth.get_password = [s, target]() -> std::optional<std::string> { return password_for_host(*s, target, nullptr); };
    startup_ = std::make_unique<protocol::StartupFlow>(std::move(opt), wire);
}

std::string ConnectAttempt::sni() const {
    const HostTarget& t = target();
    if (settings_.sslsni && !t.host.empty() && !t.is_unix_socket() && tls::host_wants_sni(t.host)) return t.host;
    return {};
}

Action ConnectAttempt::resume(const Event& event) {
    if (!opened_) {
        if (event.kind == Event::Kind::start) {
            if (settings_.hosts.size() != 1) return refuse("several hosts (connect with Client, or give one host)");
            if (settings_.sslmode == SslMode::allow || settings_.sslmode == SslMode::prefer)
                if (!target().is_unix_socket()) return refuse("sslmode=allow or prefer (use disable, require or verify-*)");
            if (settings_.target_session_attrs != TargetSessionAttrs::any) return refuse("target_session_attrs");
            if (settings_.password_callback) return refuse("a password callback");
            protocol::Timer timer = protocol::Timer::clear();
            if (settings_.connect_timeout.count() > 0)
                timer = protocol::Timer::set(std::max<std::chrono::milliseconds>(settings_.connect_timeout, std::chrono::seconds(2)));
            return Action::open_socket(target(), timer);
        }
        if (event.kind == Event::Kind::socket_open) {
            opened_ = true;
            address_ = std::string(event.address);
            return startup_->resume(Event::start());
        }
        if (event.kind == Event::Kind::timeout)
            return Action::failure(std::make_exception_ptr(Error(ErrorKind::timeout, ErrorCause::connect_timeout, "timeout expired")),
                                   Action::Connection::retired);
        if (event.kind == Event::Kind::io_error)
            return Action::failure(std::make_exception_ptr(*event.error), Action::Connection::retired);
        throw Error(ErrorKind::usage, ErrorCause::usage, "ConnectAttempt resumed with an event it never asked for");
    }
    if (event.kind == Event::Kind::tls_up && event.tls) {
        try {
            protocol::check_tls_up(*event.tls, {tls_, verify_full_, target().host,
                                                settings_.sslcertmode == SslCertMode::require});
        } catch (const Error&) {
            return Action::failure(std::current_exception(), Action::Connection::retired);
        }
        tls_up_ = *event.tls;
        tls_done_ = true;
    }
    if (event.kind == Event::Kind::io_error && tls_ == protocol::TlsStart::direct && !tls_done_ && event.error &&
        event.error->kind() == ErrorKind::tls)
        return Action::failure(std::make_exception_ptr(Error(ErrorKind::tls, ErrorCause::tls_handshake,
                                                             protocol::with_direct_negotiation_hint(event.error->what(), tls_))),
                               Action::Connection::retired);
    return startup_->resume(event);
}

}  // namespace pgtls::async
