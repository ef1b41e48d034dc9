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

#include "core/protocol/message_reader.hpp"
#include "pgtls/client.hpp"

namespace pgtls::protocol {

struct SessionState {
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
    // The last RowDescription, so a repeated one (the same query again) is not parsed again.
    std::vector<std::uint8_t> last_row_description;
    std::shared_ptr<const std::vector<Column>> last_columns;
    std::shared_ptr<const std::vector<Column>> columns_for(std::span<const std::uint8_t> row_description);
    // A prepared statement's columns with every format set to `format`, shared with the
    // previous call when equal (executing one statement again allocates no column list).
    std::shared_ptr<const std::vector<Column>> columns_like(const std::vector<Column>& columns, std::int16_t format);
    std::shared_ptr<const std::vector<Column>> last_prepared_columns;

    // Handles NoticeResponse, NotificationResponse and ParameterStatus; returns false for any
    // other message type.
    bool handle_async(const BackendMessage& m);
};

}  // namespace pgtls::protocol
