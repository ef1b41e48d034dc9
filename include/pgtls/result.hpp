/// \file
/// pgtls — query results: column metadata and rows whose fields are views into one buffer.
#pragma once

#include "pgtls/version.hpp"

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "pgtls/types.hpp"

PGTLS_API_BEGIN
namespace pgtls {

namespace detail {
/// A byte buffer with room for one small row inside the object: the one-row result of a
/// short query (`SELECT $1::int`) allocates nothing, which matters when a pipeline keeps a
/// thousand of them alive at once. resize() leaves new bytes uninitialised.
class RowBytes {
public:
    RowBytes() noexcept = default;
    RowBytes(const RowBytes& o) { assign(o); }
    RowBytes(RowBytes&& o) noexcept { take(o); }
    RowBytes& operator=(const RowBytes& o) {
        if (this != &o) assign(o);
        return *this;
    }
    RowBytes& operator=(RowBytes&& o) noexcept {
        if (this != &o) {
            delete[] heap_;
            take(o);
        }
        return *this;
    }
    ~RowBytes() { delete[] heap_; }

    std::uint8_t* data() noexcept { return heap_ ? heap_ : inline_; }
    const std::uint8_t* data() const noexcept { return heap_ ? heap_ : inline_; }
    std::size_t size() const noexcept { return size_; }
    void clear() noexcept { size_ = 0; }  // keeps the capacity
    void resize(std::size_t n) {
        if (n > (heap_ ? capacity_ : inline_capacity)) grow(n);
        size_ = n;
    }

private:
    static constexpr std::size_t inline_capacity = 48;
    void grow(std::size_t n);
    void assign(const RowBytes& o) {
        size_ = 0;
        resize(o.size_);
        if (o.size_) std::memcpy(data(), o.data(), o.size_);
    }
    void take(RowBytes& o) noexcept {
        size_ = o.size_;
        heap_ = o.heap_;
        capacity_ = o.capacity_;
        if (!heap_ && size_) std::memcpy(inline_, o.inline_, size_);
        o.heap_ = nullptr;
        o.size_ = o.capacity_ = 0;
    }
    std::uint8_t* heap_ = nullptr;
    std::size_t size_ = 0;
    std::size_t capacity_ = 0;  ///< of heap_
    alignas(8) std::uint8_t inline_[inline_capacity];
};
}  // namespace detail

/// One column of a result, as the server's RowDescription describes it.
struct Column {
    std::string name;                ///< the column's name (or alias) in the query
    std::uint32_t table_oid = 0;     ///< the table it comes from; 0 for an expression
    std::int16_t column_number = 0;  ///< its attribute number in that table; 0 for an expression
    std::uint32_t type_oid = 0;      ///< its data type
    std::int16_t type_size = 0;      ///< pg_type.typlen: negative for variable-length types
    std::int32_t type_modifier = 0;  ///< pg_attribute.atttypmod, e.g. varchar's length + 4; -1 for none
    std::int16_t format = 0;  ///< 0 text, 1 binary
};

/// One value of a row: a view into its Result's storage, valid while the Result lives (for a
/// streamed row, until the next row).
class Field {
public:
    /// `len` bytes at `data` (len < 0: NULL) of `column`; none is owned.
    Field(const std::uint8_t* data, std::int32_t len, const Column* column) noexcept
        : data_(data), len_(len), column_(column) {}
    bool is_null() const noexcept { return len_ < 0; }  ///< True for SQL NULL.
    /// Raw bytes (text or binary per column format); empty for NULL.
    std::string_view view() const noexcept {
        return len_ < 0 ? std::string_view{} : std::string_view(reinterpret_cast<const char*>(data_), std::size_t(len_));
    }
    const Column& column() const noexcept { return *column_; }             ///< Its column.
    std::uint32_t type_oid() const noexcept { return column_->type_oid; }  ///< Its column's type.
    bool is_binary() const noexcept { return column_->format == 1; }       ///< Binary format, else text.

