// date, timestamp, timestamptz, time and interval in PostgreSQL's binary form and its text
// output under DateStyle=ISO and IntervalStyle=postgres (or iso_8601).
#include <cstring>
#include <limits>
#include <string>

#include "pgtls/error.hpp"
#include "pgtls/types.hpp"

namespace pgtls::detail {

namespace {

constexpr std::int64_t usecs_per_sec = 1000000;
constexpr std::int64_t usecs_per_min = 60 * usecs_per_sec;
constexpr std::int64_t usecs_per_hour = 60 * usecs_per_min;
constexpr std::int64_t usecs_per_day = 24 * usecs_per_hour;

constexpr std::int32_t date_inf = std::numeric_limits<std::int32_t>::max();
constexpr std::int32_t date_neg_inf = std::numeric_limits<std::int32_t>::min();
constexpr std::int64_t ts_inf = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t ts_neg_inf = std::numeric_limits<std::int64_t>::min();

// PostgreSQL's limits (datatype/timestamp.h): dates 4714-11-24 BC (Julian day 0) to
// 5874897-12-31; timestamps from the same day up to (not including) 294277-01-01.
constexpr std::int64_t min_pg_date = -2451545;
constexpr std::int64_t max_pg_date = 2145031948;
constexpr std::int64_t min_pg_timestamp = min_pg_date * usecs_per_day;
constexpr std::int64_t end_pg_timestamp = std::int64_t{9223371331200000000};

// Howard Hinnant's civil-calendar algorithms, in Unix day numbers; proleptic Gregorian with
// year 0 = 1 BC.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Civil {
    std::int64_t year;
    unsigned month, day;
};

Civil civil_from_days(std::int64_t z) {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    return {y + (m <= 2), m, d};
}

unsigned days_in_month(std::int64_t y, unsigned m) {
    static constexpr unsigned dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m != 2) return dm[m - 1];
    const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return leap ? 29 : 28;
}

// A cursor over text being parsed; errors name the whole value.
struct Scanner {
    std::string_view s;
    std::string_view whole;
    const char* what;
    std::size_t i = 0;

    [[noreturn]] void fail() const {
        conversion_error(quoted(whole) + " is not a valid " + what +
                         " (text decoding expects DateStyle ISO and IntervalStyle postgres or iso_8601)");
    }
    bool done() const { return i >= s.size(); }
    char peek() const { return i < s.size() ? s[i] : '\0'; }
    bool eat(char c) {
        if (peek() != c || done()) return false;
        ++i;
        return true;
    }
    void expect(char c) {
        if (!eat(c)) fail();
    }
    // At least min_digits, at most max_digits decimal digits.
    std::int64_t number(std::size_t min_digits, std::size_t max_digits) {
        std::size_t n = 0;
        std::int64_t v = 0;
        while (!done() && s[i] >= '0' && s[i] <= '9') {
            if (++n > max_digits) fail();
            v = v * 10 + (s[i++] - '0');
        }
        if (n < min_digits) fail();
        return v;
    }
    // ".ffffff" (1..6 digits) as microseconds; 0 if absent.
    std::int64_t fraction() {
        if (!eat('.')) return 0;
        std::size_t n = 0;
        std::int64_t v = 0;
        while (!done() && s[i] >= '0' && s[i] <= '9') {
            if (++n > 6) fail();
            v = v * 10 + (s[i++] - '0');
        }
        if (n == 0) fail();
        for (; n < 6; ++n) v *= 10;
        return v;
    }
    bool rest_is(std::string_view t) const { return s.substr(i) == t; }
};

