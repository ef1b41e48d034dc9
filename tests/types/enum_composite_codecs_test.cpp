// Enums through a label table, composites into tuples and structs (text and binary, nested,
// in arrays), checked against PostgreSQL 18's record_out/record_send bytes.
#include <tuple>

#include "codec_test_util.hpp"
#include "pgtls/result.hpp"

using namespace pgtls;
using namespace pgtls::test;

namespace {

enum class Mood { sad, ok, happy };

struct Inner {
    double x;
    std::string label;
    bool operator==(const Inner&) const = default;
};

struct Outer {
    int id;
    Inner inner;
    bool operator==(const Outer&) const = default;
};

}  // namespace

template <>
inline constexpr std::array pgtls::enum_labels<Mood>{"sad", "ok", "happy"};
template <>
inline constexpr bool pgtls::composite_type<Inner> = true;
template <>
inline constexpr bool pgtls::composite_type<Outer> = true;

namespace {

constexpr std::uint32_t user_type = 16500;  // some user-defined type's OID

std::string error_of(auto&& f) {
    try {
        f();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::usage);
        return e.what();
    }
    ADD_FAILURE() << "no error";
    return {};
}

}  // namespace

TEST(EnumCodec, LabelsBothWaysAndUnknownLabelIsAnError) {
    EXPECT_EQ(Codec<Mood>::decode("happy", user_type, false), Mood::happy);
    EXPECT_EQ(Codec<Mood>::decode("sad", user_type, true), Mood::sad);
    EXPECT_EQ(Codec<Mood>::encode_text(Mood::ok), "ok");
    const Param p = to_param(Mood::happy);
    EXPECT_EQ(p.value, "happy");
    EXPECT_EQ(p.type_oid, 0u);
    const std::string what = error_of([] { (void)from_field<Mood>("angry", user_type, false, "mood_col"); });
    EXPECT_NE(what.find("mood_col"), std::string::npos) << what;
    EXPECT_NE(what.find("\"angry\""), std::string::npos) << what;
    EXPECT_NE(what.find("type 16500"), std::string::npos) << what;
    EXPECT_CONVERSION_ERROR(Codec<Mood>::decode(unhex("00000001"), oid::int4, true));
    EXPECT_CONVERSION_ERROR(Codec<Mood>::encode_text(static_cast<Mood>(7)));
    using V = std::vector<Mood>;
    EXPECT_EQ(Codec<V>::encode_text({Mood::sad, Mood::happy}), "{sad,happy}");
    EXPECT_EQ(Codec<V>::decode("{ok,sad}", 16501, false), (V{Mood::ok, Mood::sad}));
}

TEST(CompositeCodec, TupleMatchesServerBytes) {
    using R = std::tuple<int, std::string, std::optional<int>>;
    expect_server_vector(R{1, "a b", std::nullopt}, oid::record, "(1,\"a b\",)",
                         "00000003000000170000000400000001000000190000000361206200000017ffffffff");
    expect_server_vector(R{-7, "", 5}, oid::record, "(-7,\"\",5)",
                         "000000030000001700000004fffffff90000001900000000000000170000000400000005");
    expect_server_vector(R{2, "q\"\\(x),", std::nullopt}, oid::record, "(2,\"q\"\"\\\\(x),\",)",
                         "00000003000000170000000400000002000000190000000771225c2878292c00000017ffffffff");
    EXPECT_EQ(Codec<R>::decode(" (1,\"a\\\"b\"c,) ", user_type, false), (R{1, "a\"bc", std::nullopt}));
}

TEST(CompositeCodec, NestedStructsMatchServerBytes) {
    // The inner composite has no type OID of its own, so Outer has no encode_binary.
    const Outer o{1, Inner{2.5, "x"}};
    EXPECT_EQ(Codec<Outer>::encode_text(o), "(1,\"(2.5,x)\")");
    EXPECT_EQ(Codec<Outer>::decode("(1,\"(2.5,x)\")", oid::record, false), o);
    EXPECT_EQ(binary_decode_hex<Outer>("00000002000000170000000400000001000008c90000001d00000002000002bd00000008400400000000"
                                       "0000000000190000000178",
                                       oid::record),
              o);
    EXPECT_EQ(tohex(Codec<Inner>::encode_binary(o.inner)), "00000002000002bd000000084004000000000000000000190000000178");
}

TEST(CompositeCodec, ArraysOfCompositesAndArraysInComposites) {
    using V = std::vector<Inner>;
    const V v{{1.5, "a b"}, {-2, ""}};
    const std::string text = Codec<V>::encode_text(v);
    EXPECT_EQ(text, "{\"(1.5,\\\"a b\\\")\",\"(-2,\\\"\\\")\"}");
    EXPECT_EQ(Codec<V>::decode(text, 16501, false), v);
    using A = std::tuple<std::vector<int>, std::string>;
    EXPECT_EQ(Codec<A>::encode_text(A{{1, 2}, "{\"a\":1}"}), "(\"{1,2}\",\"{\"\"a\"\":1}\")");
    EXPECT_EQ(Codec<A>::decode("(\"{1,2}\",\"{\"\"a\"\":1}\")", user_type, false), (A{{1, 2}, "{\"a\":1}"}));
    // A binary array of binary composites.
    std::string arr = detail::binary_array_header(user_type, 2, false);
    for (const Inner& i : v) {
        const std::string e = Codec<Inner>::encode_binary(i);
        detail::write_be(arr, e.size(), 4);
        arr += e;
    }
    EXPECT_EQ(Codec<V>::decode(arr, 16501, true), v);
}

TEST(CompositeCodec, MalformedValuesNameTheTypeAndColumn) {
    using R = std::tuple<int, std::string, std::optional<int>>;
    const std::string good = unhex("00000003000000170000000400000001000000190000000361206200000017ffffffff");
    std::vector<std::string> bad = {
        "",
        unhex("00000003"),
        unhex("7fffffff"),
        unhex("ffffffff"),
        good.substr(0, good.size() - 1),
        good + "x",
        unhex("00000002000000170000000400000001000000190000000361206200000017ffffffff"),  // count disagrees
        unhex("00000003000000170000000400000001000000190000ff0361206200000017ffffffff"),  // length past the end
        unhex("00000003000000170000000400000001000000190000000361206200000017fffffffe"),  // negative length
        unhex("00000003000000190000000400000001000000190000000361206200000017ffffffff"),  // text where int4 is
        unhex("0000000300000017000000020001000000190000000361206200000017ffffffff"),      // int4 of 2 bytes
        unhex("00000003000000170000000400000001000000190000000361206200000017ffffffff").substr(0, 12),
    };
    for (const std::string& b : bad) {
        SCOPED_TRACE(tohex(b));
        const std::string what = error_of([&] { (void)from_field<R>(b, user_type, true, "rec"); });
        EXPECT_NE(what.find("rec"), std::string::npos) << what;
        EXPECT_NE(what.find("type 16500"), std::string::npos) << what;
    }
    for (const char* t : {"", "(", "(1,a", "1,a,)", "(1,a,)x", "(1,a)", "(1,a,,)", "(x,a,)", "(1,\"a,)", "(,a,)"}) {
        SCOPED_TRACE(t);
        const std::string what = error_of([&] { (void)from_field<R>(t, user_type, false, "rec"); });
        EXPECT_NE(what.find("rec"), std::string::npos) << what;
    }
    EXPECT_CONVERSION_ERROR(Codec<R>::decode(unhex("00000001"), oid::int4, true));
    EXPECT_CONVERSION_ERROR(Codec<R>::decode("{1,2}", oid::int4_array, false));
}
