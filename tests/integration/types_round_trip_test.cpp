// The types of issue 23 against PostgreSQL 15 and 18: random values bound as parameters come
// back from the server's output and send functions byte for byte as the codecs write them,
// and read back equal from text and binary results.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <random>

#include "integration_fixture.hpp"
#include "pgtls/copy_rows.hpp"
#include "pgtls/type_loader.hpp"

namespace pgtls::test {
namespace {

enum class Mood { sad, ok, happy };
enum class ShortMood { sad, ok };

struct Inner3 {
    double x;
    std::optional<std::string> label;
    bool operator==(const Inner3&) const = default;
};

struct Outer3 {
    int id;
    Inner3 inner;
    std::vector<std::string> tags;
    Mood mood;
    bool operator==(const Outer3&) const = default;
};

}  // namespace
}  // namespace pgtls::test

template <>
inline constexpr std::array pgtls::enum_labels<pgtls::test::Mood>{"sad", "ok", "happy"};
template <>
inline constexpr std::array pgtls::enum_labels<pgtls::test::ShortMood>{"sad", "ok"};
template <>
inline constexpr bool pgtls::composite_type<pgtls::test::Inner3> = true;
template <>
inline constexpr bool pgtls::composite_type<pgtls::test::Outer3> = true;

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

// The usage error of `f`'s decoding.
template <typename F>
std::string usage_error(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::usage) << e.what();
        return e.what();
    }
    ADD_FAILURE() << "no error";
    return {};
}

// Types created inside a transaction that is rolled back, so nothing outlives the test.
TEST_P(TypesRoundTrip, EnumsAndCompositesNestedAndInArrays) {
    Client c = open();
    Transaction tx(c);
    c.query("CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');"
            "CREATE TYPE inner3 AS (x float8, label text);"
            "CREATE TYPE outer3 AS (id int4, nested inner3, tags text[], mood mood)");
    const auto inner_oid = c.query("SELECT 'inner3'::regtype::oid")[0][0].as<Oid>().value;
    for (int i = 0; i < 30; ++i) {
        std::string label(rng() % 6, "a \"(),\\x"[rng() % 8]);
        const Inner3 in{static_cast<double>(static_cast<std::int32_t>(rng())) / 8,
                        rng() % 4 == 0 ? std::nullopt : std::optional<std::string>(label)};
        Outer3 out{static_cast<int>(rng()), in, {}, static_cast<Mood>(rng() % 3)};
        for (auto k = rng() % 3; k > 0; --k) out.tags.push_back(std::string(rng() % 3, "{}\" ,"[rng() % 5]));
        SCOPED_TRACE(Codec<Outer3>::encode_text(out));
        const char* sql = "SELECT format('%s', $1::outer3), $1::outer3 AS o, record_send($1::outer3), "
                          "ARRAY[$1::outer3, $1::outer3] AS arr, ($1::outer3).mood AS m, "
                          "format('%s', $2::inner3), record_send($2::inner3), $2::inner3 AS i";
        for (const Param& inner_param : {to_param(in), Param{Codec<Inner3>::encode_binary(in), inner_oid, 1}}) {
            const std::vector<Param> params{to_param(out), inner_param};
            const Result t = c.execute(sql, params, ResultFormat::text);
            const Result b = c.execute(sql, params, ResultFormat::binary);
            EXPECT_EQ(t[0][0].as<std::string>(), Codec<Outer3>::encode_text(out));
            EXPECT_EQ(t[0][1].as<Outer3>(), out);
            EXPECT_EQ(b[0][1].as<Outer3>(), out);
            using AsTuple = std::tuple<int, Inner3, std::vector<std::string>, Mood>;
            EXPECT_EQ(b[0][1].as<AsTuple>(), AsTuple(out.id, out.inner, out.tags, out.mood));
            EXPECT_EQ(t[0][3].as<std::vector<Outer3>>(), (std::vector<Outer3>{out, out}));
            EXPECT_EQ(b[0][3].as<std::vector<Outer3>>(), (std::vector<Outer3>{out, out}));
            EXPECT_EQ(t[0][4].as<Mood>(), out.mood);
            EXPECT_EQ(b[0][4].as<Mood>(), out.mood);
            EXPECT_EQ(t[0][5].as<std::string>(), Codec<Inner3>::encode_text(in));
            EXPECT_EQ(b[0][6].as<Bytea>().bytes, Codec<Inner3>::encode_binary(in));
            EXPECT_EQ(b[0][7].as<Inner3>(), in);
        }
    }
    EXPECT_EQ(c.exec("SELECT $1::mood[]", std::vector<Mood>{Mood::happy, Mood::sad})[0][0].as<std::vector<Mood>>(),
              (std::vector<Mood>{Mood::happy, Mood::sad}));
    // An unknown label, a field of the wrong type and a wrong field count name column and type.
    for (const auto format : {ResultFormat::text, ResultFormat::binary}) {
        const Result r = c.execute("SELECT 'happy'::mood AS m, ROW(1, 'x')::inner3 AS i", {}, format);
        std::string what = usage_error([&] { (void)r[0][0].as<ShortMood>(); });
        EXPECT_NE(what.find("\"m\""), std::string::npos) << what;
        EXPECT_NE(what.find("\"happy\""), std::string::npos) << what;
        what = usage_error([&] { (void)r[0][1].as<std::tuple<double, std::string, int>>(); });
        EXPECT_NE(what.find("\"i\""), std::string::npos) << what;
        EXPECT_NE(what.find("3"), std::string::npos) << what;
    }
    const Result r = c.execute("SELECT ROW(1, 'x')::inner3 AS i", {}, ResultFormat::binary);
    const std::string what = usage_error([&] { (void)r[0][0].as<std::tuple<std::int32_t, std::string>>(); });
    EXPECT_NE(what.find("float8"), std::string::npos) << what;
}

