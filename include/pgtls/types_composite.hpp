/// \file
/// Composite (row) types: a std::tuple, or a plain aggregate marked as composite, by position.
/// Included by row_mapping.hpp (so by result.hpp and client.hpp).
///
/// @code
///   struct Point { double x; double y; };
///   template <> inline constexpr bool pgtls::composite_type<Point> = true;
///   auto p = row[0].as<Point>();                       // a column of type point3 AS (x float8, y float8)
///   auto t = row[0].as<std::tuple<int, std::optional<std::string>>>();
///   auto v = row[0].as<std::vector<Point>>();          // an array of composites
/// @endcode
///
/// Field i of the value fills field i of the C++ type (the struct's declaration order); the
/// counts must agree. A NULL field needs std::optional. Fields may be any type with a codec,
/// including nested composites and arrays. Text format: record_out's "(1,"a b",)" with the
/// fields decoded by content (OID 0). Binary format: field count, then each field's type OID,
/// length and bytes; each field OID is checked against its C++ field type as row mapping checks
/// columns. A malformed value (truncated, wrong count, lengths past the end, trailing bytes) is
/// Error(usage) naming the composite type (and, through Field::as, the column).
///
/// A domain field carries the domain's OID in binary format, which built-in field types refuse
/// (they cannot tell a domain from any other user type); text format reads it as its base type.
///
/// Writing: as untyped text (OID 0), so the statement names the type (`$1::point3`); a vector of
/// them is an untyped text array (`$1::point3[]`). encode_binary exists when every field's codec
/// has a type OID; send it with the composite's OID (see load_type in type_loader.hpp).
/// A struct marked composite is a value, not a row: map rows into another struct or a tuple.
#pragma once

#include "pgtls/version.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

#include "pgtls/row_mapping.hpp"
#include "pgtls/types.hpp"

PGTLS_API_BEGIN
namespace pgtls {

/// Set to true for a plain aggregate to read and write it as a composite type, by position.
template <typename T>
inline constexpr bool composite_type = false;

namespace detail {

/// One field of a composite value: its bytes (nullopt for NULL) and, in binary, its type OID.
struct CompositeField {
    std::optional<std::string_view> bytes;
    std::uint32_t type_oid = 0;
};

/// Splits a binary composite (record_send) into its fields, views into `b`.
void parse_binary_composite(std::string_view b, std::uint32_t type_oid, std::vector<CompositeField>& out);
/// Splits a text composite (record_out) into its fields, unquoted.
void parse_text_composite(std::string_view b, std::uint32_t type_oid, std::vector<std::optional<std::string>>& out);
/// Appends one field to a record_in literal, quoted if needed (nullopt writes NULL).
void append_text_composite_field(std::string& out, const std::optional<std::string>& field);
/// "composite <type>: <what>"
[[noreturn]] void composite_error(std::uint32_t type_oid, const std::string& what);

template <typename T>
struct is_composite : std::bool_constant<composite_type<T>> {};
template <typename... Ts>
struct is_composite<std::tuple<Ts...>> : std::true_type {};

template <typename T>
auto composite_fields(T& v) {
    if constexpr (is_tuple<std::remove_const_t<T>>::value) return std::apply([](auto&... e) { return std::tie(e...); }, v);
    else return tie_fields(v);
}

template <typename T>
constexpr std::size_t composite_size() {
    if constexpr (is_tuple<T>::value) return std::tuple_size_v<T>;
    else return aggregate_field_count<T>();
}

/// Whether every field's codec writes binary with a type OID.
template <typename T>
constexpr bool composite_binary_encodable() {
    return []<std::size_t... I>(std::index_sequence<I...>) {
        using Fields = decltype(composite_fields(std::declval<T&>()));
        return (binary_encodable<typename unwrap_optional<std::remove_cvref_t<std::tuple_element_t<I, Fields>>>::type> &&
                ...);
    }(std::make_index_sequence<composite_size<T>()>{});
}

}  // namespace detail

/// A tuple or a struct with composite_type<T> = true, as a composite value.
template <typename T>
struct Codec<T, std::enable_if_t<detail::is_composite<T>::value>> {
    static constexpr std::size_t size = detail::composite_size<T>();

    /// Reads a field of column type `oid` in text or binary format; throws
    /// Error(ErrorKind::usage) when the value does not fit.
    static T decode(std::string_view b, std::uint32_t oid, bool binary) {
        T value{};
        auto fields = detail::composite_fields(value);
        if (binary) {
            std::vector<detail::CompositeField> parts;
            detail::parse_binary_composite(b, oid, parts);
            check_count(parts.size(), oid);
            fill_binary(fields, parts, oid, std::make_index_sequence<size>{});
        } else {
            std::vector<std::optional<std::string>> parts;
            detail::parse_text_composite(b, oid, parts);
            check_count(parts.size(), oid);
            fill_text(fields, parts, oid, std::make_index_sequence<size>{});
        }
        return value;
    }

