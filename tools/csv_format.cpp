#include "csv_format.hpp"

#include <cstdint>
#include <cstring>
#include <string_view>

#if defined(__SSE2__) && !defined(PGTLS_CSV_PORTABLE_SCAN)
#include <emmintrin.h>
#endif

namespace pgtls::cli {
namespace {

// Bytes that make a field quoted: ',' '"' '\n' '\r'. Checked a 64-bit word at a time: with
// SSE2 (every x86-64) by four byte compares; elsewhere (or with PGTLS_CSV_PORTABLE_SCAN, as
// tests/tools builds it a second time) by SWAR, where (x - 0x01..*n) & ~x &
// 0x80.. is non-zero exactly when a byte of x is below n (n <= 0x80). Fields are short (a
// number, a timestamp), so words beat a byte loop.
constexpr std::uint64_t ones = 0x0101010101010101ull;

#if defined(__SSE2__) && !defined(PGTLS_CSV_PORTABLE_SCAN)
inline bool has_special_byte(std::uint64_t w) noexcept {
    const __m128i x = _mm_cvtsi64_si128(static_cast<long long>(w));  // upper half zero: not special
    const __m128i hits = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(',')), _mm_cmpeq_epi8(x, _mm_set1_epi8('"'))),
                                      _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('\n')), _mm_cmpeq_epi8(x, _mm_set1_epi8('\r'))));
    return _mm_movemask_epi8(hits) != 0;
}
#else
constexpr std::uint64_t highs = 0x8080808080808080ull;
constexpr std::uint64_t bytes_below(std::uint64_t x, std::uint8_t n) noexcept { return (x - ones * n) & ~x & highs; }
// All four are below 0x2D: a word of digits, '.', '-' and letters is cleared in three operations.
constexpr bool has_special_byte(std::uint64_t w) noexcept {
    if (bytes_below(w, 0x2D) == 0) return false;
    return (bytes_below(w ^ (ones * ','), 1) | bytes_below(w ^ (ones * '"'), 1) | bytes_below(w ^ (ones * '\n'), 1) |
            bytes_below(w ^ (ones * '\r'), 1)) != 0;
}
#endif

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

template <typename T>
void store(char* p, T w) noexcept {
    std::memcpy(p, &w, sizeof w);
}

// Copies `v` (not empty) to `dst` unless it needs quotes; returns whether it does. Reads and
// writes whole words, the last one overlapping the one before, never beyond `v` or
// dst + v.size().
bool copy_unless_quoted(std::string_view v, char* dst) noexcept {
    const char* p = v.data();
    const std::size_t n = v.size();
    if (n < 8) {
        // "\.": a line holding only it ends COPY FROM's data, so psql quotes it too.
        if (has_special_byte(short_field_word(p, n)) || (n == 2 && p[0] == '\\' && p[1] == '.')) return true;
        if (n >= 4) {
            store(dst, load<std::uint32_t>(p));
            store(dst + n - 4, load<std::uint32_t>(p + n - 4));
        } else {
            for (std::size_t i = 0; i < n; ++i) dst[i] = p[i];
        }
        return false;
    }
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const auto w = load<std::uint64_t>(p + i);
        if (has_special_byte(w)) return true;
        store(dst + i, w);
    }
    if (i < n) {
        const auto w = load<std::uint64_t>(p + n - 8);
        if (has_special_byte(w)) return true;
        store(dst + n - 8, w);
    }
    return false;
}

void write_quoted(char* dst, std::string_view v, OutputBuffer& out) noexcept {
    *dst++ = '"';
    for (char c : v) {
        if (c == '"') *dst++ = '"';
        *dst++ = c;
    }
    *dst++ = '"';
    out.commit(dst);
}

bool needs_quotes(std::string_view v) noexcept {
    if (v.size() < 8) return v.empty() || v == "\\." || has_special_byte(short_field_word(v.data(), v.size()));
    std::size_t i = 0;
    for (; i + 8 <= v.size(); i += 8)
        if (has_special_byte(load<std::uint64_t>(v.data() + i))) return true;
    return i < v.size() && has_special_byte(load<std::uint64_t>(v.data() + v.size() - 8));
}

// A field is copied (or quoted) straight into the buffer; one whose doubled worst case does
// not fit an empty buffer goes through append() in pieces. Inlined: called once per field.
[[gnu::always_inline]] inline void write_field(OutputBuffer& out, std::string_view v) {
    const std::size_t worst = 2 * v.size() + 2;  // every byte a '"', and the two quotes
    if (worst <= out.capacity()) {
        char* dst = out.reserve(worst);
        if (!v.empty() && !copy_unless_quoted(v, dst)) out.commit(dst + v.size());
        else write_quoted(dst, v, out);
        return;
    }
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
