// Ranges (range_send/range_recv, range_out/range_in) and multiranges (multirange_send/_out),
// element-type agnostic: bounds are passed on as bytes for the element's codec.
#include "types/literal_element.hpp"
#include "pgtls/error.hpp"
#include "pgtls/types.hpp"

namespace pgtls::detail {

namespace {

// rangetypes.h flag bits.
constexpr unsigned char range_empty = 0x01, lb_inc = 0x02, ub_inc = 0x04, lb_inf = 0x08, ub_inf = 0x10;

bool range_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

bool is_known_other_type(std::uint32_t type_oid, std::uint32_t (*of)(std::uint32_t)) {
    // A built-in type that is not of the expected kind cannot hold the value.
    return type_oid != 0 && type_oid < 16384 && of(type_oid) == 0 && type_oid != oid::unknown && type_oid != oid::text;
}

void check_range_type(std::uint32_t type_oid, bool binary) {
    if (is_known_other_type(type_oid, oid::range_element_of) || (binary && type_oid == oid::text))
        conversion_error((binary ? "binary " : "") + type_name(type_oid) + " value is not a range");
}

void check_multirange_type(std::uint32_t type_oid, bool binary) {
    if (is_known_other_type(type_oid, oid::multirange_range_of) || (binary && type_oid == oid::text))
        conversion_error((binary ? "binary " : "") + type_name(type_oid) + " value is not a multirange");
}

// range_out's quoting of a bound: quoted when empty or holding a delimiter, quote, backslash
// or space; quotes and backslashes doubled.
void append_bound(std::string& out, const std::string& v) {
    bool quote = v.empty();
    for (const char c : v)
        if (c == '"' || c == '\\' || c == '(' || c == ')' || c == '[' || c == ']' || c == ',' || range_space(c)) quote = true;
    if (!quote) {
        out += v;
        return;
    }
    out.push_back('"');
    for (const char c : v) {
        if (c == '"' || c == '\\') out.push_back(c);
        out.push_back(c);
    }
    out.push_back('"');
}

}  // namespace

void range_error(std::uint32_t type_oid, const std::string& what) {
    conversion_error("range " + type_name(type_oid) + ": " + what);
}

void parse_binary_range(std::string_view b, std::uint32_t type_oid, RangeParts& out) {
    check_range_type(type_oid, true);
    auto bad = [&](const std::string& why) { range_error(type_oid, "malformed binary value: " + why); };
    out = RangeParts{};
    if (b.empty()) bad("no flags byte");
    const auto flags = static_cast<unsigned char>(b[0]);
    if ((flags & ~(range_empty | lb_inc | ub_inc | lb_inf | ub_inf)) != 0) bad("unknown flag bits");
    if ((flags & range_empty) != 0) {
        if (flags != range_empty) bad("empty range with bound flags");
        if (b.size() != 1) bad("trailing bytes after an empty range");
        out.empty = true;
        return;
    }
    if ((flags & (lb_inc | lb_inf)) == (lb_inc | lb_inf) || (flags & (ub_inc | ub_inf)) == (ub_inc | ub_inf))
        bad("an unbounded side marked inclusive");
    std::size_t pos = 1;
    auto read_bound = [&](const char* which) {
        if (b.size() - pos < 4) bad(std::string(which) + " bound is truncated");
        const std::uint64_t len = read_be(b.substr(pos), 4);
        pos += 4;
        if (len > b.size() - pos) bad(std::string(which) + " bound runs past the end");
        std::string v(b.substr(pos, len));
        pos += len;
        return v;
    };
    out.lower_inclusive = (flags & lb_inc) != 0;
    out.upper_inclusive = (flags & ub_inc) != 0;
    if ((flags & lb_inf) == 0) out.lower = read_bound("lower");
    if ((flags & ub_inf) == 0) out.upper = read_bound("upper");
    if (pos != b.size()) bad("trailing bytes after the bounds");
}

void parse_text_range(std::string_view b, std::uint32_t type_oid, RangeParts& out) {
    check_range_type(type_oid, false);
    auto bad = [&](const char* why) { range_error(type_oid, "malformed literal " + quoted(b) + ": " + why); };
    out = RangeParts{};
    std::size_t i = 0;
    const std::size_t n = b.size();
    while (i < n && range_space(b[i])) ++i;
    if (n - i >= 5) {
        std::string word(b.substr(i, 5));
        for (char& c : word) c = static_cast<char>(c | 0x20);
        if (word == "empty") {
            i += 5;
            while (i < n && range_space(b[i])) ++i;
            if (i != n) bad("junk after \"empty\"");
            out.empty = true;
            return;
        }
    }
    if (i >= n || (b[i] != '[' && b[i] != '(')) bad("missing \"[\" or \"(\"");
    out.lower_inclusive = b[i++] == '[';
    // range_parse_bound: nothing before the delimiter is an unbounded side.
    auto read_bound = [&](bool upper) -> std::optional<std::string> {
        if (i >= n) bad("unexpected end");
        if (upper ? (b[i] == ']' || b[i] == ')') : b[i] == ',') return std::nullopt;
        return read_literal_element(
            b, i, [upper](char c) { return upper ? (c == ']' || c == ')') : (c == ',' || c == ')' || c == ']'); },
            [&] { bad("unexpected end"); });
    };
    out.lower = read_bound(false);
    if (i >= n || b[i] != ',') bad("missing \",\"");
    ++i;
    out.upper = read_bound(true);
    out.upper_inclusive = b[i++] == ']';
    while (i < n && range_space(b[i])) ++i;
    if (i != n) bad("junk after the closing bracket");
    if (!out.lower) out.lower_inclusive = false;
    if (!out.upper) out.upper_inclusive = false;
}

std::string range_text(const RangeParts& p) {
    if (p.empty) return "empty";
    std::string out(1, p.lower_inclusive ? '[' : '(');
    if (p.lower) append_bound(out, *p.lower);
    out.push_back(',');
    if (p.upper) append_bound(out, *p.upper);
    out.push_back(p.upper_inclusive ? ']' : ')');
    return out;
}

std::string range_binary(const RangeParts& p) {
    if (p.empty) return std::string(1, static_cast<char>(range_empty));
    unsigned char flags = 0;
    if (p.lower_inclusive) flags |= lb_inc;
    if (p.upper_inclusive) flags |= ub_inc;
    if (!p.lower) flags |= lb_inf;
    if (!p.upper) flags |= ub_inf;
    std::string out(1, static_cast<char>(flags));
    for (const auto* bound : {&p.lower, &p.upper}) {
        if (!*bound) continue;
        if ((*bound)->size() > 0x7fffffffu) throw Error(ErrorKind::usage, "range bound larger than 2 GiB");
        write_be(out, (*bound)->size(), 4);
        out += **bound;
    }
    return out;
}

void parse_binary_multirange(std::string_view b, std::uint32_t type_oid, std::vector<std::string_view>& out) {
    check_multirange_type(type_oid, true);
    auto bad = [&](const std::string& why) { conversion_error("multirange " + type_name(type_oid) + ": malformed binary value: " + why); };
    out.clear();
    if (b.size() < 4) bad("shorter than its 4-byte range count");
    const std::uint64_t n = read_be(b, 4);
    // Every range takes at least 5 bytes (length and flags).
    if (n > (b.size() - 4) / 5) bad("range count " + std::to_string(n) + " does not fit the value");
    std::size_t pos = 4;
    for (std::uint64_t k = 0; k < n; ++k) {
        if (b.size() - pos < 4) bad("range " + std::to_string(k + 1) + " is truncated");
        const std::uint64_t len = read_be(b.substr(pos), 4);
        pos += 4;
        if (len > b.size() - pos) bad("range " + std::to_string(k + 1) + " runs past the end");
        out.push_back(b.substr(pos, len));
        pos += len;
    }
    if (pos != b.size()) bad("trailing bytes after the last range");
}

void parse_text_multirange(std::string_view b, std::uint32_t type_oid, std::vector<std::string_view>& out) {
    check_multirange_type(type_oid, false);
    auto bad = [&](const char* why) {
        conversion_error("multirange " + type_name(type_oid) + ": malformed literal " + quoted(b) + ": " + why);
    };
    out.clear();
    std::size_t i = 0;
    const std::size_t n = b.size();
    auto skip = [&] {
        while (i < n && range_space(b[i])) ++i;
    };
    skip();
    if (i >= n || b[i] != '{') bad("missing \"{\"");
    ++i;
    skip();
    if (i < n && b[i] == '}') {
        ++i;
    } else {
        for (;;) {
            skip();
            const std::size_t start = i;
            if (i < n && (b[i] == '[' || b[i] == '(')) {
                // A range literal runs to its closing bracket outside quotes.
                bool in_quotes = false;
                for (++i; i < n; ++i) {
                    if (b[i] == '\\') {
                        ++i;
                    } else if (b[i] == '"') {
                        in_quotes = !in_quotes;
                    } else if (!in_quotes && (b[i] == ']' || b[i] == ')')) {
                        ++i;
                        break;
                    }
                }
            } else {
                while (i < n && b[i] != ',' && b[i] != '}') ++i;  // "empty"
            }
            if (i > n || i == start) bad("missing range");
            out.push_back(b.substr(start, i - start));
            skip();
            if (i >= n) bad("unterminated");
            if (b[i] == '}') {
                ++i;
                break;
            }
            if (b[i] != ',') bad("expected \",\" or \"}\"");
            ++i;
        }
    }
    skip();
    if (i != n) bad("junk after \"}\"");
}

}  // namespace pgtls::detail
