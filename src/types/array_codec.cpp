// One-dimensional arrays: PostgreSQL's binary array format (array_send/array_recv) and its
// text literal ({a,"b c",NULL}), element-type agnostic.
#include "pgtls/error.hpp"
#include "pgtls/types.hpp"

namespace pgtls::detail {

namespace {

bool array_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

bool is_null_word(std::string_view s) {
    return s.size() == 4 && (s[0] == 'N' || s[0] == 'n') && (s[1] == 'U' || s[1] == 'u') && (s[2] == 'L' || s[2] == 'l') &&
           (s[3] == 'L' || s[3] == 'l');
}

void check_is_array(std::uint32_t type_oid) {
    // A known scalar type: its value is not an array, whatever it looks like.
    if (oid::array_of(type_oid) != 0) conversion_error(type_name(type_oid) + " value is not an array");
}

[[noreturn]] void multi_dim() { conversion_error("multi-dimensional arrays are not supported; unnest or slice to one dimension"); }

}  // namespace

void array_depth_error(std::size_t have, std::size_t want) {
    conversion_error("array of " + std::to_string(have) + " dimensions read as " + std::to_string(want) +
                     "-dimensional; nest std::vector once per dimension");
}

std::string array_element_error(std::size_t index, const std::string& what) {
    return "array element " + std::to_string(index + 1) + ": " + what;
}

namespace {

// PostgreSQL's MAXDIM: array_in and array_recv refuse more dimensions.
constexpr std::size_t max_dims = 6;

// _box, the one built-in array type whose elements are not separated by ','.
constexpr std::uint32_t box_array = 1020;

}  // namespace

std::uint32_t parse_binary_array_nd(std::string_view b, std::uint32_t type_oid, std::vector<std::size_t>& dims,
                                    std::vector<std::optional<std::string_view>>& out) {
    check_is_array(type_oid);
    auto bad = [](const std::string& why) { conversion_error("malformed binary array: " + why); };
    if (b.size() < 12) bad("shorter than its 12-byte header");
    const auto ndim = static_cast<std::int32_t>(read_be(b, 4));
    const auto flags = static_cast<std::int32_t>(read_be(b.substr(4), 4));
    const auto element_oid = static_cast<std::uint32_t>(read_be(b.substr(8), 4));
    if (ndim < 0) bad("negative dimension count");
    if (static_cast<std::size_t>(ndim) > max_dims) bad("more than 6 dimensions");
    if (flags != 0 && flags != 1) bad("invalid flags");
    if (const std::uint32_t expected = oid::element_of(type_oid); expected != 0 && element_oid != expected)
        bad("element type " + type_name(element_oid) + " in a " + type_name(type_oid) + " column");
    out.clear();
    dims.clear();
    std::size_t pos = 12;
    if (b.size() - pos < static_cast<std::size_t>(ndim) * 8) bad("truncated dimension");
    // Every element takes at least its 4-byte length, which bounds the element count by the
    // value's size before anything is reserved.
    const std::size_t most = (b.size() - pos - static_cast<std::size_t>(ndim) * 8) / 4;
    std::size_t total = ndim == 0 ? 0 : 1;
    for (std::int32_t d = 0; d < ndim; ++d) {
        const auto n = static_cast<std::int32_t>(read_be(b.substr(pos), 4));
        const auto lower = static_cast<std::int32_t>(read_be(b.substr(pos + 4), 4));
        pos += 8;
        if (n < 0) bad("negative dimension size");
        if (static_cast<std::int64_t>(lower) + n > 0x7fffffff) bad("lower bound plus dimension size overflows");
        if (n != 0 && total > most / static_cast<std::size_t>(n)) bad("dimensions claim more elements than the value holds");
        total *= static_cast<std::size_t>(n);
        dims.push_back(static_cast<std::size_t>(n));
    }
    if (total > most) bad("dimensions claim more elements than the value holds");
    if (total == 0) dims.clear();
    out.reserve(total);
    for (std::size_t i = 0; i < total; ++i) {
        if (b.size() - pos < 4) bad("truncated element length");
        const auto len = static_cast<std::int32_t>(read_be(b.substr(pos), 4));
        pos += 4;
        if (len == -1) {
            out.emplace_back(std::nullopt);
            continue;
        }
        if (len < 0) bad("negative element length");
        if (b.size() - pos < static_cast<std::size_t>(len)) bad("element longer than the value");
        out.emplace_back(b.substr(pos, static_cast<std::size_t>(len)));
        pos += static_cast<std::size_t>(len);
    }
    if (pos != b.size()) bad(total == 0 ? "trailing bytes after an empty array" : "trailing bytes after the last element");
    return element_oid;
}

std::uint32_t parse_binary_array(std::string_view b, std::uint32_t type_oid, std::vector<std::optional<std::string_view>>& out) {
    if (b.size() >= 4 && static_cast<std::int32_t>(read_be(b, 4)) > 1) {
        check_is_array(type_oid);
        multi_dim();
    }
    std::vector<std::size_t> dims;
    return parse_binary_array_nd(b, type_oid, dims, out);
}

void parse_text_array_nd(std::string_view b, std::uint32_t type_oid, std::vector<std::size_t>& dims,
                         std::vector<std::optional<std::string>>& out) {
    check_is_array(type_oid);
    auto bad = [&](const char* why) { conversion_error("malformed array literal " + quoted(b) + ": " + why); };
    // array_out separates elements with the element type's typdelim: ',' for every built-in
    // type but box, whose elements themselves hold commas ("{(1,1),(0,0);(3,3),(2,2)}").
    const char delim = type_oid == box_array ? ';' : ',';
    out.clear();
    dims.clear();
    std::size_t i = 0;
    const std::size_t n = b.size();
    auto skip_space = [&] {
        while (i < n && array_space(b[i])) ++i;
    };
    auto read_int = [&](std::int64_t& v) {
        bool neg = false;
        if (i < n && (b[i] == '-' || b[i] == '+')) neg = b[i++] == '-';
        const std::size_t start = i;
        v = 0;
        while (i < n && b[i] >= '0' && b[i] <= '9' && i - start < 10) v = v * 10 + (b[i++] - '0');
        if (i == start) bad("bad dimension bounds");
        if (neg) v = -v;
    };
    skip_space();
    std::vector<std::int64_t> declared;
    while (i < n && b[i] == '[') {
        if (declared.size() == max_dims) bad("more than 6 dimensions");
        ++i;
        std::int64_t lo = 0, hi = 0;
        read_int(lo);
        if (i >= n || b[i] != ':') bad("bad dimension bounds");
        ++i;
        read_int(hi);
        if (i >= n || b[i] != ']') bad("bad dimension bounds");
        ++i;
        if (hi < lo - 1) bad("upper bound below lower bound");
        declared.push_back(hi - lo + 1);
    }
    if (!declared.empty()) {
        if (i >= n || b[i] != '=') bad("missing \"=\" after dimensions");
        ++i;
        skip_space();
    }
    // One scalar element, unquoted and unescaped; NULL for the bare word.
    auto scalar = [&] {
        std::string s;
        if (b[i] == '"') {
            ++i;
            while (i < n && b[i] != '"') {
                if (b[i] == '\\' && ++i >= n) break;
                s.push_back(b[i++]);
            }
            if (i >= n) bad("unterminated quoted element");
            ++i;
            skip_space();
            out.emplace_back(std::move(s));
            return;
        }
        bool escaped = false;
        std::size_t keep = 0;  // length without trailing unescaped spaces
        while (i < n && b[i] != delim && b[i] != '}') {
            if (b[i] == '"' || b[i] == '{') bad("unexpected character in element");
            if (b[i] == '\\') {
                if (++i >= n) bad("unterminated escape");
                s.push_back(b[i++]);
                escaped = true;
                keep = s.size();
                continue;
            }
            s.push_back(b[i]);
            if (!array_space(b[i])) keep = s.size();
            ++i;
        }
        s.resize(keep);
        if (s.empty() && !escaped) bad("empty unquoted element");
        if (!escaped && is_null_word(s)) out.emplace_back(std::nullopt);
        else out.emplace_back(std::move(s));
    };
    // sizes[d]: the element count every sub-array at depth d must have (0 = not yet seen);
    // leaf: the depth whose items are scalars, once the first scalar is seen.
    std::vector<std::size_t> sizes;
    std::optional<std::size_t> leaf;
    // Iterative descent over nested braces, so hostile nesting cannot exhaust the stack.
    std::vector<std::size_t> counts;
    if (i >= n || b[i] != '{') bad("must start with \"{\"");
    ++i;
    counts.push_back(0);
    sizes.push_back(0);
    skip_space();
    bool empty = false;
    if (i < n && b[i] == '}') {
        ++i;
        counts.clear();
        empty = true;
    }
    while (!counts.empty()) {
        skip_space();
        if (i >= n) bad("unterminated");
        const std::size_t depth = counts.size() - 1;
        if (b[i] == '{') {
            if (leaf && *leaf <= depth) bad("sub-arrays and elements mixed at one level");
            if (counts.size() == max_dims) bad("more than 6 dimensions");
            ++i;
            ++counts.back();
            counts.push_back(0);
            if (sizes.size() < counts.size()) sizes.push_back(0);
            skip_space();
            if (i < n && b[i] == '}') bad("empty sub-array");
            continue;
        }
        if (leaf ? *leaf != depth : depth + 1 != sizes.size()) bad("sub-arrays and elements mixed at one level");
        leaf = depth;
        scalar();
        ++counts.back();
        // After an element or a closed sub-array: "," or "}" closing this level (and maybe more).
        for (;;) {
            skip_space();
            if (i >= n) bad("unterminated");
            if (b[i] == delim) {
                ++i;
                break;
            }
            if (b[i] != '}') bad("expected \",\" or \"}\"");
            ++i;
            const std::size_t d = counts.size() - 1;
            if (sizes[d] == 0) sizes[d] = counts[d];
            else if (sizes[d] != counts[d]) bad("sub-arrays of different sizes");
            counts.pop_back();
            if (counts.empty()) break;
        }
    }
    skip_space();
    if (i != n) bad("junk after closing \"}\"");
    if (!empty) dims = sizes;
    if (!declared.empty()) {
        bool match = declared.size() == dims.size() || (empty && declared.size() == 1 && declared[0] == 0);
        for (std::size_t d = 0; match && d < dims.size(); ++d) match = declared[d] == static_cast<std::int64_t>(dims[d]);
        if (!match) bad("dimensions do not match the elements");
    }
}

void parse_text_array(std::string_view b, std::uint32_t type_oid, std::vector<std::optional<std::string>>& out) {
    std::vector<std::size_t> dims;
    parse_text_array_nd(b, type_oid, dims, out);
    if (dims.size() > 1) multi_dim();
}

void append_text_array_element(std::string& out, std::string_view e) {
    bool quote = e.empty() || is_null_word(e);
    for (const char c : e)
        if (c == '{' || c == '}' || c == ',' || c == '"' || c == '\\' || array_space(c)) quote = true;
    if (!quote) {
        out += e;
        return;
    }
    out.push_back('"');
    for (const char c : e) {
        if (c == '"' || c == '\\') out.push_back('\\');
        out.push_back(c);
    }
    out.push_back('"');
}

std::string binary_array_header_nd(std::uint32_t element_oid, const std::vector<std::size_t>& dims, bool has_nulls) {
    if (dims.size() > max_dims) conversion_error("array has more than 6 dimensions");
    std::size_t total = dims.empty() ? 0 : 1;
    for (const std::size_t d : dims) {
        if (d != 0 && total > 0x7fffffffu / d) conversion_error("array has more than 2^31-1 elements");
        total *= d;
    }
    std::string out;
    out.reserve(12 + 8 * dims.size());
    write_be(out, total == 0 ? 0 : dims.size(), 4);
    write_be(out, has_nulls ? 1 : 0, 4);
    write_be(out, element_oid, 4);
    if (total != 0)
        for (const std::size_t d : dims) {
            write_be(out, d, 4);
            write_be(out, 1, 4);
        }
    return out;
}

std::string binary_array_header(std::uint32_t element_oid, std::size_t n, bool has_nulls) {
    if (n > 0x7fffffffu) conversion_error("array has more than 2^31-1 elements");
    std::string out;
    out.reserve(20);
    write_be(out, n == 0 ? 0 : 1, 4);
    write_be(out, has_nulls ? 1 : 0, 4);
    write_be(out, element_oid, 4);
    if (n > 0) {
        write_be(out, n, 4);
        write_be(out, 1, 4);
    }
    return out;
}

}  // namespace pgtls::detail