// YYYY-MM-DD (4+ digit year) as a Unix day number; `bc` flips to astronomical year.
std::int64_t scan_date(Scanner& sc, bool bc) {
    const std::int64_t y = sc.number(4, 9);
    sc.expect('-');
    const auto m = static_cast<unsigned>(sc.number(2, 2));
    sc.expect('-');
    const auto d = static_cast<unsigned>(sc.number(2, 2));
    if (y == 0) sc.fail();  // there is no year 0 (1 BC precedes 1 AD)
    const std::int64_t year = bc ? 1 - y : y;
    if (m < 1 || m > 12 || d < 1 || d > days_in_month(year, m)) sc.fail();
    return days_from_civil(year, m, d);
}

// HH:MM:SS[.ffffff] as microseconds; max_hour 24 allows 24:00:00 exactly.
std::int64_t scan_time(Scanner& sc, std::int64_t max_hour) {
    const std::int64_t h = sc.number(2, 2);
    sc.expect(':');
    const std::int64_t mi = sc.number(2, 2);
    sc.expect(':');
    const std::int64_t se = sc.number(2, 2);
    const std::int64_t f = sc.fraction();
    if (h > max_hour || mi > 59 || se > 59) sc.fail();
    const std::int64_t us = h * usecs_per_hour + mi * usecs_per_min + se * usecs_per_sec + f;
    if (h == 24 && us != 24 * usecs_per_hour) sc.fail();
    return us;
}

bool strip_bc(std::string_view& s) {
    if (s.size() > 3 && s.substr(s.size() - 3) == " BC") {
        s.remove_suffix(3);
        return true;
    }
    return false;
}

void append_2(std::string& out, std::int64_t v) {
    out.push_back(static_cast<char>('0' + v / 10 % 10));
    out.push_back(static_cast<char>('0' + v % 10));
}

// HH:MM:SS[.ffffff] with trailing fraction zeros dropped; `hours` may exceed 2 digits.
void append_hms(std::string& out, std::uint64_t us) {
    const std::uint64_t h = us / static_cast<std::uint64_t>(usecs_per_hour);
    us %= static_cast<std::uint64_t>(usecs_per_hour);
    if (h < 10) out.push_back('0');
    out += std::to_string(h);
    out.push_back(':');
    append_2(out, static_cast<std::int64_t>(us / usecs_per_min));
    us %= usecs_per_min;
    out.push_back(':');
    append_2(out, static_cast<std::int64_t>(us / usecs_per_sec));
    std::uint64_t f = us % usecs_per_sec;
    if (f != 0) {
        std::string frac = std::to_string(f);
        frac.insert(0, 6 - frac.size(), '0');
        while (frac.back() == '0') frac.pop_back();
        out.push_back('.');
        out += frac;
    }
}

// "YYYY-MM-DD" for a Unix day; `bc` receives whether " BC" must follow.
std::string date_text(std::int64_t unix_days, bool& bc) {
    const Civil c = civil_from_days(unix_days);
    bc = c.year <= 0;
    std::string y = std::to_string(bc ? 1 - c.year : c.year);
    if (y.size() < 4) y.insert(0, 4 - y.size(), '0');
    std::string out = y + "-";
    append_2(out, c.month);
    out.push_back('-');
    append_2(out, c.day);
    return out;
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    std::int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
}

std::int64_t parse_timestamp_text(std::string_view b, std::uint32_t type_oid, bool allow_offset, bool need_offset) {
    if (b == "infinity") return ts_inf;
    if (b == "-infinity") return ts_neg_inf;
    std::string_view s = b;
    const bool bc = strip_bc(s);
    Scanner sc{s, b, type_oid == oid::timestamptz ? "timestamptz" : "timestamp"};
    const std::int64_t unix_days = scan_date(sc, bc);
    sc.expect(' ');
    const std::int64_t tod = scan_time(sc, 23);
    std::int64_t offset_us = 0;
    if (sc.peek() == '+' || sc.peek() == '-') {
        if (!allow_offset) sc.fail();
        const bool neg = sc.s[sc.i++] == '-';
        std::int64_t off = sc.number(2, 2) * 3600;
        if (sc.eat(':')) {
            off += sc.number(2, 2) * 60;
            if (sc.eat(':')) off += sc.number(2, 2);
        }
        offset_us = (neg ? -off : off) * usecs_per_sec;
    } else if (need_offset) {
        sc.fail();
    }
    if (!sc.done()) sc.fail();
    const std::int64_t pg_days = unix_days - pg_epoch_days;
    if (pg_days < min_pg_date - 1 || pg_days > end_pg_timestamp / usecs_per_day + 1)
        conversion_error(quoted(b) + " is outside PostgreSQL's timestamp range");
    const std::int64_t v = pg_days * usecs_per_day + tod - offset_us;
    if (v < min_pg_timestamp || v >= end_pg_timestamp)
        conversion_error(quoted(b) + " is outside PostgreSQL's timestamp range");
    return v;
}