template <typename T>
Range<T> random_range(std::mt19937_64& rng, auto value) {
    if (rng() % 8 == 0) return Range<T>::make_empty();
    T a = value(), b = value();
    if constexpr (std::totally_ordered<T>) {
        if (b < a) std::swap(a, b);
    }  // else `value` yields increasing values
    Range<T> r;
    if (rng() % 4 != 0) r.lower = a;
    if (rng() % 4 != 0) r.upper = b;
    r.lower_inclusive = r.lower && rng() % 2;
    r.upper_inclusive = r.upper && rng() % 2;
    return r;
}

// The server's canonical form of `r` (what it prints back): discrete ranges become [a,b),
// bounds that meet without both being inclusive become empty.
template <typename T>
Range<T> canonical(Client& c, const Range<T>& r, const std::string& type) {
    return c.execute("SELECT $1::" + type, {to_param(r)}, ResultFormat::binary)[0][0].template as<Range<T>>();
}

template <typename T>
void expect_range_round_trips(Client& c, std::mt19937_64& rng, const std::string& type, const std::string& multi,
                              auto value) {
    for (int i = 0; i < 25; ++i) {
        const Range<T> r = canonical(c, random_range<T>(rng, value), type);
        expect_server_round_trip(c, r, type, "range_send");
        Multirange<T> m;
        const std::string sql = "SELECT range_agg(r ORDER BY r) FROM unnest($1::" + type + "[]) r";
        std::vector<Range<T>> parts;
        for (auto k = rng() % 4; k > 0; --k) parts.push_back(random_range<T>(rng, value));
        const auto agg = c.execute(sql, {to_param(parts)}, ResultFormat::binary)[0][0].template as<std::optional<Multirange<T>>>();
        expect_server_round_trip(c, agg.value_or(Multirange<T>{}), multi, "multirange_send");
    }
}

