// date, time, timestamp, timestamptz, interval: PostgreSQL 15 vectors (including BC dates,
// infinities and zone offsets), chrono precision rules, malformed input.
#include <chrono>

#include "codec_test_util.hpp"

using namespace pgtls;
using namespace pgtls::test;
using namespace std::chrono;
using namespace std::chrono_literals;

namespace {

using us_local = local_time<microseconds>;
using us_sys = sys_time<microseconds>;

sys_days ymd(int y, unsigned m, unsigned d) { return sys_days(year{y} / month{m} / day{d}); }
us_local local(int y, unsigned m, unsigned d, microseconds tod) {
    return us_local(ymd(y, m, d).time_since_epoch() + tod);
}
us_sys utc(int y, unsigned m, unsigned d, microseconds tod) { return us_sys(ymd(y, m, d).time_since_epoch() + tod); }

}  // namespace

TEST(DateCodec, ServerVectors) {
    expect_server_vector(ymd(2000, 1, 1), oid::date, "2000-01-01", "00000000");
    expect_server_vector(sys_days::max(), oid::date, "infinity", "7fffffff");
    expect_server_vector(sys_days::min(), oid::date, "-infinity", "80000000");
    expect_server_vector(ymd(1, 1, 1), oid::date, "0001-01-01", "fff4dbf9");
    expect_server_vector(ymd(0, 12, 31), oid::date, "0001-12-31 BC", "fff4dbf8");
    expect_server_vector(ymd(-4712, 11, 24), oid::date, "4713-11-24 BC", "ffda9915");
    expect_server_vector(ymd(1970, 1, 1), oid::date, "1970-01-01", "ffffd533");
    expect_server_vector(ymd(2024, 2, 29), oid::date, "2024-02-29", "00002279");
    expect_server_vector(ymd(10000, 1, 1), oid::date, "10000-01-01", "002c95d4");
    // Beyond year_month_day's range, still a sys_days.
    const sys_days last(days(2145031948 + 10957));
    expect_server_vector(last, oid::date, "5874897-12-31", "7fda970c");
    EXPECT_CONVERSION_ERROR(binary_decode_hex<year_month_day>("7fda970c", oid::date));
    expect_server_vector(year_month_day(year{2024} / 2 / 29), oid::date, "2024-02-29", "00002279");
    EXPECT_CONVERSION_ERROR(binary_decode_hex<year_month_day>("7fffffff", oid::date));
}

TEST(DateCodec, LocalDays) {
    expect_server_vector(local_days(year{2024} / 2 / 29), oid::date, "2024-02-29", "00002279");
    expect_server_vector(local_days::max(), oid::date, "infinity", "7fffffff");
    expect_server_vector(local_days::min(), oid::date, "-infinity", "80000000");
    EXPECT_EQ(to_param(Timestamp{}).type_oid, oid::timestamp);
    EXPECT_EQ(to_param(TimestampTz{}).type_oid, oid::timestamptz);
}

TEST(DateCodec, RangeAndMalformed) {
    // 4714-11-24 BC is PostgreSQL's first day; the day before is out of range.
    expect_round_trip(ymd(-4713, 11, 24));
    EXPECT_CONVERSION_ERROR(Codec<sys_days>::encode_binary(ymd(-4713, 11, 23)));
    EXPECT_CONVERSION_ERROR(text_decode<sys_days>("4714-11-23 BC", oid::date));
    EXPECT_CONVERSION_ERROR(Codec<year_month_day>::encode_binary(year{2023} / 2 / 29));
    for (const char* bad : {"", "2024-02-30", "2023-02-29", "2024-13-01", "2024-00-10", "2024-1-01", "24-01-01",
                            "2024-01-01 ", "2024-01-01x", "0000-01-01", "0000-01-01 BC", "01/02/2024", "Infinity",
                            "2024-01-01 00:00:00"})
        { SCOPED_TRACE(bad); EXPECT_CONVERSION_ERROR(text_decode<sys_days>(bad, oid::date)); }
    EXPECT_CONVERSION_ERROR(binary_decode_hex<sys_days>("000000", oid::date));
    EXPECT_CONVERSION_ERROR(text_decode<sys_days>("2024-01-01", oid::timestamp));
    // Binary days outside PostgreSQL's range (no server sends them): an error, not a date
    // year_month_day would wrap into a plausible year (-2147483647 days read as 2000-01-01).
    EXPECT_EQ(sys_days(binary_decode_hex<year_month_day>("ffda97a7", oid::date)), ymd(-4713, 11, 24));
    for (const char* bad : {"80000001", "ffda97a6", "7fda970d", "7ffffffe"})
        { SCOPED_TRACE(bad); EXPECT_CONVERSION_ERROR(binary_decode_hex<year_month_day>(bad, oid::date)); }
    EXPECT_CONVERSION_ERROR(binary_decode_hex<sys_days>("80000001", oid::date));
}

