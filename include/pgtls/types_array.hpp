/// \file
/// Arrays: std::vector<T>, std::vector<std::optional<T>>, and nested vectors for more dimensions
/// (std::vector<std::vector<T>> is a 2-dimensional array, up to PostgreSQL's 6). Included by
/// types.hpp.
///
/// Reads an array column in text ({{1,"a b"},{NULL,2}}) or binary format; elements decode with
/// Codec<T> and the array's element type. A NULL element needs std::optional<T>; a sub-array
/// cannot be NULL. The value's dimension count must equal the nesting depth (an empty array
/// reads as an empty outer vector at any depth); otherwise, or when the dimensions disagree with
/// the data, decoding is a conversion error. Lower bounds other than 1 are accepted and
/// dropped. Text elements are split at ',' (';' for box[]); a user type created with another
/// DELIMITER must be read in binary format. Writing nested vectors requires them rectangular
/// (same size at each depth): a ragged one is Error(usage); one with an empty sub-vector writes
/// the empty array.
/// Writes binary when Codec<T> can (built-in element types), else a text array literal typed
/// with the array type of Codec<T>::type_oid, or untyped (0) when T has none.
#pragma once

#include "pgtls/version.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "pgtls/error.hpp"
#include "pgtls/types.hpp"

PGTLS_API_BEGIN
namespace pgtls {
namespace detail {

/// Parses a binary array; fills `out` with views into `b`; returns the element type OID.
std::uint32_t parse_binary_array(std::string_view b, std::uint32_t type_oid,
                                 std::vector<std::optional<std::string_view>>& out);
/// Parses a text array literal (with optional [lo:hi]= decoration), unquoting elements.
void parse_text_array(std::string_view b, std::uint32_t type_oid, std::vector<std::optional<std::string>>& out);
/// Appends `element` to a text array literal, quoted and escaped if needed.
void append_text_array_element(std::string& out, std::string_view element);
/// ndim, flags, element type, and the single dimension (size n, lower bound 1).
std::string binary_array_header(std::uint32_t element_oid, std::size_t n, bool has_nulls);
/// Any dimension count: `dims` receives the sizes (empty for an empty array), `out` the
/// elements in row-major order. Sizes disagreeing with the data are a conversion error.
std::uint32_t parse_binary_array_nd(std::string_view b, std::uint32_t type_oid, std::vector<std::size_t>& dims,
                                    std::vector<std::optional<std::string_view>>& out);
void parse_text_array_nd(std::string_view b, std::uint32_t type_oid, std::vector<std::size_t>& dims,
                         std::vector<std::optional<std::string>>& out);
/// The header for `dims` (lower bounds 1); a zero size anywhere writes the empty array.
std::string binary_array_header_nd(std::uint32_t element_oid, const std::vector<std::size_t>& dims, bool has_nulls);
/// "array of <have> dimensions read as <want>-dimensional"
[[noreturn]] void array_depth_error(std::size_t have, std::size_t want);
/// "array element <index+1>: <what>"
std::string array_element_error(std::size_t index, const std::string& what);

template <typename T>
struct unwrap_optional {
    using type = T;
};
template <typename T>
struct unwrap_optional<std::optional<T>> {
    using type = T;
};

template <typename T>
struct is_plain_vector : std::false_type {};
template <typename T>
struct is_plain_vector<std::vector<T>> : std::bool_constant<!is_byte_v<T>> {};

/// Nesting of std::vector around an array's element type (bytea vectors are elements).
template <typename T>
struct array_nesting {
    using leaf = T;
    static constexpr std::size_t depth = 0;
};
template <typename T>
    requires(!is_byte_v<T>)
struct array_nesting<std::vector<T>> {
    using leaf = typename array_nesting<T>::leaf;
    static constexpr std::size_t depth = 1 + array_nesting<T>::depth;
};

}  // namespace detail

/// std::vector (nested up to 6 levels, elements optionally std::optional) <-> PostgreSQL arrays,
/// text and binary. Sent binary, typed as the element's array type, when the element codec has a
/// binary form and a built-in array type; otherwise as a text array literal.
template <typename V>
struct Codec<std::vector<V>, std::enable_if_t<!is_byte_v<V>>> {
    using L = typename detail::array_nesting<V>::leaf;  ///< the element, maybe optional
    using E = typename detail::unwrap_optional<L>::type;  ///< the element type without optional
    /// Number of dimensions: 1 for std::vector<T>, 2 for std::vector<std::vector<T>>, ...
    static constexpr std::size_t depth = 1 + detail::array_nesting<V>::depth;
    static_assert(!detail::is_plain_vector<E>::value,
                  "a sub-array cannot be NULL: nest std::vector directly, e.g. std::vector<std::vector<std::optional<T>>>");
    static_assert(depth <= 6, "PostgreSQL arrays have at most 6 dimensions");
    /// True when the array is sent in binary format (see above).
    static constexpr bool element_binary = binary_encodable<E> && oid::array_of(codec_type_oid<E>()) != 0;
    /// The PostgreSQL type this codec writes (parameters and array elements).
    static constexpr std::uint32_t type_oid = oid::array_of(codec_type_oid<E>());

