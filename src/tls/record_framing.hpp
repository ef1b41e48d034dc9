// Follows the TLS record framing of the bytes a backend receives, so that an end of stream can
// be told apart: between records (a server that closed without close_notify, which pgtls reads
// as a closed connection) or inside one (a stream cut in the middle of a record). For the
// backends that read the socket through a callback of theirs; every backend reports the cut
// with kEofInsideRecord.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pgtls::tls {

inline constexpr const char* kEofInsideRecord =
    "server closed the connection unexpectedly while reading (EOF in the middle of a TLS record)";

class RecordFraming {
public:
    // The next `n` bytes of the stream, in order.
    void received(const void* data, std::size_t n) noexcept {
        const auto* p = static_cast<const std::uint8_t*>(data);
        while (n > 0) {
            if (body_left_ > 0) {
                const std::size_t skip = n < body_left_ ? n : body_left_;
                body_left_ -= skip;
                p += skip;
                n -= skip;
                continue;
            }
            header_[header_have_++] = *p++;
            --n;
            if (header_have_ == sizeof header_) {  // type, version (2), length (2)
                body_left_ = static_cast<std::size_t>(header_[3]) << 8 | header_[4];
                header_have_ = 0;
            }
        }
    }
    bool inside_record() const noexcept { return header_have_ > 0 || body_left_ > 0; }

private:
    std::uint8_t header_[5] = {};
    std::size_t header_have_ = 0;
    std::size_t body_left_ = 0;
};

}  // namespace pgtls::tls
