// Incremental decoder of backend messages: bytes arrive in arbitrary splits, whole messages
// come out. What a server's lengths can make the client hold is bounded:
//  - the buffer grows as bytes arrive, never to the length a header claims;
//  - a length is believed only up to the cap of its message type (below); above it, or
//    below 4, it is a protocol error, never an allocation;
//  - room a large message took is given back once it is consumed, and a buffer grown for a
//    stream of reads goes back to idle_capacity at a ReadyForQuery that leaves nothing
//    buffered, so an idle connection keeps a small buffer only.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

namespace pgtls::protocol {

struct BackendMessage {
    char type = 0;
    std::span<const std::uint8_t> body;  // valid until the reader is fed or consumed again
};

class MessageReader {
public:
    // Caps on a message's length field (which counts itself), as libpq's: the types that may
    // be long (DataRow, CopyData, RowDescription, ErrorResponse, NoticeResponse,
    // NotificationResponse, FunctionCallResponse, and ParameterDescription, which libpq
    // omits though 65,535 parameters make it 262 kB) up to max_message_size bytes of body;
    // Authentication and NegotiateProtocolVersion up to 2,000; every other type up to
    // 30,000. Until set_long_messages_allowed(true) (the session is established), no type
    // may be long. A reader starts with long messages allowed.
    static constexpr std::uint32_t short_message_limit = 30000;
    static constexpr std::uint32_t auth_message_limit = 2000;
    // A buffer grown beyond this is shrunk back once what it holds is small again.
    static constexpr std::size_t retained_capacity = std::size_t{1} << 20;
    // The buffer's size while replies are small, and again once the connection is idle
    // (a ReadyForQuery consumed with nothing after it). Reads offer at least this much room.
    static constexpr std::size_t idle_capacity = 2 * 1024;
    // Reads that fill the room they were offered double it, up to this (a TLS record's
    // plaintext), so a large result streams in record-sized reads.
    static constexpr std::size_t bulk_read_size = 16 * 1024;

    explicit MessageReader(std::size_t max_message_size = std::size_t{1} << 30);
    MessageReader(MessageReader&&) noexcept = default;
    MessageReader& operator=(MessageReader&&) noexcept = default;

    // Space to read into: at least `min` bytes, and at least the current read size (which
    // starts at idle_capacity and grows while reads fill what they are offered). Call
    // commit() with how many bytes were written.
    std::span<std::uint8_t> prepare(std::size_t min = 0);
    void commit(std::size_t n) noexcept {
        end_ += n;
        if (n == offered_ && read_size_ < bulk_read_size) [[unlikely]]
            read_size_ *= 2;
    }
    // Append bytes (tests and callers without a read buffer).
    void feed(std::span<const std::uint8_t> bytes);

    // Next complete message, or nullopt if more bytes are needed. Throws Error(protocol) on a
    // bad length. The returned body stays valid until the next call to next/prepare/feed.
    std::optional<BackendMessage> next() {
        if (capacity_ > retained_capacity) [[unlikely]]
            shrink();
        // Fast path (inline: several messages per query): a whole, valid message is buffered.
        const std::size_t avail = end_ - begin_;
        if (avail >= 5) {
            const std::uint8_t* p = buf_.get() + begin_;
            const std::uint32_t len = length_at(p);
            if (len >= 4 && len <= limits_[p[0]] && avail > std::size_t(len)) {
                begin_ += std::size_t(len) + 1;
                if (capacity_ > idle_capacity && begin_ == end_ && p[0] == 'Z') [[unlikely]]
                    return idle_after(p + 5, std::size_t(len) - 4);
                return BackendMessage{char(p[0]), {p + 5, std::size_t(len) - 4}};
            }
        }
        return next_slow();
    }

    // Raw bytes not yet consumed (for the one-byte SSLRequest reply).
    std::size_t buffered() const noexcept { return end_ - begin_; }
    std::span<const std::uint8_t> raw() const noexcept { return {buf_.get() + begin_, end_ - begin_}; }
    void consume_raw(std::size_t n) noexcept { begin_ += n; }
    // The type of the first buffered message (whole or begun) whose type is not one of
    // `allowed`, read from the headers without consuming anything; nullopt when there is none.
    // A header with an invalid length ends the scan (next() reports it).
    std::optional<char> first_buffered_type_not_in(std::string_view allowed) const noexcept;

    void set_max_message_size(std::size_t n) noexcept;
    std::size_t max_message_size() const noexcept { return max_; }
    // False while the session is being established (SSL negotiation, authentication).
    void set_long_messages_allowed(bool allowed) noexcept;
    // Bytes the buffer holds room for (tests: what the reader keeps).
    std::size_t capacity() const noexcept { return capacity_; }
    void clear() noexcept { begin_ = end_ = 0; }

private:
    // The length field of the message header at `p` (type byte, then 4 bytes big-endian).
    static std::uint32_t length_at(const std::uint8_t* p) noexcept {
        return (std::uint32_t(p[1]) << 24) | (std::uint32_t(p[2]) << 16) | (std::uint32_t(p[3]) << 8) | std::uint32_t(p[4]);
    }
    std::optional<BackendMessage> next_slow();
    // A ReadyForQuery (its body at `body`) was the last byte buffered: the connection is idle.
    // Releases the buffer (the next read allocates idle_capacity) and returns the message,
    // its body copied into the reader.
    BackendMessage idle_after(const std::uint8_t* body, std::size_t size);
    void shrink();
    void reallocate(std::size_t capacity);
    void update_limits() noexcept;
    // Not zero-filled: pages are touched only as bytes arrive.
    std::unique_ptr<std::uint8_t[]> buf_;
    std::size_t capacity_ = 0;
    std::size_t begin_ = 0, end_ = 0;
    std::size_t offered_ = 0;                  // room the last prepare() gave
    std::size_t read_size_ = idle_capacity;    // room a read is offered at least
    std::array<std::uint8_t, 8> ready_body_{};  // an idle ReadyForQuery's body, once the buffer is gone
    std::size_t max_;
    bool long_allowed_ = true;
    // The largest length field believed per type byte.
    std::array<std::uint32_t, 256> limits_{};
};

}  // namespace pgtls::protocol