std::int64_t binary_timestamp(std::string_view b, std::uint32_t type_oid) {
    if (b.size() != 8) conversion_error(type_name(type_oid) + " value must be 8 bytes, got " + std::to_string(b.size()));
    return static_cast<std::int64_t>(read_be(b, 8));
}

std::int32_t read_i32(std::string_view b) { return static_cast<std::int32_t>(read_be(b, 4)); }

bool add_overflows(std::int64_t& acc, std::int64_t v) { return __builtin_add_overflow(acc, v, &acc); }

}  // namespace

// ---- date ----

std::int32_t decode_date(std::string_view b, std::uint32_t type_oid, bool binary) {
    if (type_oid != oid::date && !((type_oid == oid::unspecified || type_oid == oid::unknown) && !binary))
        conversion_error((binary ? "binary " : "") + type_name(type_oid) + " value is not a date");
    if (binary) {
        if (b.size() != 4) conversion_error("date value must be 4 bytes, got " + std::to_string(b.size()));
        // date_recv refuses these too; year_month_day would wrap them into a wrong year.
        const std::int32_t d = read_i32(b);
        if (d != date_inf && d != date_neg_inf && (d < min_pg_date || d > max_pg_date))
            conversion_error("binary date " + std::to_string(d) + " days from 2000-01-01 is outside PostgreSQL's date range");
        return d;
    }
    if (b == "infinity") return date_inf;
    if (b == "-infinity") return date_neg_inf;
    std::string_view s = b;
    const bool bc = strip_bc(s);
    Scanner sc{s, b, "date"};
    const std::int64_t unix_days = scan_date(sc, bc);
    if (!sc.done()) sc.fail();
    const std::int64_t pg = unix_days - pg_epoch_days;
    if (pg < min_pg_date || pg > max_pg_date) conversion_error(quoted(b) + " is outside PostgreSQL's date range");
    return static_cast<std::int32_t>(pg);
}

std::string format_date(std::int32_t pg_days) {
    if (pg_days == date_inf) return "infinity";
    if (pg_days == date_neg_inf) return "-infinity";
    bool bc = false;
    std::string out = date_text(std::int64_t{pg_days} + pg_epoch_days, bc);
    if (bc) out += " BC";
    return out;
}

std::int32_t pg_date_from_unix_days(std::int64_t unix_days) {
    const std::int64_t pg = unix_days - pg_epoch_days;  // |unix_days| is far below overflow for sys_days
    if (pg < min_pg_date || pg > max_pg_date)
        conversion_error("date " + std::to_string(unix_days) + " days from 1970 is outside PostgreSQL's range (4714-11-24 BC .. 5874897-12-31)");
    return static_cast<std::int32_t>(pg);
}

// ---- timestamp / timestamptz ----

std::int64_t decode_timestamp_utc(std::string_view b, std::uint32_t type_oid, bool binary) {
    switch (type_oid) {
        case oid::timestamptz:
            return binary ? binary_timestamp(b, type_oid) : parse_timestamp_text(b, type_oid, true, true);
        case oid::timestamp:
            return binary ? binary_timestamp(b, type_oid) : parse_timestamp_text(b, type_oid, false, false);
        case oid::unspecified:
        case oid::unknown:
            if (!binary) return parse_timestamp_text(b, type_oid, true, false);
            [[fallthrough]];
        default: conversion_error((binary ? "binary " : "") + type_name(type_oid) + " value is not a timestamp");
    }
}

