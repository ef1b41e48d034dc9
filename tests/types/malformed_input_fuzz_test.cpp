// Random and mutated bytes into every decoder, text and binary: each either returns a value or
// throws pgtls::Error(usage); never another exception, never a crash (run under ASan in CI).
#include <chrono>
#include <random>

#include "codec_test_util.hpp"
#include "pgtls/types_composite.hpp"

using namespace pgtls;
using namespace pgtls::test;
using namespace std::chrono;

namespace {

std::mt19937_64 rng(424242);

std::string mutate(std::string s) {
    const int edits = static_cast<int>(rng() % 4) + 1;
    for (int e = 0; e < edits; ++e) {
        const auto op = rng() % 4;
        const std::size_t at = s.empty() ? 0 : rng() % (s.size() + 1);
        static const char interesting[] = "0123456789-+:. {}\",\\NTPYMDHSeE\x00\xff\x01\x7f";
        const char c = interesting[rng() % (sizeof interesting - 1)];
        if (op == 0 && at < s.size()) s.erase(at, 1);
        else if (op == 1) s.insert(at, 1, c);
        else if (op == 2 && at < s.size()) s[at] = c;
        else if (op == 3) s = s.substr(0, at);
    }
    return s;
}

template <typename T>
void survive(const std::string& bytes, std::uint32_t type_oid, bool binary) {
    try {
        (void)Codec<T>::decode(bytes, type_oid, binary);
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::usage);
    } catch (const std::exception& e) {
        ADD_FAILURE() << "non-pgtls exception " << e.what() << " for " << tohex(bytes);
    }
}

template <typename T>
void fuzz(std::uint32_t type_oid, const std::vector<std::string>& text_seeds, const std::vector<std::string>& binary_seeds) {
    for (int i = 0; i < 2000; ++i) {
        if (!text_seeds.empty()) survive<T>(mutate(text_seeds[rng() % text_seeds.size()]), type_oid, false);
        if (!binary_seeds.empty()) survive<T>(mutate(binary_seeds[rng() % binary_seeds.size()]), type_oid, true);
        std::string junk;
        for (auto n = rng() % 24; n > 0; --n) junk.push_back(static_cast<char>(rng()));
        survive<T>(junk, type_oid, false);
        survive<T>(junk, type_oid, true);
    }
}

}  // namespace

