// libFuzzer target: Codec<T>::decode for every built-in T 1- to 3-dimensional arrays, composites, ranges and multiranges, text and binary, with the type OIDs
// the server may announce. Input: byte 0 = T and format, byte 1 = OID index, rest = the value.
// A value that does not convert must be pgtls::Error; anything else is a bug.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pgtls/error.hpp"
#include "pgtls/result.hpp"
#include "pgtls/types.hpp"

using namespace pgtls;

namespace {

constexpr std::uint32_t kOids[] = {oid::unspecified, oid::bool_, oid::bytea, oid::char_, oid::name, oid::int8,
                                   oid::int2,        oid::int4,  oid::text,  oid::oid_,  oid::json, oid::float4,
                                   oid::float8,      oid::varchar, oid::bpchar, oid::date, oid::time,
                                   oid::timestamp,   oid::timestamptz, oid::interval, oid::numeric, oid::uuid,
                                   oid::jsonb,       oid::int4_array, oid::text_array, oid::inet, oid::cidr,
                                   oid::macaddr,     oid::macaddr8, oid::bit,   oid::varbit, oid::money, oid::record, 16500,
                                   oid::int4range, oid::tsrange, oid::int4multirange, oid::nummultirange};

// A composite with a NULL-able field, a nested composite and an array in it.
using Composite = std::tuple<std::optional<std::int32_t>, std::optional<std::string>,
                             std::optional<std::tuple<double, std::vector<std::int32_t>>>>;

template <typename T>
void decode(std::string_view v, std::uint32_t type_oid, bool binary) {
    try {
        (void)from_field<T>(v, type_oid, binary, "c");
    } catch (const Error&) {
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    bool binary = data[0] & 1;
    std::uint32_t type_oid = kOids[data[1] % std::size(kOids)];
    std::string_view v(reinterpret_cast<const char*>(data + 2), size - 2);
    switch ((data[0] >> 1) % 27) {
        case 0: decode<std::int16_t>(v, type_oid, binary); break;
        case 1: decode<std::int32_t>(v, type_oid, binary); break;
        case 2: decode<std::int64_t>(v, type_oid, binary); break;
        case 3: decode<std::uint32_t>(v, type_oid, binary); break;
        case 4: decode<std::uint64_t>(v, type_oid, binary); break;
        case 5: decode<float>(v, type_oid, binary); break;
        case 6: decode<double>(v, type_oid, binary); break;
        case 7: decode<bool>(v, type_oid, binary); break;
        case 8: decode<std::string>(v, type_oid, binary); break;
        case 9: decode<Bytea>(v, type_oid, binary); break;
        case 10: decode<std::string_view>(v, type_oid, binary); break;
        case 11: decode<std::uint8_t>(v, type_oid, binary); break;
        case 12: decode<std::vector<std::optional<std::int32_t>>>(v, type_oid, binary); break;
        case 13: decode<std::vector<std::vector<std::optional<std::int32_t>>>>(v, type_oid, binary); break;
        case 14: decode<std::vector<std::vector<std::vector<std::optional<std::string>>>>>(v, type_oid, binary); break;
        case 15: decode<Inet>(v, type_oid, binary); break;
        case 16: decode<Cidr>(v, type_oid, binary); break;
        case 17: decode<MacAddr>(v, type_oid, binary); break;
        case 18: decode<MacAddr8>(v, type_oid, binary); break;
        case 19: decode<BitString>(v, type_oid, binary); break;
        case 20: decode<Money>(v, type_oid, binary); break;
        case 21: decode<Composite>(v, type_oid, binary); break;
        case 22: decode<std::vector<std::tuple<std::int32_t, std::optional<std::string>>>>(v, type_oid, binary); break;
        case 23: decode<Range<std::int32_t>>(v, type_oid, binary); break;
        case 24: decode<Range<Timestamp>>(v, type_oid, binary); break;
        case 25: decode<Multirange<std::int32_t>>(v, type_oid, binary); break;
        default: decode<Multirange<Numeric>>(v, type_oid, binary); break;
    }
    return 0;
}
