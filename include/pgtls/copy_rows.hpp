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
/// field as the type its C++ codec names (Codec<F>::type_oid); read a jsonb column into
/// pgtls::Json, which drops jsonb's version byte (std::string keeps it). T is a tuple or a plain
/// aggregate (fields by position); std::optional fields carry NULLs. Malformed COPY data (bad
/// signature, a field count other than T's, lengths past the data) is Error(usage).
#pragma once

#include "pgtls/version.hpp"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "pgtls/client.hpp"
#include "pgtls/types_composite.hpp"

PGTLS_API_BEGIN
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
    explicit CopyRowWriter(CopyIn in)
        : in_(std::move(in)), buffer_(std::make_unique_for_overwrite<char[]>(batch + 4096)), capacity_(batch + 4096) {
        const std::string h = detail::binary_copy_header();
        std::memcpy(room(h.size()), h.data(), h.size());
    }
    /// Takes over `o`'s COPY and its rows not yet sent; `o` is left empty (its COPY moved).
    CopyRowWriter(CopyRowWriter&& o) noexcept
        : in_(std::move(o.in_)),
          buffer_(std::move(o.buffer_)),
          capacity_(std::exchange(o.capacity_, 0)),
          used_(std::exchange(o.used_, header)) {}
    /// Encodes one row into the writer's buffer, sent in CopyData messages of up to 256 KiB
    /// (one per batch of whole rows, not per row). A field that cannot be encoded throws, and
    /// nothing of that row stays behind: the COPY goes on with the next row.
    [[gnu::always_inline]] void write(const T& row) {
        const std::size_t at = used_;
        if constexpr (direct_row) {
            std::apply([&](const auto&... f) { write_direct(f...); }, detail::composite_fields(row));
        } else {
            put_be<2>(room(2), size);
            try {
                std::apply([&](const auto&... f) { (append(f), ...); }, detail::composite_fields(row));
            } catch (...) {
                used_ = at;  // never half a row on the wire
                throw;
            }
        }
        if (used_ > batch) [[unlikely]]
            send(at);
    }
    /// Writes the rest and the trailer and ends the COPY; returns the server's row count.
    std::uint64_t finish() {
        put_be<2>(room(2), 0xffff);
        in_.write(data());  // sent with CopyDone in one write
        used_ = header;
        return in_.finish();
    }
    /// Aborts the COPY (the server discards every row).
    void abort(std::string_view reason = "aborted by the client") {
        used_ = header;
        in_.abort(reason);
    }