TEST_P(TypesRoundTrip, RangesAndMultiranges) {
    Client c = open();
    c.query("SET TimeZone = 'UTC'");
    using namespace std::chrono;
    expect_range_round_trips<std::int32_t>(c, rng, "int4range", "int4multirange", [&] { return static_cast<std::int32_t>(rng() % 2000) - 1000; });
    expect_range_round_trips<std::int64_t>(c, rng, "int8range", "int8multirange", [&] { return static_cast<std::int64_t>(rng() >> 2) - (1LL << 60); });
    std::int64_t whole = -1000000;
    expect_range_round_trips<Numeric>(c, rng, "numrange", "nummultirange", [&] {
        whole += static_cast<std::int64_t>(1 + rng() % 100000);
        return Numeric(std::to_string(whole) + "." + std::to_string(rng() % 1000));
    });
    expect_range_round_trips<sys_days>(c, rng, "daterange", "datemultirange", [&] {
        return rng() % 10 == 0 ? sys_days::max() : sys_days(days(static_cast<int>(rng() % 40000) - 20000));
    });
    expect_range_round_trips<Timestamp>(c, rng, "tsrange", "tsmultirange", [&] {
        return rng() % 10 == 0 ? Timestamp::min() : Timestamp(microseconds(static_cast<std::int64_t>(rng() >> 14) - (1LL << 48)));
    });
    expect_range_round_trips<TimestampTz>(c, rng, "tstzrange", "tstzmultirange", [&] {
        return TimestampTz(microseconds(static_cast<std::int64_t>(rng() >> 14) - (1LL << 48)));
    });
    // An inverted range is refused by the server as by the codec.
    Range<std::int32_t> inverted;
    inverted.lower = 5;
    inverted.upper = 1;
    EXPECT_THROW(c.execute("SELECT $1::int4range", {to_param(inverted)}), ServerError);
    EXPECT_THROW((void)Codec<Range<std::int32_t>>::decode("[5,1)", oid::int4range, false), Error);
}

// A domain column arrives typed as its base type, so it reads as the base type's C++ value.
TEST_P(TypesRoundTrip, DomainsReadAsTheirBaseType) {
    Client c = open();
    Transaction tx(c);
    c.query("CREATE DOMAIN posint AS int4 CHECK (VALUE > 0); CREATE DOMAIN inet_list AS inet[];"
            "CREATE DOMAIN span AS int4range");
    const std::vector<Inet> list{Inet::parse("10.0.0.1"), Inet::parse("::1")};
    const char* sql = "SELECT $1::posint AS p, $2::inet_list AS l, $3::span AS s";
    const std::vector<Param> params{to_param(7), to_param(list), to_param(Range<std::int32_t>{1, 9, true, false, false})};
    for (const auto format : {ResultFormat::text, ResultFormat::binary}) {
        const Result r = c.execute(sql, params, format);
        EXPECT_EQ(r[0][0].type_oid(), oid::int4);
        EXPECT_EQ(r[0][0].as<int>(), 7);
        EXPECT_EQ(r[0][1].as<std::vector<Inet>>(), list);
        EXPECT_EQ(r[0][2].as<Range<std::int32_t>>(), (Range<std::int32_t>{1, 9, true, false, false}));
    }
    // Inside a composite the field keeps the domain's OID: text format reads it, binary says why not.
    c.query("CREATE TYPE with_domain AS (n posint, label text)");
    using WithDomain = std::tuple<int, std::string>;
    const char* composite = "SELECT ROW(5, 'x')::with_domain AS w";
    EXPECT_EQ(c.execute(composite, {}, ResultFormat::text)[0][0].as<WithDomain>(), WithDomain(5, "x"));
    const std::string what = usage_error([&] { (void)c.execute(composite, {}, ResultFormat::binary)[0][0].as<WithDomain>(); });
    EXPECT_NE(what.find("text format"), std::string::npos) << what;
    EXPECT_THROW(c.exec("SELECT $1::posint", 0), ServerError);
}