std::int64_t decode_timestamp_local(std::string_view b, std::uint32_t type_oid, bool binary) {
    switch (type_oid) {
        case oid::timestamp:
            return binary ? binary_timestamp(b, type_oid) : parse_timestamp_text(b, type_oid, false, false);
        case oid::timestamptz:
            conversion_error("timestamptz is an instant, not a local time; read it as std::chrono::sys_time");
        case oid::unspecified:
        case oid::unknown:
            if (!binary) return parse_timestamp_text(b, type_oid, false, false);
            [[fallthrough]];
        default: conversion_error((binary ? "binary " : "") + type_name(type_oid) + " value is not a timestamp");
    }
}

std::string format_timestamp(std::int64_t pg_micros, bool with_zone) {
    if (pg_micros == ts_inf) return "infinity";
    if (pg_micros == ts_neg_inf) return "-infinity";
    const std::int64_t days = floor_div(pg_micros, usecs_per_day);
    const std::int64_t tod = pg_micros - days * usecs_per_day;
    bool bc = false;
    std::string out = date_text(days + pg_epoch_days, bc);
    out.push_back(' ');
    append_hms(out, static_cast<std::uint64_t>(tod));
    if (with_zone) out += "+00";
    if (bc) out += " BC";
    return out;
}

std::int64_t pg_timestamp_from_unix_micros(std::int64_t unix_micros) {
    std::int64_t pg;
    if (__builtin_sub_overflow(unix_micros, pg_epoch_micros, &pg) || pg < min_pg_timestamp || pg >= end_pg_timestamp)
        conversion_error("timestamp " + std::to_string(unix_micros) +
                         " us from 1970 is outside PostgreSQL's range (4714-11-24 BC .. 294276 AD)");
    return pg;
}

// ---- time ----

std::int64_t decode_time(std::string_view b, std::uint32_t type_oid, bool binary) {
    if (type_oid != oid::time && !((type_oid == oid::unspecified || type_oid == oid::unknown) && !binary))
        conversion_error((binary ? "binary " : "") + type_name(type_oid) + " value is not a time");
    if (binary) {
        if (b.size() != 8) conversion_error("time value must be 8 bytes, got " + std::to_string(b.size()));
        const auto v = static_cast<std::int64_t>(read_be(b, 8));
        if (v < 0 || v > usecs_per_day) conversion_error("binary time value " + std::to_string(v) + " us is outside 00:00..24:00");
        return v;
    }
    Scanner sc{b, b, "time"};
    const std::int64_t v = scan_time(sc, 24);
    if (!sc.done()) sc.fail();
    return v;
}

std::string format_time(std::int64_t micros) {
    std::string out;
    append_hms(out, static_cast<std::uint64_t>(micros));
    return out;
}

// ---- interval ----

