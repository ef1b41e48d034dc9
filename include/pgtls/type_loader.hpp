/// \file
/// Finding user-defined types by name at run time: OIDs of composites, enums, domains, ranges
/// and arrays, with their fields, labels and base or element types.
///
/// @code
///   const pgtls::TypeInfo& point = pgtls::load_type(client, "public.point3");
///   pgtls::check_type<Point>(point);                       // fields agree with the struct
///   client.execute("INSERT INTO t VALUES ($1)", {pgtls::typed_param(p, point)});
/// @endcode
///
/// load_type runs one query on the first call for a name and caches the answer in the Client
/// (reconnecting it to another server or backend drops the cache). For a pool, keep one
/// TypeCache next to it and call cache.load(*lease, name): its connections share the database,
/// so they share the OIDs. A type dropped and recreated under the same name gets a new OID;
/// clear() the cache after such DDL.
#pragma once

#include "pgtls/version.hpp"

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "pgtls/client.hpp"
#include "pgtls/types.hpp"
#include "pgtls/types_composite.hpp"

PGTLS_API_BEGIN
namespace pgtls {

/// What the server's catalog says about one type.
struct TypeInfo {
    /// pg_type.typtype.
    enum class Kind { base, composite, domain, enumeration, pseudo, range, multirange };
    /// The type's name as format_type prints it (schema-qualified unless on the search_path).
    std::string name;
    std::uint32_t oid = 0;   ///< The type's OID.
    Kind kind = Kind::base;  ///< What sort of type it is.
    /// Its array type (0 if it has none).
    std::uint32_t array_oid = 0;
    /// For an array type: the element type (0 otherwise).
    std::uint32_t element_oid = 0;
    /// For a domain: the type it is declared over (0 otherwise).
    std::uint32_t base_oid = 0;
    /// For a range: its subtype (0 otherwise).
    std::uint32_t range_subtype_oid = 0;
    /// For a composite: the field names, in order (dropped columns left out).
    std::vector<std::string> field_names;
    /// For a composite: the field type OIDs, parallel to field_names.
    std::vector<std::uint32_t> field_oids;
    /// For an enum: the labels in their sort order.
    std::vector<std::string> labels;
};

/// A thread-safe cache of TypeInfo by the name asked for; one per database (a pool's
/// connections can share one).
class TypeCache {
public:
    /// The type `name` ("schema.name", "name" resolved by search_path, "name[]"), from the
    /// cache or with one query on `client`. ServerError if the type does not exist. The
    /// reference stays valid until clear() or the cache's destruction.
    const TypeInfo& load(Client& client, std::string_view name);
    /// Forgets every type (after DROP TYPE / CREATE TYPE of a cached name).
    void clear();

private:
    friend TypeCache& connection_type_cache(Client&);
    std::mutex mutex_;
    std::map<std::string, std::unique_ptr<TypeInfo>, std::less<>> types_;
    std::string connection_;  ///< the connection the per-Client cache was filled on
};

/// The type `name` via the Client's own cache (one query per name per connection).
const TypeInfo& load_type(Client& client, std::string_view name);

/// The Client's cache (created on first use, cleared when the Client is connected anew).
TypeCache& connection_type_cache(Client& client);

namespace detail {
[[noreturn]] void type_mismatch(const TypeInfo& type, const std::string& what);
template <typename F>
void check_field_of(const TypeInfo& type, std::size_t i) {
    if (!column_fits<F>(type.field_oids[i]))
        type_mismatch(type, "field " + std::to_string(i + 1) + " \"" + type.field_names[i] + "\" is " +
                                type_name(type.field_oids[i]) + ", which cannot fill " + field_type_name<F>());
}
}  // namespace detail

/// Checks that C++ type T can hold values of `type`: a labeled enum's table has every label the
/// server has (and no others); a composite's field count agrees and each field OID fits its
/// C++ field (as row mapping checks columns). Error(usage) naming the type otherwise.
template <typename T>
void check_type(const TypeInfo& type) {
    if constexpr (labeled_enum<T>) {
        if (type.kind != TypeInfo::Kind::enumeration) detail::type_mismatch(type, "it is not an enum");
        std::vector<std::string> ours;
        for (const auto& l : enum_labels<T>) ours.emplace_back(l);
        for (const auto& l : type.labels)
            if (std::find(ours.begin(), ours.end(), l) == ours.end())
                detail::type_mismatch(type, "the server's label \"" + l + "\" is missing from enum_labels");
        for (const auto& l : ours)
            if (std::find(type.labels.begin(), type.labels.end(), l) == type.labels.end())
                detail::type_mismatch(type, "enum_labels has \"" + l + "\", which the server's type lacks");
    } else if constexpr (detail::is_composite<T>::value) {
        if (type.kind != TypeInfo::Kind::composite) detail::type_mismatch(type, "it is not a composite type");
        constexpr std::size_t n = detail::composite_size<T>();
        if (type.field_oids.size() != n)
            detail::type_mismatch(type, "it has " + std::to_string(type.field_oids.size()) + " fields, the C++ type " +
                                            std::to_string(n));
        using Fields = decltype(detail::composite_fields(std::declval<T&>()));
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (detail::check_field_of<std::remove_reference_t<std::tuple_element_t<I, Fields>>>(type, I), ...);
        }(std::make_index_sequence<n>{});
    } else {
        static_assert(labeled_enum<T> || detail::is_composite<T>::value, "check_type needs a labeled enum or a composite");
    }
}

/// `value` as a parameter typed with `type`'s OID: binary when T's codec writes binary, else
/// text. The server then needs no cast in the statement.
template <typename T>
Param typed_param(const T& value, const TypeInfo& type) {
    if constexpr (requires { Codec<T>::encode_binary(value); })
        return Param{std::string(Codec<T>::encode_binary(value)), type.oid, 1};
    else
        return Param{std::string(Codec<T>::encode_text(value)), type.oid, 0};
}

}  // namespace pgtls
PGTLS_API_END