// load_type finds user types by name with one query, cached per connection; check_type and
// typed_param then bind them without casts in the statement.
TEST_P(TypesRoundTrip, LoadTypeByNameCachesAndBindsWithoutCasts) {
    Client c = open();
    Transaction tx(c);
    c.query("CREATE TYPE public.lt_mood AS ENUM ('sad', 'ok', 'happy');"
            "CREATE TYPE public.lt_inner3 AS (x float8, gone int4, label text); ALTER TYPE public.lt_inner3 DROP ATTRIBUTE gone;"
            "CREATE DOMAIN public.lt_posint AS int4 CHECK (VALUE > 0); CREATE TYPE public.lt_span AS RANGE (subtype = int8)");
    const TypeInfo& mood = load_type(c, "public.lt_mood");
    EXPECT_EQ(mood.kind, TypeInfo::Kind::enumeration);
    EXPECT_EQ(mood.labels, (std::vector<std::string>{"sad", "ok", "happy"}));
    EXPECT_EQ(mood.oid, c.query("SELECT 'public.lt_mood'::regtype::oid")[0][0].as<Oid>().value);
    EXPECT_EQ(&load_type(c, "public.lt_mood"), &mood);  // cached: the same object, no second query
    check_type<Mood>(mood);
    EXPECT_THROW(check_type<ShortMood>(mood), Error);

    const TypeInfo& inner = load_type(c, "public.lt_inner3");
    EXPECT_EQ(inner.kind, TypeInfo::Kind::composite);
    EXPECT_EQ(inner.field_names, (std::vector<std::string>{"x", "label"}));
    EXPECT_EQ(inner.field_oids, (std::vector<std::uint32_t>{oid::float8, oid::text}));
    check_type<Inner3>(inner);
    try {
        check_type<std::tuple<std::int32_t, std::string>>(inner);
        ADD_FAILURE() << "an int field for float8 passed";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("lt_inner3"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("\"x\""), std::string::npos) << e.what();
    }
    const Inner3 value{2.5, "a b"};
    const Result r = c.execute("SELECT $1 AS i, $2 AS m, pg_typeof($1)::text", {typed_param(value, inner), typed_param(Mood::ok, mood)},
                               ResultFormat::binary);
    EXPECT_EQ(r[0][0].type_oid(), inner.oid);
    EXPECT_EQ(r[0][0].as<Inner3>(), value);
    EXPECT_EQ(r[0][1].type_oid(), mood.oid);
    EXPECT_EQ(r[0][1].as<Mood>(), Mood::ok);

    const TypeInfo& arr = load_type(c, "public.lt_inner3[]");
    EXPECT_EQ(arr.oid, inner.array_oid);
    EXPECT_EQ(arr.element_oid, inner.oid);
    const TypeInfo& pos = load_type(c, "public.lt_posint");
    EXPECT_EQ(pos.kind, TypeInfo::Kind::domain);
    EXPECT_EQ(pos.base_oid, oid::int4);
    const TypeInfo& span = load_type(c, "public.lt_span");
    EXPECT_EQ(span.kind, TypeInfo::Kind::range);
    EXPECT_EQ(span.range_subtype_oid, oid::int8);
    const Range<std::int64_t> rg{1, 10, true, false, false};
    EXPECT_EQ(c.execute("SELECT $1", {typed_param(rg, span)}, ResultFormat::binary)[0][0].as<Range<std::int64_t>>(), rg);
    EXPECT_EQ(load_type(c, "double precision").oid, oid::float8);

    // A pool's connections share one TypeCache.
    TypeCache shared;
    EXPECT_EQ(shared.load(c, "public.lt_mood").labels, mood.labels);
    Client other = open();
    EXPECT_EQ(&shared.load(other, "public.lt_mood"), &shared.load(c, "public.lt_mood"));  // uncommitted, so only cached for `other`
    shared.clear();
    EXPECT_THROW(shared.load(other, "public.lt_mood"), ServerError);
    EXPECT_THROW(load_type(c, "public.lt_no_such_type"), ServerError);  // last: it aborts the transaction
}

// The per-Client cache answers from memory until the Client connects anew: a type that was
// rolled back is still cached on its session, and gone after a reconnect.
TEST_P(TypesRoundTrip, PerClientTypeCacheIsDroppedOnReconnect) {
    Client c = open();
    {
        Transaction tx(c);
        c.query("CREATE TYPE public.lt_gone AS ENUM ('x')");
        EXPECT_EQ(load_type(c, "public.lt_gone").labels, std::vector<std::string>{"x"});
    }
    EXPECT_EQ(load_type(c, "public.lt_gone").labels, std::vector<std::string>{"x"});  // cached, no query
    Config cfg;
    cfg.use_environment = false;
    cfg.conninfo = test_env().conninfo(test_env().server(GetParam()), "scramuser") + " sslmode=disable";
    c.connect(cfg);
    EXPECT_THROW(load_type(c, "public.lt_gone"), ServerError);
}

struct CopyRow {
    std::int32_t id;
    std::optional<std::string> name;
    std::optional<TimestampTz> at;
    std::vector<std::int64_t> list;
    Numeric amount;
    bool operator==(const CopyRow&) const = default;
};