TEST(MalformedInputFuzz, EveryDecoderFailsCleanly) {
    fuzz<std::int64_t>(oid::int8, {"-9223372036854775808", "12"}, {unhex("8000000000000000")});
    fuzz<std::int16_t>(oid::numeric, {"12.000", "-1e3"}, {unhex("00010001000000000001")});
    fuzz<double>(oid::float8, {"1e+300", "-Infinity", "NaN"}, {unhex("3fb999999999999a")});
    fuzz<float>(oid::float4, {"3.4028235e+38"}, {unhex("7f7fffff")});
    fuzz<bool>(oid::bool_, {"t"}, {unhex("01")});
    fuzz<char>(oid::char_, {"\\351"}, {unhex("e9")});
    fuzz<Numeric>(oid::numeric, {"123456789.123456789", "NaN", "1e-20"},
                  {unhex("0006000200000009000109291a8504d2162e2328"), unhex("0001fffb000000140001")});
    fuzz<Bytea>(oid::bytea, {"\\x00ff", "a\\\\b\\001"}, {"ab"});
    fuzz<std::string>(oid::jsonb, {"{}"}, {unhex("017b7d")});
    fuzz<Uuid>(oid::uuid, {"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "{a0eebc999c0b4ef8bb6d6bb9bd380a11}"},
               {unhex("a0eebc999c0b4ef8bb6d6bb9bd380a11")});
    fuzz<sys_days>(oid::date, {"0001-12-31 BC", "5874897-12-31", "infinity"}, {unhex("fff4dbf8")});
    fuzz<year_month_day>(oid::date, {"2024-02-29"}, {unhex("00002279")});
    fuzz<TimestampTz>(oid::timestamptz, {"0044-03-15 08:53:32-03:06:28 BC", "2024-06-01 17:30:00.5+05:30"},
                      {unhex("0002bcd19bbd9120")});
    fuzz<Timestamp>(oid::timestamp, {"294276-12-31 23:59:59.999999", "0001-12-31 23:59:59.5 BC"}, {unhex("7fffff5bb3b29fff")});
    fuzz<sys_seconds>(oid::timestamptz, {"2000-01-01 00:00:01+00"}, {unhex("0000000000000001")});
    fuzz<Time>(oid::time, {"24:00:00", "12:34:56.789"}, {unhex("000000141dd76000")});
    fuzz<Interval>(oid::interval,
                   {"-1 years -2 mons +3 days -04:05:06", "2562047788:00:54.775807", "P1Y2M3DT4H5M6.789S", "PT-0.5S",
                    "infinity"},
                   {unhex("000000036c97ca88000000030000000e")});
    fuzz<seconds>(oid::interval, {"1 day 01:00:00"}, {unhex("00000000000000000000000100000000")});
    fuzz<std::vector<std::optional<std::string>>>(
        oid::text_array, {"{a,\"b c\",NULL,\"q\\\"x\"}", "[0:1]={5,6}", "{{1},{2}}"},
        {unhex("0000000100000001000000190000000300000001000000016100000003622063ffffffff")});
    fuzz<std::vector<std::optional<int>>>(
        oid::int4_array, {"{1,2,NULL,-3}", "{}"},
        {unhex("000000010000000100000017000000040000000100000004000000010000000400000002ffffffff00000004fffffffd"),
         unhex("000000000000000000000017")});
    fuzz<std::vector<Numeric>>(oid::numeric_array, {"{1.5,NaN}"},
                               {unhex("0000000100000000000006a400000001000000010000000c0002000000000001000113880")});
    fuzz<Inet>(oid::inet, {"192.168.0.1", "fe80::1:0:0:2/64", "::ffff:1.2.3.4"},
               {unhex("02200004c0a80001"), unhex("03400010fe800000000000000001000000000002")});
    fuzz<Cidr>(oid::cidr, {"10.0.0.0/8", "2001:db8::/32"}, {unhex("020801040a000000")});
    fuzz<MacAddr>(oid::macaddr, {"08:00:2b:01:02:03"}, {unhex("08002b010203")});
    fuzz<MacAddr8>(oid::macaddr8, {"08:00:2b:01:02:03:04:05"}, {unhex("08002b0102030405")});
    fuzz<BitString>(oid::varbit, {"1010101011"}, {unhex("0000000aaac0")});
    fuzz<Money>(oid::money, {"-$92,233,720,368,547,758.08", "$1,234.56"}, {unhex("000000000001e240")});
    using Nested = std::tuple<std::optional<int>, std::optional<std::string>, std::optional<std::tuple<double, std::vector<int>>>>;
    fuzz<Nested>(16500, {"(1,\"a b\",\"(2.5,\"\"{1,2}\"\")\")", "(,,)"},
                 {unhex("00000003000000170000000400000001000000190000000361206200000017ffffffff"),
                  unhex("000000030000001700000004000000010000001900000000000008c900000024000000020000"
                        "02bd00000008400400000000000000000003ed0000000c00000000000000000000001700000000")});
    fuzz<std::vector<std::tuple<int, std::string>>>(16501, {"{\"(1,x)\",\"(2,\\\"y z\\\")\"}"},
                                                    {unhex("0000000100000000000040740000000100000001000000180000000200000017"
                                                           "000000040000000100000019000000017a")});
    fuzz<Range<std::int32_t>>(oid::int4range, {"[1,5)", "empty", "(,6)", "[\"1\",)"},
                              {unhex("0200000004000000010000000400000005"), unhex("18"), unhex("120000000400000003")});
    fuzz<Range<Timestamp>>(oid::tsrange, {"[\"2020-01-01 10:00:00\",infinity)"},
                           {unhex("020000000800023e0fe886c800000000087fffffffffffffff")});
    fuzz<Range<std::string>>(16600, {"[\"a b\",\"q\"\"\\\\\")"}, {});
    fuzz<Multirange<Numeric>>(oid::nummultirange, {"{(1.5,2.5],[3,)}", "{}"},
                              {unhex("00000001000000210" "40000000c0002000000000001000113880000000c000200000000000100021388")});
}
