// State of an established session that every flow updates: server parameters, transaction
// status, and the asynchronous traffic (notices, notifications) that may arrive at any time.
#pragma once

#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <vector>
#include <string>
#include <string_view>

#include "protocol/message_reader.hpp"
#include "pgtls/config.hpp"
#include "pgtls/session.hpp"

namespace pgtls::protocol {

struct SessionState {
    // Caps on what the server's replies can make the session hold (Settings::max_result_bytes
    // and the rest); exceeding one is Error(protocol) naming it.
    struct Limits {
        std::size_t result_bytes = std::size_t{1} << 30;
        std::size_t result_rows = 100'000'000;
        std::size_t result_sets = 100'000;
        std::size_t notifications = 100'000;
        bool drop_oldest_notification = false;
        std::size_t parameter_status = 1'000;
        static Limits from(const Settings& s);
    };
    Limits limits;
    // What the request in progress keeps (rows, their bytes, results); a request's flow
    // starts it from zero.
    struct Held {
        std::size_t bytes = 0, rows = 0, sets = 0;
    } held;
    // Count a kept row of `bytes` (its DataRow body and field table) / a finished result.
    void hold_row(std::size_t bytes);
    void hold_result();

    std::map<std::string, std::string, std::less<>> parameters;
    TransactionStatus transaction_status = TransactionStatus::unknown;
    std::function<void(const Notice&)> notice_handler;
    std::deque<Notification> notifications;
    // The first exception a user callback (notice handler, row or COPY data callback) threw
    // during the current request. The flows keep consuming the reply to ReadyForQuery (the
    // driver bounds that drain) and call no user callback after it; the driver rethrows it.
    std::exception_ptr callback_error;
    // Runs a user callback, capturing whatever it throws in callback_error; does nothing
    // once a callback of this request has thrown.
    template <class F>
    void call_user(F&& f) noexcept {
        if (callback_error) return;
        try {
            f();
        } catch (...) {
            callback_error = std::current_exception();
        }
    }
    // A LISTEN completed (command tag) since the session started or the last DISCARD ALL /
    // Client::unlisten_all(): the session may be subscribed to channels. A pool ends a lease's
    // subscriptions with it; a LISTEN run inside a function is not seen.
    bool listen_seen = false;
    // Every CommandComplete's tag passes here (simple, extended and pipelined queries).
    void note_command_tag(std::string_view tag) noexcept {
        if (tag == "LISTEN")
            listen_seen = true;
        else if (tag == "DISCARD ALL")
            listen_seen = false;
    }
    // The last RowDescription, so a repeated one (the same query again) is not parsed again.
    std::vector<std::uint8_t> last_row_description;
    std::shared_ptr<const std::vector<Column>> last_columns;
    std::shared_ptr<const std::vector<Column>> columns_for(std::span<const std::uint8_t> row_description);
    // A prepared statement's columns with every format set to `format`, shared with the
    // previous call when equal (executing one statement again allocates no column list).
    std::shared_ptr<const std::vector<Column>> columns_like(const std::vector<Column>& columns, std::int16_t format);
    std::shared_ptr<const std::vector<Column>> last_prepared_columns;

    // Handles NoticeResponse, NotificationResponse and ParameterStatus; returns false for any
    // other message type. Throws Error(protocol) past max_notifications (unless dropping the
    // oldest) or max_parameter_status.
    bool handle_async(const BackendMessage& m);
};

}  // namespace pgtls::protocol