TEST(TimeCodec, ServerVectors) {
    expect_server_vector(Time{0us}, oid::time, "00:00:00", "0000000000000000");
    expect_server_vector(Time{24h}, oid::time, "24:00:00", "000000141dd76000");
    expect_server_vector(Time{24h - 1us}, oid::time, "23:59:59.999999", "000000141dd75fff");
    expect_server_vector(Time{12h + 34min + 56789ms}, oid::time, "12:34:56.789", "0000000a8be62608");
    EXPECT_EQ(text_decode<microseconds>("12:34:56.789", oid::time), 12h + 34min + 56789ms);
    for (const char* bad : {"24:00:01", "25:00:00", "12:60:00", "12:00:60", "1:00:00", "12:00", "12:00:00.1234567",
                            "12:00:00.", "12:00:00+02", ""})
        { SCOPED_TRACE(bad); EXPECT_CONVERSION_ERROR(text_decode<Time>(bad, oid::time)); }
    EXPECT_CONVERSION_ERROR(binary_decode_hex<Time>("000000141dd76001", oid::time));
    EXPECT_CONVERSION_ERROR(binary_decode_hex<Time>("ffffffffffffffff", oid::time));
    EXPECT_CONVERSION_ERROR(Codec<Time>::encode_binary(Time{-1us}));
    EXPECT_CONVERSION_ERROR(text_decode<Time>("12:00:00", 1266));  // timetz
}

TEST(TimestampCodec, ServerVectors) {
    expect_server_vector(local(2000, 1, 1, 0us), oid::timestamp, "2000-01-01 00:00:00", "0000000000000000");
    expect_server_vector(us_local::max(), oid::timestamp, "infinity", "7fffffffffffffff");
    expect_server_vector(us_local::min(), oid::timestamp, "-infinity", "8000000000000000");
    expect_server_vector(local(1, 1, 1, 0us), oid::timestamp, "0001-01-01 00:00:00", "ff1fe2ffc59c6000");
    expect_server_vector(local(0, 12, 31, 23h + 59min + 59500ms), oid::timestamp, "0001-12-31 23:59:59.5 BC",
                         "ff1fe2ffc594bee0");
    expect_server_vector(local(-4712, 11, 24, 0us), oid::timestamp, "4713-11-24 00:00:00 BC", "fd0f9983eb0ae000");
    expect_server_vector(local(1970, 1, 1, 1us), oid::timestamp, "1970-01-01 00:00:00.000001", "fffca2fec4c82001");
    expect_server_vector(local(2024, 2, 29, 12h + 100ms), oid::timestamp, "2024-02-29 12:00:00.1", "0002b582c47996a0");
    // PostgreSQL's last timestamp is beyond sys_time<microseconds>: a clear error, not a wrap.
    EXPECT_CONVERSION_ERROR(binary_decode_hex<us_local>("7fffff5bb3b29fff", oid::timestamp));
    EXPECT_CONVERSION_ERROR(text_decode<us_local>("294276-12-31 23:59:59.999999", oid::timestamp));
    // Timestamp read as sys_time is taken as UTC.
    EXPECT_EQ(text_decode<us_sys>("2000-01-01 00:00:00", oid::timestamp), utc(2000, 1, 1, 0us));
}