// Typed binary COPY in and out: the server stores what was written (compared with its own
// text output) and sends back equal rows.
TEST_P(TypesRoundTrip, TypedBinaryCopyInAndOut) {
    Client c = open();
    c.query("SET TimeZone = 'UTC'; CREATE TEMP TABLE copy_rows (id int4, name text, at timestamptz, list int8[], amount numeric)");
    std::vector<CopyRow> rows;
    for (int i = 0; i < 500; ++i) {
        CopyRow r{i, std::nullopt, std::nullopt, {}, Numeric(std::to_string(static_cast<std::int32_t>(rng())) + ".25")};
        if (rng() % 4) r.name = std::string(rng() % 20, "ab\t\n\\ ,"[rng() % 7]);
        if (rng() % 4) r.at = TimestampTz(std::chrono::microseconds(static_cast<std::int64_t>(rng() >> 14)));
        for (auto k = rng() % 4; k > 0; --k) r.list.push_back(static_cast<std::int64_t>(rng()));
        rows.push_back(r);
    }
    auto w = copy_in_rows<CopyRow>(c, "COPY copy_rows FROM STDIN (FORMAT binary)");
    for (const CopyRow& r : rows) w.write(r);
    EXPECT_EQ(w.finish(), rows.size());
    const Result stored = c.query("SELECT id, name, at, list, amount FROM copy_rows ORDER BY id");
    ASSERT_EQ(stored.size(), rows.size());
    EXPECT_EQ(stored.as<std::vector<CopyRow>>(), rows);
    std::vector<CopyRow> back;
    EXPECT_EQ(copy_out_rows<CopyRow>(c, "COPY (SELECT * FROM copy_rows ORDER BY id) TO STDOUT (FORMAT binary)",
                                     [&](const CopyRow& r) { back.push_back(r); }),
              rows.size());
    EXPECT_EQ(back, rows);
    // A row type of the wrong shape is an error naming the row, and the connection stays usable.
    try {
        copy_out_rows<std::tuple<std::int32_t>>(c, "COPY copy_rows TO STDOUT (FORMAT binary)", [](const auto&) {});
        ADD_FAILURE() << "five fields read as one";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::usage);
        EXPECT_NE(std::string(e.what()).find("row 1"), std::string::npos) << e.what();
    }
    EXPECT_EQ(c.query("SELECT count(*) FROM copy_rows")[0][0].as<int>(), 500);
    // Binary COPY has no types: a jsonb field arrives with its version byte, which Json drops.
    std::vector<std::tuple<Json, Json>> docs;
    copy_out_rows<std::tuple<Json, Json>>(c, "COPY (SELECT '{\"a\": 1}'::jsonb, '{\"b\":2}'::json) TO STDOUT (FORMAT binary)",
                                          [&](const auto& t) { docs.push_back(t); });
    EXPECT_EQ(docs, (std::vector<std::tuple<Json, Json>>{{Json{"{\"a\": 1}"}, Json{"{\"b\":2}"}}}));
}

// Rows over many 64 KiB batches (each sent as one CopyData built in place), a row larger than
// the writer's buffer and one larger than its in-place limit (16 MiB, sent through
// CopyIn::write): the server stores every byte.
TEST_P(TypesRoundTrip, TypedBinaryCopySpansBatchesAndHugeRows) {
    Client c = open();
    c.query("CREATE TEMP TABLE copy_big (id int4, name text)");
    auto w = copy_in_rows<std::tuple<std::int32_t, std::string>>(c, "COPY copy_big FROM STDIN (FORMAT binary)");
    std::int64_t ids = 0, bytes = 0;
    const auto put = [&](std::int32_t id, std::string name) {
        ids += id;
        bytes += static_cast<std::int64_t>(name.size());
        w.write({id, std::move(name)});
    };
    for (std::int32_t i = 1; i <= 20000; ++i) put(i, "name-" + std::to_string(i));
    put(20001, std::string(200 * 1024, 'x'));
    for (std::int32_t i = 20002; i <= 21000; ++i) put(i, std::string(static_cast<std::size_t>(i % 300), 'y'));
    put(21001, std::string(17 * 1024 * 1024, 'z'));
    for (std::int32_t i = 21002; i <= 22000; ++i) put(i, "after-" + std::to_string(i));
    EXPECT_EQ(w.finish(), 22000u);
    const Result r = c.query("SELECT count(*), sum(id), sum(length(name)) FROM copy_big");
    EXPECT_EQ(r[0][0].as<std::int64_t>(), 22000);
    EXPECT_EQ(r[0][1].as<std::int64_t>(), ids);
    EXPECT_EQ(r[0][2].as<std::int64_t>(), bytes);
    EXPECT_EQ(c.query("SELECT name FROM copy_big WHERE id = 12345")[0][0].as<std::string>(), "name-12345");
}

