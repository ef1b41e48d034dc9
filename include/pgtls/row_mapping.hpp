/// \file
/// pgtls — rows as C++ values: plain structs and tuples, checked against the result's columns.
/// Included by result.hpp; do not include directly.
///
/// @code
///   struct User { std::int64_t id; std::string name; std::optional<std::string> email; };
///   auto users = client.query("SELECT id, name, email FROM users").as<std::vector<User>>();
///   for (const User& u : result.rows<User>()) ...
///   client.stream_as<User>("SELECT ...", {}, [](const User& u) { ... });
///   client.exec("INSERT INTO users VALUES ($1, $2, $3)", user);   // fields bound in order
/// @endcode
///
/// By position: a plain aggregate's fields take the columns in order (no macro, no
/// registration). By name: one line names the fields, in declaration order, and each field
/// takes the column of that name wherever it is:
///
/// @code
///   template <> inline constexpr std::array pgtls::column_names<User>{"id", "name", "email"};
/// @endcode
///
/// std::tuple<Ts...> maps by position. The shape is checked once per result, against the
/// RowDescription, before any row is decoded: a missing column, an extra column, or a column
/// whose type cannot fill a field (a text column for an int field, say) is Error(usage) naming
/// the field, the column and both types. NULL needs std::optional<T>. A field is any type with a
/// pgtls::Codec (built-in or yours); a struct field that is itself a plain aggregate is not
/// expanded. Up to 32 fields.
#pragma once

#include "pgtls/version.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "pgtls/result.hpp"
#include "pgtls/types.hpp"