    /// Reads a field of column type `oid` in text or binary format; throws
    /// Error(ErrorKind::usage) when the value does not fit.
    static std::vector<V> decode(std::string_view b, std::uint32_t oid, bool binary) {
        static_assert(!std::is_same_v<E, std::string_view>,
                      "array elements cannot be viewed (text arrays are unescaped); use std::string");
        std::vector<std::size_t> dims;
        std::size_t next = 0;
        if (binary) {
            std::vector<std::optional<std::string_view>> els;
            const std::uint32_t element_oid = depth == 1 ? detail::parse_binary_array(b, oid, els)
                                                         : detail::parse_binary_array_nd(b, oid, dims, els);
            if (depth == 1) dims.assign(els.empty() ? 0 : 1, els.size());
            else check_depth(dims);
            return build<V>(dims, 0, next, [&](std::size_t i) { return element(els[i], element_oid, true, i); });
        }
        std::vector<std::optional<std::string>> els;
        if (depth == 1) {
            detail::parse_text_array(b, oid, els);
            dims.assign(els.empty() ? 0 : 1, els.size());
        } else {
            detail::parse_text_array_nd(b, oid, dims, els);
            check_depth(dims);
        }
        const std::uint32_t element_oid = oid::element_of(oid);
        return build<V>(dims, 0, next, [&](std::size_t i) {
            std::optional<std::string_view> e;
            if (els[i]) e = std::string_view(*els[i]);
            return element(e, element_oid, false, i);
        });
    }

    /// The value in PostgreSQL's text input form.
    static std::string encode_text(const std::vector<V>& v) {
        std::vector<std::size_t> dims;
        shape(v, dims);
        if (empty(dims)) return "{}";
        std::string out;
        append_text(out, v);
        return out;
    }

    /// The value in PostgreSQL's binary (send/recv) form.
    static std::string encode_binary(const std::vector<V>& v)
        requires binary_encodable<E>
    {
        std::vector<std::size_t> dims;
        shape(v, dims);
        if (empty(dims)) return detail::binary_array_header_nd(Codec<E>::type_oid, {}, false);
        bool has_nulls = false;
        for_each_leaf(v, [&](const L& x) {
            if constexpr (is_optional_v<L>) has_nulls = has_nulls || !x;
        });
        std::string out = detail::binary_array_header_nd(Codec<E>::type_oid, dims, has_nulls);
        for_each_leaf(v, [&](const L& x) {
            if constexpr (is_optional_v<L>) {
                if (!x) {
                    detail::write_be(out, 0xffffffffu, 4);
                    return;
                }
                append_binary(out, *x);
            } else {
                append_binary(out, x);
            }
        });
        return out;
    }