struct EdgeRow {
    std::int32_t id;
    std::int16_t small;
    std::int64_t big;
    float f4;
    double f8;
    bool flag;
    std::string text;
    std::string_view view;
    std::optional<TimestampTz> at;
    std::optional<Timestamp> local;
};

// The binary form of `rows` as PostgreSQL's COPY TO STDOUT writes it, built from each field's
// codec: what the writer must have sent for the server to send it back.
std::string expected_binary_copy(const std::vector<EdgeRow>& rows) {
    std::string out = detail::binary_copy_header();
    const auto field = [&](const std::optional<std::string>& b) {
        detail::write_be(out, b ? b->size() : 0xffffffffu, 4);
        if (b) out += *b;
    };
    for (const EdgeRow& r : rows) {
        detail::write_be(out, 10, 2);
        field(Codec<std::int32_t>::encode_binary(r.id));
        field(Codec<std::int16_t>::encode_binary(r.small));
        field(Codec<std::int64_t>::encode_binary(r.big));
        field(Codec<float>::encode_binary(r.f4));
        field(Codec<double>::encode_binary(r.f8));
        field(Codec<bool>::encode_binary(r.flag));
        field(r.text);
        field(std::string(r.view));
        field(r.at ? std::optional(Codec<TimestampTz>::encode_binary(*r.at)) : std::nullopt);
        field(r.local ? std::optional(Codec<Timestamp>::encode_binary(*r.local)) : std::nullopt);
    }
    detail::write_be(out, 0xffff, 2);
    return out;
}

// Every field kind the writer stores itself (integers of each width, float4/8, bool, strings of
// every short length, timestamps near, far and infinite, NULLs) comes back from the server's
// binary COPY byte for byte as the codecs' encode_binary writes it; a timestamp outside
// PostgreSQL's range refuses its row only.
TEST_P(TypesRoundTrip, TypedBinaryCopyFieldsAreTheCodecsBytes) {
    Client c = open();
    c.query("CREATE TEMP TABLE copy_edge (id int4, small int2, big int8, f4 float4, f8 float8, flag bool, text text, "
            "view text, at timestamptz, local timestamp)");
    using std::chrono::microseconds;
    const std::vector<TimestampTz> times{
        TimestampTz::max(), TimestampTz::min(), TimestampTz(microseconds(0)), TimestampTz(microseconds(-1)),
        TimestampTz(microseconds(-(std::int64_t{1} << 56))),       // just outside the inline range
        TimestampTz(microseconds((std::int64_t{1} << 61) - 1)),    // its last value
        TimestampTz(microseconds(std::int64_t{1} << 61)),          // beyond: through the codec's checks
        TimestampTz(microseconds(-210000000000000000)),            // 4685 BC
    };
    const std::string letters = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ";
    std::vector<std::string> texts;
    std::vector<EdgeRow> rows;
    for (std::size_t len = 0; len <= 40; ++len) texts.push_back(letters.substr(len % 7, len));
    for (std::int32_t i = 0; i < 200; ++i) {
        EdgeRow r{i,
                  static_cast<std::int16_t>(rng()),
                  static_cast<std::int64_t>(rng()),
                  static_cast<float>(static_cast<std::int32_t>(rng())) / 7.0f,
                  static_cast<double>(static_cast<std::int64_t>(rng())) / 3.0,
                  (rng() & 1) != 0,
                  texts[static_cast<std::size_t>(i) % texts.size()],
                  texts[static_cast<std::size_t>(i * 7) % texts.size()],
                  std::nullopt,
                  std::nullopt};
        if (i % 5) r.at = times[static_cast<std::size_t>(i) % times.size()];
        if (i % 3) r.local = Timestamp(microseconds(static_cast<std::int64_t>(rng() >> 12) - (std::int64_t{1} << 50)));
        rows.push_back(r);
    }
    rows[1].small = -32768;
    rows[2].big = std::numeric_limits<std::int64_t>::min();
    rows[3].f8 = -std::numeric_limits<double>::infinity();
    rows[4].f4 = std::numeric_limits<float>::denorm_min();
    rows[5].id = -1;
    auto w = copy_in_rows<EdgeRow>(c, "COPY copy_edge FROM STDIN (FORMAT binary)");
    for (const EdgeRow& r : rows) w.write(r);
    EdgeRow bad = rows[0];
    bad.id = 1000;
    bad.at = TimestampTz::min() + microseconds(1);  // not -infinity, and before 4714 BC
    EXPECT_THROW(w.write(bad), Error);
    EXPECT_EQ(w.finish(), rows.size());
    std::string back;
    c.copy_out("COPY (SELECT * FROM copy_edge ORDER BY id) TO STDOUT (FORMAT binary)",
               [&](std::string_view d) { back.append(d); });
    std::sort(rows.begin(), rows.end(), [](const EdgeRow& a, const EdgeRow& b) { return a.id < b.id; });
    EXPECT_TRUE(back == expected_binary_copy(rows)) << back.size() << " bytes back, " << expected_binary_copy(rows).size() << " expected";
    EXPECT_EQ(c.query("SELECT at::text FROM copy_edge WHERE id = 1")[0][0].as<std::string>(), "-infinity");
}

