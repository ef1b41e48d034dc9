#include "json_format.hpp"

#include <cstdint>

#include "json_text.hpp"

namespace pgtls::cli {
namespace {

void write_value(OutputBuffer& out, const Field& f) {
    if (f.is_null()) return out.append("null");
    const std::string_view v = f.view();
    const std::uint32_t oid = f.type_oid();
    if (oid == 16 && (v == "t" || v == "f")) return out.append(v == "t" ? "true" : "false");
    if (is_numeric_type(oid) && is_json_number(v)) return out.append(v);
    if (oid == 114 || oid == 3802)
        if (auto compact = compact_json(v)) return out.append(*compact);
    out.append(json_quote(v));
}

}  // namespace

bool is_numeric_type(std::uint32_t oid) noexcept {
    switch (oid) {
        case 20: case 21: case 23: case 26: case 700: case 701: case 1700: return true;
        default: return false;
    }
}

JsonResultWriter::JsonResultWriter(OutputBuffer& out, const std::vector<Column>& columns) : out_(out) {
    out_.append("{\"columns\":[");
    for (std::size_t c = 0; c < columns.size(); ++c) {
        if (c) out_.append(',');
        keys_.push_back(json_quote(columns[c].name));
        out_.append(keys_.back());
        keys_.back() += ':';
    }
    out_.append("],\"rows\":[");
}

void JsonResultWriter::row(const Row& row) {
    out_.append(first_row_ ? "{" : ",{");
    first_row_ = false;
    for (std::size_t c = 0; c < keys_.size(); ++c) {
        if (c) out_.append(',');
        out_.append(keys_[c]);
        write_value(out_, row[c]);
    }
    out_.append('}');
}

void JsonResultWriter::finish(std::string_view command_tag) {
    out_.append("],\"command\":");
    out_.append(json_quote(command_tag));
    out_.append("}\n");
}

void JsonResultWriter::fail(std::string_view sqlstate, std::string_view message) {
    out_.append("],\"error\":{\"sqlstate\":");
    out_.append(json_quote(sqlstate));
    out_.append(",\"message\":");
    out_.append(json_quote(message));
    out_.append("}}\n");
}

}  // namespace pgtls::cli
