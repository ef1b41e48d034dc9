/// \file
/// Dates and times with std::chrono. Included by types.hpp.
///
/// @code{.unparsed}
/// date          <-> std::chrono::sys_days, std::chrono::year_month_day
/// timestamp     <-> std::chrono::local_time<D>   (no zone)
/// timestamptz   <-> std::chrono::sys_time<D>     (UTC; a timestamp column reads as if UTC)
/// time          <-> pgtls::Time                  (microseconds since midnight, 24:00:00 allowed)
/// interval      <-> pgtls::Interval              (months, days, microseconds: exact)
///               <-> std::chrono::duration        (only without months; a day is 24 h)
/// @endcode
///
/// ±infinity of date/timestamp/timestamptz is the time_point's max()/min() both ways.
/// PostgreSQL's microseconds are exact; reading into a coarser D (seconds, days) is an error
/// unless the value is a whole D, and a value outside D's range is an error. Writing a finer D
/// (nanoseconds) rounds to the nearest microsecond, as the server does with extra digits.
/// BC dates work (year 0 is 1 BC). sys_time<microseconds> spans ±292277 years around 1970, so
/// timestamps after about 294247 AD (PostgreSQL allows 294276 AD) cannot be read into it.
/// Text decoding requires DateStyle ISO (the default) and IntervalStyle postgres (the default)
/// or iso_8601; binary is exact regardless of settings.
#pragma once

#include "pgtls/version.hpp"

#include <chrono>
#include <cstdint>
#include <limits>
#include <ratio>
#include <string>
#include <string_view>
#include <type_traits>

#include "pgtls/types.hpp"

