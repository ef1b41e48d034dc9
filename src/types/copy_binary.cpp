// PostgreSQL's binary COPY stream (copy.sgml "Binary Format"): signature, flags, header
// extension, then per tuple a 16-bit field count and length-prefixed fields, ended by -1.
#include <cstring>

#include "pgtls/copy_rows.hpp"

namespace pgtls::detail {

namespace {

constexpr char signature[] = "PGCOPY\n\377\r\n";  // 11 bytes with its NUL
constexpr std::size_t signature_size = 11;

[[noreturn]] void bad_copy(const std::string& why) { conversion_error("malformed binary COPY data: " + why); }

}  // namespace

std::string binary_copy_header() {
    std::string h(signature, signature_size);
    write_be(h, 0, 4);  // flags: no OIDs
    write_be(h, 0, 4);  // header extension length
    return h;
}

void BinaryCopyParser::feed(std::string_view data) {
    if (pending_.empty()) {
        const std::size_t used = parse(data);
        pending_.assign(data.substr(used));
        return;
    }
    pending_.append(data);
    const std::size_t used = parse(pending_);
    pending_.erase(0, used);
}

void BinaryCopyParser::finish() const {
    if (!trailer_seen_) bad_copy(header_done_ ? "no trailer after the last tuple" : "no header");
}

std::size_t BinaryCopyParser::parse(std::string_view b) {
    std::size_t pos = 0;
    if (!header_done_) {
        if (b.size() < signature_size + 8) return 0;
        if (std::memcmp(b.data(), signature, signature_size) != 0) bad_copy("bad signature");
        const std::uint64_t flags = read_be(b.substr(signature_size), 4);
        if ((flags & 0xffff0000u) != 0 || (flags & (1u << 16)) != 0) bad_copy("unknown critical header flags");
        const std::uint64_t extension = read_be(b.substr(signature_size + 4), 4);
        if (b.size() - signature_size - 8 < extension) return 0;
        pos = signature_size + 8 + extension;
        header_done_ = true;
    }
    while (b.size() - pos >= 2) {
        if (trailer_seen_) bad_copy("data after the trailer");
        const auto count = static_cast<std::int16_t>(read_be(b.substr(pos), 2));
        if (count == -1) {
            trailer_seen_ = true;
            pos += 2;
            continue;
        }
        if (count < 0) bad_copy("negative field count");
        // Find the whole tuple before handing it out; an incomplete one waits for more data.
        std::size_t p = pos + 2;
        fields_.clear();
        bool complete = true;
        for (std::int16_t i = 0; i < count; ++i) {
            if (b.size() - p < 4) {
                complete = false;
                break;
            }
            const auto len = static_cast<std::int32_t>(read_be(b.substr(p), 4));
            p += 4;
            if (len < -1) bad_copy("negative field length");
            if (len == -1) {
                fields_.emplace_back(std::nullopt);
                continue;
            }
            if (b.size() - p < static_cast<std::size_t>(len)) {
                complete = false;
                break;
            }
            fields_.emplace_back(b.substr(p, static_cast<std::size_t>(len)));
            p += static_cast<std::size_t>(len);
        }
        if (!complete) break;
        on_tuple_(fields_);
        pos = p;
    }
    return pos;
}

}  // namespace pgtls::detail
