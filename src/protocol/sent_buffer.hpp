// What a driver does with Wire::out once its bytes are sent.
#pragma once

#include <string>

#include "protocol/message_reader.hpp"

namespace pgtls::protocol {

// Empties `out` and gives back the room a large message (a big parameter) took, as
// MessageReader does for large replies, so an idle connection does not keep it: a 64 MiB
// parameter left 128 MiB behind. Small buffers keep their capacity (no allocation per query).
inline void clear_sent(std::string& out) noexcept {
    out.clear();
    if (out.capacity() > MessageReader::retained_capacity) [[unlikely]]
        std::string().swap(out);
}

}  // namespace pgtls::protocol
