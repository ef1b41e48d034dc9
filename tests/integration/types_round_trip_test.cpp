// The types of issue 23 against PostgreSQL 15 and 18: random values bound as parameters come
// back from the server's output and send functions byte for byte as the codecs write them,
// and read back equal from text and binary results.
#include <gtest/gtest.h>

#include <random>

#include "integration_fixture.hpp"

namespace pgtls::test {
namespace {

class TypesRoundTrip : public ::testing::TestWithParam<std::string> {
protected:
    Client open() const {
        Config c;
        c.use_environment = false;
        c.conninfo = test_env().conninfo(test_env().server(GetParam()), "scramuser") + " sslmode=disable";
        return Client(c);
    }
    std::mt19937_64 rng{20260423};
};

// `v` bound in binary and in text: the server prints format('%s') and `send` bytes equal to
// the codec's encode_text/encode_binary, and the column reads back as `v` in both formats.
template <typename T>
void expect_server_round_trip(Client& c, const T& v, const std::string& type, const std::string& send) {
    SCOPED_TRACE(type + " " + Codec<T>::encode_text(v));
    const std::string sql = "SELECT format('%s', $1::" + type + "), " + send + "($1::" + type + "), $1::" + type + " AS v";
    for (const Param& p : {binary_param(v), text_param(v)}) {
        const Result t = c.execute(sql, {p}, ResultFormat::text);
        const Result b = c.execute(sql, {p}, ResultFormat::binary);
        EXPECT_EQ(t[0][0].as<std::string>(), Codec<T>::encode_text(v));
        EXPECT_EQ(b[0][1].as<Bytea>().bytes, Codec<T>::encode_binary(v));
        EXPECT_EQ(t[0][2].as<T>(), v);
        EXPECT_EQ(b[0][2].as<T>(), v);
    }
}

TEST_P(TypesRoundTrip, NetworkBitAndMoney) {
    Client c = open();
    for (int i = 0; i < 40; ++i) {
        Inet a;
        a.family = rng() % 2 ? 6 : 4;
        const std::size_t n = a.family == 6 ? 16 : 4;
        for (std::size_t k = 0; k < n; ++k) a.address[k] = static_cast<std::uint8_t>(rng() % 3 == 0 ? 0 : rng());
        if (a.family == 6 && rng() % 3 == 0) std::fill(a.address.begin(), a.address.begin() + 10, 0);
        a.prefix = static_cast<std::uint8_t>(rng() % (n * 8 + 1));
        expect_server_round_trip(c, a, "inet", "inet_send");
        for (std::size_t k = 0; k < n; ++k) {  // clear host bits for a cidr
            const int keep = std::clamp<int>(a.prefix - static_cast<int>(k) * 8, 0, 8);
            a.address[k] = static_cast<std::uint8_t>(a.address[k] & (0xff00 >> keep));
        }
        expect_server_round_trip(c, detail::to_cidr(a), "cidr", "cidr_send");
        MacAddr m;
        for (auto& x : m.bytes) x = static_cast<std::uint8_t>(rng());
        expect_server_round_trip(c, m, "macaddr", "macaddr_send");
        MacAddr8 m8;
        for (auto& x : m8.bytes) x = static_cast<std::uint8_t>(rng());
        expect_server_round_trip(c, m8, "macaddr8", "macaddr8_send");
        BitString bits;
        for (auto k = rng() % 40; k > 0; --k) bits.bits.push_back(rng() % 2);
        expect_server_round_trip(c, bits, "varbit", "varbit_send");
        const Money money{static_cast<std::int64_t>(rng()) >> (rng() % 64)};
        expect_server_round_trip(c, money, "money", "cash_send");
    }
    expect_server_round_trip(c, Money{INT64_MIN}, "money", "cash_send");
    expect_server_round_trip(c, BitString::parse("1011"), "bit(4)", "bit_send");
}

INSTANTIATE_TEST_SUITE_P(Servers, TypesRoundTrip, ::testing::Values("pg15", "pg18"));

}  // namespace
}  // namespace pgtls::test
