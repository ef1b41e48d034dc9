// A minimal DER (X.690) reader over a byte span, for the few structures a TLS library does not
// decode for us (subjectAltName iPAddress entries, RSA-PSS parameters, PBES2 PKCS#8 keys, the
// certificate signature algorithm src/tls/certificate_signature reads for tls-server-end-point).
// The one DER reader of the project: backends and auth share it.
// Definite lengths only (DER forbids the rest); every read is bounds-checked and reports
// failure instead of throwing, so hostile input cannot crash the caller.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace pgtls::tls {

struct DerElement {
    std::uint8_t tag = 0;                  // identifier octet (single-byte tags only)
    std::span<const std::uint8_t> value;   // contents octets
    std::span<const std::uint8_t> whole;   // identifier + length + contents
};

class DerReader {
public:
    explicit DerReader(std::span<const std::uint8_t> data) noexcept : rest_(data) {}

    bool at_end() const noexcept { return rest_.empty(); }
    // Identifier octet of the next element, or -1 at the end.
    int peek_tag() const noexcept { return rest_.empty() ? -1 : rest_[0]; }

    // Reads the next element whatever its tag. False on truncated or malformed input.
    bool next(DerElement& out) noexcept {
        if (rest_.size() < 2) return false;
        const std::uint8_t tag = rest_[0];
        if ((tag & 0x1f) == 0x1f) return false;  // multi-byte tags never occur in what we read
        std::size_t pos = 1;
        std::size_t len = rest_[pos++];
        if (len & 0x80) {
            const std::size_t n = len & 0x7f;
            if (n == 0 || n > sizeof(std::size_t) || rest_.size() - pos < n) return false;
            len = 0;
            for (std::size_t i = 0; i < n; ++i) len = (len << 8) | rest_[pos++];
        }
        if (rest_.size() - pos < len) return false;
        out.tag = tag;
        out.value = rest_.subspan(pos, len);
        out.whole = rest_.subspan(0, pos + len);
        rest_ = rest_.subspan(pos + len);
        return true;
    }

    // Reads the next element and requires its tag.
    bool expect(std::uint8_t tag, DerElement& out) noexcept { return peek_tag() == tag && next(out); }

    // Skips the next element if it has `tag`; true when skipped.
    bool skip_if(std::uint8_t tag) noexcept {
        DerElement ignored;
        return peek_tag() == tag && next(ignored);
    }

private:
    std::span<const std::uint8_t> rest_;
};

namespace der {
inline constexpr std::uint8_t integer = 0x02;
inline constexpr std::uint8_t bit_string = 0x03;
inline constexpr std::uint8_t octet_string = 0x04;
inline constexpr std::uint8_t null = 0x05;
inline constexpr std::uint8_t oid = 0x06;
inline constexpr std::uint8_t boolean = 0x01;
inline constexpr std::uint8_t sequence = 0x30;
inline constexpr std::uint8_t context(unsigned n, bool constructed) {
    return static_cast<std::uint8_t>(0x80 | (constructed ? 0x20 : 0) | n);
}
}  // namespace der

}  // namespace pgtls::tls
