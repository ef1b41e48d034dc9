/// \file
/// Typed binary COPY: rows of tuples or structs written with COPY ... FROM STDIN (FORMAT binary)
/// and read with COPY ... TO STDOUT (FORMAT binary).
///
/// @code
///   struct Item { std::int32_t id; std::string name; std::optional<pgtls::TimestampTz> at; };
///   auto w = pgtls::copy_in_rows<Item>(client, "COPY item (id, name, at) FROM STDIN (FORMAT binary)");
///   for (const Item& i : items) w.write(i);
///   w.finish();
///   pgtls::copy_out_rows<Item>(client, "COPY item (id, name, at) TO STDOUT (FORMAT binary)",
///                              [](const Item& i) { ... });
/// @endcode
///
/// Binary COPY carries no type information: each field is written with its codec's
/// encode_binary and must match its column's type exactly (std::int32_t for int4, not int64;
/// the server rejects a mismatch as "incorrect binary data format"). Reading decodes each
/// field as the type its C++ codec names (Codec<F>::type_oid). T is a tuple or a plain
/// aggregate (fields by position); std::optional fields carry NULLs. Malformed COPY data (bad
/// signature, a field count other than T's, lengths past the data) is Error(usage).
#pragma once

#include "pgtls/version.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "pgtls/client.hpp"
#include "pgtls/types_composite.hpp"

