// Reading typed values through Result/Row/Field, as the client hands them out, with columns in
// text and binary format side by side.
#include <chrono>

#include "codec_test_util.hpp"
#include "pgtls/result.hpp"

using namespace pgtls;
using namespace pgtls::test;
using namespace std::chrono;

namespace {

// A DataRow body: Int16 count, then Int32 length (-1 for NULL) and bytes per field.
std::vector<std::uint8_t> data_row(const std::vector<std::optional<std::string>>& fields) {
    std::string out;
    detail::write_be(out, fields.size(), 2);
    for (const auto& f : fields) {
        if (!f) {
            detail::write_be(out, 0xffffffffu, 4);
            continue;
        }
        detail::write_be(out, f->size(), 4);
        out += *f;
    }
    return std::vector<std::uint8_t>(out.begin(), out.end());
}

Column column(const char* name, std::uint32_t type_oid, std::int16_t format) {
    Column c;
    c.name = name;
    c.type_oid = type_oid;
    c.format = format;
    return c;
}

}  // namespace

TEST(FieldAccess, TextAndBinaryColumnsGiveTheSameValues) {
    Result r;
    r.set_columns({column("n", oid::int4, 0), column("n", oid::int4, 1), column("ts", oid::timestamptz, 0),
                   column("ts", oid::timestamptz, 1), column("arr", oid::int4_array, 0), column("arr", oid::int4_array, 1),
                   column("num", oid::numeric, 0), column("num", oid::numeric, 1), column("missing", oid::text, 1)});
    const auto row = data_row({"-3", unhex("fffffffd"), "2024-06-01 17:30:00.5+05:30", unhex("0002bcd19bbd9120"),
                               "{1,2,NULL,-3}",
                               unhex("000000010000000100000017000000040000000100000004000000010000000400000002ffffffff00000004fffffffd"),
                               "-0.001", unhex("0001ffff40000003000a"), std::nullopt});
    r.add_data_row(row);
    const Row x = r[0];
    EXPECT_EQ(x[0].as<int>(), x[1].as<int>());
    EXPECT_EQ(x[2].as<TimestampTz>(), x[3].as<TimestampTz>());
    using Arr = std::vector<std::optional<std::int64_t>>;
    EXPECT_EQ(x[4].as<Arr>(), x[5].as<Arr>());
    EXPECT_EQ(x[4].as<Arr>(), (Arr{1, 2, std::nullopt, -3}));
    EXPECT_EQ(x[6].as<Numeric>(), x[7].as<Numeric>());
    EXPECT_EQ(x[8].as<std::optional<std::string>>(), std::nullopt);
    EXPECT_THROW(x[8].as<std::string>(), Error);
    Result r3;
    r3.set_columns({column("a", oid::int4, 1), column("b", oid::int8, 0), column("c", oid::timestamptz, 1)});
    r3.add_data_row(data_row({unhex("fffffffd"), "-3", unhex("0002bcd19bbd9120")}));
    auto [a, b, c] = r3[0].as<int, std::int64_t, TimestampTz>();
    EXPECT_EQ(a, -3);
    EXPECT_EQ(b, -3);
    EXPECT_EQ(c, sys_days(year{2024} / 6 / 1) + 12h + 500ms);
    try {
        (void)x[5].as<std::vector<int>>();  // has a NULL element
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::usage);
        EXPECT_NE(std::string(e.what()).find("column \"arr\""), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("array element 3"), std::string::npos) << e.what();
    }
}