// A writer moved in the middle of a COPY carries the rows it has not sent yet; the moved-from
// one refuses to go on (its COPY moved with it).
TEST_P(TypesRoundTrip, AMovedCopyRowWriterCarriesItsRows) {
    Client c = open();
    c.query("CREATE TEMP TABLE copy_moved (id int4, name text)");
    using Row = std::tuple<std::int32_t, std::string>;
    auto first = copy_in_rows<Row>(c, "COPY copy_moved FROM STDIN (FORMAT binary)");
    first.write({1, "one"});
    first.write({2, "two"});
    CopyRowWriter<Row> second(std::move(first));
    second.write({3, "three"});
    try {
        first.write({4, "four"});
        first.finish();
        ADD_FAILURE() << "a moved-from writer finished a COPY";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::usage) << e.what();
    }
    EXPECT_EQ(second.finish(), 3u);
    EXPECT_EQ(c.query("SELECT string_agg(id::text || name, ',' ORDER BY id) FROM copy_moved")[0][0].as<std::string>(),
              "1one,2two,3three");
}

// A field whose codec throws in the middle of a row: the row is refused whole, nothing of it
// reaches the server, and the COPY goes on with the next row.
struct Picky {
    std::int32_t v;
};
struct PickyRow {
    std::int32_t id;
    Picky value;
};

}  // namespace
}  // namespace pgtls::test

template <>
struct pgtls::Codec<pgtls::test::Picky> {
    static constexpr std::uint32_t type_oid = oid::int4;
    static std::string encode_binary(const pgtls::test::Picky& p) {
        if (p.v < 0) throw Error(ErrorKind::usage, "negative values are refused");
        std::string out(4, '\0');
        for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(static_cast<std::uint32_t>(p.v) >> (24 - 8 * i));
        return out;
    }
};

namespace pgtls::test {
namespace {

TEST_P(TypesRoundTrip, ARowWhoseFieldCannotBeEncodedLeavesNothingOnTheWire) {
    Client c = open();
    c.query("CREATE TEMP TABLE picky (id int4, v int4)");
    auto w = copy_in_rows<PickyRow>(c, "COPY picky FROM STDIN (FORMAT binary)");
    w.write({1, {10}});
    w.write({2, {20}});
    EXPECT_THROW(w.write({3, {-1}}), Error);
    w.write({4, {40}});
    EXPECT_EQ(w.finish(), 3u);
    EXPECT_EQ(c.query("SELECT string_agg(id::text || ':' || v::text, ',' ORDER BY id) FROM picky")[0][0].as<std::string>(),
              "1:10,2:20,4:40");
}

INSTANTIATE_TEST_SUITE_P(Servers, TypesRoundTrip, ::testing::Values("pg15", "pg18"));

}  // namespace
}  // namespace pgtls::test