PGTLS_API_BEGIN
namespace pgtls {

/// Specialize for a struct to map its fields by column name (see above); the default maps by
/// position.
template <typename T>
inline constexpr std::nullptr_t column_names = nullptr;

namespace detail {

template <typename T>
concept has_codec = requires(std::string_view b, std::uint32_t oid, bool binary) {
    { Codec<T>::decode(b, oid, binary) };
};

/// Stands for any field type in the field-count probe (never called).
struct any_field {
    template <typename T>
    operator T() const;
};

template <typename T, std::size_t... I>
constexpr bool brace_initializable(std::index_sequence<I...>) {
    return requires { T{(void(I), any_field{})...}; };
}

template <typename T, std::size_t N = 0>
constexpr std::size_t aggregate_field_count() {
    if constexpr (N < 33 && brace_initializable<T>(std::make_index_sequence<N + 1>{}))
        return aggregate_field_count<T, N + 1>();
    else
        return N;
}

template <typename T>
struct is_tuple : std::false_type {};
template <typename... Ts>
struct is_tuple<std::tuple<Ts...>> : std::true_type {};

}  // namespace detail

/// A struct rows map into: a plain aggregate that is not itself a value type with a codec.
template <typename T>
concept row_struct = std::is_aggregate_v<T> && std::is_class_v<T> && !detail::has_codec<T> &&
                     !detail::is_tuple<T>::value;

namespace detail {

// The fields of a row struct (or a tuple's elements) as a tuple of references.
#define PGTLS_DETAIL_TIE(N, ...)                \
    else if constexpr (n == N) {                \
        auto& [__VA_ARGS__] = v;                \
        return std::tie(__VA_ARGS__);           \
    }
template <typename T>
auto tie_fields(T& v) {
    constexpr std::size_t n = aggregate_field_count<std::remove_const_t<T>>();
    static_assert(n >= 1 && n <= 32, "a row struct has 1 to 32 fields");
    if constexpr (n == 0) return std::tie();
    PGTLS_DETAIL_TIE(1, a1)
    PGTLS_DETAIL_TIE(2, a1, a2)
    PGTLS_DETAIL_TIE(3, a1, a2, a3)
    PGTLS_DETAIL_TIE(4, a1, a2, a3, a4)
    PGTLS_DETAIL_TIE(5, a1, a2, a3, a4, a5)
    PGTLS_DETAIL_TIE(6, a1, a2, a3, a4, a5, a6)
    PGTLS_DETAIL_TIE(7, a1, a2, a3, a4, a5, a6, a7)
    PGTLS_DETAIL_TIE(8, a1, a2, a3, a4, a5, a6, a7, a8)
    PGTLS_DETAIL_TIE(9, a1, a2, a3, a4, a5, a6, a7, a8, a9)
    PGTLS_DETAIL_TIE(10, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10)
    PGTLS_DETAIL_TIE(11, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11)
    PGTLS_DETAIL_TIE(12, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12)
    PGTLS_DETAIL_TIE(13, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13)
    PGTLS_DETAIL_TIE(14, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14)
    PGTLS_DETAIL_TIE(15, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15)
    PGTLS_DETAIL_TIE(16, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16)
    PGTLS_DETAIL_TIE(17, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17)
    PGTLS_DETAIL_TIE(18, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18)
    PGTLS_DETAIL_TIE(19, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19)
    PGTLS_DETAIL_TIE(20, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20)
    PGTLS_DETAIL_TIE(21, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20,
                     a21)
    PGTLS_DETAIL_TIE(22, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20,
                     a21, a22)
    PGTLS_DETAIL_TIE(23, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20,
                     a21, a22, a23)
    PGTLS_DETAIL_TIE(24, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20,
                     a21, a22, a23, a24)
    PGTLS_DETAIL_TIE(25, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20,
                     a21, a22, a23, a24, a25)
    PGTLS_DETAIL_TIE(26, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20,
                     a21, a22, a23, a24, a25, a26)
    PGTLS_DETAIL_TIE(27, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20,
                     a21, a22, a23, a24, a25, a26, a27)
    PGTLS_DETAIL_TIE(28, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20,
                     a21, a22, a23, a24, a25, a26, a27, a28)
    PGTLS_DETAIL_TIE(29, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20,
                     a21, a22, a23, a24, a25, a26, a27, a28, a29)
    PGTLS_DETAIL_TIE(30, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20,
                     a21, a22, a23, a24, a25, a26, a27, a28, a29, a30)
    PGTLS_DETAIL_TIE(31, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20,
                     a21, a22, a23, a24, a25, a26, a27, a28, a29, a30, a31)
    PGTLS_DETAIL_TIE(32, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20,
                     a21, a22, a23, a24, a25, a26, a27, a28, a29, a30, a31, a32)
}
#undef PGTLS_DETAIL_TIE

/// "int4", "text", ... (types_builtin.hpp's detail::type_name).
std::string type_name(std::uint32_t type_oid);

/// The C++ field type as an error message names it.
template <typename F>
std::string field_type_name() {
    using T = typename unwrap_optional<F>::type;
    std::string base;
    if constexpr (std::is_same_v<T, bool>) base = "bool";
    else if constexpr (std::is_integral_v<T>) base = (std::is_signed_v<T> ? "int" : "uint") + std::to_string(8 * sizeof(T));
    else if constexpr (std::is_same_v<T, float>) base = "float";
    else if constexpr (std::is_same_v<T, double>) base = "double";
    else if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, std::string_view>) base = "std::string";
    else if constexpr (has_type_oid<T>) base = "a C++ type for " + type_name(Codec<T>::type_oid);
    else base = "a user type";
    return is_optional_v<F> ? "std::optional<" + base + ">" : base;
}

/// Whether a column of `type_oid` can fill a field of type F, for the checks whose answer does
/// not depend on the value: booleans, integers and floating point take only the numeric types
/// their decoders read; a codec may say so itself with `static bool accepts(std::uint32_t)`.
/// Everything else is left to the decoder (text format reads anything into a string, say).
template <typename F>
bool column_fits(std::uint32_t type_oid) {
    using T = typename unwrap_optional<F>::type;
    if (type_oid == oid::unknown || type_oid == oid::unspecified) return true;
    if constexpr (requires { { Codec<T>::accepts(type_oid) } -> std::convertible_to<bool>; }) {
        return Codec<T>::accepts(type_oid);
    } else if constexpr (std::is_same_v<T, bool>) {
        return type_oid == oid::bool_;
    } else if constexpr (std::is_integral_v<T> && !std::is_same_v<T, char>) {
        return type_oid == oid::int2 || type_oid == oid::int4 || type_oid == oid::int8 || type_oid == oid::oid_ ||
               type_oid == oid::numeric;
    } else if constexpr (std::is_floating_point_v<T>) {
        return type_oid == oid::float4 || type_oid == oid::float8 || type_oid == oid::int2 || type_oid == oid::int4 ||
               type_oid == oid::int8 || type_oid == oid::numeric;
    } else {
        return true;
    }
}

/// Throws Error(usage) with `what` (row_mapping.cpp).
[[noreturn]] void row_shape_error(const std::string& what);

}  // namespace detail