private:
    static constexpr std::size_t size = detail::composite_size<T>();
    // A batch is one CopyData message, its header included, of at most 16 TLS records of
    // plaintext (16 KiB each): a message one row past it would cost one more, nearly empty
    // record and one more send. (256 KiB rather than 64: one write, one check for what the
    // server sent meanwhile and one executor run per 16 records rather than per 4.)
    static constexpr std::size_t batch = 256 * 1024;
    // The buffer starts with room for the CopyData header, so a batch goes out in place.
    static constexpr std::size_t header = 5;
    // Larger batches (rows of many MiB) go through CopyIn::write, which splits them.
    static constexpr std::size_t max_framed = 16 * 1024 * 1024;

    // Fields the writer encodes itself, with the same bytes as their codec's encode_binary:
    // signed integers, float, double, bool, timestamps, strings, and std::optional of these.
    template <typename F>
    static constexpr bool direct_field() {
        if constexpr (is_optional_v<F>) return direct_field<typename F::value_type>();
        else return (std::is_integral_v<F> && requires { Codec<F>::wire_size; }) || std::is_same_v<F, double> ||
                    std::is_same_v<F, float> || std::is_same_v<F, bool> || std::is_same_v<F, TimestampTz> ||
                    std::is_same_v<F, Timestamp> || std::is_same_v<F, std::string> || std::is_same_v<F, std::string_view>;
    }
    static constexpr bool direct_row = []<std::size_t... I>(std::index_sequence<I...>) {
        return (direct_field<std::remove_cvref_t<std::tuple_element_t<I, detail::copy_row_fields<T>>>>() && ...);
    }(std::make_index_sequence<size>{});

    // A row of direct fields: its size first (so one capacity check per row, and a string
    // over 2 GiB is refused before anything is written), then every field stored through one
    // local pointer. used_ moves only once the whole row is in, so a field that throws (a
    // timestamp outside PostgreSQL's range) leaves nothing of the row behind.
    template <typename... F>
    [[gnu::always_inline]] void write_direct(const F&... f) {
        const std::size_t n = (std::size_t{2} + ... + direct_size(f));
        if (used_ + n > capacity_) [[unlikely]]  // (a moved-from writer has no buffer: capacity_ 0)
            grow(n);
        char* p = buffer_.get() + used_;
        put_be<2>(p, size);
        p += 2;
        ((p = put_direct(p, f)), ...);
        used_ += n;
    }
    template <typename F>
    static std::size_t direct_size(const F& f) {
        if constexpr (is_optional_v<F>) return f ? direct_size(*f) : 4;
        else if constexpr (std::is_same_v<F, std::string> || std::is_same_v<F, std::string_view>) {
            if (f.size() > 0x7fffffffu) [[unlikely]]
                too_large();
            return 4 + f.size();
        } else if constexpr (std::is_same_v<F, bool>) return 4 + 1;
        else return 4 + sizeof(wire_value(f));
    }
    template <typename F>
    static char* put_direct(char* p, const F& f) {
        if constexpr (is_optional_v<F>) {
            if (!f) {
                put_be<4>(p, 0xffffffffu);
                return p + 4;
            }
            return put_direct(p, *f);
        } else if constexpr (std::is_same_v<F, std::string> || std::is_same_v<F, std::string_view>) {
            put_be<4>(p, f.size());
            copy_bytes(p + 4, f.data(), f.size());
            return p + 4 + f.size();
        } else if constexpr (std::is_same_v<F, bool>) {
            put_be<4>(p, 1);
            p[4] = f ? '\1' : '\0';
            return p + 5;
        } else {
            const auto v = wire_value(f);
            put_be<4>(p, sizeof v);
            put_be<sizeof v>(p + 4, v);
            return p + 4 + sizeof v;
        }
    }
    // A fixed-size field as the unsigned integer whose big-endian bytes are its binary form.
    template <typename F>
    static auto wire_value(const F& f) {
        if constexpr (std::is_same_v<F, double>) return std::bit_cast<std::uint64_t>(f);
        else if constexpr (std::is_same_v<F, float>) return std::bit_cast<std::uint32_t>(f);
        else if constexpr (std::is_same_v<F, TimestampTz> || std::is_same_v<F, Timestamp>) return static_cast<std::uint64_t>(pg_micros(f));
        else if constexpr (Codec<F>::wire_size == 2) return static_cast<std::uint16_t>(f);
        else if constexpr (Codec<F>::wire_size == 4) return static_cast<std::uint32_t>(f);
        else return static_cast<std::uint64_t>(static_cast<std::int64_t>(f));
    }
    // pg_micros_from_time_point, with the common case inline: a time within about 300 BC ..
    // 73,000 AD is well inside PostgreSQL's range, so only the epoch moves; the rest (and
    // ±infinity) goes through the codec's checks.
    template <typename TP>
    static std::int64_t pg_micros(const TP& tp) {
        static_assert(std::is_same_v<typename TP::duration, std::chrono::microseconds>);
        const std::int64_t us = tp.time_since_epoch().count();
        if (us > -(std::int64_t{1} << 56) && us < (std::int64_t{1} << 61)) [[likely]]
            return us - detail::pg_epoch_micros;
        return detail::pg_micros_from_time_point(tp);
    }
    // memcpy, without a call for the short strings rows mostly hold: two overlapping loads and
    // stores, never touching a byte outside [s, s + n) or [d, d + n).
    static void copy_bytes(char* d, const char* s, std::size_t n) {
        if (n > 16) {
            std::memcpy(d, s, n);
        } else if (n >= 8) {
            std::uint64_t a, b;
            std::memcpy(&a, s, 8);
            std::memcpy(&b, s + n - 8, 8);
            std::memcpy(d, &a, 8);
            std::memcpy(d + n - 8, &b, 8);
        } else if (n >= 4) {
            std::uint32_t a, b;
            std::memcpy(&a, s, 4);
            std::memcpy(&b, s + n - 4, 4);
            std::memcpy(d, &a, 4);
            std::memcpy(d + n - 4, &b, 4);
        } else if (n > 0) {
            d[0] = s[0];
            d[n / 2] = s[n / 2];
            d[n - 1] = s[n - 1];
        }
    }
    [[noreturn]] static void too_large() { throw Error(ErrorKind::usage, "COPY field larger than 2 GiB"); }

    std::string_view data() const { return {buffer_.get() + header, used_ - header}; }
    // The row from `at` to used_ took the buffer past a batch: sends the rows before it, then
    // keeps that row for the next batch (moved to the front), or sends it alone when it fills
    // a batch by itself.
    [[gnu::noinline]] void send(std::size_t at) {
        if (at > header) {
            send_message(0, at);
            if (used_ - at + header <= batch) {
                std::memmove(buffer_.get() + header, buffer_.get() + at, used_ - at);
                used_ = header + (used_ - at);
                return;
            }
            at -= header;  // its CopyData header goes over the end of the rows just sent
        } else {
            at = 0;
        }
        send_message(at, used_);
        used_ = header;
    }
    // Sends buffer_[from + header, end) as one CopyData message framed in place at `from`.
    void send_message(std::size_t from, std::size_t end) {
        if (end - from - header <= max_framed)
            in_.write_framed(buffer_.get() + from, end - from);
        else
            in_.write(std::string_view(buffer_.get() + from + header, end - from - header));
    }
    // `n` bytes at the end of the rows, to be written by the caller. (Forced inline: called per
    // field, and GCC keeps it out of line otherwise.)
    [[gnu::always_inline]] char* room(std::size_t n) {
        if (used_ + n > capacity_) [[unlikely]]  // (a moved-from writer has no buffer: capacity_ 0)
            grow(n);
        char* p = buffer_.get() + used_;
        used_ += n;
        return p;
    }
    void grow(std::size_t n) {
        const std::size_t c = std::max(capacity_ * 2, used_ + n);
        auto b = std::make_unique_for_overwrite<char[]>(c);
        if (buffer_) std::memcpy(b.get(), buffer_.get(), used_);
        buffer_ = std::move(b);
        capacity_ = c;
    }
    template <typename F>
    void append(const F& f) {
        if constexpr (is_optional_v<F>) {
            if (!f) {
                put_be<4>(room(4), 0xffffffffu);
                return;
            }
            append(*f);
        } else if constexpr (std::is_integral_v<F> && requires { Codec<F>::wire_size; }) {
            // Integers: written in place, no temporary string.
            put_fixed<Codec<F>::wire_size>(static_cast<std::uint64_t>(static_cast<std::int64_t>(f)));
        } else if constexpr (std::is_same_v<F, TimestampTz> || std::is_same_v<F, Timestamp>) {
            put_fixed<8>(static_cast<std::uint64_t>(pg_micros(f)));
        } else if constexpr (std::is_same_v<F, std::string> || std::is_same_v<F, std::string_view>) {
            put_bytes(f);  // a string's binary form is its bytes; no temporary
        } else {
            static_assert(requires { Codec<F>::encode_binary(f); }, "a binary COPY field needs a codec with encode_binary");
            put_bytes(Codec<F>::encode_binary(f));
        }
    }
    // The length and the bytes of one field.
    void put_bytes(std::string_view b) {
        if (b.size() > 0x7fffffffu) too_large();
        char* p = room(4 + b.size());
        put_be<4>(p, b.size());
        if (!b.empty()) std::memcpy(p + 4, b.data(), b.size());
    }
    // The length `n` and the n-byte big-endian `v`.
    template <std::size_t N>
    void put_fixed(std::uint64_t v) {
        char* p = room(4 + N);
        put_be<4>(p, N);
        put_be<N>(p + 4, v);
    }
    // The low N bytes of `v`, big-endian: one byte-swapped store where the compiler has one.
    template <std::size_t N>
    static void put_be(char* p, std::uint64_t v) {
#if defined(__GNUC__)
        if constexpr (std::endian::native == std::endian::little && (N == 2 || N == 4 || N == 8)) {
            if constexpr (N == 2) {
                const std::uint16_t x = __builtin_bswap16(static_cast<std::uint16_t>(v));
                std::memcpy(p, &x, N);
            } else if constexpr (N == 4) {
                const std::uint32_t x = __builtin_bswap32(static_cast<std::uint32_t>(v));
                std::memcpy(p, &x, N);
            } else {
                const std::uint64_t x = __builtin_bswap64(v);
                std::memcpy(p, &x, N);
            }
            return;
        }
#endif
        for (std::size_t i = 0; i < N; ++i) p[i] = static_cast<char>(v >> (8 * (N - 1 - i)));
    }
    CopyIn in_;
    // [header][rows up to used_][spare up to capacity_], not zeroed: a short COPY touches only
    // the pages it fills.
    std::unique_ptr<char[]> buffer_;
    std::size_t capacity_;
    std::size_t used_ = header;
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
PGTLS_API_END
