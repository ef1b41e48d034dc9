#include "protocol/message_reader.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "protocol/backend_messages.hpp"
#include "pgtls/error.hpp"

namespace pgtls::protocol {

namespace {

// libpq's VALID_LONG_MESSAGE_TYPE, plus ParameterDescription.
bool may_be_long(char type) noexcept {
    switch (type) {
        case 'T': case 'D': case 'd': case 'V': case 'E': case 'N': case 'A': case 't': return true;
        default: return false;
    }
}
}  // namespace

MessageReader::MessageReader(std::size_t max_message_size) : max_(max_message_size) { update_limits(); }

void MessageReader::set_max_message_size(std::size_t n) noexcept {
    max_ = n;
    update_limits();
}

void MessageReader::set_long_messages_allowed(bool allowed) noexcept {
    long_allowed_ = allowed;
    update_limits();
}

void MessageReader::update_limits() noexcept {
    const std::uint64_t by_max = std::min<std::uint64_t>(std::uint64_t{max_} + 4, 0x7fffffff);
    for (int t = 0; t < 256; ++t) {
        const char type = static_cast<char>(t);
        std::uint64_t cap = short_message_limit;
        if (type == 'R' || type == 'v') cap = auth_message_limit;
        else if (long_allowed_ && may_be_long(type)) cap = by_max;
        limits_[t] = static_cast<std::uint32_t>(std::min(cap, by_max));
    }
}

void MessageReader::reallocate(std::size_t capacity) {
    auto fresh = std::unique_ptr<std::uint8_t[]>(new std::uint8_t[capacity]);
    const std::size_t n = end_ - begin_;
    if (n) std::memcpy(fresh.get(), buf_.get() + begin_, n);
    buf_ = std::move(fresh);
    capacity_ = capacity;
    begin_ = 0;
    end_ = n;
}

std::span<std::uint8_t> MessageReader::prepare(std::size_t min) {
    if (begin_ == end_) begin_ = end_ = 0;
    min = std::max(min, read_size_);
    if (capacity_ - end_ < min) {
        // Compact first; grow (doubling, as bytes arrive) only if still short.
        if (begin_ > 0) {
            std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
            end_ -= begin_;
            begin_ = 0;
        }
        if (capacity_ - end_ < min) reallocate(std::max({capacity_ * 2, end_ + min, idle_capacity}));
    }
    offered_ = capacity_ - end_;
    return {buf_.get() + end_, offered_};
}

void MessageReader::shrink() {
    const std::size_t held = end_ - begin_;
    if (held > retained_capacity / 2) return;  // a large message still arriving
    reallocate(std::max(bulk_read_size, 2 * held));
}

BackendMessage MessageReader::idle_after(const std::uint8_t* body, std::size_t size) {
    if (size > ready_body_.size()) return {'Z', {body, size}};  // malformed: its parser says so
    std::memcpy(ready_body_.data(), body, size);
    buf_.reset();
    capacity_ = begin_ = end_ = offered_ = 0;
    read_size_ = idle_capacity;
    return {'Z', {ready_body_.data(), size}};
}

void MessageReader::feed(std::span<const std::uint8_t> bytes) {
    if (bytes.empty()) return;  // memcpy with the null data() of an empty buffer is UB
    auto space = prepare(bytes.size());
    std::memcpy(space.data(), bytes.data(), bytes.size());
    commit(bytes.size());
}

std::optional<char> MessageReader::first_buffered_type_not_in(std::string_view allowed) const noexcept {
    std::size_t at = begin_;
    while (at < end_) {
        const char type = char(buf_[at]);
        if (allowed.find(type) == std::string_view::npos) return type;
        if (end_ - at < 5) break;
        const std::uint32_t len = length_at(buf_.get() + at);
        if (len < 4) break;
        at += std::size_t(len) + 1;
    }
    return std::nullopt;
}

std::optional<BackendMessage> MessageReader::next_slow() {
    const std::size_t avail = end_ - begin_;
    if (avail < 5) return std::nullopt;
    const std::uint8_t* p = buf_.get() + begin_;
    const char type = char(p[0]);
    const std::uint32_t len = length_at(p);
    if (len < 4 || len > 0x7fffffffu)
        throw Error(ErrorKind::protocol, "server sent an invalid message length " +
                                             std::to_string(static_cast<std::int32_t>(len)) +
                                             " for message type '" + std::string(1, type) + "'");
    if (std::size_t(len) - 4 > max_)
        throw Error(ErrorKind::protocol, "server message of " + std::to_string(len) +
                                             " bytes exceeds the limit of " + std::to_string(max_) +
                                             " bytes (max_message_size)");
    if (len > limits_[std::uint8_t(type)])
        throw Error(ErrorKind::protocol, "server message of " + std::to_string(len) + " bytes exceeds the limit of " +
                                             std::to_string(limits_[std::uint8_t(type)]) + " bytes for " +
                                             backend_message_name(type) + " messages ('" + std::string(1, type) +
                                             "')" + (long_allowed_ ? "" : " before the session is established"));
    if (avail < std::size_t(len) + 1) return std::nullopt;  // the buffer grows as the rest arrives
    BackendMessage m{type, {p + 5, std::size_t(len) - 4}};
    begin_ += std::size_t(len) + 1;
    return m;
}

}  // namespace pgtls::protocol
