// The blocking front end of the pool behind BasicPool<Conn>: threads, one lock, a condition
// variable per waiter. Every decision is PoolCore's (pool_core.hpp); this file carries out
// its actions: connects, checks, resets and closes run on the caller's thread (or the
// maintenance thread) with the lock released. Works on type-erased connections
// (pool_detail::PooledConnection), so it is compiled once.
#include "pgtls/pool.hpp"

#include <atomic>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "pool/pool_core.hpp"
#include "pool/pool_detail.hpp"
#include "pool/pool_trace.hpp"

namespace pgtls {

namespace {

// The default PoolClock: the process's steady clock.
class SteadyPoolClock final : public PoolClock {
public:
    time_point now() const override { return std::chrono::steady_clock::now(); }
    void wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                    time_point deadline) const override {
        if (deadline == time_point::max())
            cv.wait(lock);
        else
            cv.wait_until(lock, deadline);
    }
};
}  // namespace

std::shared_ptr<const PoolClock> steady_pool_clock() {
    static const auto clock = std::make_shared<const SteadyPoolClock>();
    return clock;
}

}  // namespace pgtls

namespace pgtls::pool_detail {

using time_point = PoolClock::time_point;

class Slot {
public:
    std::unique_ptr<PooledConnection> conn;
    std::uint64_t id = 0;
    std::uint64_t uses = 0;  // set when lent, read by the lease's holder
};

namespace {

// One blocked acquire(). The core's action for it (a connection lent, an open to run, a
// failure) is put in `action` under the pool lock and the waiter notified after unlocking,
// so only that waiter wakes and it never wakes into a held lock. Shared so that a notify
// after unlocking never outlives the waiter's object.
struct Waiter {
    std::condition_variable cv;
    std::optional<PoolCore::Action> action;
};

void validate(const PooledConnector& connector, const PoolCoreOptions& opt) {
    if (!connector) throw Error(ErrorKind::usage, "pool: connector is empty");
    pool_detail::validate(opt);
}

}  // namespace

class BlockingPool : public std::enable_shared_from_this<BlockingPool> {
public:
    BlockingPool(PooledConnector c, PoolCoreOptions o, std::shared_ptr<const PoolClock> k, RetirePredicate r)
        : connector((validate(c, o), std::move(c))), opt(std::move(o)), retire(std::move(r)), clock(std::move(k)),
          core(opt, std::random_device{}()) {}

    const PooledConnector connector;
    const PoolCoreOptions opt;
    const RetirePredicate retire;
    const std::shared_ptr<const PoolClock> clock;

    mutable std::mutex m;
    PoolCore core;
    std::map<PoolCore::SlotId, std::unique_ptr<Slot>> slots;  // every open connection
    std::map<PoolCore::WaiterId, std::shared_ptr<Waiter>> waiting;
    std::deque<PoolCore::Ticket> refills;  // min_size opens for the maintenance thread
    // Mirrors the core's shutdown for release()'s unlocked early check (skip ROLLBACK/reset
    // on a closed pool); the decision is always the core's, under the lock.
    std::atomic<bool> closing{false};
    bool maint_kick = false;  // a maintenance pass is due before its interval
    std::condition_variable maint_cv, drained_cv;
    std::thread maint;

    // What a thread must do once it has released the lock: close these connections (and
    // report each to the core), then notify these waiters.
    struct Work {
        std::deque<std::pair<std::unique_ptr<Slot>, CloseReason>> closes;
        std::vector<std::shared_ptr<Waiter>> notify;
    };

    // The thread holds the pool: close() called from a hook it runs lets it finish on its own.
    void start() { maint = std::thread([self = shared_from_this()] { self->maintain(); }); }

