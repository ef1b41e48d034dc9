#include "core/protocol/message_reader.hpp"

#include <cstring>
#include <string>

#include "pgtls/error.hpp"

namespace pgtls::protocol {

MessageReader::MessageReader(std::size_t max_message_size) : max_(max_message_size) {}

std::span<std::uint8_t> MessageReader::prepare(std::size_t min) {
    if (begin_ == end_) begin_ = end_ = 0;
    if (buf_.size() - end_ < min) {
        // Compact first; grow only if still short.
        if (begin_ > 0) {
            std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
            end_ -= begin_;
            begin_ = 0;
        }
        if (buf_.size() - end_ < min) buf_.resize(std::max(buf_.size() * 2, end_ + min));
    }
    return {buf_.data() + end_, buf_.size() - end_};
}

void MessageReader::feed(std::span<const std::uint8_t> bytes) {
    if (bytes.empty()) return;  // memcpy with the null data() of an empty buffer is UB
    auto space = prepare(bytes.size());
    std::memcpy(space.data(), bytes.data(), bytes.size());
    commit(bytes.size());
}

std::optional<BackendMessage> MessageReader::next_slow() {
    const std::size_t avail = end_ - begin_;
    if (avail < 5) return std::nullopt;
    const std::uint8_t* p = buf_.data() + begin_;
    const std::uint32_t len = (std::uint32_t(p[1]) << 24) | (std::uint32_t(p[2]) << 16) |
                              (std::uint32_t(p[3]) << 8) | std::uint32_t(p[4]);
    if (len < 4 || len > 0x7fffffffu)
        throw Error(ErrorKind::protocol, "server sent an invalid message length " +
                                             std::to_string(static_cast<std::int32_t>(len)) +
                                             " for message type '" + std::string(1, char(p[0])) + "'");
    if (std::size_t(len) - 4 > max_)
        throw Error(ErrorKind::protocol, "server message of " + std::to_string(len) +
                                             " bytes exceeds the limit of " + std::to_string(max_) +
                                             " bytes (max_message_size)");
    if (avail < std::size_t(len) + 1) {
        // Make sure the buffer can hold the whole message on the next prepare().
        if (buf_.size() - begin_ < std::size_t(len) + 1) {
            std::memmove(buf_.data(), buf_.data() + begin_, avail);
            begin_ = 0;
            end_ = avail;
            buf_.resize(std::size_t(len) + 1 + 16 * 1024);
        }
        return std::nullopt;
    }
    BackendMessage m{char(p[0]), {p + 5, std::size_t(len) - 4}};
    begin_ += std::size_t(len) + 1;
    return m;
}

}  // namespace pgtls::protocol
