// One-dimensional arrays: std::vector<T> and std::vector<std::optional<T>>. Included by types.hpp.
//
// Reads an array column in text ({1,"a b",NULL}) or binary format; elements decode with
// Codec<T> and the array's element type. A NULL element needs std::optional<T>. Lower bounds
// other than 1 are accepted and dropped; a multi-dimensional value is an error.
// Writes binary when Codec<T> can (built-in element types), else a text array literal typed
// with the array type of Codec<T>::type_oid, or untyped (0) when T has none.
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

namespace pgtls {
namespace detail {

// Parses a binary array; fills `out` with views into `b`; returns the element type OID.
std::uint32_t parse_binary_array(std::string_view b, std::uint32_t type_oid,
                                 std::vector<std::optional<std::string_view>>& out);
// Parses a text array literal (with optional [lo:hi]= decoration), unquoting elements.
void parse_text_array(std::string_view b, std::uint32_t type_oid, std::vector<std::optional<std::string>>& out);
// Appends `element` to a text array literal, quoted and escaped if needed.
void append_text_array_element(std::string& out, std::string_view element);
// ndim, flags, element type, and the single dimension (size n, lower bound 1).
std::string binary_array_header(std::uint32_t element_oid, std::size_t n, bool has_nulls);
// "array element <index+1>: <what>"
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

}  // namespace detail

template <typename V>
struct Codec<std::vector<V>, std::enable_if_t<!is_byte_v<V>>> {
    using E = typename detail::unwrap_optional<V>::type;
    static_assert(!detail::is_plain_vector<E>::value, "pgtls supports one-dimensional arrays only");
    static constexpr bool element_binary = binary_encodable<E> && oid::array_of(codec_type_oid<E>()) != 0;
    static constexpr std::uint32_t type_oid = oid::array_of(codec_type_oid<E>());

    static std::vector<V> decode(std::string_view b, std::uint32_t oid, bool binary) {
        static_assert(!std::is_same_v<E, std::string_view>,
                      "array elements cannot be viewed (text arrays are unescaped); use std::string");
        std::vector<V> out;
        if (binary) {
            std::vector<std::optional<std::string_view>> els;
            const std::uint32_t element_oid = detail::parse_binary_array(b, oid, els);
            out.reserve(els.size());
            for (std::size_t i = 0; i < els.size(); ++i) out.push_back(element(els[i], element_oid, true, i));
        } else {
            std::vector<std::optional<std::string>> els;
            detail::parse_text_array(b, oid, els);
            const std::uint32_t element_oid = oid::element_of(oid);
            out.reserve(els.size());
            for (std::size_t i = 0; i < els.size(); ++i) {
                std::optional<std::string_view> e;
                if (els[i]) e = std::string_view(*els[i]);
                out.push_back(element(e, element_oid, false, i));
            }
        }
        return out;
    }

    static std::string encode_text(const std::vector<V>& v) {
        std::string out = "{";
        bool first = true;
        for (const auto& x : v) {
            if (!first) out.push_back(',');
            first = false;
            const E* e = nullptr;
            if constexpr (is_optional_v<V>) {
                if (!x) {
                    out += "NULL";
                    continue;
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
                        throw Error(ErrorKind::usage,
                                    "array element codec writes binary without a type OID; give it encode_text");
                    detail::append_text_array_element(out, *p.value);
                }
            }
        }
        out.push_back('}');
        return out;
    }

    static std::string encode_binary(const std::vector<V>& v)
        requires binary_encodable<E>
    {
        bool has_nulls = false;
        if constexpr (is_optional_v<V>)
            for (const auto& x : v) has_nulls = has_nulls || !x;
        std::string out = detail::binary_array_header(Codec<E>::type_oid, v.size(), has_nulls);
        for (const auto& x : v) {
            if constexpr (is_optional_v<V>) {
                if (!x) {
                    detail::write_be(out, 0xffffffffu, 4);
                    continue;
                }
                append_binary(out, *x);
            } else {
                append_binary(out, x);
            }
        }
        return out;
    }

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

    static V element(const std::optional<std::string_view>& e, std::uint32_t element_oid, bool binary, std::size_t i) {
        if (!e) {
            if constexpr (is_optional_v<V>) return std::nullopt;
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