    // Routes the core's actions; caller holds the lock.
    void dispatch(Work& work) {
        for (auto& a : core.take_actions()) {
            switch (a.kind) {
                case PoolCore::Action::Kind::close: {
                    auto it = slots.find(a.slot);
                    work.closes.emplace_back(std::move(it->second), CloseReason{a.close_kind, std::move(a.reason)});
                    slots.erase(it);
                    break;
                }
                case PoolCore::Action::Kind::open:
                    if (a.waiter == 0) {
                        refills.push_back(a.ticket);
                        maint_cv.notify_all();
                        break;
                    }
                    [[fallthrough]];
                case PoolCore::Action::Kind::lend:
                case PoolCore::Action::Kind::fail: {
                    auto it = waiting.find(a.waiter);
                    if (it == waiting.end()) break;  // cannot happen: waiters leave only when done
                    it->second->action = std::move(a);
                    work.notify.push_back(it->second);
                    break;
                }
            }
        }
        if (core.is_shut_down()) {
            auto s = core.stats();
            if (s.in_use == 0 && s.opening == 0) drained_cv.notify_all();
        }
    }

    // Carries out `work`; the lock is not held.
    void finish(Work& work) noexcept {
        for (;;) {
            for (auto& w : work.notify) w->cv.notify_one();
            work.notify.clear();
            if (work.closes.empty()) return;
            auto [slot, reason] = std::move(work.closes.front());
            work.closes.pop_front();
            const std::uint64_t id = slot->id;
            PoolSpan span(opt, "pgtls.pool.destroy");
            {
                auto scope = span.enter();
                slot->conn->close();
            }
            if (span.active()) {
                span.set("pgtls.pool.connection.id", static_cast<std::int64_t>(id));
                span.set("pgtls.pool.connection.uses", static_cast<std::int64_t>(slot->uses));
                span.set("pgtls.pool.destroy.reason", std::string(to_string(reason.kind)));
                span.set("pgtls.pool.destroy.detail", reason.message);
                span.finish();
            }
            slot.reset();
            {
                std::lock_guard lk(m);
                const auto now = clock->now();
                core.closed(id, now);
                dispatch(work);
                if (core.refill_due() <= now) {  // below min_size: refill now, not next tick
                    maint_kick = true;
                    maint_cv.notify_all();
                }
            }
            emit(opt.on_remove, id, reason.message);
        }
    }

    PoolStats snapshot() const {
        std::lock_guard lk(m);
        return core.stats();
    }

    // What a connect made for an acquire() may take: what is left until its deadline, and
    // at most connect_timeout; never 0 ("no limit") when a deadline is set.
    std::chrono::milliseconds connect_budget(time_point deadline) const {
        if (deadline == time_point::max()) return opt.connect_timeout;
        auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock->now());
        left = std::max(left, std::chrono::milliseconds(1));
        return opt.connect_timeout.count() > 0 ? std::min(left, opt.connect_timeout) : left;
    }

    // Runs the connector for `ticket` and reports the outcome to the core; the lock is held
    // on entry and exit, released meanwhile. Rethrows the connect's own exception. `trigger`
    // says who asked ("acquire", "min_size") on the create span.
    void open(PoolCore::Ticket ticket, std::chrono::milliseconds timeout, std::unique_lock<std::mutex>& lk,
              Work& work, const char* trigger) {
        lk.unlock();
        finish(work);
        std::unique_ptr<PooledConnection> conn;
        PoolSpan span(opt, "pgtls.pool.create");
        if (span.active()) span.set("pgtls.pool.create.trigger", std::string(trigger));
        try {
            auto scope = span.enter();
            conn = connector(timeout);
            if (!conn) throw Error(ErrorKind::connection, "pool: connector returned no connection");
        } catch (...) {
            auto error = std::current_exception();
            span.fail(error);
            span.finish();
            if (conn) conn->close();
            std::string message = describe_exception(error);
            lk.lock();
            core.open_failed(ticket, clock->now(), message);
            dispatch(work);
            lk.unlock();
            finish(work);
            emit(opt.on_error, 0, message);
            lk.lock();
            std::rethrow_exception(error);
        }
        auto slot = std::make_unique<Slot>();
        slot->conn = std::move(conn);
        lk.lock();
        const auto id = core.opened(ticket, clock->now());
        slot->id = id;
        slots[id] = std::move(slot);
        dispatch(work);
        lk.unlock();
        span.set("pgtls.pool.connection.id", static_cast<std::int64_t>(id));
        span.finish();
        finish(work);
        emit(opt.on_connect, id, {});
        lk.lock();
    }

