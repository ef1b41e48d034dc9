#include "result_output.hpp"

#include <cstdint>
#include <cstdio>
#include <vector>

namespace pgtls::cli {
namespace {

// Type OIDs from pg_type.dat whose text form psql right-aligns and JSON prints bare.
bool is_numeric_type(std::uint32_t oid) {
    switch (oid) {
        case 20: case 21: case 23: case 26: case 700: case 701: case 1700: return true;
        default: return false;
    }
}

// Display width: one column per UTF-8 code point (good enough for the table; no wide glyphs).
std::size_t display_width(std::string_view s) {
    std::size_t w = 0;
    for (unsigned char c : s)
        if ((c & 0xC0) != 0x80) ++w;
    return w;
}

void pad(std::ostream& out, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) out.put(' ');
}

void print_table(std::ostream& out, const Result& r) {
    const auto& cols = r.column_info();
    std::vector<std::size_t> width(cols.size());
    for (std::size_t c = 0; c < cols.size(); ++c) width[c] = display_width(cols[c].name);
    for (const Row row : r)
        for (std::size_t c = 0; c < cols.size(); ++c) width[c] = std::max(width[c], display_width(row[c].view()));

    // Header: names centred, as psql does.
    for (std::size_t c = 0; c < cols.size(); ++c) {
        std::size_t w = display_width(cols[c].name), left = (width[c] - w) / 2;
        out << (c ? "| " : " ");
        pad(out, left);
        out << cols[c].name;
        pad(out, width[c] - w - left);
        out << ' ';
    }
    out << '\n';
    for (std::size_t c = 0; c < cols.size(); ++c) out << (c ? "+" : "") << std::string(width[c] + 2, '-');
    out << '\n';
    for (const Row row : r) {
        for (std::size_t c = 0; c < cols.size(); ++c) {
            std::string_view v = row[c].view();
            std::size_t gap = width[c] - display_width(v);
            out << (c ? "| " : " ");
            bool right = is_numeric_type(cols[c].type_oid);
            if (right) pad(out, gap);
            out << v;
            // psql leaves no trailing blanks after the last column.
            if (!right && c + 1 < cols.size()) pad(out, gap);
            if (c + 1 < cols.size()) out << ' ';
        }
        out << '\n';
    }
    out << '(' << r.size() << (r.size() == 1 ? " row)" : " rows)") << "\n\n";
}

std::string csv_field(std::string_view v, bool null) {
    if (null) return {};
    bool quote = v.empty() || v.find_first_of(",\"\r\n") != std::string_view::npos;
    if (!quote) return std::string(v);
    std::string s = "\"";
    for (char ch : v) {
        if (ch == '"') s += '"';
        s += ch;
    }
    s += '"';
    return s;
}

void print_csv(std::ostream& out, const Result& r, bool first_result_set) {
    if (!first_result_set) out << '\n';
    const auto& cols = r.column_info();
    for (std::size_t c = 0; c < cols.size(); ++c) out << (c ? "," : "") << csv_field(cols[c].name, false);
    out << '\n';
    for (const Row row : r) {
        for (std::size_t c = 0; c < cols.size(); ++c) out << (c ? "," : "") << csv_field(row[c].view(), row[c].is_null());
        out << '\n';
    }
}

std::string json_value(const Field& f) {
    if (f.is_null()) return "null";
    std::string_view v = f.view();
    std::uint32_t oid = f.type_oid();
    if (oid == 16) return v == "t" ? "true" : "false";
    if (is_numeric_type(oid) && v != "NaN" && v != "Infinity" && v != "-Infinity") return std::string(v);
    if (oid == 114 || oid == 3802) return std::string(v);  // json, jsonb: already JSON
    return json_quote(v);
}

void print_json(std::ostream& out, const Result& r) {
    const auto& cols = r.column_info();
    out << "{\"command\":" << json_quote(r.command_tag()) << ",\"columns\":[";
    for (std::size_t c = 0; c < cols.size(); ++c) out << (c ? "," : "") << json_quote(cols[c].name);
    out << "],\"rows\":[";
    bool first = true;
    for (const Row row : r) {
        out << (first ? "{" : ",{");
        first = false;
        for (std::size_t c = 0; c < cols.size(); ++c)
            out << (c ? "," : "") << json_quote(cols[c].name) << ':' << json_value(row[c]);
        out << '}';
    }
    out << "]}\n";
}

}  // namespace

std::string json_quote(std::string_view s) {
    std::string out = "\"";
    for (std::size_t i = 0; i < s.size();) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c == '"' || c == '\\') { out += '\\'; out += char(c); ++i; continue; }
        if (c < 0x20) {
            char buf[8];
            switch (c) {
                case '\n': out += "\\n"; break;
                case '\r': out += "\\r"; break;
                case '\t': out += "\\t"; break;
                default: std::snprintf(buf, sizeof buf, "\\u%04x", c); out += buf;
            }
            ++i;
            continue;
        }
        if (c < 0x80) { out += char(c); ++i; continue; }
        // Copy one well-formed UTF-8 sequence, or emit U+FFFD for a bad byte.
        std::size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
        bool ok = n > 0 && i + n <= s.size();
        for (std::size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
        if (ok) { out.append(s.substr(i, n)); i += n; }
        else { out += "\xEF\xBF\xBD"; ++i; }
    }
    out += '"';
    return out;
}

void print_result(std::ostream& out, const Result& result, OutputFormat format, bool first_result_set) {
    if (result.is_empty_query()) return;
    bool has_rows = result.columns() > 0;
    switch (format) {
        case OutputFormat::table:
            if (has_rows) print_table(out, result);
            else out << result.command_tag() << '\n';
            break;
        case OutputFormat::csv:
            if (has_rows) print_csv(out, result, first_result_set);
            break;
        case OutputFormat::json:
            print_json(out, result);
            break;
    }
}

}  // namespace pgtls::cli