/// Maps rows of one result shape into T (a row struct or a std::tuple): the columns are
/// matched and checked once, at construction, then each map() decodes one row.
template <typename T>
class RowMapper {
public:
    /// Matches `columns` to T's fields: by position, or by name when column_names<T> is
    /// specialized; checks each column's type fits its field. Throws Error(ErrorKind::usage)
    /// naming `type_label` when a column is missing, extra, duplicated or of a wrong type.
    explicit RowMapper(const std::vector<Column>& columns, std::string_view type_label = "the row type") {
        constexpr std::size_t n = field_count();
        if constexpr (!std::is_same_v<std::remove_cv_t<decltype(column_names<T>)>, std::nullptr_t>) {
            static_assert(std::size(column_names<T>) == n, "column_names<T> must name every field of T, in order");
            for (std::size_t f = 0; f < n; ++f) {
                const std::string_view want = column_names<T>[f];
                std::size_t found = columns.size();
                for (std::size_t c = 0; c < columns.size(); ++c)
                    if (columns[c].name == want) {
                        if (found != columns.size())
                            detail::row_shape_error("the result has two columns named \"" + std::string(want) +
                                                    "\" for field " + std::to_string(f + 1) + " of " +
                                                    std::string(type_label));
                        found = c;
                    }
                if (found == columns.size())
                    detail::row_shape_error("no column \"" + std::string(want) + "\" in the result for field " +
                                            std::to_string(f + 1) + " of " + std::string(type_label));
                index_[f] = found;
            }
            if (columns.size() != n) {
                for (std::size_t c = 0; c < columns.size(); ++c) {
                    bool used = false;
                    for (std::size_t f = 0; f < n; ++f) used = used || index_[f] == c;
                    if (!used)
                        detail::row_shape_error("column " + std::to_string(c + 1) + " \"" + columns[c].name +
                                                "\" of the result has no field in " + std::string(type_label));
                }
            }
        } else {
            if (columns.size() != n)
                detail::row_shape_error("the result has " + std::to_string(columns.size()) + " columns, but " +
                                        std::string(type_label) + " has " + std::to_string(n) + " fields");
            for (std::size_t f = 0; f < n; ++f) index_[f] = f;
        }
        check_types(columns, type_label, std::make_index_sequence<n>{});
    }

    /// Decodes one row of the shape given at construction; Error(usage) as Field::as<T>().
    T map(const Row& row) const {
        T value{};
        fill(row, value, std::make_index_sequence<field_count()>{});
        return value;
    }

    /// Number of fields of T (tuple elements, or aggregate members).
    static constexpr std::size_t field_count() {
        if constexpr (detail::is_tuple<T>::value) return std::tuple_size_v<T>;
        else return detail::aggregate_field_count<T>();
    }

private:
    static auto tie(T& v) {
        if constexpr (detail::is_tuple<T>::value) {
            return std::apply([](auto&... e) { return std::tie(e...); }, v);
        } else {
            return detail::tie_fields(v);
        }
    }
    using Fields = decltype(tie(std::declval<T&>()));
    template <std::size_t I>
    using FieldType = std::remove_reference_t<std::tuple_element_t<I, Fields>>;

