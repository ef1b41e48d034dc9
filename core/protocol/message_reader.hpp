// Incremental decoder of backend messages: bytes arrive in arbitrary splits, whole messages
// come out. A message whose length exceeds the cap (or is below 4) is a protocol error,
// never an allocation of whatever the server claims.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace pgtls::protocol {

struct BackendMessage {
    char type = 0;
    std::span<const std::uint8_t> body;  // valid until the reader is fed or consumed again
};

class MessageReader {
public:
    explicit MessageReader(std::size_t max_message_size = std::size_t{1} << 30);

    // Space to read into: at least `min` bytes. Call commit() with how many were written.
    std::span<std::uint8_t> prepare(std::size_t min = 16 * 1024);
    void commit(std::size_t n) noexcept { end_ += n; }
    // Append bytes (tests and callers without a read buffer).
    void feed(std::span<const std::uint8_t> bytes);

    // Next complete message, or nullopt if more bytes are needed. Throws Error(protocol) on a
    // bad length. The returned body stays valid until the next call to next/prepare/feed.
    std::optional<BackendMessage> next() {
        // Fast path (inline: several messages per query): a whole, valid message is buffered.
        const std::size_t avail = end_ - begin_;
        if (avail >= 5) {
            const std::uint8_t* p = buf_.data() + begin_;
            const std::uint32_t len = (std::uint32_t(p[1]) << 24) | (std::uint32_t(p[2]) << 16) |
                                      (std::uint32_t(p[3]) << 8) | std::uint32_t(p[4]);
            if (len >= 4 && len <= 0x7fffffffu && std::size_t(len) - 4 <= max_ && avail > std::size_t(len)) {
                begin_ += std::size_t(len) + 1;
                return BackendMessage{char(p[0]), {p + 5, std::size_t(len) - 4}};
            }
        }
        return next_slow();
    }

    // Raw bytes not yet consumed (for the one-byte SSLRequest reply).
    std::size_t buffered() const noexcept { return end_ - begin_; }
    std::span<const std::uint8_t> raw() const noexcept { return {buf_.data() + begin_, end_ - begin_}; }
    void consume_raw(std::size_t n) noexcept { begin_ += n; }

    void set_max_message_size(std::size_t n) noexcept { max_ = n; }
    std::size_t max_message_size() const noexcept { return max_; }
    void clear() noexcept { begin_ = end_ = 0; }

private:
    std::optional<BackendMessage> next_slow();
    std::vector<std::uint8_t> buf_;
    std::size_t begin_ = 0, end_ = 0;
    std::size_t max_;
};

}  // namespace pgtls::protocol
