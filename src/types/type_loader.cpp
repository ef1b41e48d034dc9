// load_type: one catalog query per type name, through the public Client API only.
#include "pgtls/type_loader.hpp"

namespace pgtls {

namespace {

// $1::regtype resolves the name as the server's parser does (search_path, quoting, "[]",
// SQL spellings such as "double precision"), and fails with 42704 for an unknown type.
constexpr const char* type_query =
    "SELECT t.oid, format_type(t.oid, NULL), t.typtype, t.typarray, "
    "CASE WHEN t.typcategory = 'A' THEN t.typelem ELSE 0 END, t.typbasetype, "
    "ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a "
    "      WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum), "
    "ARRAY(SELECT a.atttypid FROM pg_catalog.pg_attribute a "
    "      WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum), "
    "ARRAY(SELECT e.enumlabel::text FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder), "
    "COALESCE((SELECT r.rngsubtype FROM pg_catalog.pg_range r WHERE r.rngtypid = t.oid), 0) "
    "FROM pg_catalog.pg_type t WHERE t.oid = $1::text::pg_catalog.regtype";

TypeInfo::Kind kind_of(char typtype) {
    switch (typtype) {
        case 'c': return TypeInfo::Kind::composite;
        case 'd': return TypeInfo::Kind::domain;
        case 'e': return TypeInfo::Kind::enumeration;
        case 'p': return TypeInfo::Kind::pseudo;
        case 'r': return TypeInfo::Kind::range;
        case 'm': return TypeInfo::Kind::multirange;
        default: return TypeInfo::Kind::base;
    }
}

TypeInfo query_type(Client& client, std::string_view name) {
    const Result r = client.execute(type_query, {to_param(std::string(name))}, ResultFormat::binary);
    if (r.size() != 1) throw Error(ErrorKind::protocol, "type lookup of \"" + std::string(name) + "\" returned no row");
    const Row row = r[0];
    TypeInfo t;
    t.oid = row[0].as<Oid>().value;
    t.name = row[1].as<std::string>();
    t.kind = kind_of(row[2].as<char>());
    t.array_oid = row[3].as<Oid>().value;
    t.element_oid = row[4].as<Oid>().value;
    t.base_oid = row[5].as<Oid>().value;
    t.field_names = row[6].as<std::vector<std::string>>();
    for (const Oid o : row[7].as<std::vector<Oid>>()) t.field_oids.push_back(o.value);
    t.labels = row[8].as<std::vector<std::string>>();
    t.range_subtype_oid = row[9].as<Oid>().value;
    return t;
}

// Identifies the session a per-Client cache was filled on.
std::string session_of(const Client& client) {
    const ConnectionInfo& i = client.info();
    return i.address + "|" + std::to_string(i.port) + "|" + i.host + "|" + std::to_string(i.backend_pid);
}

}  // namespace

const TypeInfo& TypeCache::load(Client& client, std::string_view name) {
    {
        const std::lock_guard lock(mutex_);
        if (const auto it = types_.find(name); it != types_.end()) return *it->second;
    }
    // Queried unlocked, so one slow lookup does not hold up the other connections' hits.
    auto info = std::make_unique<TypeInfo>(query_type(client, name));
    const std::lock_guard lock(mutex_);
    const auto [it, inserted] = types_.try_emplace(std::string(name), std::move(info));
    return *it->second;
}

void TypeCache::clear() {
    const std::lock_guard lock(mutex_);
    types_.clear();
}

TypeCache& connection_type_cache(Client& client) {
    if (!client.type_cache_) client.type_cache_ = std::make_shared<TypeCache>();
    TypeCache& cache = *client.type_cache_;
    std::string session = session_of(client);
    if (cache.connection_ != session) {
        cache.clear();
        cache.connection_ = std::move(session);
    }
    return cache;
}

const TypeInfo& load_type(Client& client, std::string_view name) { return connection_type_cache(client).load(client, name); }

namespace detail {

void type_mismatch(const TypeInfo& type, const std::string& what) {
    throw Error(ErrorKind::usage, "type " + type.name + " (OID " + std::to_string(type.oid) + ") does not fit the C++ type: " + what);
}

}  // namespace detail

}  // namespace pgtls
