/// \file
/// PostgreSQL enum types as C++ enums. Included by types.hpp.
///
/// @code
///   enum class Mood { sad, ok, happy };
///   template <> inline constexpr std::array pgtls::enum_labels<Mood>{"sad", "ok", "happy"};
/// @endcode
///
/// Label i is static_cast<Mood>(i): list the labels in the order of the enumerators, which must
/// be 0, 1, 2, ... (the default). The value is the label in both text and binary format; a label
/// the table lacks is Error(usage) naming the label and the column's type (and, through
/// Field::as, the column). Written as untyped text (OID 0) so the statement's context picks the
/// enum type (`$1::mood`); an array of them is an untyped text array (`$1::mood[]`).
#pragma once

#include "pgtls/version.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "pgtls/types.hpp"

PGTLS_API_BEGIN
namespace pgtls {

/// The labels of a C++ enum mapped to a PostgreSQL enum, indexed by the enumerator's value.
/// Specialize as `template <> inline constexpr std::array pgtls::enum_labels<E>{"a", "b"};`.
template <typename E>
inline constexpr std::nullptr_t enum_labels = nullptr;

/// An enum with an enum_labels table.
template <typename E>
concept labeled_enum = std::is_enum_v<E> && !std::is_same_v<std::remove_cv_t<decltype(enum_labels<E>)>, std::nullptr_t>;

namespace detail {
/// The label bytes of an enum column (text or binary); Error(usage) for other built-in types.
std::string_view enum_label_view(std::string_view b, std::uint32_t type_oid, bool binary);
[[noreturn]] void unknown_enum_label(std::string_view label, std::uint32_t type_oid);
[[noreturn]] void unlabeled_enum_value(long long value);
}  // namespace detail

/// A labeled enum: reads enum (and text) columns by label, writes its label as untyped text.
template <typename E>
struct Codec<E, std::enable_if_t<labeled_enum<E>>> {
    /// Reads a field of column type `oid` in text or binary format; throws
    /// Error(ErrorKind::usage) when the value does not fit.
    static E decode(std::string_view b, std::uint32_t oid, bool binary) {
        const std::string_view label = detail::enum_label_view(b, oid, binary);
        for (std::size_t i = 0; i < std::size(enum_labels<E>); ++i)
            if (std::string_view(enum_labels<E>[i]) == label) return static_cast<E>(i);
        detail::unknown_enum_label(label, oid);
    }
    /// The value in PostgreSQL's text input form.
    static std::string encode_text(const E& v) {
        const auto i = static_cast<long long>(static_cast<std::underlying_type_t<E>>(v));
        if (i < 0 || static_cast<std::size_t>(i) >= std::size(enum_labels<E>)) detail::unlabeled_enum_value(i);
        return std::string(enum_labels<E>[static_cast<std::size_t>(i)]);
    }
    /// The value in PostgreSQL's text input form.
    static std::string encode_binary(const E& v) { return encode_text(v); }
    /// The value as an untyped text parameter: the server reads it as the type the statement needs.
    static Param encode(const E& v) { return Param{encode_text(v), 0, 0}; }
};

}  // namespace pgtls
PGTLS_API_END