    // health_check_timeout, and at most a fifth of what is left until `deadline`
    // (0: neither applies).
    std::chrono::milliseconds ping_limit(time_point deadline) const {
        auto limit = opt.health_check_timeout;
        if (deadline != time_point::max()) {
            auto share = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock->now()) / 5;
            share = std::max(share, std::chrono::milliseconds(1));
            if (limit.count() == 0 || share < limit) limit = share;
        }
        return limit;
    }

    // Why a connection about to be lent must not be, or empty. Runs unlocked: the caller
    // owns the slot.
    CloseReason reject_reason(Slot& s, const PoolCore::Action& lend, time_point deadline) {
        if (!s.conn->is_healthy()) return broken_connection_reason();
        // Data or EOF on an idle connection: the server probably said goodbye. Probed only
        // when the core says it sat idle long enough (see pool_core.cpp).
        bool ping = lend.check || (lend.probe && socket_has_input(s.conn->socket()));
        if (ping) {
            try {
                s.conn->ping(ping_limit(deadline), opt.ping_sql);
            } catch (...) {
                return {PoolCloseReason::health_check_failed,
                        "health check failed: " + describe_exception(std::current_exception())};
            }
            if (!s.conn->is_healthy() || s.conn->transaction_status() != TransactionStatus::idle)
                return {PoolCloseReason::health_check_failed, "health check failed: connection not idle after ping"};
        }
        return {};
    }

    Slot* acquire(std::chrono::milliseconds timeout) {
        const auto start = clock->now();
        const auto deadline = timeout.count() > 0 ? start + timeout : time_point::max();
        const auto me = std::make_shared<Waiter>();
        PoolSpan span(opt, "pgtls.pool.acquire");
        const auto scope = span.enter();
        bool created = false;          // this acquire opened the connection it got
        std::int64_t checks_failed = 0;  // connections it was lent whose check failed
        // The span's closing attributes, on every way out (after the closes it caused).
        const auto end_span = [&](const char* outcome) noexcept {
            span.set("pgtls.pool.acquire.outcome", std::string(outcome));
            span.set("pgtls.pool.connection.created", created);
            if (checks_failed) span.set("pgtls.pool.acquire.checks_failed", checks_failed);
            span.finish();
        };
        Work work;
        std::unique_lock lk(m);
        const auto id = core.acquire(start, deadline);
        waiting[id] = me;
        dispatch(work);
        for (;;) {
            if (!me->action) {
                lk.unlock();
                finish(work);
                lk.lock();
                if (me->action) continue;
                // Its own deadline, or the end of a backoff it may be the one to retry after;
                // other waiters' deadlines are their own threads' business.
                clock->wait_until(me->cv, lk, std::min(deadline, core.retry_at()));
                if (!me->action) {
                    core.tick(clock->now());
                    dispatch(work);
                }
                continue;
            }
            PoolCore::Action a = std::move(*me->action);
            me->action.reset();
            switch (a.kind) {
                case PoolCore::Action::Kind::fail: {
                    waiting.erase(id);
                    const char* outcome = a.timed_out ? "timeout" : core.is_shut_down() ? "closed" : "failed";
                    lk.unlock();
                    finish(work);
                    span.fail(a.reason, "pool");
                    end_span(outcome);
                    throw Error(ErrorKind::pool, a.reason);
                }
                case PoolCore::Action::Kind::open:
                    try {
                        open(a.ticket, connect_budget(deadline), lk, work, "acquire");
                        created = true;
                    } catch (...) {
                        waiting.erase(id);  // the core failed this waiter with the same error
                        lk.unlock();
                        finish(work);
                        span.fail(std::current_exception());
                        end_span("connect_failed");
                        throw;
                    }
                    break;
                case PoolCore::Action::Kind::lend: {
                    Slot* s = slots.at(a.slot).get();
                    s->uses = core.uses(a.slot);
                    lk.unlock();
                    finish(work);
                    CloseReason reason = reject_reason(*s, a, deadline);
                    lk.lock();
                    if (core.is_shut_down()) {
                        core.withdrawn(a.slot, clock->now());  // closed, and not counted as acquired
                        dispatch(work);
                        waiting.erase(id);
                        lk.unlock();
                        finish(work);
                        span.fail("pool is closed", "pool");
                        end_span("closed");
                        throw Error(ErrorKind::pool, "pool is closed");
                    }
                    if (!reason.closes()) {
                        waiting.erase(id);
                        lk.unlock();
                        emit(opt.on_acquire, s->id, {}, a.waited);
                        if (span.active()) {
                            span.set("pgtls.pool.connection.id", static_cast<std::int64_t>(s->id));
                            span.set("pgtls.pool.connection.uses", static_cast<std::int64_t>(s->uses));
                            span.set("db.client.connection.wait_time",
                                     std::chrono::duration<double>(a.waited).count());
                            end_span("acquired");
                        }
                        return s;
                    }
                    ++checks_failed;
                    core.check_failed(id, a.slot, clock->now(), std::move(reason));
                    dispatch(work);
                    break;
                }
                case PoolCore::Action::Kind::close:
                    break;  // never addressed to a waiter
            }
        }
    }

    // Why a returned connection must be closed rather than kept, or empty; resets it.
    // `reset`: a ROLLBACK or reset_sql was sent.
    CloseReason release_reason(Slot& s, bool& reset) {
        s.conn->restore_local();
        if (!s.conn->is_healthy()) return broken_connection_reason();
        if (retire && retire(*s.conn)) return tls_retired_reason();
        switch (s.conn->transaction_status()) {
            case TransactionStatus::idle:
                break;
            case TransactionStatus::in_transaction:
            case TransactionStatus::failed:
                if (!opt.rollback_on_release) return {PoolCloseReason::unclean_release, "released inside a transaction"};
                reset = true;
                try {
                    s.conn->query("ROLLBACK");
                } catch (...) {
                    return {PoolCloseReason::unclean_release, "rollback on release failed: " + describe_exception(std::current_exception())};
                }
                if (s.conn->transaction_status() != TransactionStatus::idle)
                    return {PoolCloseReason::unclean_release, "still in a transaction after ROLLBACK"};
                break;
            case TransactionStatus::unknown:
                return {PoolCloseReason::unclean_release, "released mid-query, mid-COPY or not connected"};
        }
        {
            std::lock_guard lk(m);
            if (auto why = core.expired(s.id, clock->now()); why.closes()) return why;
        }
        if (!opt.reset_sql.empty()) {
            reset = true;
            try {
                s.conn->query(opt.reset_sql);
            } catch (...) {
                return {PoolCloseReason::unclean_release, "reset failed: " + describe_exception(std::current_exception())};
            }
            if (!s.conn->is_healthy() || s.conn->transaction_status() != TransactionStatus::idle)
                return {PoolCloseReason::unclean_release, "reset left the connection busy"};
        }
        try {
            s.conn->restore_session();
        } catch (...) {
            return {PoolCloseReason::unclean_release, "lease reset failed: " + describe_exception(std::current_exception())};
        }
        if (!s.conn->is_healthy() || s.conn->transaction_status() != TransactionStatus::idle)
            return {PoolCloseReason::unclean_release, "lease reset left the connection busy"};
        return {};
    }

    void release(Slot* slot) noexcept {
        PoolSpan span(opt, "pgtls.pool.release");
        const auto scope = span.enter();
        CloseReason reason;
        bool reset = false;
        if (closing.load(std::memory_order_relaxed)) reason = pool_closed_reason();
        if (!reason.closes()) {
            try {
                reason = release_reason(*slot, reset);
            } catch (...) {
                reason = {PoolCloseReason::unclean_release, "release failed"};
            }
        }
        const std::uint64_t id = slot->id;
        const std::uint64_t uses = slot->uses;
        Work work;
        bool kept;
        {
            std::lock_guard lk(m);
            kept = !reason.closes() && !core.is_shut_down();
            core.released(id, clock->now(), reason);
            dispatch(work);
        }
        finish(work);  // the slot may be gone from here on
        if (kept) emit(opt.on_release, id, {});
        if (span.active()) {
            span.set("pgtls.pool.connection.id", static_cast<std::int64_t>(id));
            span.set("pgtls.pool.connection.uses", static_cast<std::int64_t>(uses));
            span.set("pgtls.pool.release.outcome", std::string(kept ? (reset ? "reset" : "kept") : "discarded"));
            if (!kept) {
                const CloseReason why = reason.closes() ? reason : pool_closed_reason();
                span.set("pgtls.pool.destroy.reason", std::string(to_string(why.kind)));
                span.set("pgtls.pool.release.reason", why.message);
            }
            span.finish();
        }
    }

    // Background: the core's maintenance pass every maintenance_interval, and the opens it
    // asks for min_size (at once after a removal, or when a connect backoff ends).
    void maintain() {
        Work work;
        std::unique_lock lk(m);
        while (!core.is_shut_down()) {
            maint_kick = false;
            core.maintain(clock->now());
            dispatch(work);
            while (!refills.empty() && !core.is_shut_down()) {
                const auto ticket = refills.front();
                refills.pop_front();
                try {
                    open(ticket, opt.connect_timeout, lk, work, "min_size");
                } catch (...) {
                }
            }
            lk.unlock();
            finish(work);
            lk.lock();
            auto next = std::min(clock->now() + opt.maintenance_interval, core.refill_due());
            while (!core.is_shut_down() && !maint_kick && refills.empty() && clock->now() < next)
                clock->wait_until(maint_cv, lk, next);
        }
    }

    void close(std::chrono::milliseconds wait_for_leases) {
        // Measured from the call, before joining the maintenance thread (which may take a
        // while on a busy machine), so the wait is bounded by what the caller asked for.
        const auto deadline = clock->now() + wait_for_leases;
        Work work;
        std::thread t;
        {
            std::lock_guard lk(m);
            closing = true;
            core.shutdown(clock->now());
            dispatch(work);
            maint_cv.notify_all();
            t = std::move(maint);
        }
        finish(work);
        if (t.joinable()) {
            if (t.get_id() == std::this_thread::get_id())
                t.detach();  // a hook on the maintenance thread closes: it ends when the hook returns
            else
                t.join();
        }
        std::unique_lock lk(m);
        for (auto ticket : refills) core.dropped(ticket);  // never run after shutdown
        refills.clear();
        dispatch(work);
        while (true) {
            auto s = core.stats();
            if ((s.in_use == 0 && s.opening == 0) || clock->now() >= deadline) break;
            clock->wait_until(drained_cv, lk, deadline);
        }
    }
};