    /// Convert to T (see types.hpp). NULL into a non-optional T throws Error(usage).
    template <typename T>
    T as() const {
        if constexpr (is_optional_v<T>) {
            if (is_null()) return std::nullopt;
            return from_field<typename T::value_type>(view(), column_->type_oid, is_binary(), column_->name);
        } else {
            if (is_null()) throw_null(column_->name);
            return from_field<T>(view(), column_->type_oid, is_binary(), column_->name);
        }
    }

private:
    [[noreturn]] static void throw_null(const std::string& column);
    const std::uint8_t* data_;
    std::int32_t len_;
    const Column* column_;
};

class Result;
template <typename T>
class TypedRows;

/// One row of a Result: a light handle (result pointer and index), valid while the Result lives.
class Row {
public:
    /// Row `index` of `result`.
    Row(const Result* result, std::size_t index) noexcept : result_(result), index_(index) {}
    std::size_t size() const noexcept;  ///< Number of fields (the result's columns).
    /// Field by position; throws Error(usage) when `column` >= size().
    Field operator[](std::size_t column) const;
    /// Field by column name (the first column of that name); throws Error(usage) if absent.
    Field operator[](std::string_view column_name) const;
    std::size_t index() const noexcept { return index_; }  ///< The row's index in its result.
    /// The result's column descriptions.
    const std::vector<Column>& columns() const noexcept;

    /// auto [a, b] = row.as<int, std::string>();
    template <typename... Ts>
    std::tuple<Ts...> as() const {
        return as_impl<Ts...>(std::index_sequence_for<Ts...>{});
    }

private:
    template <typename... Ts, std::size_t... I>
    std::tuple<Ts...> as_impl(std::index_sequence<I...>) const {
        check_arity(sizeof...(Ts));
        return std::tuple<Ts...>{(*this)[I].template as<Ts>()...};
    }
    void check_arity(std::size_t n) const;
    const Result* result_;
    std::size_t index_;
};

/// The outcome of one statement: rows (possibly none), columns and the command tag.
class Result {
public:
    Result() = default;
    std::size_t size() const noexcept { return rows_; }      ///< Number of rows.
    bool empty() const noexcept { return rows_ == 0; }       ///< True without rows.
    std::size_t columns() const noexcept { return ncols_; }  ///< Number of columns.
    /// The column descriptions (empty for a command without rows).
    const std::vector<Column>& column_info() const noexcept { return columns_ ? *columns_ : no_columns(); }
    /// Column index by name; throws Error(usage) if absent.
    std::size_t column_index(std::string_view name) const;
    /// Row by index, unchecked: `row` must be < size().
    Row operator[](std::size_t row) const;
    /// Row by index; throws Error(usage) when `row` >= size().
    Row at(std::size_t row) const;

    /// "INSERT 0 3", "SELECT 10", ...; empty for an empty query.
    const std::string& command_tag() const noexcept { return command_tag_; }
    /// Rows affected/returned per the command tag (0 when none).
    std::uint64_t affected_rows() const noexcept;
    /// True when the statement was empty (EmptyQueryResponse).
    bool is_empty_query() const noexcept { return empty_query_; }

    /// Every row as a C++ value: result.as<std::vector<User>>() for a plain struct (fields by
    /// position, or by name with pgtls::column_names<User>) or a std::tuple; the columns are
    /// checked against the type once, before any row is decoded (see row_mapping.hpp).
    template <typename Container>
    Container as() const;
    /// The rows as T values for range-for: for (const User& u : result.rows<User>()).
    template <typename T>
    TypedRows<T> rows() const;

