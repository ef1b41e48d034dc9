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

std::size_t Row::size() const noexcept { return result_->columns_.size(); }

Field Row::operator[](std::size_t column) const {
    if (column >= result_->columns_.size())
        throw Error(ErrorKind::usage, "column index " + std::to_string(column) + " out of range (result has " +
                                          std::to_string(result_->columns_.size()) + " columns)");
    const auto& [off, len] = result_->fields_[result_->row_offsets_[index_] + column];
    return Field(result_->data_.data() + off, len, &result_->columns_[column]);
}

Field Row::operator[](std::string_view name) const { return (*this)[result_->column_index(name)]; }

void Row::check_arity(std::size_t n) const {
    if (n != size())
        throw Error(ErrorKind::usage, "row has " + std::to_string(size()) + " columns but " + std::to_string(n) +
                                          " values were requested");
}

std::size_t Result::column_index(std::string_view name) const {
    for (std::size_t i = 0; i < columns_.size(); ++i)
        if (columns_[i].name == name) return i;
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

void Result::add_data_row(std::span<const std::uint8_t> payload) {
    protocol::ByteReader r(payload, "DataRow");
    const int n = r.i16();
    if (n < 0 || static_cast<std::size_t>(n) != columns_.size())
        r.fail("has " + std::to_string(n) + " fields but RowDescription announced " + std::to_string(columns_.size()));
    row_offsets_.push_back(fields_.size());
    // Copy the whole body once; fields are offsets into it.
    const std::size_t base = data_.size();
    data_.insert(data_.end(), payload.begin(), payload.end());
    std::size_t pos = 2;
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
}

namespace detail {

void conversion_error(const std::string& what) { throw Error(ErrorKind::usage, what); }

double decode_double(std::string_view b, std::uint32_t type_oid, bool binary) {
    if (binary) {
        if (type_oid == oid::float8) {
            if (b.size() != 8) conversion_error("float8 value must be 8 bytes");
            const std::uint64_t u = read_be(b, 8);
            double d;
            std::memcpy(&d, &u, 8);
            return d;
        }
        if (type_oid == oid::float4) {
            if (b.size() != 4) conversion_error("float4 value must be 4 bytes");
            const auto u = static_cast<std::uint32_t>(read_be(b, 4));
            float f;
            std::memcpy(&f, &u, 4);
            return f;
        }
        if (type_oid == oid::int2 || type_oid == oid::int4 || type_oid == oid::int8)
            return static_cast<double>(decode_integer<std::int64_t>(b, type_oid, true));
        conversion_error("binary value of type " + std::to_string(type_oid) + " is not a number");
    }
    if (b == "NaN") return std::nan("");
    if (b == "Infinity") return INFINITY;
    if (b == "-Infinity") return -INFINITY;
    double d = 0;
    auto r = std::from_chars(b.data(), b.data() + b.size(), d);
    if (r.ec == std::errc::result_out_of_range) conversion_error("\"" + std::string(b) + "\" is out of range for double");
    if (r.ec != std::errc() || r.ptr != b.data() + b.size())
        conversion_error("\"" + std::string(b) + "\" is not a number");
    return d;
}

bool decode_bool(std::string_view b, bool binary) {
    if (binary) {
        if (b.size() != 1) conversion_error("bool value must be 1 byte");
        return b[0] != 0;
    }
    if (b == "t" || b == "true") return true;
    if (b == "f" || b == "false") return false;
    conversion_error("\"" + std::string(b) + "\" is not a boolean");
}

std::string decode_bytea(std::string_view b, bool binary) {
    if (binary) return std::string(b);
    auto hexval = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out;
    if (b.size() >= 2 && b[0] == '\\' && b[1] == 'x') {
        if ((b.size() - 2) % 2 != 0) conversion_error("bytea hex value has an odd number of digits");
        out.reserve((b.size() - 2) / 2);
        for (std::size_t i = 2; i < b.size(); i += 2) {
            const int hi = hexval(b[i]), lo = hexval(b[i + 1]);
            if (hi < 0 || lo < 0) conversion_error("invalid hexadecimal digit in bytea value");
            out.push_back(static_cast<char>(hi * 16 + lo));
        }
        return out;
    }
    // Escape format: \\ and \ooo.
    for (std::size_t i = 0; i < b.size(); ++i) {
        if (b[i] != '\\') {
            out.push_back(b[i]);
            continue;
        }
        if (i + 1 < b.size() && b[i + 1] == '\\') {
            out.push_back('\\');
            ++i;
        } else if (i + 3 < b.size() + 0 && b[i + 1] >= '0' && b[i + 1] <= '3' && b[i + 2] >= '0' && b[i + 2] <= '7' &&
                   b[i + 3] >= '0' && b[i + 3] <= '7') {
            out.push_back(static_cast<char>((b[i + 1] - '0') * 64 + (b[i + 2] - '0') * 8 + (b[i + 3] - '0')));
            i += 3;
        } else {
            conversion_error("invalid escape in bytea value");
        }
    }
    return out;
}

std::string format_double(double v) {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

}  // namespace detail
}  // namespace pgtls