TEST(TimestamptzCodec, ServerVectorsAndOffsets) {
    expect_server_vector(utc(2000, 1, 1, 0us), oid::timestamptz, "2000-01-01 00:00:00+00", "0000000000000000");
    expect_server_vector(us_sys::max(), oid::timestamptz, "infinity", "7fffffffffffffff");
    expect_server_vector(us_sys::min(), oid::timestamptz, "-infinity", "8000000000000000");
    expect_server_vector(utc(1, 1, 1, 0us), oid::timestamptz, "0001-01-01 00:00:00+00", "ff1fe2ffc59c6000");
    expect_server_vector(utc(-43, 3, 15, 12h), oid::timestamptz, "0044-03-15 12:00:00+00 BC", "ff1af9e8fb46d000");
    expect_server_vector(utc(2024, 6, 1, 6h + 30min + 500ms), oid::timestamptz, "2024-06-01 06:30:00.5+00",
                         "0002bcccff918b20");
    // The same instants printed by servers with other TimeZone settings.
    const us_sys noon = utc(2024, 6, 1, 12h + 500ms);
    EXPECT_EQ(binary_decode_hex<us_sys>("0002bcd19bbd9120", oid::timestamptz), noon);
    for (const char* t : {"2024-06-01 17:30:00.5+05:30", "2024-06-01 09:00:00.5-03", "2024-06-01 14:00:00.5+02",
                          "2024-06-01 08:00:00.5-04", "2024-06-01 17:45:00.5+05:45", "2024-06-01 12:00:00.5+00"})
        EXPECT_EQ(text_decode<us_sys>(t, oid::timestamptz), noon) << t;
    const us_sys lmt = utc(1850, 1, 1, 0us);
    EXPECT_EQ(binary_decode_hex<us_sys>("ffef2ee5ba114000", oid::timestamptz), lmt);
    for (const char* t : {"1850-01-01 05:53:28+05:53:28", "1849-12-31 20:53:32-03:06:28", "1850-01-01 00:19:32+00:19:32",
                          "1849-12-31 19:03:58-04:56:02", "1850-01-01 05:41:16+05:41:16"})
        EXPECT_EQ(text_decode<us_sys>(t, oid::timestamptz), lmt) << t;
    const us_sys ides = utc(-43, 3, 15, 12h);
    for (const char* t : {"0044-03-15 17:53:28+05:53:28 BC", "0044-03-15 08:53:32-03:06:28 BC", "0044-03-15 07:03:58-04:56:02 BC"})
        EXPECT_EQ(text_decode<us_sys>(t, oid::timestamptz), ides) << t;
}

TEST(TimestampCodec, ChronoPrecision) {
    // Coarser durations must be exact; finer ones round to the microsecond when written.
    EXPECT_EQ(text_decode<sys_seconds>("2000-01-01 00:00:01+00", oid::timestamptz), sys_seconds(946684801s));
    EXPECT_CONVERSION_ERROR(text_decode<sys_seconds>("2000-01-01 00:00:01.5+00", oid::timestamptz));
    using ns_sys = sys_time<nanoseconds>;
    EXPECT_EQ(text_decode<ns_sys>("2000-01-01 00:00:00.000001+00", oid::timestamptz), ns_sys(946684800000001000ns));
    EXPECT_CONVERSION_ERROR(text_decode<ns_sys>("2300-01-01 00:00:00+00", oid::timestamptz));  // beyond int64 ns
    EXPECT_EQ(ns_sys::max(), text_decode<ns_sys>("infinity", oid::timestamptz));
    EXPECT_EQ(tohex(Codec<ns_sys>::encode_binary(ns_sys(946684800000001499ns))), "0000000000000001");
    EXPECT_EQ(tohex(Codec<ns_sys>::encode_binary(ns_sys(946684800000001500ns))), "0000000000000002");
    EXPECT_EQ(Codec<system_clock::time_point>::type_oid, oid::timestamptz);
    expect_round_trip(time_point_cast<microseconds>(system_clock::now()));
    // Outside PostgreSQL's range is an error when writing.
    EXPECT_CONVERSION_ERROR(Codec<us_sys>::encode_binary(utc(-4713, 11, 23, 0us)));
    // sys_time<microseconds> ends before PostgreSQL does; seconds reach past its end.
    EXPECT_NO_THROW(Codec<us_sys>::encode_binary(us_sys::max() - 1us));
    EXPECT_CONVERSION_ERROR(Codec<sys_seconds>::encode_binary(sys_seconds(9300000000000s)));
    expect_round_trip(utc(-4713, 11, 24, 0us));
    EXPECT_EQ(to_param(local(2020, 1, 1, 0us)).type_oid, oid::timestamp);
    EXPECT_EQ(to_param(utc(2020, 1, 1, 0us)).type_oid, oid::timestamptz);
}

