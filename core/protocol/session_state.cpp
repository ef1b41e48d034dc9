#include "core/protocol/session_state.hpp"

#include <algorithm>

#include "core/protocol/backend_messages.hpp"

namespace pgtls::protocol {

bool SessionState::handle_async(const BackendMessage& m) {
    switch (m.type) {
        case 'N': {
            Notice n{parse_error_fields(m.body)};
            if (notice_handler) call_user([&] { notice_handler(n); });
            return true;
        }
        case 'A': {
            auto n = parse_notification(m.body);
            notifications.push_back(std::move(n));
            return true;
        }
        case 'S': {
            auto [k, v] = parse_parameter_status(m.body);
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
