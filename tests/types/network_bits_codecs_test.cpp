// inet/cidr, macaddr/macaddr8, bit/varbit and money against PostgreSQL 15 and 18's own output
// (both print and send these identically), plus values the server never sends.
#include "codec_test_util.hpp"

using namespace pgtls;
using namespace pgtls::test;

namespace {

Inet v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, std::uint8_t prefix = 32) {
    Inet v;
    v.address = {a, b, c, d};
    v.prefix = prefix;
    return v;
}

Inet v6(std::initializer_list<std::uint16_t> words, std::uint8_t prefix = 128) {
    Inet v;
    v.family = 6;
    v.prefix = prefix;
    std::size_t i = 0;
    for (const auto w : words) {
        v.address[i++] = static_cast<std::uint8_t>(w >> 8);
        v.address[i++] = static_cast<std::uint8_t>(w & 0xff);
    }
    return v;
}

BitString bits(std::string_view s) { return BitString::parse(s); }

}  // namespace

TEST(NetworkCodecs, InetMatchesServerOutput) {
    expect_server_vector(v4(192, 168, 0, 1), oid::inet, "192.168.0.1", "02200004c0a80001");
    expect_server_vector(v4(10, 0, 0, 0, 8), oid::inet, "10.0.0.0/8", "020800040a000000");
    expect_server_vector(v6({0, 0, 0, 0, 0, 0, 0, 1}), oid::inet, "::1", "0380001000000000000000000000000000000001");
    expect_server_vector(v6({0xfe80, 0, 0, 0, 1, 0, 0, 2}, 64), oid::inet, "fe80::1:0:0:2/64",
                         "03400010fe800000000000000001000000000002");
    expect_server_vector(v6({0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304}), oid::inet, "::ffff:1.2.3.4",
                         "0380001000000000000000000000ffff01020304");
    expect_server_vector(v6({0, 0, 0, 0, 0, 0, 0x0102, 0x0304}), oid::inet, "::1.2.3.4",
                         "0380001000000000000000000000000001020304");
    expect_server_vector(v6({0x2001, 0xdb8}), oid::inet, "2001:db8::", "0380001020010db8000000000000000000000000");
    expect_server_vector(v6({1, 0, 0, 2, 0, 0, 0, 3}), oid::inet, "1:0:0:2::3", "0380001000010000000000020000000000000003");
    // A cidr column reads into Inet too.
    EXPECT_EQ(Codec<Inet>::decode(unhex("020801040a000000"), oid::cidr, true), v4(10, 0, 0, 0, 8));
    EXPECT_EQ(Inet::parse("10.1.2.3/8").str(), "10.1.2.3/8");
}

TEST(NetworkCodecs, CidrMatchesServerOutputAndRefusesHostBits) {
    expect_server_vector(detail::to_cidr(v4(10, 0, 0, 0, 8)), oid::cidr, "10.0.0.0/8", "020801040a000000");
    expect_server_vector(detail::to_cidr(v6({0x2001, 0xdb8}, 32)), oid::cidr, "2001:db8::/32",
                         "0320011020010db8000000000000000000000000");
    expect_server_vector(detail::to_cidr(v4(1, 2, 3, 4)), oid::cidr, "1.2.3.4/32", "0220010401020304");
    EXPECT_CONVERSION_ERROR(Cidr::parse("10.1.0.0/8"));
    EXPECT_CONVERSION_ERROR(Codec<Cidr>::decode(unhex("020800040a010000"), oid::inet, true));
    EXPECT_CONVERSION_ERROR(Codec<Cidr>::encode_binary(detail::to_cidr(v4(10, 1, 0, 0, 8))));
}

TEST(NetworkCodecs, MalformedInetIsAnError) {
    for (const char* t : {"", "1.2.3", "1.2.3.4/33", "1.2.3.4/", "1.2.3.4/x", "::1/129", "1::2::3", "256.1.1.1", "10/8"})
        {
            SCOPED_TRACE(t);
            EXPECT_CONVERSION_ERROR(Codec<Inet>::decode(t, oid::inet, false));
        }
    for (const char* h : {"", "022000", "0220000401020304ff", "0421000401020304", "02210004c0a80001", "0220001001020304",
                          "02200204c0a80001"})
        {
            SCOPED_TRACE(h);
            EXPECT_CONVERSION_ERROR(Codec<Inet>::decode(unhex(h), oid::inet, true));
        }
    EXPECT_CONVERSION_ERROR(Codec<Inet>::decode(unhex("00000001"), oid::int4, true));
    Inet bad = v4(1, 2, 3, 4, 40);
    EXPECT_CONVERSION_ERROR(Codec<Inet>::encode_text(bad));
    bad = v4(1, 2, 3, 4);
    bad.family = 5;
    EXPECT_CONVERSION_ERROR(Codec<Inet>::encode_binary(bad));
}