    /// A forward iterator over the rows.
    class iterator {
    public:
        using value_type = Row;                  ///< What it yields.
        using difference_type = std::ptrdiff_t;  ///< Row distance.
        iterator(const Result* r, std::size_t i) : r_(r), i_(i) {}  ///< Row `i` of `r`.
        Row operator*() const { return Row(r_, i_); }               ///< The current row.
        iterator& operator++() { ++i_; return *this; }              ///< Next row.
        iterator operator++(int) { auto t = *this; ++i_; return t; }  ///< Next row.
        bool operator==(const iterator& o) const { return i_ == o.i_; }  ///< Same row.
    private:
        const Result* r_;
        std::size_t i_;
    };
    iterator begin() const { return {this, 0}; }     ///< The first row.
    iterator end() const { return {this, size()}; }  ///< Past the last row.

    // --- building (used by the library, not by applications) ---
    /// Sets the column descriptions (a RowDescription).
    void set_columns(std::vector<Column> columns) {
        ncols_ = columns.size();
        columns_ = std::make_shared<const std::vector<Column>>(std::move(columns));
    }
    /// Shares one column list between results (a repeated RowDescription is parsed once).
    void set_columns(std::shared_ptr<const std::vector<Column>> columns) {
        ncols_ = columns ? columns->size() : 0;
        columns_ = std::move(columns);
    }
    /// `payload` is a DataRow body (Int16 count, then Int32 len + bytes per field). Validated.
    void add_data_row(std::span<const std::uint8_t> payload);
    /// Makes the result hold exactly one row that refers to `payload` (a DataRow body, validated)
    /// instead of copying it: streaming hands rows straight from the receive buffer. The row is
    /// valid only while `payload` is; any later add_data_row/clear_rows/set_row_view replaces it.
    void set_row_view(std::span<const std::uint8_t> payload);
    /// Sets command_tag() (a CommandComplete).
    void set_command_tag(std::string tag) { command_tag_ = std::move(tag); }
    /// Drops the rows but keeps columns and buffer capacity (streaming reuses one Result).
    void clear_rows() noexcept {
        storage_.clear();
        later_rows_.clear();
        rows_ = 0;
        view_ = nullptr;
    }
    /// Sets every column's format (results of a statement described before Bind chose it).
    void set_all_formats(std::int16_t format) {
        if (!columns_) return;
        bool same = true;
        for (const auto& c : *columns_) same = same && c.format == format;
        if (same) return;
        auto copy = std::make_shared<std::vector<Column>>(*columns_);
        for (auto& c : *copy) c.format = format;
        columns_ = std::move(copy);
    }
    /// Marks the result as the outcome of an empty statement.
    void set_empty_query() { empty_query_ = true; }
    /// Back to a default-constructed result, keeping buffer capacity (cheaper than = Result()).
    void reset() noexcept {
        columns_.reset();
        ncols_ = 0;
        clear_rows();
        command_tag_.clear();
        empty_query_ = false;
    }

private:
    friend class Row;
    static const std::vector<Column>& no_columns() noexcept;
    /// Validates a DataRow body and writes its field table (columns() entries of
    /// {uint32 offset of the bytes from `bytes_base`, int32 length or -1 for NULL}) at `table`.
    void index_fields(std::span<const std::uint8_t> payload, std::uint8_t* table, std::size_t bytes_base) const;
    std::size_t row_start(std::size_t row) const noexcept { return row == 0 ? 0 : later_rows_[row - 1]; }
    std::shared_ptr<const std::vector<Column>> columns_;
    std::size_t ncols_ = 0;  ///< columns_->size()
    /// Per row: its field table, then its DataRow body (offsets count from the row's start).
    /// With a row view, only row 0's table is here and offsets count from view_.
    detail::RowBytes storage_;
    std::vector<std::size_t> later_rows_;  ///< start of rows 1..n-1: a one-row result allocates once
    std::size_t rows_ = 0;
    const std::uint8_t* view_ = nullptr;  ///< set_row_view's payload, not owned
    std::string command_tag_;
    bool empty_query_ = false;
};

}  // namespace pgtls

#include "pgtls/row_mapping.hpp"
PGTLS_API_END