std::shared_ptr<BlockingPool> start_blocking_pool(PooledConnector connector, PoolCoreOptions options,
                                                  std::shared_ptr<const PoolClock> clock, RetirePredicate retire) {
    auto pool = std::make_shared<BlockingPool>(std::move(connector), std::move(options), std::move(clock),
                                               std::move(retire));
    pool->start();
    return pool;
}

void close_blocking_pool(BlockingPool& pool, std::chrono::milliseconds wait_for_leases) {
    pool.close(wait_for_leases);
}

bool blocking_pool_closed(const BlockingPool& pool) {
    std::lock_guard lk(pool.m);
    return pool.core.is_shut_down();
}

PoolStats blocking_pool_stats(const BlockingPool& pool) { return pool.snapshot(); }

LeasedSlot acquire_blocking(const std::shared_ptr<BlockingPool>& pool, std::chrono::milliseconds timeout) {
    // `pool` is the BasicPool's own pointer: a destructor run on another thread while this one
    // waits fails the wait ("pool is closed") and drops it, so the wait holds its own.
    std::shared_ptr<BlockingPool> keep = pool;
    Slot* slot = keep->acquire(timeout);
    return LeasedSlot(std::move(keep), slot);
}

void LeasedSlot::release() noexcept {
    if (slot_) pool_->release(std::exchange(slot_, nullptr));
    pool_.reset();
}

PooledConnection& LeasedSlot::connection() const noexcept { return *slot_->conn; }
std::uint64_t LeasedSlot::id() const noexcept { return slot_ ? slot_->id : 0; }
std::uint64_t LeasedSlot::uses() const noexcept { return slot_ ? slot_->uses : 0; }

}  // namespace pgtls::pool_detail