namespace pgtls {

namespace detail {

/// The binary COPY signature, flags and empty header extension.
std::string binary_copy_header();
/// Incremental parser of a binary COPY stream: feed() CopyData chunks; each complete tuple
/// is passed to on_tuple as its fields (views valid during the call).
class BinaryCopyParser {
public:
    using TupleHandler = std::function<void(const std::vector<std::optional<std::string_view>>&)>;
    explicit BinaryCopyParser(TupleHandler on_tuple) : on_tuple_(std::move(on_tuple)) {}
    void feed(std::string_view data);
    /// Error(usage) unless the stream ended with its trailer.
    void finish() const;

private:
    std::size_t parse(std::string_view b);  ///< bytes consumed
    TupleHandler on_tuple_;
    std::string pending_;
    bool header_done_ = false;
    bool trailer_seen_ = false;
    std::vector<std::optional<std::string_view>> fields_;
};

template <typename T>
using copy_row_fields = decltype(composite_fields(std::declval<T&>()));

}  // namespace detail

/// Writes T rows into an open binary COPY FROM STDIN.
template <typename T>
class CopyRowWriter {
public:
    /// Takes over `in` (from Client::copy_in with FORMAT binary) and writes the header.
    explicit CopyRowWriter(CopyIn in) : in_(std::move(in)) {
        buffer_.reserve(batch + 4096);
        buffer_ += detail::binary_copy_header();
    }
    /// Encodes one row into the writer's buffer, handed to CopyIn in 64 KiB pieces (one
    /// CopyData message per piece, not per row). A field that cannot be encoded throws, and
    /// nothing of that row stays behind: the COPY goes on with the next row.
    void write(const T& row) {
        const std::size_t at = buffer_.size();
        buffer_.resize(at + 2);
        put_be(buffer_.data() + at, size, 2);
        try {
            std::apply([&](const auto&... f) { (append(f), ...); }, detail::composite_fields(row));
        } catch (...) {
            buffer_.resize(at);  ///< never half a row on the wire
            throw;
        }
        if (buffer_.size() >= batch) {
            in_.write(buffer_);
            buffer_.clear();
        }
    }
    /// Writes the rest and the trailer and ends the COPY; returns the server's row count.
    std::uint64_t finish() {
        buffer_.append("\xff\xff", 2);
        in_.write(buffer_);
        buffer_.clear();
        return in_.finish();
    }
    /// Aborts the COPY (the server discards every row).
    void abort(std::string_view reason = "aborted by the client") {
        buffer_.clear();
        in_.abort(reason);
    }

private:
    static constexpr std::size_t size = detail::composite_size<T>();
    static constexpr std::size_t batch = 64 * 1024;
    template <typename F>
    void append(const F& f) {
        if constexpr (is_optional_v<F>) {
            if (!f) {
                detail::write_be(buffer_, 0xffffffffu, 4);
                return;
            }
            append(*f);
        } else if constexpr (std::is_integral_v<F> && requires { Codec<F>::wire_size; }) {
            /// Integers: written in place, no temporary string.
            put_fixed(static_cast<std::uint64_t>(static_cast<std::int64_t>(f)), Codec<F>::wire_size);
        } else if constexpr (std::is_same_v<F, TimestampTz> || std::is_same_v<F, Timestamp>) {
            put_fixed(static_cast<std::uint64_t>(detail::pg_micros_from_time_point(f)), 8);
        } else {
            static_assert(requires { Codec<F>::encode_binary(f); }, "a binary COPY field needs a codec with encode_binary");
            const std::size_t at = buffer_.size();
            buffer_.append(4, '\0');
            if constexpr (std::is_same_v<F, std::string> || std::is_same_v<F, std::string_view>)
                buffer_ += f;  ///< a string's binary form is its bytes; no temporary
            else
                buffer_ += Codec<F>::encode_binary(f);
            const std::size_t n = buffer_.size() - at - 4;
            if (n > 0x7fffffffu) throw Error(ErrorKind::usage, "COPY field larger than 2 GiB");
            put_be(buffer_.data() + at, n, 4);
        }
    }
    /// The length `n` and the n-byte big-endian `v`.
    void put_fixed(std::uint64_t v, std::size_t n) {
        const std::size_t at = buffer_.size();
        buffer_.resize(at + 4 + n);
        put_be(buffer_.data() + at, n, 4);
        put_be(buffer_.data() + at + 4, v, n);
    }
    static void put_be(char* p, std::uint64_t v, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<char>(v >> (8 * (n - 1 - i)));
    }
    CopyIn in_;
    std::string buffer_;
};

namespace detail {
template <typename F>
void set_copy_field(F& field, const std::optional<std::string_view>& bytes, std::uint64_t row, std::size_t i) {
    using P = typename unwrap_optional<F>::type;
    if (!bytes) {
        if constexpr (is_optional_v<F>) field = std::nullopt;
        else throw Error(ErrorKind::usage, "binary COPY row " + std::to_string(row) + " field " + std::to_string(i + 1) +
                                               " is NULL; read it as std::optional");
        return;
    }
    try {
        field = Codec<P>::decode(*bytes, codec_type_oid<P>(), true);
    } catch (const Error& e) {
        throw Error(ErrorKind::usage, "binary COPY row " + std::to_string(row) + " field " + std::to_string(i + 1) + ": " + e.what());
    }
}
}  // namespace detail

/// Starts `copy_sql` (COPY ... FROM STDIN (FORMAT binary)) and returns its row writer.
template <typename T>
CopyRowWriter<T> copy_in_rows(Client& client, std::string_view copy_sql) {
    return CopyRowWriter<T>(client.copy_in(copy_sql));
}

/// Runs `copy_sql` (COPY ... TO STDOUT (FORMAT binary)) and calls on_row for each row as a T;
/// returns the row count.
template <typename T, typename F>
std::uint64_t copy_out_rows(Client& client, std::string_view copy_sql, F&& on_row) {
    constexpr std::size_t size = detail::composite_size<T>();
    using Fields = detail::copy_row_fields<T>;
    std::uint64_t row = 0;
    detail::BinaryCopyParser parser([&](const std::vector<std::optional<std::string_view>>& fields) {
        ++row;
        if (fields.size() != size)
            throw Error(ErrorKind::usage, "binary COPY row " + std::to_string(row) + " has " + std::to_string(fields.size()) +
                                              " fields, the row type " + std::to_string(size));
        T value{};
        auto tied = detail::composite_fields(value);
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (detail::set_copy_field<std::remove_reference_t<std::tuple_element_t<I, Fields>>>(std::get<I>(tied), fields[I], row, I), ...);
        }(std::make_index_sequence<size>{});
        on_row(static_cast<const T&>(value));
    });
    const std::uint64_t n = client.copy_out(copy_sql, [&](std::string_view d) { parser.feed(d); });
    parser.finish();
    return n;
}
}  // namespace pgtls
