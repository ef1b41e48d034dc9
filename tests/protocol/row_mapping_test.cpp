// Rows into structs and tuples (include/pgtls/row_mapping.hpp) on results built from scripted
// DataRows: by position, by name, NULL into optional, and every shape error before decoding.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "pgtls/result.hpp"
#include "scripted_bytes.hpp"

using namespace pgtls;
using namespace pgtls::test;

namespace {

struct User {
    std::int64_t id;
    std::string name;
    std::optional<std::string> email;
};

struct Named {
    std::string name;
    std::int32_t id;
};

// A field type whose decoder counts its calls: shape errors must come before any decode.
int g_decodes = 0;
struct Counted {
    int v;
};

Result make(const std::vector<std::pair<std::string, std::uint32_t>>& cols,
            const std::vector<std::vector<const char*>>& rows) {
    Result r;
    std::vector<Column> columns;
    for (const auto& [name, type] : cols) {
        Column c;
        c.name = name;
        c.type_oid = type;
        columns.push_back(c);
    }
    r.set_columns(std::move(columns));
    for (const auto& row : rows) {
        const std::string m = data_row(row);
        r.add_data_row(bytes(m).subspan(5));
    }
    return r;
}

std::string shape_error(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::usage) << e.what();
        return e.what();
    }
    ADD_FAILURE() << "no error";
    return "";
}

}  // namespace

template <>
inline constexpr std::array pgtls::column_names<Named>{"name", "id"};

template <>
struct pgtls::Codec<Counted> {
    static Counted decode(std::string_view b, std::uint32_t, bool) {
        ++g_decodes;
        return Counted{static_cast<int>(b.size())};
    }
    static bool accepts(std::uint32_t oid) { return oid == pgtls::oid::text; }
};

TEST(RowMapping, StructsByPositionWithNullIntoOptional) {
    const Result r = make({{"id", oid::int8}, {"name", oid::text}, {"email", oid::text}},
                          {{"1", "ann", "ann@example.org"}, {"2", "bob", nullptr}});
    const auto users = r.as<std::vector<User>>();
    ASSERT_EQ(users.size(), 2u);
    EXPECT_EQ(users[0].id, 1);
    EXPECT_EQ(users[0].name, "ann");
    EXPECT_EQ(users[0].email, "ann@example.org");
    EXPECT_EQ(users[1].id, 2);
    EXPECT_FALSE(users[1].email.has_value());
    std::vector<std::string> names;
    for (const User& u : r.rows<User>()) names.push_back(u.name);
    EXPECT_EQ(names, (std::vector<std::string>{"ann", "bob"}));
    const auto tuples = r.as<std::vector<std::tuple<long, std::string, std::optional<std::string>>>>();
    EXPECT_EQ(std::get<1>(tuples[1]), "bob");
}

TEST(RowMapping, StructsByNameWhateverTheColumnOrder) {
    const Result r = make({{"id", oid::int4}, {"extra_unused", oid::text}, {"name", oid::text}}, {{"7", "x", "eve"}});
    // An extra column is an error by name too: every column must land somewhere.
    EXPECT_NE(shape_error([&] { (void)r.as<std::vector<Named>>(); }).find("column 2 \"extra_unused\" of the result has no field"),
              std::string::npos);
    const Result ok = make({{"id", oid::int4}, {"name", oid::text}}, {{"7", "eve"}});
    const auto v = ok.as<std::vector<Named>>();
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v[0].name, "eve");
    EXPECT_EQ(v[0].id, 7);
    EXPECT_NE(shape_error([&] { (void)make({{"name", oid::text}}, {}).as<std::vector<Named>>(); })
                  .find("no column \"id\" in the result for field 2"),
              std::string::npos);
}

TEST(RowMapping, ShapeErrorsComeBeforeAnyRowIsDecoded) {
    g_decodes = 0;
    // Too few and too many columns by position.
    EXPECT_NE(shape_error([] { (void)make({{"id", oid::int8}, {"name", oid::text}}, {{"1", "a"}}).as<std::vector<User>>(); })
                  .find("the result has 2 columns, but the row type has 3 fields"),
              std::string::npos);
    // A text column for an integer field names the column, both types and the field.
    const std::string m = shape_error([] {
        (void)make({{"id", oid::text}, {"name", oid::text}, {"email", oid::text}}, {{"1", "a", "b"}}).as<std::vector<User>>();
    });
    EXPECT_NE(m.find("column 1 \"id\" is text, which cannot fill field 1"), std::string::npos) << m;
    EXPECT_NE(m.find("int64"), std::string::npos) << m;
    // A codec's own accepts() is asked before decoding.
    const Result r = make({{"a", oid::int4}}, {{"1"}});
    EXPECT_NE(shape_error([&] { (void)r.as<std::vector<std::tuple<Counted>>>(); }).find("column 1 \"a\" is int4"),
              std::string::npos);
    EXPECT_EQ(g_decodes, 0);
    const Result t = make({{"a", oid::text}}, {{"abc"}});
    EXPECT_EQ(std::get<0>(t.as<std::vector<std::tuple<Counted>>>()[0]).v, 3);
    EXPECT_EQ(g_decodes, 1);
}

TEST(RowMapping, NullIntoANonOptionalFieldNamesTheColumn) {
    const Result r = make({{"id", oid::int8}, {"name", oid::text}, {"email", oid::text}}, {{"1", nullptr, nullptr}});
    const std::string m = shape_error([&] { (void)r.as<std::vector<User>>(); });
    EXPECT_NE(m.find("name"), std::string::npos) << m;
}

TEST(RowMapping, StructFieldsBecomeParametersInOrder) {
    const User u{42, "zoe", std::nullopt};
    const auto params = detail::params_of(u);
    ASSERT_EQ(params.size(), 3u);
    EXPECT_EQ(params[0].type_oid, oid::int8);
    EXPECT_FALSE(params[2].value.has_value());
    static_assert(row_struct<User>);
    static_assert(!row_struct<Uuid>, "a value type with a codec is not a row struct");
    static_assert(RowMapper<User>::field_count() == 3);
}
