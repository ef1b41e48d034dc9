// PoolCore, the pool's decisions, driven event by event with hand-made times: no threads,
// no connections, no clock.
#include "pool/pool_core.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace pgtls::pool_detail {
namespace {

using namespace std::chrono_literals;
using Kind = PoolCore::Action::Kind;
using time_point = PoolCore::time_point;

const time_point T0 = time_point(std::chrono::hours(1));
const time_point kNever = time_point::max();

PoolCoreOptions options(std::size_t max_size = 2) {
    PoolCoreOptions o;
    o.max_size = max_size;
    o.idle_timeout = 600s;
    o.max_lifetime = 3600s;
    o.health_check_after = 1s;
    o.maintenance_interval = 1s;
    o.connect_backoff_initial = 100ms;
    o.connect_backoff_max = 5s;
    return o;
}

// Takes the one action the core queued, expecting its kind.
PoolCore::Action only(PoolCore& core, Kind kind) {
    auto actions = core.take_actions();
    EXPECT_EQ(actions.size(), 1u);
    if (actions.empty()) return PoolCore::Action{};
    EXPECT_EQ(actions[0].kind, kind) << actions[0].reason;
    return actions[0];
}

// Acquires, opens and returns a fresh connection's id, lent to the returned waiter.
std::pair<PoolCore::WaiterId, PoolCore::SlotId> open_one(PoolCore& core, time_point now) {
    auto w = core.acquire(now, kNever);
    auto open = only(core, Kind::open);
    EXPECT_EQ(open.waiter, w);
    auto id = core.opened(open.ticket, now);
    auto lend = only(core, Kind::lend);
    EXPECT_EQ(lend.waiter, w);
    EXPECT_EQ(lend.slot, id);
    EXPECT_FALSE(lend.check);
    return {w, id};
}

TEST(PoolCore, OpensForTheFirstWaiterAndReusesReleasedConnection) {
    PoolCore core(options(), 1);
    [[maybe_unused]] auto [w1, id] = open_one(core, T0);
    core.released(id, T0 + 10ms);
    EXPECT_TRUE(core.take_actions().empty());
    EXPECT_EQ(core.stats().idle, 1u);
    auto w2 = core.acquire(T0 + 20ms, kNever);
    auto lend = only(core, Kind::lend);
    EXPECT_EQ(lend.waiter, w2);
    EXPECT_EQ(lend.slot, id);
    EXPECT_FALSE(lend.check);  // idle 10 ms < health_check_after
    EXPECT_TRUE(lend.probe);   // idle >= 1 ms: its socket is worth a look
    EXPECT_EQ(core.uses(id), 2u);
    EXPECT_EQ(core.stats().acquire_count, 2u);
}

TEST(PoolCore, WaitersAreServedFirstInFirstOut) {
    PoolCore core(options(1), 1);
    [[maybe_unused]] auto [w0, id] = open_one(core, T0);
    auto a = core.acquire(T0 + 1ms, kNever);
    auto b = core.acquire(T0 + 2ms, kNever);
    auto c = core.acquire(T0 + 3ms, kNever);
    EXPECT_TRUE(core.take_actions().empty());
    EXPECT_EQ(core.stats().waiting, 3u);
    for (auto expected : {a, b, c}) {
        core.released(id, T0 + 10ms);
        auto lend = only(core, Kind::lend);
        EXPECT_EQ(lend.waiter, expected);
        EXPECT_EQ(lend.slot, id);
        EXPECT_FALSE(lend.probe);  // handed straight from one lease to the next
    }
    EXPECT_EQ(core.stats().total, 1u);  // max_size respected
}

TEST(PoolCore, MaxSizeRespectedWithManyWaiters) {
    PoolCore core(options(3), 1);
    for (int i = 0; i < 10; ++i) core.acquire(T0, kNever);
    auto actions = core.take_actions();
    ASSERT_EQ(actions.size(), 3u);
    for (auto& a : actions) EXPECT_EQ(a.kind, Kind::open);
    auto s = core.stats();
    EXPECT_EQ(s.total, 3u);
    EXPECT_EQ(s.opening, 3u);
    EXPECT_EQ(s.waiting, 7u);
}

TEST(PoolCore, WaiterTimesOutWithTheExhaustedMessage) {
    PoolCore core(options(1), 1);
    [[maybe_unused]] auto [w0, id] = open_one(core, T0);
    auto w = core.acquire(T0, T0 + 500ms);
    EXPECT_EQ(core.next_deadline(), T0 + 500ms);
    core.tick(T0 + 499ms);
    EXPECT_TRUE(core.take_actions().empty());
    core.tick(T0 + 500ms);
    auto fail = only(core, Kind::fail);
    EXPECT_EQ(fail.waiter, w);
    EXPECT_FALSE(fail.connect_error);
    EXPECT_EQ(fail.reason, "pool exhausted: 1 of 1 connections in use, waited 500 ms");
    EXPECT_EQ(core.stats().acquire_timeouts, 1u);
    EXPECT_EQ(core.stats().waiting, 0u);
}

TEST(PoolCore, CancelledWaiterIsSkippedAndItsConnectionHandedOn) {
    PoolCore core(options(1), 1);
    auto a = core.acquire(T0, kNever);
    auto open = only(core, Kind::open);
    auto b = core.acquire(T0, kNever);
    core.cancel(a, T0 + 1ms);  // gone while its connection is being opened
    auto id = core.opened(open.ticket, T0 + 2ms);
    auto lend = only(core, Kind::lend);
    EXPECT_EQ(lend.waiter, b);
    EXPECT_EQ(lend.slot, id);
    auto c = core.acquire(T0 + 3ms, kNever);
    core.cancel(c, T0 + 4ms);
    core.released(id, T0 + 5ms);
    EXPECT_TRUE(core.take_actions().empty());
    EXPECT_EQ(core.stats().idle, 1u);
}

TEST(PoolCore, CancellingTheHeadKeepsTheOthersInOrder) {
    PoolCore core(options(1), 1);
    [[maybe_unused]] auto [w0, id] = open_one(core, T0);
    auto a = core.acquire(T0, T0 + 1s);
    auto b = core.acquire(T0, kNever);
    auto c = core.acquire(T0, kNever);
    core.cancel(a, T0 + 1ms);
    core.cancel(a, T0 + 2ms);  // twice: no-op
    EXPECT_EQ(core.stats().waiting, 2u);
    EXPECT_EQ(core.next_deadline(), kNever);  // a's deadline went with it
    core.tick(T0 + 2s);
    EXPECT_TRUE(core.take_actions().empty());
    core.released(id, T0 + 2s);
    EXPECT_EQ(only(core, Kind::lend).waiter, b);
    core.released(id, T0 + 3s);
    EXPECT_EQ(only(core, Kind::lend).waiter, c);
    core.cancel(c, T0 + 4s);  // already served: no-op
    EXPECT_TRUE(core.take_actions().empty());
    EXPECT_EQ(core.stats().acquire_timeouts, 0u);
}

TEST(PoolCore, ConnectFailureFailsItsWaiterAndArmsTheBackoff) {
    PoolCore core(options(2), 1);
    auto w = core.acquire(T0, kNever);
    auto open = only(core, Kind::open);
    auto w2 = core.acquire(T0, kNever);
    auto open2 = only(core, Kind::open);
    core.open_failed(open.ticket, T0 + 10ms, "connection refused");
    auto fail = only(core, Kind::fail);
    EXPECT_EQ(fail.waiter, w);
    EXPECT_TRUE(fail.connect_error);
    core.open_failed(open2.ticket, T0 + 20ms, "connection refused");
    fail = only(core, Kind::fail);
    EXPECT_EQ(fail.waiter, w2);
    // Backoff: 100 ms then 200 ms; nobody opens meanwhile.
    auto w3 = core.acquire(T0 + 30ms, T0 + 150ms);
    EXPECT_TRUE(core.take_actions().empty());
    EXPECT_EQ(core.next_deadline(), T0 + 150ms);
    core.tick(T0 + 150ms);
    fail = only(core, Kind::fail);
    EXPECT_EQ(fail.waiter, w3);
    EXPECT_EQ(fail.reason, "pool exhausted: 0 of 2 connections in use, waited 120 ms; last connect error: connection refused");
    auto w4 = core.acquire(T0 + 160ms, kNever);
    EXPECT_EQ(core.next_deadline(), T0 + 220ms);
    EXPECT_EQ(core.retry_at(), T0 + 220ms);
    core.tick(T0 + 220ms);
    open = only(core, Kind::open);
    EXPECT_EQ(open.waiter, w4);
    core.opened(open.ticket, T0 + 230ms);
    only(core, Kind::lend);
    EXPECT_EQ(core.stats().connect_errors, 2u);
}

TEST(PoolCore, FailedCheckClosesTheConnectionAndKeepsTheWaiterAtTheHead) {
    PoolCore core(options(1), 1);
    [[maybe_unused]] auto [w0, id] = open_one(core, T0);
    core.released(id, T0);
    auto a = core.acquire(T0 + 2s, kNever);
    auto b = core.acquire(T0 + 2s, kNever);
    auto lend = only(core, Kind::lend);
    EXPECT_EQ(lend.waiter, a);
    EXPECT_TRUE(lend.check);  // idle 2 s >= health_check_after
    core.check_failed(a, id, T0 + 2s, {PoolCloseReason::health_check_failed, "health check failed: gone"});
    auto close = only(core, Kind::close);
    EXPECT_EQ(close.slot, id);
    EXPECT_EQ(close.reason, "health check failed: gone");
    EXPECT_EQ(core.stats().acquire_count, 1u);  // the failed lend is not counted
    core.closed(id, T0 + 2s);
    auto open = only(core, Kind::open);
    EXPECT_EQ(open.waiter, a);  // not b: a kept its place
    EXPECT_EQ(core.stats().destroyed, 1u);
    (void)b;
}

// The async pool's cancel of an acquire whose lend is being checked, or a close meanwhile:
// the check passes, but nobody got the connection; it counts neither as an acquisition nor
// as a use (max_uses would otherwise retire it one lease early).
TEST(PoolCore, AWithdrawnLendIsNeitherAnAcquisitionNorAUse) {
    PoolCore core(options(1), 1);
    [[maybe_unused]] auto [w0, id] = open_one(core, T0);
    core.released(id, T0);
    auto a = core.acquire(T0 + 2s, kNever);
    auto lend = only(core, Kind::lend);
    EXPECT_EQ(lend.waiter, a);
    EXPECT_TRUE(lend.check);
    core.cancel(a, T0 + 2s);  // in the check: the core has nothing to do yet
    core.withdrawn(id, T0 + 2s);
    EXPECT_TRUE(core.take_actions().empty());
    PoolStats s = core.stats();
    EXPECT_EQ(s.acquire_count, 1u);
    EXPECT_EQ(s.idle, 1u);
    std::uint64_t histogram = 0;
    for (auto n : s.acquire_wait_histogram) histogram += n;
    EXPECT_EQ(histogram, 1u);
    EXPECT_EQ(s.acquire_wait_total, 0ns);
    EXPECT_EQ(core.uses(id), 1u);
    auto b = core.acquire(T0 + 3s, kNever);
    EXPECT_EQ(only(core, Kind::lend).waiter, b);
    EXPECT_EQ(core.uses(id), 2u);
    core.shutdown(T0 + 4s);
    core.withdrawn(id, T0 + 4s);  // b's check passed after close(): closed, not counted
    EXPECT_EQ(only(core, Kind::close).close_kind, PoolCloseReason::pool_closed);
    EXPECT_EQ(core.stats().acquire_count, 1u);
}

TEST(PoolCore, BrokenOrDirtyReleaseIsClosedNotReused) {
    PoolCore core(options(1), 1);
    [[maybe_unused]] auto [w0, id] = open_one(core, T0);
    core.released(id, T0, broken_connection_reason());
    auto close = only(core, Kind::close);
    EXPECT_EQ(close.reason, "connection broken");
    auto w = core.acquire(T0, kNever);
    EXPECT_TRUE(core.take_actions().empty());  // the slot still counts until closed
    core.closed(id, T0);
    auto open = only(core, Kind::open);
    EXPECT_EQ(open.waiter, w);
    EXPECT_NE(core.opened(open.ticket, T0), id);
}

TEST(PoolCore, LifetimeWithJitterAndMaxUses) {
    auto o = options(4);
    o.max_lifetime = 10s;
    o.max_lifetime_jitter = 5s;
    o.max_uses = 2;
    PoolCore core(o, 42);
    [[maybe_unused]] auto [w0, id] = open_one(core, T0);
    EXPECT_FALSE(core.expired(id, T0 + 9s).closes());
    EXPECT_EQ(core.expired(id, T0 + 15s).message, "max lifetime reached");
    EXPECT_EQ(core.expired(id, T0 + 15s).kind, PoolCloseReason::max_lifetime);
    core.released(id, T0);
    core.acquire(T0 + 1ms, kNever);
    only(core, Kind::lend);
    EXPECT_EQ(core.expired(id, T0 + 1ms).message, "max uses reached");
    EXPECT_EQ(core.expired(id, T0 + 1ms).kind, PoolCloseReason::max_uses);
    // Lifetimes spread over [10 s, 15 s]: an idle connection past its own expires.
    core.released(id, T0 + 1ms);
    core.maintain(T0 + 15s);
    auto close = only(core, Kind::close);
    EXPECT_EQ(close.reason, "max lifetime reached");
}

TEST(PoolCore, ExpiredIdleConnectionIsClosedInsteadOfLent) {
    auto o = options(1);
    o.max_lifetime = 10s;
    PoolCore core(o, 1);
    [[maybe_unused]] auto [w0, id] = open_one(core, T0);
    core.released(id, T0);
    auto w = core.acquire(T0 + 11s, kNever);
    auto close = only(core, Kind::close);
    EXPECT_EQ(close.reason, "max lifetime reached");
    core.closed(id, T0 + 11s);
    EXPECT_EQ(only(core, Kind::open).waiter, w);
}

TEST(PoolCore, MaintenanceClosesIdleBeyondMinSizeAndRefills) {
    auto o = options(3);
    o.min_size = 1;
    o.idle_timeout = 60s;
    PoolCore core(o, 1);
    core.maintain(T0);
    auto refill = only(core, Kind::open);
    EXPECT_EQ(refill.waiter, 0u);
    core.maintain(T0);  // one refill at a time
    EXPECT_TRUE(core.take_actions().empty());
    auto first = core.opened(refill.ticket, T0);
    EXPECT_TRUE(core.take_actions().empty());  // min_size reached: idle
    EXPECT_EQ(core.stats().idle, 1u);
    core.acquire(T0, kNever);
    EXPECT_EQ(only(core, Kind::lend).slot, first);
    [[maybe_unused]] auto [w, second] = open_one(core, T0);
    core.released(first, T0);
    core.released(second, T0 + 1s);
    core.maintain(T0 + 61s);
    auto close = only(core, Kind::close);  // the oldest idle one; one stays for min_size
    EXPECT_EQ(close.reason, "idle timeout");
    EXPECT_EQ(close.slot, first);
    core.closed(first, T0 + 61s);
    EXPECT_TRUE(core.take_actions().empty());
    EXPECT_EQ(core.stats().total, 1u);
    EXPECT_EQ(core.stats().idle, 1u);
    core.maintain(T0 + 3600s);  // past max_lifetime: closed, then refilled
    EXPECT_EQ(only(core, Kind::close).reason, "max lifetime reached");
    core.closed(second, T0 + 3600s);
    EXPECT_TRUE(core.take_actions().empty());  // refilling is the maintenance pass's job
    EXPECT_LE(core.refill_due(), T0 + 3600s);
    core.maintain(T0 + 3600s);
    EXPECT_EQ(only(core, Kind::open).waiter, 0u);
}

TEST(PoolCore, RefillAfterAFailedConnectWaitsForTheBackoff) {
    auto o = options(2);
    o.min_size = 1;
    PoolCore core(o, 1);
    core.maintain(T0);
    auto refill = only(core, Kind::open);
    core.open_failed(refill.ticket, T0, "refused");
    EXPECT_TRUE(core.take_actions().empty());  // no waiter to fail
    EXPECT_EQ(core.refill_due(), T0 + 100ms);
    core.maintain(T0 + 50ms);
    EXPECT_TRUE(core.take_actions().empty());
    core.maintain(T0 + 100ms);
    EXPECT_EQ(only(core, Kind::open).waiter, 0u);
}

// connect_backoff_initial = 0: no backoff, yet a refill against a dead server must not be due
// again at once (the maintenance thread, or the async pool's loop, would reconnect in a tight
// loop): it waits for the next regular maintenance pass.
TEST(PoolCore, RefillWithoutBackoffWaitsForTheNextPass) {
    auto o = options(2);
    o.min_size = 1;
    o.connect_backoff_initial = 0ms;
    PoolCore core(o, 1);
    core.maintain(T0);
    auto refill = only(core, Kind::open);
    core.open_failed(refill.ticket, T0, "refused");
    EXPECT_EQ(core.refill_due(), kNever);
    core.maintain(T0 + 1s);  // the regular pass retries
    refill = only(core, Kind::open);
    core.opened(refill.ticket, T0 + 1s);
    EXPECT_EQ(core.stats().idle, 1u);
}

TEST(PoolCore, ShutdownFailsWaitersClosesIdleAndReturnedConnections) {
    PoolCore core(options(2), 1);
    [[maybe_unused]] auto [w0, a] = open_one(core, T0);
    [[maybe_unused]] auto [w1, b] = open_one(core, T0);
    auto x = core.acquire(T0, kNever);
    auto y = core.acquire(T0, kNever);
    EXPECT_TRUE(core.take_actions().empty());
    core.shutdown(T0);
    auto actions = core.take_actions();
    ASSERT_EQ(actions.size(), 2u);
    EXPECT_EQ(actions[0].kind, Kind::fail);
    EXPECT_EQ(actions[0].waiter, x);
    EXPECT_EQ(actions[0].reason, "pool is closed");
    EXPECT_EQ(actions[1].kind, Kind::fail);
    EXPECT_EQ(actions[1].waiter, y);
    EXPECT_TRUE(core.is_shut_down());
    core.released(b, T0);
    auto close = only(core, Kind::close);
    EXPECT_EQ(close.reason, "pool closed");
    auto late = core.acquire(T0, kNever);
    auto fail = only(core, Kind::fail);
    EXPECT_EQ(fail.waiter, late);
    EXPECT_EQ(fail.reason, "pool is closed");

    PoolCore idle(options(2), 1);
    [[maybe_unused]] auto [w2, c] = open_one(idle, T0);
    idle.released(c, T0);
    idle.shutdown(T0);
    close = only(idle, Kind::close);
    EXPECT_EQ(close.slot, c);
    EXPECT_EQ(close.reason, "pool closed");
}

TEST(PoolCore, StatsKeepTotalEqualToIdlePlusInUsePlusOpening) {
    PoolCore core(options(3), 1);
    [[maybe_unused]] auto [w0, a] = open_one(core, T0);
    [[maybe_unused]] auto [w1, b] = open_one(core, T0);
    core.acquire(T0, kNever);
    auto open = only(core, Kind::open);
    core.released(a, T0);
    core.released(b, T0, broken_connection_reason());
    only(core, Kind::close);
    auto s = core.stats();
    EXPECT_EQ(s.total, 3u);
    EXPECT_EQ(s.idle, 1u);
    EXPECT_EQ(s.in_use, 1u);  // closing counts as in use
    EXPECT_EQ(s.opening, 1u);
    EXPECT_EQ(s.total, s.idle + s.in_use + s.opening);
    EXPECT_EQ(s.created, 2u);
    (void)open;
}

// The wait histogram: fixed OpenTelemetry buckets, upper bounds inclusive, and a lend whose
// check fails is taken back out of it like the rest of the acquisition's counters.
TEST(PoolCore, AcquireWaitsFillTheFixedHistogramBuckets) {
    EXPECT_EQ(wait_bucket(0ns), 0u);
    EXPECT_EQ(wait_bucket(1ns), 1u);
    EXPECT_EQ(wait_bucket(5ms), 1u);
    EXPECT_EQ(wait_bucket(5ms + 1ns), 2u);
    EXPECT_EQ(wait_bucket(10s), 14u);
    EXPECT_EQ(wait_bucket(10s + 1ns), 15u);
    EXPECT_EQ(wait_bucket(1h), PoolStats{}.acquire_wait_histogram.size() - 1);

    PoolCore core(options(1), 1);
    [[maybe_unused]] auto [w0, id] = open_one(core, T0);  // waited 0
    const std::pair<std::chrono::milliseconds, std::size_t> waits[] = {{3ms, 1}, {60ms, 5}, {700ms, 9}, {12s, 15}};
    time_point now = T0;
    for (auto [wait, bucket] : waits) {
        auto w = core.acquire(now, kNever);
        now += wait;
        core.released(id, now);
        auto lend = only(core, Kind::lend);
        EXPECT_EQ(lend.waiter, w);
        EXPECT_EQ(core.stats().acquire_wait_histogram[bucket], 1u) << wait.count() << " ms";
    }
    auto s = core.stats();
    EXPECT_EQ(s.acquire_wait_histogram[0], 1u);
    std::uint64_t sum = 0;
    for (auto n : s.acquire_wait_histogram) sum += n;
    EXPECT_EQ(sum, s.acquire_count);

    // A lend after a long idle is checked; its check fails: the wait is not counted.
    core.released(id, now);
    now += 5s;
    auto w = core.acquire(now, kNever);
    auto lend = only(core, Kind::lend);
    ASSERT_TRUE(lend.check);
    now += 30ms;  // the ping's time is not a wait of the core's: the lend was at `now - 30ms`
    core.check_failed(w, id, now, {PoolCloseReason::health_check_failed, "health check failed: timeout"});
    s = core.stats();
    EXPECT_EQ(s.acquire_count, 5u);
    sum = 0;
    for (auto n : s.acquire_wait_histogram) sum += n;
    EXPECT_EQ(sum, 5u);
}

TEST(PoolCore, DestroyedConnectionsAreCountedByReason) {
    EXPECT_STREQ(to_string(PoolCloseReason::health_check_failed), "health_check_failed");

    PoolCoreOptions o = options(3);
    o.idle_timeout = 10s;
    PoolCore core(o, 1);
    [[maybe_unused]] auto [w0, a] = open_one(core, T0);
    [[maybe_unused]] auto [w1, b] = open_one(core, T0);
    [[maybe_unused]] auto [w2, c] = open_one(core, T0);
    // The kind is what counts, whatever the message says (a front end's wording is free).
    core.released(a, T0, {PoolCloseReason::broken, "server went away"});
    core.released(b, T0);
    core.released(c, T0, {PoolCloseReason::unclean_release, "released inside a transaction"});
    for (auto& x : core.take_actions()) {
        ASSERT_EQ(x.kind, Kind::close);
        core.closed(x.slot, T0);
    }
    core.maintain(T0 + 11s);  // b idle past idle_timeout
    auto idle = only(core, Kind::close);
    EXPECT_EQ(idle.slot, b);
    EXPECT_EQ(idle.close_kind, PoolCloseReason::idle_timeout) << "the close action carries its kind";
    EXPECT_EQ(core.stats().destroyed, 2u) << "counted when closed, not when asked";
    core.closed(b, T0 + 11s);
    auto s = core.stats();
    EXPECT_EQ(s.destroyed, 3u);
    EXPECT_EQ(s.destroyed_for(PoolCloseReason::broken), 1u);
    EXPECT_EQ(s.destroyed_for(PoolCloseReason::unclean_release), 1u);
    EXPECT_EQ(s.destroyed_for(PoolCloseReason::idle_timeout), 1u);
    EXPECT_EQ(s.destroyed_for(PoolCloseReason::pool_closed), 0u);
}

// pending_acquires: queued waiters plus those whose own connect is in progress (waiting
// counts only the queue, as before).
TEST(PoolCore, PendingAcquiresCountWaitersWhoseConnectIsInProgress) {
    PoolCore core(options(1), 1);
    auto w = core.acquire(T0, kNever);
    auto open = only(core, Kind::open);
    core.acquire(T0, kNever);
    EXPECT_TRUE(core.take_actions().empty());
    auto s = core.stats();
    EXPECT_EQ(s.waiting, 1u);
    EXPECT_EQ(s.pending_acquires, 2u);
    core.open_failed(open.ticket, T0 + 1ms, "refused");
    auto fail = only(core, Kind::fail);
    EXPECT_EQ(fail.waiter, w);
    s = core.stats();
    EXPECT_EQ(s.pending_acquires, 1u);
    EXPECT_EQ(s.connect_errors, 1u);
}

}  // namespace
}  // namespace pgtls::pool_detail
