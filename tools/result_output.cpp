#include "result_output.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "csv_format.hpp"
#include "json_format.hpp"
#include "json_text.hpp"
#include "utf8.hpp"

namespace pgtls::cli {
namespace {

// Display width: one column per UTF-8 code point (good enough for the table; no wide glyphs).
std::size_t display_width(std::string_view s) {
    std::size_t w = 0;
    for (unsigned char c : s)
        if ((c & 0xC0) != 0x80) ++w;
    return w;
}

// A value as psql's aligned format shows it (pg_wcsformat), so stored data cannot drive the
// terminal: one line per '\n'; a tab becomes spaces to the next multiple of 8; '\r' shows as
// "\r"; other C0 controls and DEL as "\xHH", C1 controls as "\uHHHH"; a byte that is not
// well-formed UTF-8 as "\xHH" too (psql would pass it through).
std::vector<std::string> display_lines(std::string_view v) {
    std::vector<std::string> lines(1);
    std::size_t width = 0;
    char buf[16];
    for (std::size_t i = 0; i < v.size();) {
        std::string& line = lines.back();
        const unsigned char c = static_cast<unsigned char>(v[i]);
        const std::size_t n = utf8_sequence_length(v, i);
        if (c == '\n') {
            lines.emplace_back();
            width = 0;
        } else if (c == '\t') {
            do {
                line += ' ';
                ++width;
            } while (width % 8 != 0);
        } else if (c == '\r') {
            line += "\\r";
            width += 2;
        } else if (n == 0 || c < 0x20 || c == 0x7F) {
            std::snprintf(buf, sizeof buf, "\\x%02X", c);
            line += buf;
            width += 4;
        } else if (n == 2 && c == 0xC2 && static_cast<unsigned char>(v[i + 1]) < 0xA0) {
            std::snprintf(buf, sizeof buf, "\\u%04X", static_cast<unsigned char>(v[i + 1]));
            line += buf;
            width += 6;
        } else {
            line.append(v.substr(i, n));
            ++width;
        }
        i += n == 0 ? 1 : n;
    }
    return lines;
}

// One cell of the table: its display lines.
struct Cell {
    std::vector<std::string> lines;
    std::size_t width = 0;  // of the widest line
    explicit Cell(std::string_view v) : lines(display_lines(v)) {
        for (const auto& l : lines) width = std::max(width, display_width(l));
    }
};

void pad(std::ostream& out, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) out.put(' ');
}

// One table line of `cells` (row or header): psql's layout, a multi-line cell continued on
// the next line with '+' after it. Header cells are centred.
void print_cells(std::ostream& out, const std::vector<Cell>& cells, const std::vector<std::size_t>& width,
                 const std::vector<bool>& right, bool header) {
    std::size_t height = 1;
    for (const auto& c : cells) height = std::max(height, c.lines.size());
    for (std::size_t k = 0; k < height; ++k) {
        for (std::size_t c = 0; c < cells.size(); ++c) {
            const bool last = c + 1 == cells.size();
            const std::string_view text = k < cells[c].lines.size() ? std::string_view(cells[c].lines[k]) : "";
            const bool more = k + 1 < cells[c].lines.size();
            const std::size_t gap = width[c] - display_width(text);
            out << (c ? "| " : " ");
            if (header) {
                const std::size_t left = gap / 2;
                pad(out, left);
                out << text;
                pad(out, gap - left);
            } else {
                if (right[c]) pad(out, gap);
                out << text;
                // psql leaves no trailing blanks after the last column.
                if (!right[c] && (!last || more)) pad(out, gap);
            }
            if (more)
                out << '+';
            else if (!last || header)
                out << ' ';
        }
        out << '\n';
    }
}

void print_table(std::ostream& out, const Result& r) {
    const auto& cols = r.column_info();
    std::vector<std::size_t> width(cols.size());
    std::vector<bool> right(cols.size());
    std::vector<Cell> header;
    for (std::size_t c = 0; c < cols.size(); ++c) {
        header.emplace_back(cols[c].name);
        width[c] = header[c].width;
        right[c] = is_numeric_type(cols[c].type_oid);
    }
    // Formatted twice (widths, then output) rather than kept: no second copy of the result.
    for (const Row row : r)
        for (std::size_t c = 0; c < cols.size(); ++c) width[c] = std::max(width[c], Cell(row[c].view()).width);
    print_cells(out, header, width, right, true);
    for (std::size_t c = 0; c < cols.size(); ++c) out << (c ? "+" : "") << std::string(width[c] + 2, '-');
    out << '\n';
    std::vector<Cell> cells;
    for (const Row row : r) {
        cells.clear();
        for (std::size_t c = 0; c < cols.size(); ++c) cells.emplace_back(row[c].view());
        print_cells(out, cells, width, right, false);
    }
    out << '(' << r.size() << (r.size() == 1 ? " row)" : " rows)") << "\n\n";
}

void print_json(OutputBuffer& out, const Result& r) {
    JsonResultWriter json(out, r.column_info());
    for (const Row row : r) json.row(row);
    json.finish(r.command_tag());
}

void print_csv(OutputBuffer& out, const Result& r, bool first_result_set) {
    if (!first_result_set) out.append('\n');
    write_csv_header(out, r.column_info());
    for (const Row row : r) write_csv_row(out, row);
}

}  // namespace

void print_result(OutputBuffer& buffer, const Result& result, OutputFormat format, bool first_result_set) {
    if (result.is_empty_query()) return;
    bool has_rows = result.columns() > 0;
    std::ostream out(&buffer);
    out.exceptions(std::ios::badbit);  // an OutputError from the buffer reaches the caller
    switch (format) {
        case OutputFormat::table:
            if (has_rows) print_table(out, result);
            else for (const auto& line : display_lines(result.command_tag())) out << line << '\n';
            break;
        case OutputFormat::csv:
            if (has_rows) print_csv(buffer, result, first_result_set);
            break;
        case OutputFormat::json:
            print_json(buffer, result);
            break;
    }
}

}  // namespace pgtls::cli
