// Codec<T> specialized by an application, as documented in include/pgtls/types.hpp.
#include <cstdio>

#include "codec_test_util.hpp"
#include "pgtls/result.hpp"

namespace app {
// Text-only user type (PostgreSQL point), exactly the header's example.
struct Point2 {
    double x, y;
    bool operator==(const Point2&) const = default;
};
// A user type with a binary codec: a money amount in cents over int8.
struct Cents {
    std::int64_t value;
    bool operator==(const Cents&) const = default;
};
}  // namespace app

template <>
struct pgtls::Codec<app::Point2> {
    static app::Point2 decode(std::string_view bytes, std::uint32_t, bool binary) {
        if (binary) pgtls::detail::conversion_error("Point2 reads text format only");
        double x = 0, y = 0;
        if (std::sscanf(std::string(bytes).c_str(), "(%lf,%lf)", &x, &y) != 2)
            pgtls::detail::conversion_error("\"" + std::string(bytes) + "\" is not a point");
        return {x, y};
    }
    static pgtls::Param encode(const app::Point2& p) {
        return pgtls::Param{"(" + std::to_string(p.x) + "," + std::to_string(p.y) + ")", 600, 0};
    }
};

template <>
struct pgtls::Codec<app::Cents> {
    static constexpr std::uint32_t type_oid = pgtls::oid::int8;
    static app::Cents decode(std::string_view b, std::uint32_t oid, bool binary) {
        return {pgtls::Codec<std::int64_t>::decode(b, oid, binary)};
    }
    static std::string encode_binary(const app::Cents& c) { return pgtls::Codec<std::int64_t>::encode_binary(c.value); }
    static std::string encode_text(const app::Cents& c) { return std::to_string(c.value); }
    static pgtls::Param encode(const app::Cents& c) { return pgtls::Param{encode_binary(c), type_oid, 1}; }
};

using namespace pgtls;
using namespace pgtls::test;

TEST(UserCodec, ScalarDecodeEncodeAndFieldAccess) {
    EXPECT_EQ(text_decode<app::Point2>("(1.5,-2)", 600), (app::Point2{1.5, -2}));
    EXPECT_CONVERSION_ERROR(text_decode<app::Point2>("nope", 600));
    const Param p = to_param(app::Point2{1, 2});
    EXPECT_EQ(p.type_oid, 600u);
    EXPECT_EQ(*p.value, "(1.000000,2.000000)");
    EXPECT_FALSE(to_param(std::optional<app::Point2>{}).value.has_value());

    // Through Field::as like an application would.
    Column c;
    c.name = "p";
    c.type_oid = 600;
    const std::string bytes = "(3,4)";
    const Field f(reinterpret_cast<const std::uint8_t*>(bytes.data()), static_cast<std::int32_t>(bytes.size()), &c);
    EXPECT_EQ(f.as<app::Point2>(), (app::Point2{3, 4}));
    EXPECT_EQ(f.as<std::optional<app::Point2>>(), (app::Point2{3, 4}));
    const Field null_field(nullptr, -1, &c);
    EXPECT_EQ(null_field.as<std::optional<app::Point2>>(), std::nullopt);
    EXPECT_THROW(null_field.as<app::Point2>(), Error);
}

TEST(UserCodec, ArraysOfUserTypes) {
    // A text-only codec: arrays are written as a text literal, untyped.
    const Param p = to_param(std::vector<app::Point2>{{1, 2}, {3, 4}});
    EXPECT_EQ(p.format, 0);
    EXPECT_EQ(*p.value, "{\"(1.000000,2.000000)\",\"(3.000000,4.000000)\"}");
    EXPECT_EQ(text_decode<std::vector<app::Point2>>("{\"(1,2)\",\"(3,4)\"}", 1017), (std::vector<app::Point2>{{1, 2}, {3, 4}}));
    // A codec with type_oid and encode_binary gets binary arrays of its type.
    const Param q = to_param(std::vector<std::optional<app::Cents>>{app::Cents{5}, std::nullopt});
    EXPECT_EQ(q.format, 1);
    EXPECT_EQ(q.type_oid, oid::int8_array);
    EXPECT_EQ(binary_decode_hex<std::vector<std::optional<app::Cents>>>(tohex(*q.value), oid::int8_array),
              (std::vector<std::optional<app::Cents>>{app::Cents{5}, std::nullopt}));
    expect_round_trip(app::Cents{-7});
}
