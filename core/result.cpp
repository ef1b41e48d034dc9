#include "pgtls/result.hpp"

#include <charconv>
#include <cmath>
#include <cstring>

#include "core/protocol/backend_messages.hpp"
#include "pgtls/error.hpp"
#include "pgtls/types.hpp"

namespace pgtls {

void Field::throw_null(const std::string& column) {
    throw Error(ErrorKind::usage, "column \"" + column + "\" is NULL; read it as std::optional<T>");
}

const std::vector<Column>& Result::no_columns() noexcept {
    static const std::vector<Column> none;
    return none;
}

std::size_t Row::size() const noexcept { return result_->columns(); }

Field Row::operator[](std::size_t column) const {
    if (column >= result_->columns())
        throw Error(ErrorKind::usage, "column index " + std::to_string(column) + " out of range (result has " +
                                          std::to_string(result_->columns()) + " columns)");
    const auto& [off, len] = result_->fields_[index_ * result_->columns() + column];
    return Field(result_->bytes() + off, len, &(*result_->columns_)[column]);
}

Field Row::operator[](std::string_view name) const { return (*this)[result_->column_index(name)]; }

void Row::check_arity(std::size_t n) const {
    if (n != size())
        throw Error(ErrorKind::usage, "row has " + std::to_string(size()) + " columns but " + std::to_string(n) +
                                          " values were requested");
}

std::size_t Result::column_index(std::string_view name) const {
    const auto& cols = column_info();
    for (std::size_t i = 0; i < cols.size(); ++i)
        if (cols[i].name == name) return i;
    throw Error(ErrorKind::usage, "no column named \"" + std::string(name) + "\" in the result");
}

Row Result::operator[](std::size_t row) const { return Row(this, row); }

Row Result::at(std::size_t row) const {
    if (row >= size())
        throw Error(ErrorKind::usage, "row index " + std::to_string(row) + " out of range (result has " +
                                          std::to_string(size()) + " rows)");
    return Row(this, row);
}

std::uint64_t Result::affected_rows() const noexcept {
    // The count is the last word of the tag: "INSERT 0 5", "UPDATE 3", "SELECT 10", "COPY 7".
    const auto sp = command_tag_.rfind(' ');
    if (sp == std::string::npos) return 0;
    std::uint64_t n = 0;
    const char* b = command_tag_.data() + sp + 1;
    const char* e = command_tag_.data() + command_tag_.size();
    auto r = std::from_chars(b, e, n);
    return (r.ec == std::errc() && r.ptr == e) ? n : 0;
}

void Result::index_fields(std::span<const std::uint8_t> payload, std::size_t base) {
    protocol::ByteReader r(payload, "DataRow");
    const int n = r.i16();
    if (n < 0 || static_cast<std::size_t>(n) != columns())
        r.fail("has " + std::to_string(n) + " fields but RowDescription announced " + std::to_string(columns()));
    const std::size_t first = fields_.size();
    std::size_t pos = 2;
    try {
        for (int i = 0; i < n; ++i) {
            const std::int32_t len = r.i32();
            pos += 4;
            if (len < -1) r.fail("negative field length " + std::to_string(len));
            if (len >= 0) {
                r.bytes(static_cast<std::size_t>(len));
                fields_.emplace_back(base + pos, len);
                pos += static_cast<std::size_t>(len);
            } else {
                fields_.emplace_back(base + pos, -1);
            }
        }
        r.expect_end();
    } catch (...) {
        fields_.resize(first);  // a rejected row leaves no half-indexed fields behind
        throw;
    }
}

void Result::add_data_row(std::span<const std::uint8_t> payload) {
    if (view_) clear_rows();
    index_fields(payload, data_.size());
    // Copy the whole body once; fields are offsets into it.
    data_.insert(data_.end(), payload.begin(), payload.end());
    ++rows_;
}

void Result::set_row_view(std::span<const std::uint8_t> payload) {
    fields_.clear();
    data_.clear();
    rows_ = 0;
    view_ = nullptr;
    index_fields(payload, 0);
    view_ = payload.data();
    rows_ = 1;
}

}  // namespace pgtls