TEST(TimestampCodec, MalformedInput) {
    for (const char* bad : {"", "2024-01-01", "2024-01-01 25:00:00", "2024-01-01T00:00:00", "2024-01-01 00:00:00 AD",
                            "2024-01-01 00:00:00.", "2024-02-30 00:00:00", "2024-01-01 00:00:60", "2024-01-01 00:00:00+",
                            "2024-01-01 00:00:00+5", "2024-01-01 00:00:00 BC BC", "2024-01-01 24:00:00"})
        { SCOPED_TRACE(bad); EXPECT_CONVERSION_ERROR(text_decode<us_sys>(bad, oid::timestamptz)); }
    // timestamptz text always carries an offset; timestamp text never does.
    EXPECT_CONVERSION_ERROR(text_decode<us_sys>("2024-01-01 00:00:00", oid::timestamptz));
    EXPECT_CONVERSION_ERROR(text_decode<us_local>("2024-01-01 00:00:00+00", oid::timestamp));
    EXPECT_CONVERSION_ERROR(text_decode<us_local>("2024-01-01 00:00:00+00", oid::timestamptz));
    EXPECT_CONVERSION_ERROR(binary_decode_hex<us_sys>("00000000", oid::timestamptz));
    EXPECT_CONVERSION_ERROR(binary_decode_hex<us_sys>("0000000000000000", oid::date));
}

TEST(IntervalCodec, ServerVectors) {
    expect_server_vector(Interval{14, 3, 14706789000}, oid::interval, "1 year 2 mons 3 days 04:05:06.789",
                         "000000036c97ca88000000030000000e");
    expect_server_vector(Interval{}, oid::interval, "00:00:00", "00000000000000000000000000000000");
    expect_server_vector(Interval{0, -1, 7380000000}, oid::interval, "-1 days +02:03:00",
                         "00000001b7e1dd00ffffffff00000000");
    expect_server_vector(Interval{-14, 3, -14706000000}, oid::interval, "-1 years -2 mons +3 days -04:05:06",
                         "fffffffc93743f8000000003fffffff2");
    expect_server_vector(Interval{1, 0, 0}, oid::interval, "1 mon", "00000000000000000000000000000001");
    expect_server_vector(Interval{0, 0, -1000000}, oid::interval, "-00:00:01", "fffffffffff0bdc00000000000000000");
    expect_server_vector(Interval{2136000000, 0, 0}, oid::interval, "178000000 years", "0000000000000000000000007f50c600");
    expect_server_vector(Interval{-2136000000, 0, 0}, oid::interval, "-178000000 years",
                         "00000000000000000000000080af3a00");
    expect_server_vector(Interval{0, 0, INT64_MAX}, oid::interval, "2562047788:00:54.775807",
                         "7fffffffffffffff0000000000000000");
    expect_server_vector(Interval{0, 0, INT64_MIN + 1}, oid::interval, "-2562047788:00:54.775807",
                         "80000000000000010000000000000000");
    // INT64_MIN microseconds: no input spelling reaches it, but arithmetic does
    // (interval '-2562047788:00:54.775807' - interval '1 microsecond'), and the server prints it.
    expect_server_vector(Interval{0, 0, INT64_MIN}, oid::interval, "-2562047788:00:54.775808",
                         "80000000000000000000000000000000");
    expect_server_vector(Interval{0, 1, INT64_MIN}, oid::interval, "1 day -2562047788:00:54.775808",
                         "80000000000000000000000100000000");
    expect_server_vector(Interval{0, 1, -1}, oid::interval, "1 day -00:00:00.000001", "ffffffffffffffff0000000100000000");
    expect_server_vector(Interval{0, 0, 360000000000}, oid::interval, "100:00:00", "00000053d1ac10000000000000000000");
    expect_server_vector(Interval{0, INT32_MAX, 0}, oid::interval, "2147483647 days", "00000000000000007fffffff00000000");
    expect_server_vector(Interval{0, INT32_MIN, 0}, oid::interval, "-2147483648 days", "00000000000000008000000000000000");
    expect_server_vector(Interval{-12, 0, 0}, oid::interval, "-1 years", "000000000000000000000000fffffff4");
    expect_server_vector(Interval{13, 0, 0}, oid::interval, "1 year 1 mon", "0000000000000000000000000000000d");
    expect_server_vector(Interval{0, 0, 500000}, oid::interval, "00:00:00.5", "000000000007a1200000000000000000");
    // PostgreSQL 17+ infinite intervals (vectors from PostgreSQL 18.4).
    expect_server_vector(Interval::infinity(), oid::interval, "infinity", "7fffffffffffffff7fffffff7fffffff");
    expect_server_vector(Interval::minus_infinity(), oid::interval, "-infinity", "80000000000000008000000080000000");
    EXPECT_EQ(text_decode<Interval>("-infinity", oid::interval), Interval::minus_infinity());
}

