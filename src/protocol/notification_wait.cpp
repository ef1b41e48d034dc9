#include "protocol/notification_wait.hpp"

#include "protocol/backend_messages.hpp"

namespace pgtls::protocol {

Action NotificationWait::check(Timer timer) {
    try {
        while (auto m = wire_.in.next()) {
            if (wire_.session.handle_async(*m)) continue;
            // The FATAL a server sends before it closes an idle session (pg_terminate_backend,
            // idle_session_timeout, shutdown): the server's reason is the error, as for a query.
            if (m->type == 'E') throw ServerError(parse_error_fields(m->body));
            throw Error(ErrorKind::protocol,
                        std::string("unexpected ") + backend_message_name(m->type) + " message from server while idle");
        }
    } catch (const Error&) {
        done_ = true;
        return Action::failure(std::current_exception(), Action::Connection::retired);
    }
    // A notice handler that threw ends the wait too: the driver reports its exception.
    if (!wire_.session.notifications.empty() || wire_.session.callback_error) {
        done_ = true;
        return Action::success();
    }
    return Action::read(timer);
}

Action NotificationWait::resume(const Event& event) {
    if (done_) throw Error(ErrorKind::usage, ErrorCause::usage, "a notification wait was resumed after it finished");
    switch (event.kind) {
        case Event::Kind::start: return check(Timer::set(timeout_));
        case Event::Kind::read: return check(Timer::keep());
        case Event::Kind::timeout:
        case Event::Kind::cancel_requested: done_ = true; return Action::success();
        case Event::Kind::io_error:
            done_ = true;
            return Action::failure(std::make_exception_ptr(*event.error), Action::Connection::retired);
        default: break;
    }
    throw Error(ErrorKind::usage, ErrorCause::usage, "a notification wait was resumed with an unexpected event");
}

}  // namespace pgtls::protocol
