#include "core/protocol/session_state.hpp"

#include <algorithm>

#include "core/protocol/backend_messages.hpp"

namespace pgtls::protocol {

bool SessionState::handle_async(const BackendMessage& m) {
    switch (m.type) {
        case 'N': {
            Notice n{parse_error_fields(m.body)};
            if (notice_handler) notice_handler(n);
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

}  // namespace pgtls::protocol
