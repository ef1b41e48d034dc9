// Composite values: record_send/record_recv's binary layout and record_out/record_in's text.
#include "types/literal_element.hpp"
#include "pgtls/error.hpp"
#include "pgtls/result.hpp"

namespace pgtls::detail {

namespace {

bool record_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// A built-in scalar or array type cannot hold a composite value.
void check_is_composite(std::uint32_t type_oid, bool binary) {
    if (type_oid == oid::record || type_oid == oid::unspecified || type_oid == oid::unknown) return;
    if (!binary && (type_oid == oid::text || type_oid == oid::varchar || type_oid == oid::bpchar)) return;
    if (oid::array_of(type_oid) != 0 || oid::element_of(type_oid) != 0 || (type_oid != 0 && type_oid < 16384))
        conversion_error((binary ? "binary " : "") + type_name(type_oid) + " value is not a composite");
}

}  // namespace

void composite_error(std::uint32_t type_oid, const std::string& what) {
    conversion_error("composite " + type_name(type_oid) + ": " + what);
}

void parse_binary_composite(std::string_view b, std::uint32_t type_oid, std::vector<CompositeField>& out) {
    check_is_composite(type_oid, true);
    auto bad = [&](const std::string& why) { composite_error(type_oid, "malformed binary value: " + why); };
    out.clear();
    if (b.size() < 4) bad("shorter than its 4-byte field count");
    const auto n = static_cast<std::int32_t>(read_be(b, 4));
    // Every field takes at least 8 bytes (OID and length), which bounds the count by the size.
    if (n < 0 || static_cast<std::size_t>(n) > (b.size() - 4) / 8) bad("field count " + std::to_string(n) + " does not fit the value");
    out.reserve(static_cast<std::size_t>(n));
    std::size_t pos = 4;
    for (std::int32_t i = 0; i < n; ++i) {
        if (b.size() - pos < 8) bad("field " + std::to_string(i + 1) + " is truncated");
        CompositeField f;
        f.type_oid = static_cast<std::uint32_t>(read_be(b.substr(pos), 4));
        const auto len = static_cast<std::int32_t>(read_be(b.substr(pos + 4), 4));
        pos += 8;
        if (len < -1) bad("field " + std::to_string(i + 1) + " has a negative length");
        if (len >= 0) {
            if (static_cast<std::size_t>(len) > b.size() - pos) bad("field " + std::to_string(i + 1) + " runs past the end");
            f.bytes = b.substr(pos, static_cast<std::size_t>(len));
            pos += static_cast<std::size_t>(len);
        }
        out.push_back(f);
    }
    if (pos != b.size()) bad("trailing bytes after the last field");
}

void parse_text_composite(std::string_view b, std::uint32_t type_oid, std::vector<std::optional<std::string>>& out) {
    check_is_composite(type_oid, false);
    auto bad = [&](const char* why) { composite_error(type_oid, "malformed literal " + quoted(b) + ": " + why); };
    out.clear();
    std::size_t i = 0;
    const std::size_t n = b.size();
    while (i < n && record_space(b[i])) ++i;
    if (i >= n || b[i] != '(') bad("missing \"(\"");
    ++i;
    for (;;) {
        if (i >= n) bad("unexpected end");
        if (b[i] == ',' || b[i] == ')') {
            out.emplace_back(std::nullopt);
        } else {
            out.emplace_back(read_literal_element(
                b, i, [](char c) { return c == ',' || c == ')'; }, [&] { bad("unexpected end"); }));
        }
        if (b[i++] == ')') break;
    }
    while (i < n && record_space(b[i])) ++i;
    if (i != n) bad("junk after \")\"");
}

void append_text_composite_field(std::string& out, const std::optional<std::string>& field) {
    if (!field) return;
    const std::string& f = *field;
    bool quote = f.empty();
    for (const char c : f)
        if (c == '"' || c == '\\' || c == '(' || c == ')' || c == ',' || record_space(c)) quote = true;
    if (!quote) {
        out += f;
        return;
    }
    out.push_back('"');
    for (const char c : f) {
        if (c == '"' || c == '\\') out.push_back(c);
        out.push_back(c);
    }
    out.push_back('"');
}

}  // namespace pgtls::detail