namespace {

// Parses "[+-]digits" as int64 (no exponent, no fraction).
bool scan_signed(Scanner& sc, std::int64_t& v) {
    bool neg = false;
    if (sc.peek() == '+' || sc.peek() == '-') neg = sc.s[sc.i++] == '-';
    const std::size_t start = sc.i;
    std::uint64_t u = 0;
    while (!sc.done() && sc.s[sc.i] >= '0' && sc.s[sc.i] <= '9') {
        if (u > (std::uint64_t{1} << 63) / 10) return false;
        u = u * 10 + static_cast<unsigned>(sc.s[sc.i++] - '0');
    }
    if (sc.i == start || u > (std::uint64_t{1} << 63) || (!neg && u == (std::uint64_t{1} << 63))) return false;
    v = neg ? static_cast<std::int64_t>(0 - u) : static_cast<std::int64_t>(u);
    return true;
}

struct IntervalAcc {
    std::int64_t months = 0, days = 0, micros = 0;
};

Interval finish_interval(const IntervalAcc& a, Scanner& sc) {
    if (a.months > std::numeric_limits<std::int32_t>::max() || a.months < std::numeric_limits<std::int32_t>::min() ||
        a.days > std::numeric_limits<std::int32_t>::max() || a.days < std::numeric_limits<std::int32_t>::min())
        conversion_error(quoted(sc.whole) + " is out of range for interval");
    return Interval{static_cast<std::int32_t>(a.months), static_cast<std::int32_t>(a.days), a.micros};
}

[[noreturn]] void interval_fail(std::string_view whole) {
    conversion_error(quoted(whole) + " is not a valid interval (text decoding expects IntervalStyle postgres or iso_8601)");
}

bool mul_add(std::int64_t& acc, std::int64_t v, std::int64_t unit) {
    std::int64_t p;
    return !__builtin_mul_overflow(v, unit, &p) && !add_overflows(acc, p);
}

// IntervalStyle postgres: "1 year 2 mons -3 days +04:05:06.789", "00:00:00", "-1 days".
Interval parse_postgres_interval(std::string_view b) {
    Scanner sc{b, b, "interval"};
    IntervalAcc a;
    bool any = false;
    while (!sc.done()) {
        if (any) {
            if (!sc.eat(' ')) interval_fail(b);
        }
        any = true;
        // Time part: [+-]H+:MM:SS[.f]
        const std::size_t colon = b.find(':', sc.i), space = b.find(' ', sc.i);
        if (colon != std::string_view::npos && (space == std::string_view::npos || colon < space)) {
            bool neg = false;
            if (sc.peek() == '+' || sc.peek() == '-') neg = sc.s[sc.i++] == '-';
            const std::int64_t h = sc.number(1, 12);
            sc.expect(':');
            const std::int64_t mi = sc.number(2, 2);
            sc.expect(':');
            const std::int64_t se = sc.number(2, 2);
            const std::int64_t f = sc.fraction();
            if (mi > 59 || se > 59) interval_fail(b);
            // Signed before the hours are added: the server prints INT64_MIN microseconds
            // ("-2562047788:00:54.775808"), whose magnitude int64 cannot hold.
            const std::int64_t rest = mi * usecs_per_min + se * usecs_per_sec + f;
            std::int64_t us = neg ? -rest : rest;
            if (!mul_add(us, neg ? -h : h, usecs_per_hour)) interval_fail(b);
            if (!add_overflows(a.micros, us)) continue;
            interval_fail(b);
        }
        std::int64_t n = 0;
        if (!scan_signed(sc, n)) interval_fail(b);
        if (!sc.eat(' ')) interval_fail(b);
        const std::size_t end = std::min(b.find(' ', sc.i), b.size());
        const std::string_view unit = b.substr(sc.i, end - sc.i);
        sc.i = end;
        bool ok = false;
        if (unit == "year" || unit == "years") ok = mul_add(a.months, n, 12);
        else if (unit == "mon" || unit == "mons") ok = mul_add(a.months, n, 1);
        else if (unit == "day" || unit == "days") ok = mul_add(a.days, n, 1);
        if (!ok) interval_fail(b);
    }
    if (!any) interval_fail(b);
    return finish_interval(a, sc);
}

// IntervalStyle iso_8601: "P1Y2M3DT4H5M6.789S", "P-1DT2H3M", "PT0S", "PT-0.5S".
Interval parse_iso_interval(std::string_view b) {
    Scanner sc{b, b, "interval"};
    IntervalAcc a;
    sc.expect('P');
    bool in_time = false, any = false;
    while (!sc.done()) {
        if (sc.eat('T')) {
            if (in_time) interval_fail(b);
            in_time = true;
            continue;
        }
        const bool neg = sc.peek() == '-';
        std::int64_t n = 0;
        if (!scan_signed(sc, n)) interval_fail(b);
        std::int64_t frac = 0;
        if (sc.peek() == '.') {
            if (!in_time) interval_fail(b);
            frac = sc.fraction();
            if (neg) frac = -frac;
        }
        if (sc.done()) interval_fail(b);
        const char unit = sc.s[sc.i++];
        bool ok = false;
        if (frac != 0 && unit != 'S') interval_fail(b);
        if (!in_time) {
            if (unit == 'Y') ok = mul_add(a.months, n, 12);
            else if (unit == 'M') ok = mul_add(a.months, n, 1);
            else if (unit == 'W') ok = mul_add(a.days, n, 7);
            else if (unit == 'D') ok = mul_add(a.days, n, 1);
        } else {
            if (unit == 'H') ok = mul_add(a.micros, n, usecs_per_hour);
            else if (unit == 'M') ok = mul_add(a.micros, n, usecs_per_min);
            else if (unit == 'S') ok = mul_add(a.micros, n, usecs_per_sec) && !add_overflows(a.micros, frac);
        }
        if (!ok) interval_fail(b);
        any = true;
    }
    if (!any) interval_fail(b);
    return finish_interval(a, sc);
}

// IntervalStyle postgres's "N unit" part (AddPostgresIntPart).
void add_int_part(std::string& out, std::int64_t value, const char* units, bool& is_before, bool& is_zero) {
    if (value == 0) return;
    if (!is_zero) out.push_back(' ');
    if (is_before && value > 0) out.push_back('+');
    out += std::to_string(value);
    out.push_back(' ');
    out += units;
    if (value != 1) out.push_back('s');
    is_before = value < 0;
    is_zero = false;
}

}  // namespace