TEST(NetworkCodecs, MacAddresses) {
    const MacAddr m{{0x08, 0x00, 0x2b, 0x01, 0x02, 0x03}};
    expect_server_vector(m, oid::macaddr, "08:00:2b:01:02:03", "08002b010203");
    EXPECT_EQ(Codec<MacAddr>::decode("08-00-2B-01-02-03", oid::macaddr, false), m);
    const MacAddr8 m8{{0x08, 0x00, 0x2b, 0x01, 0x02, 0x03, 0x04, 0x05}};
    expect_server_vector(m8, oid::macaddr8, "08:00:2b:01:02:03:04:05", "08002b0102030405");
    // macaddr <-> macaddr8 as the server's casts do: ff:fe in the middle.
    EXPECT_EQ(Codec<MacAddr8>::decode(unhex("08002b010203"), oid::macaddr, true),
              (MacAddr8{{0x08, 0x00, 0x2b, 0xff, 0xfe, 0x01, 0x02, 0x03}}));
    EXPECT_EQ(Codec<MacAddr>::decode("08:00:2b:ff:fe:01:02:03", oid::macaddr8, false), m);
    EXPECT_CONVERSION_ERROR(Codec<MacAddr>::decode(unhex("08002b0102030405"), oid::macaddr8, true));
    for (const char* t : {"", "08:00:2b:01:02", "08:00:2b:01:02:0g", "08:00-2b:01:02:03", "08:00:2b:01:02:03:"})
        {
            SCOPED_TRACE(t);
            EXPECT_CONVERSION_ERROR(Codec<MacAddr>::decode(t, oid::macaddr, false));
        }
    EXPECT_CONVERSION_ERROR(Codec<MacAddr>::decode(unhex("08002b0102"), oid::macaddr, true));
    EXPECT_CONVERSION_ERROR(Codec<MacAddr8>::decode(unhex("08002b010203"), oid::macaddr8, true));
}

TEST(BitCodecs, BitAndVarbit) {
    expect_server_vector(bits("101"), oid::varbit, "101", "00000003a0");
    expect_server_vector(bits(""), oid::varbit, "", "00000000");
    expect_server_vector(bits("1010101011"), oid::varbit, "1010101011", "0000000aaac0");
    expect_server_vector(bits("1011"), oid::bit, "1011", "00000004b0");
    for (const char* t : {"102", " 1", "x1"}) {
            SCOPED_TRACE(t);
            EXPECT_CONVERSION_ERROR(Codec<BitString>::decode(t, oid::bit, false));
        }
    // Padding bits set, length disagreeing with the bytes, negative length.
    for (const char* h : {"00000003b0", "00000003a0a0", "0000000a", "ffffffff", "000000"})
        {
            SCOPED_TRACE(h);
            EXPECT_CONVERSION_ERROR(Codec<BitString>::decode(unhex(h), oid::varbit, true));
        }
    EXPECT_CONVERSION_ERROR(Codec<BitString>::decode(unhex("00000001"), oid::int4, true));
}

TEST(MoneyCodec, LcMonetaryCAndBinary) {
    expect_server_vector(Money{123456}, oid::money, "$1,234.56", "000000000001e240");
    expect_server_vector(Money{-5}, oid::money, "-$0.05", "fffffffffffffffb");
    expect_server_vector(Money{INT64_MIN}, oid::money, "-$92,233,720,368,547,758.08", "8000000000000000");
    expect_server_vector(Money{INT64_MAX}, oid::money, "$92,233,720,368,547,758.07", "7fffffffffffffff");
    expect_server_vector(Money{0}, oid::money, "$0.00", "0000000000000000");
    for (const char* t : {"", "$", "1234.5", "$1,23.45", "$,123.45", "$92,233,720,368,547,758.08", "1.234,56 €", "$1,234.56x",
                          "--$1.00", "$123456789012345678901.00"})
        {
            SCOPED_TRACE(t);
            EXPECT_CONVERSION_ERROR(Codec<Money>::decode(t, oid::money, false));
        }
    EXPECT_CONVERSION_ERROR(Codec<Money>::decode(unhex("0001e240"), oid::money, true));
}

TEST(NetworkCodecs, ArraysOfTheNewTypesAreBinary) {
    using V = std::vector<Inet>;
    EXPECT_EQ(Codec<V>::type_oid, oid::inet_array);
    const V v{v4(1, 2, 3, 4), v6({0, 0, 0, 0, 0, 0, 0, 1})};
    EXPECT_EQ(Codec<V>::encode_text(v), "{1.2.3.4,::1}");
    EXPECT_EQ(Codec<V>::decode(Codec<V>::encode_binary(v), oid::inet_array, true), v);
    EXPECT_EQ(Codec<V>::decode("{1.2.3.4,::1}", oid::inet_array, false), v);
    EXPECT_EQ(Codec<std::vector<Money>>::type_oid, oid::money_array);
    EXPECT_EQ(Codec<std::vector<BitString>>::type_oid, oid::varbit_array);
}
