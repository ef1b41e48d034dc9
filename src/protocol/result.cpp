#include "pgtls/result.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

#include "protocol/backend_messages.hpp"
#include "pgtls/error.hpp"
#include "pgtls/types.hpp"

namespace pgtls {

void detail::RowBytes::grow(std::size_t n) {
    const std::size_t cap = std::max(n, 2 * (heap_ ? capacity_ : inline_capacity));
    auto* fresh = new std::uint8_t[cap];
    if (size_) std::memcpy(fresh, data(), size_);
    delete[] heap_;
    heap_ = fresh;
    capacity_ = cap;
}

void detail::row_shape_error(const std::string& what) { throw Error(ErrorKind::usage, what); }

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
    const std::uint8_t* row = result_->storage_.data() + result_->row_start(index_);
    std::uint32_t off;
    std::int32_t len;
    std::memcpy(&off, row + 8 * column, 4);
    std::memcpy(&len, row + 8 * column + 4, 4);
    return Field((result_->view_ ? result_->view_ : row) + off, len, &(*result_->columns_)[column]);
}

Field Row::operator[](std::string_view name) const { return (*this)[result_->column_index(name)]; }

const std::vector<Column>& Row::columns() const noexcept { return result_->column_info(); }

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

void Result::index_fields(std::span<const std::uint8_t> payload, std::uint8_t* table, std::size_t bytes_base) const {
    const auto fail = [&](const std::string& why) { protocol::ByteReader(payload, "DataRow").fail(why); };
    const std::uint8_t* b = payload.data();
    const std::size_t size = payload.size();
    if (size < 2) fail("truncated");
    const auto n = static_cast<std::int16_t>((b[0] << 8) | b[1]);
    if (n < 0 || static_cast<std::size_t>(n) != ncols_)
        fail("has " + std::to_string(n) + " fields but RowDescription announced " + std::to_string(ncols_));
    std::size_t pos = 2;
    for (std::size_t i = 0; i < ncols_; ++i) {
        if (size - pos < 4) fail("truncated");
        const auto len = static_cast<std::int32_t>((std::uint32_t(b[pos]) << 24) | (std::uint32_t(b[pos + 1]) << 16) |
                                                   (std::uint32_t(b[pos + 2]) << 8) | std::uint32_t(b[pos + 3]));
        pos += 4;
        if (len < -1) fail("negative field length " + std::to_string(len));
        const auto off = static_cast<std::uint32_t>(bytes_base + pos);
        std::memcpy(table + 8 * i, &off, 4);
        std::memcpy(table + 8 * i + 4, &len, 4);
        if (len > 0) {
            if (size - pos < static_cast<std::size_t>(len)) fail("truncated");
            pos += static_cast<std::size_t>(len);
        }
    }
    if (pos != size) fail(std::to_string(size - pos) + " unexpected trailing bytes");
}

void Result::add_data_row(std::span<const std::uint8_t> payload) {
    if (view_) clear_rows();
    const std::size_t start = storage_.size();
    const std::size_t table = 8 * ncols_;
    if (payload.size() > 0x7fffffffu) protocol::ByteReader(payload, "DataRow").fail("row too large");
    storage_.resize(start + table + payload.size());
    try {
        index_fields(payload, storage_.data() + start, table);
    } catch (...) {
        storage_.resize(start);  // a rejected row leaves nothing behind
        throw;
    }
    // Copy the whole body once; fields are offsets into it.
    if (!payload.empty()) std::memcpy(storage_.data() + start + table, payload.data(), payload.size());
    if (rows_ > 0) later_rows_.push_back(start);
    ++rows_;
}

void Result::set_row_view(std::span<const std::uint8_t> payload) {
    clear_rows();
    storage_.resize(8 * ncols_);
    index_fields(payload, storage_.data(), 0);
    view_ = payload.data();
    rows_ = 1;
}

}  // namespace pgtls