Interval decode_interval(std::string_view b, std::uint32_t type_oid, bool binary) {
    if (type_oid != oid::interval && !((type_oid == oid::unspecified || type_oid == oid::unknown) && !binary))
        conversion_error((binary ? "binary " : "") + type_name(type_oid) + " value is not an interval");
    if (binary) {
        if (b.size() != 16) conversion_error("interval value must be 16 bytes, got " + std::to_string(b.size()));
        return Interval{read_i32(b.substr(12, 4)), read_i32(b.substr(8, 4)), static_cast<std::int64_t>(read_be(b, 8))};
    }
    if (b == "infinity") return Interval::infinity();
    if (b == "-infinity") return Interval::minus_infinity();
    if (!b.empty() && b[0] == 'P') return parse_iso_interval(b);
    if (!b.empty() && b[0] == '@')
        conversion_error(quoted(b) + ": IntervalStyle postgres_verbose is not supported; use postgres or binary format");
    return parse_postgres_interval(b);
}

std::string format_interval(const Interval& v) {
    if (v == Interval::infinity()) return "infinity";
    if (v == Interval::minus_infinity()) return "-infinity";
    std::string out;
    bool is_before = false, is_zero = true;
    add_int_part(out, v.months / 12, "year", is_before, is_zero);
    add_int_part(out, v.months % 12, "mon", is_before, is_zero);
    add_int_part(out, v.days, "day", is_before, is_zero);
    if (is_zero || v.microseconds != 0) {
        const bool minus = v.microseconds < 0;
        if (!is_zero) out.push_back(' ');
        if (minus) out.push_back('-');
        else if (is_before) out.push_back('+');
        const std::uint64_t mag = minus ? 0 - static_cast<std::uint64_t>(v.microseconds) : static_cast<std::uint64_t>(v.microseconds);
        append_hms(out, mag);
    }
    return out;
}

std::string interval_binary(const Interval& v) {
    std::string out;
    write_be(out, static_cast<std::uint64_t>(v.microseconds), 8);
    write_be(out, static_cast<std::uint32_t>(v.days), 4);
    write_be(out, static_cast<std::uint32_t>(v.months), 4);
    return out;
}

}  // namespace pgtls::detail