    /// The array as a parameter typed as type_oid: binary when element_binary, else text.
    static Param encode(const std::vector<V>& v) {
        if constexpr (element_binary) return Param{encode_binary(v), type_oid, 1};
        else return Param{encode_text(v), type_oid, 0};
    }

private:
    static void append_binary(std::string& out, const E& e) {
        const std::string bytes = Codec<E>::encode_binary(e);
        if (bytes.size() > 0x7fffffffu) throw Error(ErrorKind::usage, "array element larger than 2 GiB");
        detail::write_be(out, bytes.size(), 4);
        out += bytes;
    }

    static bool empty(const std::vector<std::size_t>& dims) {
        for (const std::size_t d : dims)
            if (d == 0) return true;
        return false;
    }

    static void check_depth(const std::vector<std::size_t>& dims) {
        if (!dims.empty() && dims.size() != depth) detail::array_depth_error(dims.size(), depth);
    }

    /// Sizes at each depth, from the first sub-vector of each; a sub-vector of another size is
    /// Error(usage).
    template <typename W>
    static void shape(const std::vector<W>& v, std::vector<std::size_t>& dims, std::size_t level = 0) {
        if (dims.size() == level) dims.push_back(v.size());
        else if (dims[level] != v.size())
            throw Error(ErrorKind::usage, "ragged array: sub-arrays at depth " + std::to_string(level + 1) + " have sizes " +
                                              std::to_string(dims[level]) + " and " + std::to_string(v.size()));
        if constexpr (!std::is_same_v<W, L>)
            for (const auto& sub : v) shape(sub, dims, level + 1);
    }

    template <typename W, typename F>
    static void for_each_leaf(const std::vector<W>& v, F&& f) {
        for (const auto& x : v) {
            if constexpr (std::is_same_v<W, L>) f(x);
            else for_each_leaf(x, f);
        }
    }

    template <typename W>
    static void append_text(std::string& out, const std::vector<W>& v) {
        out.push_back('{');
        bool first = true;
        for (const auto& x : v) {
            if (!first) out.push_back(',');
            first = false;
            if constexpr (std::is_same_v<W, L>) append_text_leaf(out, x);
            else append_text(out, x);
        }
        out.push_back('}');
    }

    static void append_text_leaf(std::string& out, const L& x) {
        const E* e = nullptr;
        if constexpr (is_optional_v<L>) {
            if (!x) {
                out += "NULL";
                return;
            }
            e = &*x;
        } else {
            e = &x;
        }
        if constexpr (text_encodable<E>) {
            detail::append_text_array_element(out, Codec<E>::encode_text(*e));
        } else {
            const Param p = Codec<E>::encode(*e);
            if (!p.value) {
                out += "NULL";
            } else {
                if (p.format != 0)
                    throw Error(ErrorKind::usage, "array element codec writes binary without a type OID; give it encode_text");
                detail::append_text_array_element(out, *p.value);
            }
        }
    }

    /// Rebuilds the nesting of W from row-major elements; `leaf(i)` decodes element i.
    template <typename W, typename F>
    static std::vector<W> build(const std::vector<std::size_t>& dims, std::size_t level, std::size_t& next, F&& leaf) {
        std::vector<W> out;
        if (dims.empty()) return out;
        out.reserve(dims[level]);
        for (std::size_t k = 0; k < dims[level]; ++k) {
            if constexpr (std::is_same_v<W, L>) out.push_back(leaf(next++));
            else out.push_back(build<typename W::value_type>(dims, level + 1, next, leaf));
        }
        return out;
    }

    static L element(const std::optional<std::string_view>& e, std::uint32_t element_oid, bool binary, std::size_t i) {
        if (!e) {
            if constexpr (is_optional_v<L>) return std::nullopt;
            else detail::conversion_error(detail::array_element_error(i, "NULL where a value is required; read the array as std::vector<std::optional<T>>"));
        } else {
            try {
                return Codec<E>::decode(*e, element_oid, binary);
            } catch (const Error& err) {
                detail::conversion_error(detail::array_element_error(i, err.what()));
            }
        }
    }
};

}  // namespace pgtls
PGTLS_API_END
