// The state of an AsyncPool (pgtls/async_pool.hpp), shared by the files that carry out its
// work: async_pool.cpp (the entry points, the loop, the core's actions and the completions),
// async_pool_slots.cpp (a slot's phases: open, lend with its check, close) and
// async_pool_release.cpp (the release sequence: ROLLBACK, age and uses, reset_sql, verdict).
// Every decision is PoolCore's (pool_core.hpp). Internal (not installed).
//
// Reentrancy: acquire(), cancel(), close() and a lease's release() only feed the core and
// queue work (a connect, a ping, a close are queued operations, which never call back from
// the call that queues them); a slot is destroyed, and a user callback called, only from
// advance() (or the destructor). The callbacks the pool gives its connections only record
// the outcome in the slot; advance() reads it after the connection's advance() returned.
//
// Tracing: the same spans as the blocking pool (pool_trace.hpp). A span lives in what it is
// about (an acquire's in its Pending, a create's, release's or destroy's in its slot) and ends
// when that operation ends, possibly several advance() calls later. A connection's own spans
// are reported from its advance(), which runs with the slot's span (or, for a health check,
// the acquire's) as the thread's parent, so they nest as in the blocking pool; a create span
// started for an acquire, and a destroy span started by a failed check or a release, name
// that operation's span as parent. What differs: a release span ends when the pool decided
// (before the close it caused), and connections dropped by ~AsyncPool report no destroy span.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <vector>

#include "pgtls/async_pool.hpp"
#include "pool/pool_core.hpp"
#include "pool/pool_detail.hpp"
#include "pool/pool_trace.hpp"
#include "pool/tls_reload.hpp"

namespace pgtls::pool_detail {

using AsyncClock = AsyncConnection::Clock;
using async_time_point = AsyncClock::time_point;
inline constexpr auto kNever = async_time_point::max();

// One pooled connection, from its open to its close. `phase` says who may use it: the pool
// (opening, setting_up, checking, releasing, closing), nobody (idle) or a borrower (lent).
struct AsyncSlot {
    enum class Phase { opening, setting_up, idle, checking, lent, releasing, closing };
    Phase phase = Phase::opening;
    PoolCore::Ticket ticket = 0;    // opening, setting_up: the core's open
    PoolCore::SlotId id = 0;        // the core's id, from opened() on
    PoolCore::WaiterId waiter = 0;  // opening: opened for; checking: lent to (0: cancelled)
    async_time_point waiter_deadline = kNever;
    std::chrono::nanoseconds waited{0};  // checking: how long its acquire waited
    std::uint64_t uses = 0;
    // The pool's own operation on the connection (connect, ping, ROLLBACK, reset, close):
    // running until `step_done`, bounded by `step_deadline`, after which the connection is
    // dropped and `timed_out` set.
    bool step_running = false, step_done = false, timed_out = false;
    std::exception_ptr step_error;
    async_time_point step_deadline = kNever;
    enum class Release { rollback, reset, cache } release_stage = Release::rollback;
    // The statement cache capacity after_connect left, put back on release (with an
    // AsyncConnection it is an operation, which LeaseDefaults does not run).
    std::size_t cache_capacity = 0;
    CloseReason close_reason;
    bool reset_sent = false;  // releasing: a ROLLBACK or reset_sql was sent
    // The pool span of the slot's current operation (create, release, destroy), or null.
    std::unique_ptr<PoolSpan> span;
    // The span a close decided now would start its destroy span under: the acquire whose
    // check failed, or the release that discarded the connection; 0: the caller's parent.
    std::uint64_t close_parent = 0;
    LeaseDefaults<AsyncConnection> defaults;
    // Declared last: destroyed first, while the fields its callbacks write still exist.
    std::unique_ptr<AsyncConnection> conn;

    // Queues `start(conn, done)` as the pool's step; `done` records the outcome.
    template <class Start>
    void run_step(async_time_point deadline, Start start) {
        step_running = true;
        step_done = timed_out = false;
        step_error = nullptr;
        step_deadline = deadline;
        start(*conn, [this](std::exception_ptr e, auto&&...) {
            step_done = true;
            step_error = e;
        });
    }
    // Marks the step finished; the slot is then handled by AsyncPoolState::settle().
    std::exception_ptr take_step() {
        step_running = step_done = false;
        step_deadline = kNever;
        return std::exchange(step_error, nullptr);
    }
    bool usable() const { return conn && conn->is_healthy() && conn->transaction_status() == TransactionStatus::idle; }
};

struct AsyncPoolState {
    using Clock = AsyncClock;
    using time_point = async_time_point;

    AsyncPoolState(Settings s, AsyncPoolOptions o)
        : options(with_trace_defaults(s, std::move(o))),
          opt((validate(core_options(options)), core_options(options))),
          core(opt, std::random_device{}()),
          tls(std::make_shared<const Settings>(std::move(s)), options.tls_check_interval,
              options.retire_on_tls_reload,
              [this](const PoolEvent& e) { notify(options.on_tls_reload, e.connection_id, e.reason); }),
          next_maintenance(Clock::now()) {}

    const AsyncPoolOptions options;
    const PoolCoreOptions opt;
    PoolCore core;
    // The connections' settings and shared TLS context, and certificate rotation (its
    // reports go to on_tls_reload through notify()).
    PoolTls tls;

    // The blocking pgtls::Pool's defaults: the Config's tracer and "user@host:port/dbname".
    static AsyncPoolOptions with_trace_defaults(const Settings& s, AsyncPoolOptions o) {
        if (!o.tracer) o.tracer = s.tracer;
        if (o.name.empty()) o.name = default_pool_name(s);
        return o;
    }