TEST(IntervalCodec, Iso8601Style) {
    EXPECT_EQ(text_decode<Interval>("P1Y2M3DT4H5M6.789S", oid::interval), (Interval{14, 3, 14706789000}));
    EXPECT_EQ(text_decode<Interval>("PT0S", oid::interval), Interval{});
    EXPECT_EQ(text_decode<Interval>("P-1DT2H3M", oid::interval), (Interval{0, -1, 7380000000}));
    EXPECT_EQ(text_decode<Interval>("PT-0.5S", oid::interval), (Interval{0, 0, -500000}));
    EXPECT_EQ(text_decode<Interval>("P2W", oid::interval), (Interval{0, 14, 0}));
}

TEST(IntervalCodec, MalformedAndUnsupportedStyles) {
    for (const char* bad : {"", "1", "1 week", "1 years2 mons", "+1-2 +3 +4:05:06.789", "0", "@ 1 year",
                            "1 year  2 mons", "00:60:00", "1 day 00:00", "P", "P1H", "PT1D", "P1.5Y", "2147483648 days",
                            "178956971 years", "99999999999:00:00"})
        { SCOPED_TRACE(bad); EXPECT_CONVERSION_ERROR(text_decode<Interval>(bad, oid::interval)); }
    EXPECT_CONVERSION_ERROR(binary_decode_hex<Interval>("00000000000000000000000000", oid::interval));
    EXPECT_CONVERSION_ERROR(text_decode<Interval>("1 day", oid::text));
}

TEST(DurationCodec, FixedLengthIntervals) {
    EXPECT_EQ(text_decode<seconds>("1 day 01:00:00", oid::interval), 25h);
    EXPECT_EQ(binary_decode_hex<microseconds>("fffffffffff0bdc00000000000000000", oid::interval), -1s);
    EXPECT_CONVERSION_ERROR(text_decode<seconds>("1 mon", oid::interval));
    EXPECT_CONVERSION_ERROR(text_decode<seconds>("00:00:00.5", oid::interval));
    EXPECT_CONVERSION_ERROR(text_decode<seconds>("infinity", oid::interval));
    EXPECT_EQ(text_decode<milliseconds>("00:00:00.5", oid::interval), 500ms);
    EXPECT_EQ(Codec<minutes>::encode_text(90min), "01:30:00");
    EXPECT_EQ(Codec<hours>::encode_text(-49h), "-49:00:00");
    expect_round_trip(microseconds(-123456789));
    EXPECT_EQ(to_param(5s).type_oid, oid::interval);
    EXPECT_CONVERSION_ERROR(Codec<hours>::encode_binary(hours(std::numeric_limits<std::int64_t>::max() / 1000)));
    EXPECT_EQ(text_decode<seconds>("01:00:00", oid::time), 1h);
}
