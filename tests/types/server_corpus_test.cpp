// pg15_vectors.txt: 1000 random values as a PostgreSQL 15 server printed and sent them. Each
// decodes to the same C++ value from text and from binary, and encodes back to the server's
// exact bytes (float text aside: any shortest round-trip spelling is accepted).
#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "codec_test_util.hpp"

using namespace pgtls;
using namespace pgtls::test;
using namespace std::chrono;

namespace {

template <typename T>
void check(std::uint32_t type_oid, const std::string& text, const std::string& binary, bool exact_text) {
    const T from_text = Codec<T>::decode(text, type_oid, false);
    const T from_binary = Codec<T>::decode(binary, type_oid, true);
    EXPECT_EQ(from_text, from_binary);
    EXPECT_EQ(tohex(Codec<T>::encode_binary(from_text)), tohex(binary));
    if (exact_text) EXPECT_EQ(Codec<T>::encode_text(from_binary), text);
    else EXPECT_EQ(Codec<T>::decode(Codec<T>::encode_text(from_binary), type_oid, false), from_binary);
}

using Checker = std::function<void(const std::string&, const std::string&)>;

}  // namespace

TEST(ServerCorpus, Pg15RandomValuesBothFormats) {
    const std::map<std::string, Checker> checkers = {
        {"numeric", [](auto& t, auto& b) { check<Numeric>(oid::numeric, t, b, true); }},
        {"float8", [](auto& t, auto& b) { check<double>(oid::float8, t, b, false); }},
        {"float4", [](auto& t, auto& b) { check<float>(oid::float4, t, b, false); }},
        {"date", [](auto& t, auto& b) { check<sys_days>(oid::date, t, b, true); }},
        {"timestamp", [](auto& t, auto& b) { check<local_time<microseconds>>(oid::timestamp, t, b, true); }},
        {"timestamptz", [](auto& t, auto& b) { check<sys_time<microseconds>>(oid::timestamptz, t, b, true); }},
        {"time", [](auto& t, auto& b) { check<Time>(oid::time, t, b, true); }},
        {"interval", [](auto& t, auto& b) { check<Interval>(oid::interval, t, b, true); }},
        {"text[]", [](auto& t, auto& b) { check<std::vector<std::optional<std::string>>>(oid::text_array, t, b, true); }},
        {"numeric[]", [](auto& t, auto& b) { check<std::vector<std::optional<Numeric>>>(oid::numeric_array, t, b, true); }},
    };
    std::ifstream in(PGTLS_TYPES_VECTORS);
    ASSERT_TRUE(in) << "cannot open " << PGTLS_TYPES_VECTORS;
    std::string line;
    std::size_t count = 0;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream fields(line);
        std::string type, text_hex, binary_hex;
        std::getline(fields, type, '\t');
        std::getline(fields, text_hex, '\t');
        std::getline(fields, binary_hex, '\t');
        const auto it = checkers.find(type);
        ASSERT_NE(it, checkers.end()) << type;
        SCOPED_TRACE(type + " " + unhex(text_hex));
        it->second(unhex(text_hex), unhex(binary_hex));
        ++count;
    }
    EXPECT_EQ(count, 1000u);
}