PGTLS_API_BEGIN
namespace pgtls {

/// timestamp and timestamptz at PostgreSQL's precision.
using Timestamp = std::chrono::local_time<std::chrono::microseconds>;
using TimestampTz = std::chrono::sys_time<std::chrono::microseconds>;  ///< timestamptz (UTC).

/// PostgreSQL time (without time zone): a time of day, 00:00:00 to 24:00:00 inclusive.
struct Time {
    std::chrono::microseconds since_midnight{0};  ///< 0 to 86'400'000'000.
    bool operator==(const Time&) const = default;  ///< Equal when the times are.
};

/// PostgreSQL interval: months, days and microseconds are kept apart (a month is not a fixed
/// number of days, nor a day a fixed number of hours across DST changes).
struct Interval {
    std::int32_t months = 0;        ///< Whole months (a year is 12).
    std::int32_t days = 0;          ///< Whole days.
    std::int64_t microseconds = 0;  ///< The time part.
    bool operator==(const Interval&) const = default;  ///< Equal when all three parts are.
    /// PostgreSQL 17+ infinite intervals.
    static constexpr Interval infinity() {
        return {std::numeric_limits<std::int32_t>::max(), std::numeric_limits<std::int32_t>::max(),
                std::numeric_limits<std::int64_t>::max()};
    }
    /// PostgreSQL 17+ `-infinity` interval.
    static constexpr Interval minus_infinity() {
        return {std::numeric_limits<std::int32_t>::min(), std::numeric_limits<std::int32_t>::min(),
                std::numeric_limits<std::int64_t>::min()};
    }
};

namespace detail {

[[noreturn]] void conversion_error(const std::string& what);

/// Days between 1970-01-01 and PostgreSQL's epoch 2000-01-01, and the same in microseconds.
inline constexpr std::int64_t pg_epoch_days = 10957;
inline constexpr std::int64_t pg_epoch_micros = pg_epoch_days * 86400 * std::int64_t{1000000};

/// Dates: PostgreSQL day number (days since 2000-01-01); INT32_MAX / INT32_MIN are ±infinity.
std::int32_t decode_date(std::string_view b, std::uint32_t type_oid, bool binary);
std::string format_date(std::int32_t pg_days);
/// Unix day number to PostgreSQL's, range-checked (4714-11-24 BC .. 5874897-12-31).
std::int32_t pg_date_from_unix_days(std::int64_t unix_days);

/// Timestamps: microseconds since 2000-01-01 00:00 (UTC for timestamptz); INT64_MAX / INT64_MIN
/// are ±infinity. decode_timestamp_utc accepts timestamptz (offsets applied) and timestamp;
/// decode_timestamp_local only timestamp.
std::int64_t decode_timestamp_utc(std::string_view b, std::uint32_t type_oid, bool binary);
std::int64_t decode_timestamp_local(std::string_view b, std::uint32_t type_oid, bool binary);
std::string format_timestamp(std::int64_t pg_micros, bool with_zone);
/// Unix microseconds to PostgreSQL's, range-checked (4714-11-24 BC .. 294276 AD).
std::int64_t pg_timestamp_from_unix_micros(std::int64_t unix_micros);

std::int64_t decode_time(std::string_view b, std::uint32_t type_oid, bool binary);
std::string format_time(std::int64_t micros);

Interval decode_interval(std::string_view b, std::uint32_t type_oid, bool binary);
std::string format_interval(const Interval& v);
std::string interval_binary(const Interval& v);

/// Exact conversion of a microsecond count to duration D; error if inexact or out of range.
/// GCC's and clang's 128-bit integer; __extension__ keeps -Wpedantic quiet in user code.
__extension__ typedef __int128 int128;

template <typename D>
D from_micros(std::int64_t us) {
    using R = typename D::rep;
    using ratio = std::ratio_divide<std::micro, typename D::period>;  ///< D units per microsecond
    if constexpr (std::is_floating_point_v<R>) {
        return D(static_cast<R>(static_cast<long double>(us) * ratio::num / ratio::den));
    } else {
        const int128 scaled = static_cast<int128>(us) * ratio::num;
        if (scaled % ratio::den != 0) conversion_error(std::to_string(us) + " microseconds is not a whole number of the requested unit");
        const int128 v = scaled / ratio::den;
        if (v > static_cast<int128>(std::numeric_limits<R>::max()) || v < static_cast<int128>(std::numeric_limits<R>::min()))
            conversion_error(std::to_string(us) + " microseconds is out of range for the requested duration");
        return D(static_cast<R>(v));
    }
}

/// Duration D to microseconds, rounded to nearest (ties to even); error if beyond int64.
template <typename D>
std::int64_t to_micros(D d) {
    using R = typename D::rep;
    using ratio = std::ratio_divide<typename D::period, std::micro>;  ///< microseconds per D unit
    constexpr auto lim_max = static_cast<int128>(std::numeric_limits<std::int64_t>::max());
    constexpr auto lim_min = static_cast<int128>(std::numeric_limits<std::int64_t>::min());
    if constexpr (std::is_floating_point_v<R>) {
        const long double v = static_cast<long double>(d.count()) * ratio::num / ratio::den;
        if (!(v >= -9.2233720368547758e18L && v < 9.2233720368547758e18L))
            conversion_error("duration is out of range for microseconds");
        return std::chrono::round<std::chrono::duration<std::int64_t, std::micro>>(std::chrono::duration<long double, std::micro>(v)).count();
    } else {
        const int128 scaled = static_cast<int128>(d.count()) * ratio::num;
        int128 q = scaled / ratio::den, r = scaled % ratio::den;
        if (r < 0) { r += ratio::den; q -= 1; }  // floor
        if (2 * r > ratio::den || (2 * r == ratio::den && (q & 1) != 0)) q += 1;
        if (q > lim_max || q < lim_min) conversion_error("duration is out of range for microseconds");
        return static_cast<std::int64_t>(q);
    }
}

template <typename TP>
TP time_point_from_pg_micros(std::int64_t pg) {
    if (pg == std::numeric_limits<std::int64_t>::max()) return TP::max();
    if (pg == std::numeric_limits<std::int64_t>::min()) return TP::min();
    std::int64_t unix_us;
    if (__builtin_add_overflow(pg, pg_epoch_micros, &unix_us))
        conversion_error("timestamp " + format_timestamp(pg, false) + " is out of range for std::chrono");
    return TP(from_micros<typename TP::duration>(unix_us));
}

template <typename TP>
std::int64_t pg_micros_from_time_point(TP tp) {
    if (tp == TP::max()) return std::numeric_limits<std::int64_t>::max();
    if (tp == TP::min()) return std::numeric_limits<std::int64_t>::min();
    return pg_timestamp_from_unix_micros(to_micros(tp.time_since_epoch()));
}

}  // namespace detail

/// A date in UTC days <-> date, text and binary; sys_days::max()/min() are ±infinity.
template <>
struct Codec<std::chrono::sys_days> {
    /// The PostgreSQL type this codec writes (parameters and array elements).
    static constexpr std::uint32_t type_oid = oid::date;
    /// Reads a field of column type `oid` in text or binary format; throws
    /// Error(ErrorKind::usage) when the value does not fit.
    static std::chrono::sys_days decode(std::string_view b, std::uint32_t oid, bool binary) {
        const std::int32_t d = detail::decode_date(b, oid, binary);
        if (d == std::numeric_limits<std::int32_t>::max()) return std::chrono::sys_days::max();
        if (d == std::numeric_limits<std::int32_t>::min()) return std::chrono::sys_days::min();
        return std::chrono::sys_days(std::chrono::days(std::int64_t{d} + detail::pg_epoch_days));
    }
    /// PostgreSQL's day number of `v` (±infinity for max()/min()); Error(ErrorKind::usage)
    /// outside the date range.
    static std::int32_t pg_days(const std::chrono::sys_days& v) {
        if (v == std::chrono::sys_days::max()) return std::numeric_limits<std::int32_t>::max();
        if (v == std::chrono::sys_days::min()) return std::numeric_limits<std::int32_t>::min();
        return detail::pg_date_from_unix_days(v.time_since_epoch().count());
    }
    /// The value in PostgreSQL's text input form.
    static std::string encode_text(const std::chrono::sys_days& v) { return detail::format_date(pg_days(v)); }
    /// The value in PostgreSQL's binary (send/recv) form.
    static std::string encode_binary(const std::chrono::sys_days& v) {
        return detail::be_bytes(static_cast<std::uint32_t>(pg_days(v)), 4);
    }
    /// The value as a binary parameter typed as type_oid.
    static Param encode(const std::chrono::sys_days& v) { return Param{encode_binary(v), type_oid, 1}; }
};

/// A calendar date without zone, same as sys_days.
template <>
struct Codec<std::chrono::local_days> {
    /// The PostgreSQL type this codec writes (parameters and array elements).
    static constexpr std::uint32_t type_oid = oid::date;
    /// Reads a field of column type `oid` in text or binary format; throws
    /// Error(ErrorKind::usage) when the value does not fit.
    static std::chrono::local_days decode(std::string_view b, std::uint32_t oid, bool binary) {
        const auto d = Codec<std::chrono::sys_days>::decode(b, oid, binary);
        if (d == std::chrono::sys_days::max()) return std::chrono::local_days::max();
        if (d == std::chrono::sys_days::min()) return std::chrono::local_days::min();
        return std::chrono::local_days(d.time_since_epoch());
    }
    /// The same day number as sys_days.
    static std::chrono::sys_days as_sys(const std::chrono::local_days& v) {
        if (v == std::chrono::local_days::max()) return std::chrono::sys_days::max();
        if (v == std::chrono::local_days::min()) return std::chrono::sys_days::min();
        return std::chrono::sys_days(v.time_since_epoch());
    }
    /// The value in PostgreSQL's text input form.
    static std::string encode_text(const std::chrono::local_days& v) { return Codec<std::chrono::sys_days>::encode_text(as_sys(v)); }
    /// The value in PostgreSQL's binary (send/recv) form.
    static std::string encode_binary(const std::chrono::local_days& v) {
        return Codec<std::chrono::sys_days>::encode_binary(as_sys(v));
    }
    /// The value as a binary parameter typed as type_oid.
    static Param encode(const std::chrono::local_days& v) { return Param{encode_binary(v), type_oid, 1}; }
};

/// Infinite dates and years beyond ±32767 do not fit year_month_day: error (use sys_days).
template <>
struct Codec<std::chrono::year_month_day> {
    /// The PostgreSQL type this codec writes (parameters and array elements).
    static constexpr std::uint32_t type_oid = oid::date;
    /// Reads a field of column type `oid` in text or binary format; throws
    /// Error(ErrorKind::usage) when the value does not fit.
    static std::chrono::year_month_day decode(std::string_view b, std::uint32_t oid, bool binary) {
        const std::int32_t d = detail::decode_date(b, oid, binary);
        if (d == std::numeric_limits<std::int32_t>::max() || d == std::numeric_limits<std::int32_t>::min())
            detail::conversion_error("infinite date does not fit std::chrono::year_month_day; read it as sys_days");
        /// year_month_day holds years -32767..32767; PostgreSQL dates start in 4714 BC.
        constexpr auto last = std::chrono::sys_days(std::chrono::year{32767} / 12 / 31).time_since_epoch().count() -
                              detail::pg_epoch_days;
        if (d > last) detail::conversion_error("date " + detail::format_date(d) + " does not fit std::chrono::year_month_day");
        return std::chrono::year_month_day(std::chrono::sys_days(std::chrono::days(std::int64_t{d} + detail::pg_epoch_days)));
    }
    /// `v` as sys_days; Error(ErrorKind::usage) when `v` is not a valid date.
    static std::chrono::sys_days checked(const std::chrono::year_month_day& v) {
        if (!v.ok()) detail::conversion_error("invalid year_month_day");
        return std::chrono::sys_days(v);
    }
    /// The value in PostgreSQL's text input form.
    static std::string encode_text(const std::chrono::year_month_day& v) {
        return Codec<std::chrono::sys_days>::encode_text(checked(v));
    }
    /// The value in PostgreSQL's binary (send/recv) form.
    static std::string encode_binary(const std::chrono::year_month_day& v) {
        return Codec<std::chrono::sys_days>::encode_binary(checked(v));
    }
    /// The value as a binary parameter typed as type_oid.
    static Param encode(const std::chrono::year_month_day& v) { return Param{encode_binary(v), type_oid, 1}; }
};

/// timestamptz. max()/min() are ±infinity.
template <typename D>
struct Codec<std::chrono::sys_time<D>, std::enable_if_t<!std::is_same_v<D, std::chrono::days>>> {
    using TP = std::chrono::sys_time<D>;  ///< The time point type this codec reads and writes.
    /// The PostgreSQL type this codec writes (parameters and array elements).
    static constexpr std::uint32_t type_oid = oid::timestamptz;
    /// Reads a field of column type `oid` in text or binary format; throws
    /// Error(ErrorKind::usage) when the value does not fit.
    static TP decode(std::string_view b, std::uint32_t oid, bool binary) {
        return detail::time_point_from_pg_micros<TP>(detail::decode_timestamp_utc(b, oid, binary));
    }
    /// The value in PostgreSQL's text input form.
    static std::string encode_text(const TP& v) { return detail::format_timestamp(detail::pg_micros_from_time_point(v), true); }
    /// The value in PostgreSQL's binary (send/recv) form.
    static std::string encode_binary(const TP& v) {
        return detail::be_bytes(static_cast<std::uint64_t>(detail::pg_micros_from_time_point(v)), 8);
    }
    /// The value as a binary parameter typed as type_oid.
    static Param encode(const TP& v) { return Param{encode_binary(v), type_oid, 1}; }
};

/// timestamp (without time zone). max()/min() are ±infinity.
template <typename D>
struct Codec<std::chrono::local_time<D>, std::enable_if_t<!std::is_same_v<D, std::chrono::days>>> {
    using TP = std::chrono::local_time<D>;  ///< The time point type this codec reads and writes.
    /// The PostgreSQL type this codec writes (parameters and array elements).
    static constexpr std::uint32_t type_oid = oid::timestamp;
    /// Reads a field of column type `oid` in text or binary format; throws
    /// Error(ErrorKind::usage) when the value does not fit.
    static TP decode(std::string_view b, std::uint32_t oid, bool binary) {
        return detail::time_point_from_pg_micros<TP>(detail::decode_timestamp_local(b, oid, binary));
    }
    /// The value in PostgreSQL's text input form.
    static std::string encode_text(const TP& v) { return detail::format_timestamp(detail::pg_micros_from_time_point(v), false); }
    /// The value in PostgreSQL's binary (send/recv) form.
    static std::string encode_binary(const TP& v) {
        return detail::be_bytes(static_cast<std::uint64_t>(detail::pg_micros_from_time_point(v)), 8);
    }
    /// The value as a binary parameter typed as type_oid.
    static Param encode(const TP& v) { return Param{encode_binary(v), type_oid, 1}; }
};

/// Time <-> time, text and binary.
template <>
struct Codec<Time> {
    /// The PostgreSQL type this codec writes (parameters and array elements).
    static constexpr std::uint32_t type_oid = oid::time;
    /// Reads a field of column type `oid` in text or binary format; throws
    /// Error(ErrorKind::usage) when the value does not fit.
    static Time decode(std::string_view b, std::uint32_t oid, bool binary) {
        return Time{std::chrono::microseconds(detail::decode_time(b, oid, binary))};
    }
    /// Microseconds since midnight; Error(ErrorKind::usage) outside 00:00:00..24:00:00.
    static std::int64_t checked(const Time& v) {
        const auto us = v.since_midnight.count();
        if (us < 0 || us > std::int64_t{86400} * 1000000)
            detail::conversion_error("time of day " + std::to_string(us) + " us is outside 00:00:00..24:00:00");
        return us;
    }
    /// The value in PostgreSQL's text input form.
    static std::string encode_text(const Time& v) { return detail::format_time(checked(v)); }
    /// The value in PostgreSQL's binary (send/recv) form.
    static std::string encode_binary(const Time& v) { return detail::be_bytes(static_cast<std::uint64_t>(checked(v)), 8); }
    /// The value as a binary parameter typed as type_oid.
    static Param encode(const Time& v) { return Param{encode_binary(v), type_oid, 1}; }
};

/// Interval <-> interval, text (postgres and iso_8601 styles) and binary.
template <>
struct Codec<Interval> {
    /// The PostgreSQL type this codec writes (parameters and array elements).
    static constexpr std::uint32_t type_oid = oid::interval;
    /// Reads a field of column type `oid` in text or binary format; throws
    /// Error(ErrorKind::usage) when the value does not fit.
    static Interval decode(std::string_view b, std::uint32_t oid, bool binary) { return detail::decode_interval(b, oid, binary); }
    /// The value in PostgreSQL's text input form.
    static std::string encode_text(const Interval& v) { return detail::format_interval(v); }
    /// The value in PostgreSQL's binary (send/recv) form.
    static std::string encode_binary(const Interval& v) { return detail::interval_binary(v); }
    /// The value as a binary parameter typed as type_oid.
    static Param encode(const Interval& v) { return Param{encode_binary(v), type_oid, 1}; }
};

/// A fixed-length duration: from an interval without months (days count 24 h) or a time of
/// day; written as an interval of microseconds.
template <typename R, typename P>
struct Codec<std::chrono::duration<R, P>> {
    using D = std::chrono::duration<R, P>;  ///< The duration type this codec reads and writes.
    /// The PostgreSQL type this codec writes (parameters and array elements).
    static constexpr std::uint32_t type_oid = oid::interval;
    /// Reads a field of column type `oid` in text or binary format; throws
    /// Error(ErrorKind::usage) when the value does not fit.
    static D decode(std::string_view b, std::uint32_t oid, bool binary) {
        if (oid == oid::time) return detail::from_micros<D>(detail::decode_time(b, oid, binary));
        const Interval iv = detail::decode_interval(b, oid, binary);
        if (iv == Interval::infinity() || iv == Interval::minus_infinity())
            detail::conversion_error("infinite interval does not fit a std::chrono::duration");
        if (iv.months != 0)
            detail::conversion_error("interval " + detail::format_interval(iv) +
                                     " has months, which have no fixed length; read it as pgtls::Interval");
        std::int64_t us;
        if (__builtin_mul_overflow(std::int64_t{iv.days}, std::int64_t{86400000000}, &us) ||
            __builtin_add_overflow(us, iv.microseconds, &us))
            detail::conversion_error("interval " + detail::format_interval(iv) + " is out of range for microseconds");
        return detail::from_micros<D>(us);
    }
    /// `v` as an interval of microseconds (no months, no days).
    static Interval as_interval(const D& v) { return Interval{0, 0, detail::to_micros(v)}; }
    /// The value in PostgreSQL's text input form.
    static std::string encode_text(const D& v) { return detail::format_interval(as_interval(v)); }
    /// The value in PostgreSQL's binary (send/recv) form.
    static std::string encode_binary(const D& v) { return detail::interval_binary(as_interval(v)); }
    /// The value as a binary parameter typed as type_oid.
    static Param encode(const D& v) { return Param{encode_binary(v), type_oid, 1}; }
};

}  // namespace pgtls
PGTLS_API_END
