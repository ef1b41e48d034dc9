#include "csv_format.hpp"

#include <cstdint>
#include <cstring>
#include <string_view>

namespace pgtls::cli {
namespace {

// Bytes that make a field quoted: ',' '"' '\n' '\r', all below 0x2D. Checked a 64-bit word
// at a time (SWAR): (x - 0x01..*n) & ~x & 0x80.. is non-zero exactly when a byte of x is
// below n (n <= 0x80), so words of digits, '.', '-' and letters are cleared in three
// operations; only a word holding a smaller byte (a space, '+', ':' is not) is compared with
// each special byte. Fields are short, so this beats a byte loop without SIMD intrinsics.
constexpr std::uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;

constexpr std::uint64_t bytes_below(std::uint64_t x, std::uint8_t n) noexcept { return (x - ones * n) & ~x & highs; }

constexpr bool has_special_byte(std::uint64_t w) noexcept {
    if (bytes_below(w, 0x2D) == 0) return false;
    return (bytes_below(w ^ (ones * ','), 1) | bytes_below(w ^ (ones * '"'), 1) | bytes_below(w ^ (ones * '\n'), 1) |
            bytes_below(w ^ (ones * '\r'), 1)) != 0;
}

template <typename T>
T load(const char* p) noexcept {
    T w;
    std::memcpy(&w, p, sizeof w);
    return w;
}

// A word holding every byte of a field shorter than 8 (some twice, the rest 'A').
std::uint64_t short_field_word(const char* p, std::size_t n) noexcept {
    if (n >= 4) return load<std::uint32_t>(p) | std::uint64_t{load<std::uint32_t>(p + n - 4)} << 32;
    const auto byte = [&](std::size_t i) { return std::uint64_t{static_cast<unsigned char>(p[i])}; };
    return byte(0) | byte(n / 2) << 8 | byte(n - 1) << 16 | (ones * 'A' & ~std::uint64_t{0xFFFFFF});
}

bool needs_quotes(std::string_view v) noexcept {
    // Empty: tells an empty string from NULL. "\.": a line holding only it ends COPY FROM's
    // data, so psql quotes it too.
    if (v.empty() || v == "\\.") return true;
    const char* p = v.data();
    const std::size_t n = v.size();
    if (n < 8) return has_special_byte(short_field_word(p, n));
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8)
        if (has_special_byte(load<std::uint64_t>(p + i))) return true;
    // The last word overlaps the previous one instead of a byte loop for the tail.
    return i < n && has_special_byte(load<std::uint64_t>(p + n - 8));
}

void write_field(OutputBuffer& out, std::string_view v) {
    if (!needs_quotes(v)) {
        out.append(v);
        return;
    }
    out.append('"');
    for (std::size_t q; (q = v.find('"')) != std::string_view::npos; v.remove_prefix(q + 1)) {
        out.append(v.substr(0, q + 1));
        out.append('"');
    }
    out.append(v);
    out.append('"');
}

}  // namespace

void write_csv_header(OutputBuffer& out, const std::vector<Column>& columns) {
    for (std::size_t c = 0; c < columns.size(); ++c) {
        if (c) out.append(',');
        write_field(out, columns[c].name);
    }
    out.append('\n');
}

void write_csv_row(OutputBuffer& out, const Row& row) {
    const std::size_t n = row.size();
    for (std::size_t c = 0; c < n; ++c) {
        if (c) out.append(',');
        const Field f = row[c];
        if (!f.is_null()) write_field(out, f.view());
    }
    out.append('\n');
}

}  // namespace pgtls::cli
