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

std::string array_element_error(std::size_t index, const std::string& what) {
    return "array element " + std::to_string(index + 1) + ": " + what;
}

std::uint32_t parse_binary_array(std::string_view b, std::uint32_t type_oid, std::vector<std::optional<std::string_view>>& out) {
    check_is_array(type_oid);
    auto bad = [](const std::string& why) { conversion_error("malformed binary array: " + why); };
    if (b.size() < 12) bad("shorter than its 12-byte header");
    const auto ndim = static_cast<std::int32_t>(read_be(b, 4));
    const auto flags = static_cast<std::int32_t>(read_be(b.substr(4), 4));
    const auto element_oid = static_cast<std::uint32_t>(read_be(b.substr(8), 4));
    if (ndim < 0) bad("negative dimension count");
    if (ndim > 1) multi_dim();
    if (flags != 0 && flags != 1) bad("invalid flags");
    if (const std::uint32_t expected = oid::element_of(type_oid); expected != 0 && element_oid != expected)
        bad("element type " + type_name(element_oid) + " in a " + type_name(type_oid) + " column");
    out.clear();
    if (ndim == 0) {
        if (b.size() != 12) bad("trailing bytes after an empty array");
        return element_oid;
    }
    if (b.size() < 20) bad("truncated dimension");
    const auto n = static_cast<std::int32_t>(read_be(b.substr(12), 4));
    if (n < 0) bad("negative dimension size");
    std::size_t pos = 20;
    out.reserve(std::min<std::size_t>(static_cast<std::size_t>(n), (b.size() - pos) / 4));
    for (std::int32_t i = 0; i < n; ++i) {
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
    if (pos != b.size()) bad("trailing bytes after the last element");
    return element_oid;
}

void parse_text_array(std::string_view b, std::uint32_t type_oid, std::vector<std::optional<std::string>>& out) {
    check_is_array(type_oid);
    auto bad = [&](const char* why) { conversion_error("malformed array literal " + quoted(b) + ": " + why); };
    out.clear();
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
    std::optional<std::int64_t> declared;
    if (i < n && b[i] == '[') {
        ++i;
        std::int64_t lo = 0, hi = 0;
        read_int(lo);
        if (i >= n || b[i] != ':') bad("bad dimension bounds");
        ++i;
        read_int(hi);
        if (i >= n || b[i] != ']') bad("bad dimension bounds");
        ++i;
        if (i < n && b[i] == '[') multi_dim();
        if (i >= n || b[i] != '=') bad("missing \"=\" after dimensions");
        ++i;
        if (hi < lo - 1) bad("upper bound below lower bound");
        declared = hi - lo + 1;
        skip_space();
    }
    if (i >= n || b[i] != '{') bad("must start with \"{\"");
    ++i;
    skip_space();
    if (i < n && b[i] == '}') {
        ++i;
    } else {
        for (;;) {
            skip_space();
            if (i >= n) bad("unterminated");
            if (b[i] == '{') multi_dim();
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
            } else {
                bool escaped = false;
                std::size_t keep = 0;  // length without trailing unescaped spaces
                while (i < n && b[i] != ',' && b[i] != '}') {
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
            }
            if (i >= n) bad("unterminated");
            if (b[i] == ',') {
                ++i;
                continue;
            }
            if (b[i] == '}') {
                ++i;
                break;
            }
            bad("expected \",\" or \"}\"");
        }
    }
    skip_space();
    if (i != n) bad("junk after closing \"}\"");
    if (declared && *declared != static_cast<std::int64_t>(out.size())) bad("dimensions do not match the elements");
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
