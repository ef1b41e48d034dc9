#include "pgtls/result.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <climits>

#include "scripted_bytes.hpp"

using namespace pgtls;
using namespace pgtls::test;

namespace {
Result one_row(std::uint32_t oid, const char* value) {
    Result r;
    Column c;
    c.name = "v";
    c.type_oid = oid;
    r.set_columns({c});
    const std::string m = data_row({value});
    r.add_data_row(bytes(m).subspan(5));
    return r;
}
}  // namespace

TEST(Result, IntegerConversionsAreRangeChecked) {
    EXPECT_EQ(one_row(oid::int4, "70000")[0][0].as<int>(), 70000);
    EXPECT_THROW(one_row(oid::int4, "70000")[0][0].as<std::int16_t>(), Error);
    EXPECT_THROW(one_row(oid::int4, "-1")[0][0].as<unsigned>(), Error);
    EXPECT_THROW(one_row(oid::text, "abc")[0][0].as<int>(), Error);
    EXPECT_THROW(one_row(oid::text, "12abc")[0][0].as<int>(), Error);
    EXPECT_EQ(one_row(oid::int8, "-9223372036854775808")[0][0].as<std::int64_t>(), INT64_MIN);
}

TEST(Result, ConversionErrorNamesTheColumn) {
    try {
        one_row(oid::text, "x")[0][0].as<int>();
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("column \"v\""), std::string::npos);
    }
}

TEST(Result, NullNeedsOptional) {
    auto r = one_row(oid::int4, nullptr);
    EXPECT_THROW(r[0][0].as<int>(), Error);
    EXPECT_EQ(r[0][0].as<std::optional<int>>(), std::nullopt);
}

TEST(Result, BoolFloatBytea) {
    EXPECT_TRUE(one_row(oid::bool_, "t")[0][0].as<bool>());
    EXPECT_FALSE(one_row(oid::bool_, "f")[0][0].as<bool>());
    EXPECT_THROW(one_row(oid::bool_, "yes")[0][0].as<bool>(), Error);
    EXPECT_DOUBLE_EQ(one_row(oid::float8, "1.5")[0][0].as<double>(), 1.5);
    EXPECT_TRUE(std::isinf(one_row(oid::float8, "-Infinity")[0][0].as<double>()));
    EXPECT_EQ(one_row(oid::bytea, "\\x00ff41")[0][0].as<std::string>(), std::string("\0\xff" "A", 3));
    EXPECT_THROW(one_row(oid::bytea, "\\x0")[0][0].as<std::string>(), Error);
}

TEST(Result, AffectedRowsFromTag) {
    Result r;
    r.set_command_tag("INSERT 0 5");
    EXPECT_EQ(r.affected_rows(), 5u);
    r.set_command_tag("CREATE TABLE");
    EXPECT_EQ(r.affected_rows(), 0u);
}

TEST(Result, TupleExtraction) {
    Result r;
    Column a, b;
    a.name = "a";
    a.type_oid = oid::int4;
    b.name = "b";
    b.type_oid = oid::text;
    r.set_columns({a, b});
    const std::string m = data_row({"7", "seven"});
    r.add_data_row(bytes(m).subspan(5));
    auto [x, y] = r[0].as<int, std::string>();
    EXPECT_EQ(x, 7);
    EXPECT_EQ(y, "seven");
    EXPECT_EQ(r[0]["b"].as<std::string>(), "seven");
    EXPECT_THROW((r[0].as<int>()), Error);
    EXPECT_THROW(r[0]["nope"], Error);
}
