#include "csv_format.hpp"

#include <array>
#include <string_view>

namespace pgtls::cli {
namespace {

constexpr std::array<bool, 256> special_bytes = [] {
    std::array<bool, 256> t{};
    t[','] = t['"'] = t['\r'] = t['\n'] = true;
    return t;
}();

bool needs_quotes(std::string_view v) noexcept {
    // Empty: tells an empty string from NULL. "\.": a line holding only it ends COPY FROM's
    // data, so psql quotes it too.
    if (v.empty() || v == "\\.") return true;
    for (unsigned char c : v)
        if (special_bytes[c]) return true;
    return false;
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
