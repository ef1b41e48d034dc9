#include "core/protocol/session_state.hpp"

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

}  // namespace pgtls::protocol