    /// The value in PostgreSQL's text input form.
    static std::string encode_text(const T& v) {
        std::string out = "(";
        std::apply(
            [&](const auto&... f) {
                std::size_t i = 0;
                ((out += (i++ == 0 ? "" : ","), detail::append_text_composite_field(out, field_text(f))), ...);
            },
            detail::composite_fields(v));
        out.push_back(')');
        return out;
    }

    /// The value in PostgreSQL's binary (send/recv) form.
    static std::string encode_binary(const T& v)
        requires(detail::composite_binary_encodable<T>())
    {
        std::string out;
        detail::write_be(out, size, 4);
        std::apply([&](const auto&... f) { (append_binary_field(out, f), ...); }, detail::composite_fields(v));
        return out;
    }

    /// The value as an untyped text parameter: the server reads it as the type the statement needs.
    static Param encode(const T& v) { return Param{encode_text(v), 0, 0}; }

private:
    template <typename F>
    using Plain = typename detail::unwrap_optional<std::remove_cvref_t<F>>::type;

    static void check_count(std::size_t have, std::uint32_t oid) {
        if (have != size)
            detail::composite_error(oid, "value has " + std::to_string(have) + " fields, the C++ type has " +
                                             std::to_string(size));
    }

    template <typename F>
    static std::optional<std::string> field_text(const F& f) {
        if constexpr (is_optional_v<F>) {
            if (!f) return std::nullopt;
            return field_text(*f);
        } else if constexpr (text_encodable<F>) {
            return std::string(Codec<F>::encode_text(f));
        } else {
            Param p = Codec<F>::encode(f);
            if (p.value && p.format != 0)
                throw Error(ErrorKind::usage, "composite field codec writes binary only; give it encode_text");
            return std::move(p.value);
        }
    }

    template <typename F>
    static void append_binary_field(std::string& out, const F& f) {
        if constexpr (is_optional_v<F>) {
            if (!f) {
                detail::write_be(out, Codec<typename F::value_type>::type_oid, 4);
                detail::write_be(out, 0xffffffffu, 4);
                return;
            }
            append_binary_field(out, *f);
        } else {
            const std::string bytes = Codec<F>::encode_binary(f);
            if (bytes.size() > 0x7fffffffu) throw Error(ErrorKind::usage, "composite field larger than 2 GiB");
            detail::write_be(out, Codec<F>::type_oid, 4);
            detail::write_be(out, bytes.size(), 4);
            out += bytes;
        }
    }

    template <typename F>
    static void set_field(F& field, const std::optional<std::string_view>& bytes, std::uint32_t field_oid, bool binary,
                          std::size_t i, std::uint32_t oid) {
        if (!bytes) {
            if constexpr (is_optional_v<F>) field = std::nullopt;
            else detail::composite_error(oid, "field " + std::to_string(i + 1) + " is NULL; read it as std::optional");
            return;
        }
        if (binary && !detail::column_fits<F>(field_oid))
            detail::composite_error(oid, "field " + std::to_string(i + 1) + " is " + detail::type_name(field_oid) +
                                             ", which cannot fill " + detail::field_type_name<F>() +
                                             (field_oid >= 16384 ? " (a domain field keeps its own OID in binary "
                                                                   "format; read the composite in text format)"
                                                                 : ""));
        try {
            field = Codec<Plain<F>>::decode(*bytes, field_oid, binary);
        } catch (const Error& e) {
            detail::composite_error(oid, "field " + std::to_string(i + 1) + ": " + e.what());
        }
    }

    template <typename Fields, std::size_t... I>
    static void fill_binary(Fields& fields, const std::vector<detail::CompositeField>& parts, std::uint32_t oid,
                            std::index_sequence<I...>) {
        (set_field(std::get<I>(fields), parts[I].bytes, parts[I].type_oid, true, I, oid), ...);
    }

    template <typename Fields, std::size_t... I>
    static void fill_text(Fields& fields, const std::vector<std::optional<std::string>>& parts, std::uint32_t oid,
                          std::index_sequence<I...>) {
        auto view = [&](std::size_t i) -> std::optional<std::string_view> {
            if (!parts[i]) return std::nullopt;
            return std::string_view(*parts[i]);
        };
        (set_field(std::get<I>(fields), view(I), oid::unspecified, false, I, oid), ...);
    }
};

}  // namespace pgtls
PGTLS_API_END