    struct Pending {
        AsyncPool::AcquireCallback done;
        time_point deadline = kNever;
        std::unique_ptr<PoolSpan> span;  // pgtls.pool.acquire
        bool created = false;            // its connection was opened for it
        std::int64_t checks_failed = 0;  // connections lent to it whose check failed
    };
    struct Completion {
        AsyncPool::AcquireCallback done;
        std::exception_ptr error;  // null: lend `slot`
        PoolCore::SlotId slot = 0;
    };
    std::map<PoolCore::WaiterId, Pending> pending;                      // acquires not completed
    std::map<PoolCore::WaiterId, std::exception_ptr> connect_errors;    // for the core's fail actions
    std::map<PoolCore::Ticket, std::unique_ptr<AsyncSlot>> opening;     // opening, setting_up
    std::map<PoolCore::SlotId, std::unique_ptr<AsyncSlot>> slots;       // every other phase
    std::deque<Completion> completions;                                 // for advance() to call
    // Hook calls waiting for advance(), in order: the hooks run from there only (an entry
    // point that hands a connection over or takes a lease back must not call one).
    struct HookCall {
        const std::function<void(const PoolEvent&)>* hook;  // a member of `opt` or `options`
        PoolEvent event;
    };
    std::deque<HookCall> hook_calls;
    std::deque<PoolCore::SlotId> returned;                              // released leases
    time_point next_maintenance;  // the first pass (filling min_size) is due at once
    bool destroyed = false;

    // ---- async_pool.cpp: entry points (never call back, never destroy a slot)
    PoolCore::WaiterId acquire(std::chrono::milliseconds timeout, AsyncPool::AcquireCallback done);
    void cancel(PoolCore::WaiterId id);
    void close();
    void release(PoolCore::SlotId id) noexcept;
    AsyncSlot* lent(PoolCore::SlotId id) const noexcept;

    // ---- async_pool.cpp: the loop
    std::vector<AsyncWatch> watches() const;
    std::optional<time_point> deadline() const;
    // Returns false when a callback destroyed the pool.
    bool advance(time_point now);
    // Fails every acquire, then drops every connection (their operations in flight complete
    // with an error, from the connections' destructors). Called by ~AsyncPool.
    void destroy();

    std::shared_ptr<AsyncPoolState> self() { return weak_self.lock(); }
    std::weak_ptr<AsyncPoolState> weak_self;

private:
    // ---- async_pool.cpp: carrying out the core's actions, completing acquires
    // Carries out the core's actions, and those they lead to, until none is left.
    void dispatch(time_point now);
    void carry_out(PoolCore::Action& a, time_point now);
    // Ends acquire `id` with `error` (its span's outcome) or with `lent`, which waited `waited`.
    void complete(PoolCore::WaiterId id, std::exception_ptr error, const char* outcome, const AsyncSlot* lent = nullptr,
                  std::chrono::nanoseconds waited = {});
    // The acquire span of waiter `id`, for a parent scope; 0 when none.
    std::uint64_t acquire_span(PoolCore::WaiterId id) const;
    void count_failed_check(PoolCore::WaiterId id);
    // Queues `hook` (if set) with the event for advance().
    void notify(const std::function<void(const PoolEvent&)>& hook, std::uint64_t id, std::string reason,
                std::chrono::nanoseconds wait = {});
    // Calls the hooks queued by notify(); false when one destroyed the pool.
    bool call_hooks();
    // Calls the completions due; false when one destroyed the pool.
    bool deliver();

    // ---- async_pool_slots.cpp: the slots' phases
    // What a connect made for an acquire may take: what is left until its deadline, and at
    // most connect_timeout; kNever when neither bounds it.
    time_point connect_deadline(time_point waiter_deadline, time_point now) const;
    void start_open(PoolCore::Ticket ticket, PoolCore::WaiterId waiter, time_point now);
    // health_check_timeout, and at most a fifth of what is left until `deadline`.
    time_point ping_deadline(time_point deadline, time_point now) const;
    void start_lend(const PoolCore::Action& a, time_point now);
    void hand_out(AsyncSlot& s, PoolCore::WaiterId waiter, std::chrono::nanoseconds waited);
    void start_close(PoolCore::SlotId id, CloseReason reason, time_point now);
    bool advance_connections(time_point now);
    // Drop the connection of any step past its deadline, then settle every slot whose step
    // ended (or that waits for nothing).
    void settle_all(time_point now);
    void expire_step(AsyncSlot& s, time_point now);
    void settle_opening(PoolCore::Ticket ticket, AsyncSlot& s, time_point now);
    void open_failed(PoolCore::Ticket ticket, AsyncSlot& s, std::exception_ptr e, time_point now);
    void settle(AsyncSlot& s, time_point now);

    // ---- async_pool_release.cpp: the release sequence
    // Starts the release of the leases given back. From acquire(), one whose connection is
    // still busy (given back from inside one of its operations' callbacks) waits for advance(),
    // which judges it after the connection's own advance() returned.
    void take_returns(time_point now, bool from_advance);
    void start_release(PoolCore::SlotId id, time_point now);
    time_point release_deadline(time_point now) const;
    // After the ROLLBACK (if any): the age and uses, then reset_sql.
    void continue_release(AsyncSlot& s, time_point now);
    // After reset_sql (if any): the statement cache capacity as after_connect left it.
    void restore_cache(AsyncSlot& s, time_point now);
    void finish_release(AsyncSlot& s, CloseReason reason, time_point now);
    // A releasing slot: the outcome of its ROLLBACK or reset_sql, once it ended.
    void settle_release(AsyncSlot& s, time_point now);
};

}  // namespace pgtls::pool_detail
