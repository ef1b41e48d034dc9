// Waiting for a notification on an idle session, sans I/O: consumes the asynchronous messages
// (NotificationResponse, NoticeResponse, ParameterStatus) until a notification is queued in
// SessionState::notifications or the timer expires (not an error: nothing came). An
// ErrorResponse (the FATAL before the server closes the session) ends the wait with that
// ServerError; any other message is a protocol error. Both retire the connection.
#pragma once

#include <chrono>

#include "protocol/algorithm.hpp"

namespace pgtls::protocol {

class NotificationWait final : public Algorithm {
public:
    Operation operation() const noexcept override { return Operation::notification_wait; }
    NotificationWait(Wire wire, std::chrono::milliseconds timeout) : wire_(wire), timeout_(timeout) {}
    Action resume(const Event& event) override;
    // Cancelling a wait ends it: no notification, the connection kept.
    bool cancellable() const noexcept override { return true; }

private:
    Action check(Timer timer);
    Wire wire_;
    std::chrono::milliseconds timeout_;
    bool done_ = false;
};

}  // namespace pgtls::protocol