    template <std::size_t... I>
    void check_types(const std::vector<Column>& columns, std::string_view type_label, std::index_sequence<I...>) {
        (check_type<I>(columns[index_[I]], type_label), ...);
    }
    template <std::size_t I>
    void check_type(const Column& c, std::string_view type_label) const {
        if (!detail::column_fits<FieldType<I>>(c.type_oid))
            detail::row_shape_error("column " + std::to_string(index_[I] + 1) + " \"" + c.name + "\" is " +
                                    detail::type_name(c.type_oid) + ", which cannot fill field " +
                                    std::to_string(I + 1) + " of " + std::string(type_label) + " (" +
                                    detail::field_type_name<FieldType<I>>() + ")");
    }
    template <std::size_t... I>
    void fill(const Row& row, T& value, std::index_sequence<I...>) const {
        auto fields = tie(value);
        ((std::get<I>(fields) = row[index_[I]].template as<FieldType<I>>()), ...);
    }

    std::array<std::size_t, field_count()> index_{};
};

/// The rows of a Result as T values, for range-for (each row decoded when reached).
template <typename T>
class TypedRows {
public:
    /// Rows of `result` (which must outlive this object) mapped by `mapper`.
    TypedRows(const Result& result, RowMapper<T> mapper) : result_(&result), mapper_(std::move(mapper)) {}
    /// A forward iterator that decodes the row it points at when dereferenced.
    class iterator {
    public:
        using value_type = T;                    ///< The mapped row type.
        using difference_type = std::ptrdiff_t;  ///< Row distance.
        /// Row `i` of `rows`.
        iterator(const TypedRows* rows, std::size_t i) : rows_(rows), i_(i) {}
        /// The row decoded into a new T; Error(usage) as Field::as<T>().
        T operator*() const { return rows_->mapper_.map((*rows_->result_)[i_]); }
        /// @{
        /// Next row.
        iterator& operator++() {
            ++i_;
            return *this;
        }
        iterator operator++(int) {
            auto t = *this;
            ++i_;
            return t;
        }
        /// @}
        /// Same row (of the same TypedRows).
        bool operator==(const iterator& o) const { return i_ == o.i_; }

    private:
        const TypedRows* rows_;
        std::size_t i_;
    };
    iterator begin() const { return {this, 0}; }                  ///< The first row.
    iterator end() const { return {this, result_->size()}; }      ///< Past the last row.
    std::size_t size() const { return result_->size(); }          ///< Number of rows.

private:
    const Result* result_;
    RowMapper<T> mapper_;
};

template <typename T>
concept row_type = row_struct<T> || detail::is_tuple<T>::value;

template <typename Container>
Container Result::as() const {
    using T = typename Container::value_type;
    static_assert(row_type<T>, "Result::as<C>() needs a container of row structs or tuples");
    const RowMapper<T> mapper(column_info());
    Container out;
    if constexpr (requires { out.reserve(std::size_t{}); }) out.reserve(size());
    for (std::size_t i = 0; i < size(); ++i) out.push_back(mapper.map((*this)[i]));
    return out;
}

template <typename T>
TypedRows<T> Result::rows() const {
    static_assert(row_type<T>, "Result::rows<T>() needs a row struct or a tuple");
    return TypedRows<T>(*this, RowMapper<T>(column_info()));
}

namespace detail {

/// A row struct's fields as bound parameters, in declaration order.
template <row_struct T>
auto params_of(const T& value) {
    auto fields = tie_fields(value);
    return std::apply([](const auto&... f) { return std::array<Param, sizeof...(f)>{to_param(f)...}; }, fields);
}

}  // namespace detail

}  // namespace pgtls

#include "pgtls/types_composite.hpp"
PGTLS_API_END
