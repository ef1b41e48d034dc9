#include "core/async/connect_attempt.hpp"

#include "core/protocol/tls_checks.hpp"
#include "core/session_setup.hpp"

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
    protocol::StartupOptions opt = startup_options(settings, t, tls_, crypto, wire.session);
    startup_ = std::make_unique<protocol::StartupFlow>(std::move(opt), wire);
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
