#include "auth/saslprep.hpp"

#include <algorithm>

#include "auth/unicode_tables.hpp"
#include "crypto/crypto.hpp"

namespace pgtls::auth {
namespace {

using namespace unicode;

bool in_table(char32_t c, const CodeRange* table, std::size_t size) {
    const CodeRange* end = table + size;
    const CodeRange* it = std::upper_bound(table, end, c, [](char32_t v, const CodeRange& r) { return v < r.first; });
    return it != table && c <= (it - 1)->last;
}

std::uint8_t combining_class(char32_t c) {
    const CombiningClassRange* table = combining_classes;
    const CombiningClassRange* end = table + combining_classes_size;
    const CombiningClassRange* it =
        std::upper_bound(table, end, c, [](char32_t v, const CombiningClassRange& r) { return v < r.first; });
    if (it != table && c <= (it - 1)->last) return (it - 1)->ccc;
    return 0;
}

// Hangul syllables decompose and compose algorithmically (Unicode 15, section 3.12).
constexpr char32_t s_base = 0xAC00, l_base = 0x1100, v_base = 0x1161, t_base = 0x11A7;
constexpr char32_t l_count = 19, v_count = 21, t_count = 28, n_count = v_count * t_count, s_count = l_count * n_count;

void decompose_into(char32_t c, std::u32string& out) {
    if (c >= s_base && c < s_base + s_count) {
        char32_t s = c - s_base;
        out += l_base + s / n_count;
        out += v_base + (s % n_count) / t_count;
        if (s % t_count != 0) out += t_base + s % t_count;
        return;
    }
    const Decomposition* end = decompositions + decompositions_size;
    const Decomposition* it =
        std::lower_bound(decompositions, end, c, [](const Decomposition& d, char32_t v) { return d.code < v; });
    if (it != end && it->code == c)
        out.append(decomposition_pool + it->offset, it->length);
    else
        out += c;
}

bool compose_pair(char32_t a, char32_t b, char32_t& composite) {
    if (a >= l_base && a < l_base + l_count && b >= v_base && b < v_base + v_count) {
        composite = s_base + ((a - l_base) * v_count + (b - v_base)) * t_count;
        return true;
    }
    if (a >= s_base && a < s_base + s_count && (a - s_base) % t_count == 0 && b > t_base && b < t_base + t_count) {
        composite = a + (b - t_base);
        return true;
    }
    const Composition* end = compositions + compositions_size;
    const Composition* it = std::lower_bound(compositions, end, std::pair{a, b}, [](const Composition& c, std::pair<char32_t, char32_t> k) {
        return c.first < k.first || (c.first == k.first && c.second < k.second);
    });
    if (it != end && it->first == a && it->second == b) {
        composite = it->composite;
        return true;
    }
    return false;
}

}  // namespace

bool utf8_decode(std::string_view input, std::u32string& out) {
    out.clear();
    const auto* p = reinterpret_cast<const unsigned char*>(input.data());
    const auto* end = p + input.size();
    while (p < end) {
        unsigned char b0 = *p;
        if (b0 < 0x80) {
            out += b0;
            ++p;
            continue;
        }
        int len;
        char32_t cp;
        unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
        if (b0 >= 0xC2 && b0 <= 0xDF) { len = 2; cp = b0 & 0x1F; }
        else if (b0 >= 0xE0 && b0 <= 0xEF) {
            len = 3; cp = b0 & 0x0F;
            if (b0 == 0xE0) lo = 0xA0;        // no overlongs
            if (b0 == 0xED) hi = 0x9F;        // no surrogates
        } else if (b0 >= 0xF0 && b0 <= 0xF4) {
            len = 4; cp = b0 & 0x07;
            if (b0 == 0xF0) lo = 0x90;        // no overlongs
            if (b0 == 0xF4) hi = 0x8F;        // nothing above U+10FFFF
        } else {
            return false;
        }
        if (end - p < len) return false;
        for (int i = 1; i < len; ++i) {
            unsigned char b = p[i];
            if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return false;
            cp = (cp << 6) | (b & 0x3F);
        }
        out += cp;
        p += len;
    }
    return true;
}

std::string utf8_encode(std::u32string_view input) {
    std::string out;
    out.reserve(input.size() * 4);  // no reallocation: no stray copies of a password on the heap
    for (char32_t c : input) {
        if (c < 0x80) {
            out += char(c);
        } else if (c < 0x800) {
            out += char(0xC0 | (c >> 6));
            out += char(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            out += char(0xE0 | (c >> 12));
            out += char(0x80 | ((c >> 6) & 0x3F));
            out += char(0x80 | (c & 0x3F));
        } else {
            out += char(0xF0 | (c >> 18));
            out += char(0x80 | ((c >> 12) & 0x3F));
            out += char(0x80 | ((c >> 6) & 0x3F));
            out += char(0x80 | (c & 0x3F));
        }
    }
    return out;
}

std::u32string nfkc(std::u32string_view input) {
    // 1. Full compatibility decomposition.
    std::u32string d;
    d.reserve(input.size());
    for (char32_t c : input) decompose_into(c, d);

    // 2. Canonical ordering: stable sort of each run of non-starters by combining class.
    for (std::size_t i = 0; i < d.size();) {
        if (combining_class(d[i]) == 0) {
            ++i;
            continue;
        }
        std::size_t j = i;
        while (j < d.size() && combining_class(d[j]) != 0) ++j;
        std::stable_sort(d.begin() + static_cast<std::ptrdiff_t>(i), d.begin() + static_cast<std::ptrdiff_t>(j),
                         [](char32_t a, char32_t b) { return combining_class(a) < combining_class(b); });
        i = j;
    }

    // 3. Canonical composition: a character combines with the last starter unless blocked by
    //    an intervening character of class 0 or of a class >= its own.
    if (d.empty()) return d;
    std::u32string r;
    r.reserve(d.size());
    std::size_t starter = std::u32string::npos;
    int last_class = -1;
    for (char32_t c : d) {
        const int cls = combining_class(c);
        char32_t composite;
        if (starter != std::u32string::npos && last_class < cls && compose_pair(r[starter], c, composite)) {
            r[starter] = composite;
            continue;
        }
        if (cls == 0) {
            starter = r.size();
            last_class = -1;
        } else {
            last_class = cls;
        }
        r += c;
    }
    return r;
}

SaslprepStatus saslprep(std::string_view input, std::string& out) {
    if (std::all_of(input.begin(), input.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; })) {
        out.assign(input);
        return SaslprepStatus::success;
    }
    std::u32string chars;
    if (!utf8_decode(input, chars)) {
        crypto::secure_zero(chars.data(), chars.size() * sizeof(char32_t));
        return SaslprepStatus::invalid_utf8;
    }

    // 1) Map.
    std::u32string mapped;
    mapped.reserve(chars.size());
    for (char32_t c : chars) {
        if (in_table(c, non_ascii_space, non_ascii_space_size))
            mapped += U' ';
        else if (!in_table(c, mapped_to_nothing, mapped_to_nothing_size))
            mapped += c;
    }
    crypto::secure_zero(chars.data(), chars.size() * sizeof(char32_t));

    auto fail = [&](SaslprepStatus s) {
        crypto::secure_zero(mapped.data(), mapped.size() * sizeof(char32_t));
        return s;
    };
    if (mapped.empty()) return fail(SaslprepStatus::prohibited);  // no empty passwords

    // 2) Normalize.
    std::u32string normalized = nfkc(mapped);

    // 3) Prohibit and 4) bidi, checked on the mapped string as libpq does.
    bool has_randal = false;
    for (char32_t c : mapped) {
        if (in_table(c, prohibited_output, prohibited_output_size) || in_table(c, unassigned_3_2, unassigned_3_2_size)) {
            crypto::secure_zero(normalized.data(), normalized.size() * sizeof(char32_t));
            return fail(SaslprepStatus::prohibited);
        }
        if (in_table(c, randalcat, randalcat_size)) has_randal = true;
    }
    if (has_randal) {
        bool ok = in_table(mapped.front(), randalcat, randalcat_size) && in_table(mapped.back(), randalcat, randalcat_size);
        for (char32_t c : mapped)
            if (in_table(c, lcat, lcat_size)) ok = false;
        if (!ok) {
            crypto::secure_zero(normalized.data(), normalized.size() * sizeof(char32_t));
            return fail(SaslprepStatus::prohibited);
        }
    }

    out = utf8_encode(normalized);
    crypto::secure_zero(normalized.data(), normalized.size() * sizeof(char32_t));
    fail(SaslprepStatus::success);
    return SaslprepStatus::success;
}

std::string scram_password(std::string_view password) {
    std::string prepared;
    if (saslprep(password, prepared) == SaslprepStatus::success) return prepared;
    return std::string(password);
}

}  // namespace pgtls::auth
