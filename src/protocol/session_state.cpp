#include "protocol/session_state.hpp"

#include <algorithm>

#include "protocol/backend_messages.hpp"

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

}  // namespace pgtls

namespace pgtls::protocol {

SessionState::Limits SessionState::Limits::from(const Settings& s) {
    Limits l;
    l.result_bytes = s.max_result_bytes;
    l.result_rows = s.max_result_rows;
    l.result_sets = s.max_result_sets;
    l.notifications = s.max_notifications;
    l.drop_oldest_notification = s.notification_overflow == NotificationOverflow::drop_oldest;
    l.parameter_status = s.max_parameter_status;
    return l;
}

namespace {
[[noreturn]] void over_cap(const std::string& what, const char* keyword, std::size_t cap) {
    throw Error(ErrorKind::protocol, "server sent " + what + " than " + keyword + "=" + std::to_string(cap) +
                                         " allows; the connection is closed");
}

// PostgreSQL's client-only encodings: a byte of a multibyte character may be an ASCII byte
// (a backslash among them), so the server refuses them as server encodings. The text forms of
// arrays, composites and ranges are parsed and built byte by byte, and would split such a
// character at its backslash: an element read wrong, a quote smuggled into a composite sent.
// So a session in one of them is refused (tokio-postgres, for one, only ever asks for UTF8).
// The server reports the canonical name, whatever alias was asked for (sjis, mskanji, win932).
void refuse_ascii_unsafe_encoding(const std::string& name) {
    static constexpr std::string_view unsafe[] = {"SJIS", "SHIFT_JIS_2004", "BIG5", "GBK", "UHC", "GB18030", "JOHAB"};
    if (std::find(std::begin(unsafe), std::end(unsafe), name) == std::end(unsafe)) return;
    throw Error(ErrorKind::config, ErrorCause::config,
                "client_encoding " + name +
                    " is not supported: its multibyte characters may contain ASCII bytes such as '\\', which "
                    "the text forms of arrays, composites and ranges would split; use UTF8 (the server "
                    "converts) or another encoding PostgreSQL accepts as a server encoding; the "
                    "connection is closed");
}
}  // namespace

void SessionState::hold_row(std::size_t bytes) {
    if (++held.rows > limits.result_rows) over_cap("more rows for one request", "max_result_rows", limits.result_rows);
    held.bytes += bytes;
    if (held.bytes > limits.result_bytes)
        over_cap("more bytes of rows for one request", "max_result_bytes", limits.result_bytes);
}

void SessionState::hold_result() {
    if (++held.sets > limits.result_sets)
        over_cap("more results for one request", "max_result_sets", limits.result_sets);
    held.bytes += sizeof(Result);
    if (held.bytes > limits.result_bytes)
        over_cap("more bytes of results for one request", "max_result_bytes", limits.result_bytes);
}

bool SessionState::handle_async(const BackendMessage& m) {
    switch (m.type) {
        case 'N': {
            Notice n{parse_error_fields(m.body)};
            if (notice_handler) call_user([&] { notice_handler(n); });
            return true;
        }
        case 'A': {
            auto n = parse_notification(m.body);
            if (notifications.size() >= limits.notifications) {
                if (!limits.drop_oldest_notification)
                    over_cap("more notifications not yet taken", "max_notifications", limits.notifications);
                notifications.pop_front();
            }
            notifications.push_back(std::move(n));
            return true;
        }
        case 'S': {
            auto [k, v] = parse_parameter_status(m.body);
            if (k == "client_encoding") refuse_ascii_unsafe_encoding(v);
            if (parameters.size() >= limits.parameter_status && parameters.find(k) == parameters.end())
                over_cap("more distinct ParameterStatus names", "max_parameter_status", limits.parameter_status);
            parameters[std::move(k)] = std::move(v);
            return true;
        }
        default: return false;
    }
}

std::shared_ptr<const std::vector<Column>> SessionState::columns_for(std::span<const std::uint8_t> body) {
    if (last_columns && body.size() == last_row_description.size() &&
        std::equal(body.begin(), body.end(), last_row_description.begin()))
        return last_columns;
    last_columns = std::make_shared<const std::vector<Column>>(parse_row_description(body));
    last_row_description.assign(body.begin(), body.end());
    return last_columns;
}

std::shared_ptr<const std::vector<Column>> SessionState::columns_like(const std::vector<Column>& columns,
                                                                     std::int16_t format) {
    const auto same = [format](const Column& a, const Column& b) {
        return a.format == format && a.type_oid == b.type_oid && a.table_oid == b.table_oid &&
               a.column_number == b.column_number && a.type_size == b.type_size &&
               a.type_modifier == b.type_modifier && a.name == b.name;
    };
    if (last_prepared_columns && std::equal(last_prepared_columns->begin(), last_prepared_columns->end(),
                                            columns.begin(), columns.end(), same))
        return last_prepared_columns;
    auto copy = std::make_shared<std::vector<Column>>(columns);
    for (auto& c : *copy) c.format = format;
    last_prepared_columns = std::move(copy);
    return last_prepared_columns;
}

}  // namespace pgtls::protocol
