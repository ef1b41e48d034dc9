// The blocking pool behind BasicPool<Conn>: threads, one lock, condition variables. Works on
// type-erased connections (pool_detail::PooledConnection), so it is compiled once.
#include "pgtls/pool.hpp"

#include <algorithm>
#include <atomic>
#include <deque>
#include <random>
#include <thread>

#include "pool/pool_detail.hpp"

namespace pgtls::pool_detail {

using time_point = PoolClock::time_point;

class Slot {
public:
    std::unique_ptr<PooledConnection> conn;
    std::uint64_t id = 0;
    time_point created{}, expires{}, last_used{};
    std::uint64_t uses = 0;
};

namespace {

// One blocked acquire(). A release hands its connection straight to the oldest waiter
// (`handed`, set under the pool lock) and notifies it after unlocking, so the waiter
// neither competes for the connection nor wakes into a held lock, and nobody else is
// woken. Shared so that a notify after unlocking never outlives the waiter's object.
struct Waiter {
    std::condition_variable cv;
    std::unique_ptr<Slot> handed;
    bool queued = false;
};

void emit(const std::function<void(const PoolEvent&)>& hook, std::uint64_t id, std::string reason,
          std::chrono::nanoseconds wait = {}) noexcept {
    if (!hook) return;
    try {
        hook(PoolEvent{id, std::move(reason), wait});
    } catch (...) {
    }
}

}  // namespace

class BlockingPool {
public:
    BlockingPool(PooledConnector c, PoolCoreOptions o, std::shared_ptr<const PoolClock> k, RetirePredicate r)
        : connector(std::move(c)), opt(std::move(o)), retire(std::move(r)), clock(std::move(k)),
          rng(std::random_device{}()) {
        if (!connector) throw Error(ErrorKind::usage, "pool: connector is empty");
        if (opt.max_size == 0) throw Error(ErrorKind::usage, "pool: max_size must be at least 1");
        if (opt.min_size > opt.max_size)
            throw Error(ErrorKind::usage, "pool: min_size (" + std::to_string(opt.min_size) +
                                              ") exceeds max_size (" + std::to_string(opt.max_size) + ")");
        if (opt.maintenance_interval.count() <= 0)
            throw Error(ErrorKind::usage, "pool: maintenance_interval must be positive");
        if (opt.connect_backoff_initial.count() < 0 || opt.connect_backoff_max < opt.connect_backoff_initial)
            throw Error(ErrorKind::usage, "pool: connect_backoff_initial must be >= 0 and <= connect_backoff_max");
        if (opt.max_lifetime_jitter.count() < 0 || opt.acquire_timeout.count() < 0 || opt.idle_timeout.count() < 0 ||
            opt.max_lifetime.count() < 0 || opt.connect_timeout.count() < 0 || opt.health_check_timeout.count() < 0)
            throw Error(ErrorKind::usage, "pool: durations must not be negative");
    }

    // An idle connection's socket is probed for data/EOF only after this long idle.
    static constexpr std::chrono::milliseconds kProbeIdleAfter{1};

    const PooledConnector connector;
    const PoolCoreOptions opt;
    const RetirePredicate retire;
    const std::shared_ptr<const PoolClock> clock;

    mutable std::mutex m;
    std::deque<std::unique_ptr<Slot>> idle;       // back = most recently released
    std::deque<std::shared_ptr<Waiter>> waiters;  // FIFO; only the front may take a connection
    std::size_t total = 0, opening = 0, in_use = 0;
    bool closed = false;
    // Mirrors `closed` for release()'s unlocked early check (skip ROLLBACK/reset on a
    // closed pool); the decision is always re-checked under the lock.
    std::atomic<bool> closing{false};
    bool maint_kick = false;  // a connection was removed: refill min_size now, not next tick
    std::condition_variable maint_cv, drained_cv;
    std::thread maint;
    std::uint64_t next_id = 1;
    PoolStats counters;
    time_point backoff_until{};
    std::chrono::milliseconds backoff{0};
    std::string last_connect_error;
    std::minstd_rand rng;

    void start() { maint = std::thread([this] { maintain(); }); }

    void notify_head() {
        if (!waiters.empty()) waiters.front()->cv.notify_one();
    }
    // After the head left the queue: wake the new head only when it can make progress
    // (an idle connection or room to open one), not on every hand-over.
    void notify_head_if_useful() {
        if (waiters.empty()) return;
        if (!idle.empty() || (total < opt.max_size && clock->now() >= backoff_until)) notify_head();
    }
    void remove_waiter(const std::shared_ptr<Waiter>& w) {
        if (!w->queued) return;
        w->queued = false;
        auto it = std::find(waiters.begin(), waiters.end(), w);
        if (it == waiters.end()) return;
        bool was_head = it == waiters.begin();
        waiters.erase(it);
        if (was_head) notify_head();
    }
    // A ready connection (released clean, or opened by the maintenance thread): to the
    // oldest waiter if there is one, else to the idle list. Caller holds the lock; the
    // slot counts in in_use for a waiter, in idle otherwise. Returns the waiter, which
    // the caller notifies once it has released the lock (empty: none).
    [[nodiscard]] std::shared_ptr<Waiter> hand_over(std::unique_ptr<Slot> slot, bool was_in_use) {
        if (!waiters.empty()) {
            std::shared_ptr<Waiter> w = std::move(waiters.front());
            waiters.pop_front();
            w->queued = false;
            w->handed = std::move(slot);
            if (!was_in_use) ++in_use;
            return w;
        }
        idle.push_back(std::move(slot));
        if (was_in_use) --in_use;
        return nullptr;
    }
    // Bookkeeping of a successful acquisition; caller holds the lock.
    std::chrono::nanoseconds count_acquire(Slot& slot, time_point start, time_point now) {
        auto waited = now - start;
        ++slot.uses;
        ++counters.acquire_count;
        counters.acquire_wait_total += waited;
        counters.acquire_wait_max = std::max<std::chrono::nanoseconds>(counters.acquire_wait_max, waited);
        return waited;
    }
    void maybe_drained() {
        if (closed && in_use == 0 && opening == 0) drained_cv.notify_all();
    }

    PoolStats snapshot() const {
        std::lock_guard lk(m);
        PoolStats s = counters;
        s.total = total;
        s.idle = idle.size();
        s.in_use = in_use;
        s.opening = opening;
        s.waiting = waiters.size();
        return s;
    }

    // What a connect made for an acquire() may take: what is left until its deadline, and
    // at most connect_timeout; never 0 ("no limit") when a deadline is set.
    std::chrono::milliseconds connect_budget(time_point deadline) const {
        if (deadline == time_point::max()) return opt.connect_timeout;
        auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock->now());
        left = std::max(left, std::chrono::milliseconds(1));
        return opt.connect_timeout.count() > 0 ? std::min(left, opt.connect_timeout) : left;
    }

    // Opens one connection within `timeout` (0: the connection's own default); the caller
    // has already counted it in total and opening. On failure undoes that, arms the
    // backoff, wakes the head waiter and rethrows.
    std::unique_ptr<Slot> open(std::chrono::milliseconds timeout) {
        std::unique_ptr<PooledConnection> conn;
        try {
            conn = connector(timeout);
            if (!conn) throw Error(ErrorKind::connection, "pool: connector returned no connection");
        } catch (...) {
            auto error = std::current_exception();
            if (conn) conn->close();
            std::string message = describe_exception(error);
            {
                std::lock_guard lk(m);
                --opening;
                --total;
                ++counters.connect_errors;
                backoff = backoff.count() == 0 ? opt.connect_backoff_initial
                                               : std::min(backoff * 2, opt.connect_backoff_max);
                backoff_until = clock->now() + backoff;
                last_connect_error = message;
                notify_head();
                maybe_drained();
            }
            emit(opt.on_error, 0, message);
            std::rethrow_exception(error);
        }
        auto slot = std::make_unique<Slot>();
        slot->conn = std::move(conn);
        {
            std::lock_guard lk(m);
            slot->id = next_id++;
            slot->created = slot->last_used = clock->now();
            if (opt.max_lifetime.count() > 0) {
                auto extra = std::chrono::milliseconds(0);
                if (opt.max_lifetime_jitter.count() > 0)
                    extra = std::chrono::milliseconds(
                        std::uniform_int_distribution<std::int64_t>(0, opt.max_lifetime_jitter.count())(rng));
                slot->expires = slot->created + opt.max_lifetime + extra;
            } else {
                slot->expires = time_point::max();
            }
            ++counters.created;
            backoff = std::chrono::milliseconds(0);
            backoff_until = time_point{};
            last_connect_error.clear();
        }
        emit(opt.on_connect, slot->id, {});
        return slot;
    }

    // Closes a connection that is counted in total (and in in_use when `was_in_use`).
    void destroy(std::unique_ptr<Slot> slot, bool was_in_use, const std::string& reason) noexcept {
        std::uint64_t id = slot->id;
        slot->conn->close();
        slot.reset();
        {
            std::lock_guard lk(m);
            --total;
            if (was_in_use) --in_use;
            ++counters.destroyed;
            notify_head();
            if (total < opt.min_size) {
                maint_kick = true;
                maint_cv.notify_all();
            }
            maybe_drained();
        }
        emit(opt.on_remove, id, reason);
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

    // Why an idle connection about to be lent must not be, or empty. Runs unlocked:
    // the caller owns the slot.
    std::string reject_reason(Slot& s, time_point deadline) {
        auto now = clock->now();
        if (now >= s.expires) return "max lifetime reached";
        if (!s.conn->is_healthy()) return "connection broken";
        bool ping = opt.health_check_after.count() >= 0 && now - s.last_used >= opt.health_check_after;
        // Data or EOF on an idle connection: the server probably said goodbye. Not probed
        // when released under kProbeIdleAfter ago (handed straight from one lease to the
        // next): the previous holder just saw ReadyForQuery, and the poll() would cost a
        // system call per acquisition.
        if (!ping && now - s.last_used >= kProbeIdleAfter && socket_has_input(s.conn->socket())) ping = true;
        if (ping) {
            try {
                s.conn->ping(ping_limit(deadline), opt.ping_sql);
            } catch (...) {
                return "health check failed: " + describe_exception(std::current_exception());
            }
            if (!s.conn->is_healthy() || s.conn->transaction_status() != TransactionStatus::idle)
                return "health check failed: connection not idle after ping";
        }
        return {};
    }

    std::unique_ptr<Slot> acquire(std::chrono::milliseconds timeout) {
        const auto start = clock->now();
        const auto deadline = timeout.count() > 0 ? start + timeout : time_point::max();
        const auto me = std::make_shared<Waiter>();
        std::unique_lock lk(m);
        waiters.push_back(me);
        me->queued = true;
        for (;;) {
            std::unique_ptr<Slot> slot;
            auto now = clock->now();
            if (me->handed) {
                // A release gave us its connection; it already left the queue and counts
                // in in_use.
                slot = std::move(me->handed);
                if (closed) {
                    lk.unlock();
                    destroy(std::move(slot), true, "pool closed");
                    throw Error(ErrorKind::pool, "pool is closed");
                }
            } else if (closed) {
                remove_waiter(me);
                throw Error(ErrorKind::pool, "pool is closed");
            }
            auto wait_deadline = deadline;
            if (!slot && waiters.front() == me) {
                if (!idle.empty()) {
                    slot = std::move(idle.back());
                    idle.pop_back();
                    ++in_use;
                    waiters.pop_front();
                    me->queued = false;
                    notify_head_if_useful();
                } else if (total < opt.max_size) {
                    if (now >= backoff_until) {
                        ++total;
                        ++opening;
                        waiters.pop_front();
                        me->queued = false;
                        notify_head_if_useful();
                        lk.unlock();
                        slot = open(connect_budget(deadline));  // throws the connect error to this caller
                        lk.lock();
                        --opening;
                        ++in_use;
                        if (closed) {
                            lk.unlock();
                            destroy(std::move(slot), true, "pool closed");
                            throw Error(ErrorKind::pool, "pool is closed");
                        }
                        auto waited = count_acquire(*slot, start, clock->now());
                        lk.unlock();
                        emit(opt.on_acquire, slot->id, {}, waited);
                        return slot;
                    }
                    wait_deadline = std::min(deadline, backoff_until);
                }
            }
            if (slot) {
                // Counted now, while the lock is held, and checked unlocked (the slot counts
                // in in_use meanwhile); a rejected slot's count is taken back.
                auto waited = count_acquire(*slot, start, now);
                lk.unlock();
                std::string reason = reject_reason(*slot, deadline);
                if (reason.empty()) {
                    emit(opt.on_acquire, slot->id, {}, waited);
                    return slot;
                }
                lk.lock();
                --slot->uses;
                --counters.acquire_count;
                counters.acquire_wait_total -= waited;
                waiters.push_front(me);  // keep our place at the head
                me->queued = true;
                lk.unlock();
                destroy(std::move(slot), true, reason);  // wakes us (the head) to reconnect
                lk.lock();
                continue;
            }
            if (now >= deadline) {
                remove_waiter(me);
                ++counters.acquire_timeouts;
                std::string msg = "pool exhausted: " + std::to_string(in_use) + " of " +
                                  std::to_string(opt.max_size) + " connections in use";
                if (opening) msg += " (" + std::to_string(opening) + " opening)";
                msg += ", waited " + std::to_string(to_ms(now - start)) + " ms";
                if (!last_connect_error.empty()) msg += "; last connect error: " + last_connect_error;
                throw Error(ErrorKind::pool, msg);
            }
            clock->wait_until(me->cv, lk, wait_deadline);
        }
    }

    // Why a returned connection must be closed rather than kept, or empty; resets it.
    std::string release_reason(Slot& s) {
        s.conn->restore_local();
        if (!s.conn->is_healthy()) return "connection broken";
        if (retire && retire(*s.conn)) return "retired: TLS material reloaded";
        switch (s.conn->transaction_status()) {
            case TransactionStatus::idle:
                break;
            case TransactionStatus::in_transaction:
            case TransactionStatus::failed:
                if (!opt.rollback_on_release) return "released inside a transaction";
                try {
                    s.conn->query("ROLLBACK");
                } catch (...) {
                    return "rollback on release failed: " + describe_exception(std::current_exception());
                }
                if (s.conn->transaction_status() != TransactionStatus::idle)
                    return "still in a transaction after ROLLBACK";
                break;
            case TransactionStatus::unknown:
                return "released mid-query, mid-COPY or not connected";
        }
        if (opt.max_uses > 0 && s.uses >= opt.max_uses) return "max uses reached";
        if (clock->now() >= s.expires) return "max lifetime reached";
        if (!opt.reset_sql.empty()) {
            try {
                s.conn->query(opt.reset_sql);
            } catch (...) {
                return "reset failed: " + describe_exception(std::current_exception());
            }
            if (!s.conn->is_healthy() || s.conn->transaction_status() != TransactionStatus::idle)
                return "reset left the connection busy";
        }
        try {
            s.conn->restore_session();
        } catch (...) {
            return "lease reset failed: " + describe_exception(std::current_exception());
        }
        if (!s.conn->is_healthy() || s.conn->transaction_status() != TransactionStatus::idle)
            return "lease reset left the connection busy";
        return {};
    }

    void release(std::unique_ptr<Slot> slot) noexcept {
        std::string reason;
        if (closing.load(std::memory_order_relaxed)) reason = "pool closed";
        if (reason.empty()) {
            try {
                reason = release_reason(*slot);
            } catch (...) {
                reason = "release failed";
            }
        }
        if (!reason.empty()) {
            destroy(std::move(slot), true, reason);
            return;
        }
        std::uint64_t id = slot->id;
        std::shared_ptr<Waiter> next;
        {
            std::unique_lock lk(m);
            if (closed) {
                lk.unlock();
                destroy(std::move(slot), true, "pool closed");
                return;
            }
            slot->last_used = clock->now();
            next = hand_over(std::move(slot), true);
        }
        if (next) next->cv.notify_one();
        emit(opt.on_release, id, {});
    }

    // Background: close expired or surplus idle connections and keep min_size open.
    void maintain() {
        std::unique_lock lk(m);
        while (!closed) {
            maint_kick = false;
            auto now = clock->now();
            std::deque<std::pair<std::unique_ptr<Slot>, std::string>> victims;
            std::size_t remaining = total;
            for (auto it = idle.begin(); it != idle.end();) {  // oldest released first
                Slot& s = **it;
                std::string why;
                if (now >= s.expires)
                    why = "max lifetime reached";
                else if (opt.idle_timeout.count() > 0 && now - s.last_used >= opt.idle_timeout &&
                         remaining > opt.min_size)
                    why = "idle timeout";
                if (why.empty()) {
                    ++it;
                    continue;
                }
                --remaining;
                victims.emplace_back(std::move(*it), std::move(why));
                it = idle.erase(it);
                ++in_use;  // destroy() counts them down as lent connections
            }
            if (!victims.empty()) {
                lk.unlock();
                for (auto& [slot, why] : victims) destroy(std::move(slot), true, why);
                lk.lock();
                continue;
            }
            while (!closed && total < opt.min_size && clock->now() >= backoff_until) {
                ++total;
                ++opening;
                lk.unlock();
                std::unique_ptr<Slot> slot;
                try {
                    slot = open(opt.connect_timeout);
                } catch (...) {
                }
                lk.lock();
                if (!slot) break;
                --opening;
                if (closed) {
                    ++in_use;
                    lk.unlock();
                    destroy(std::move(slot), true, "pool closed");
                    lk.lock();
                    break;
                }
                slot->last_used = clock->now();
                if (auto w = hand_over(std::move(slot), false)) w->cv.notify_one();
            }
            auto next = clock->now() + opt.maintenance_interval;
            if (total < opt.min_size && backoff_until > clock->now()) next = std::min(next, backoff_until);
            while (!closed && !maint_kick && clock->now() < next) clock->wait_until(maint_cv, lk, next);
        }
    }

    void close(std::chrono::milliseconds wait_for_leases) {
        // Measured from the call, before joining the maintenance thread (which may take a
        // while on a busy machine), so the wait is bounded by what the caller asked for.
        const auto deadline = clock->now() + wait_for_leases;
        std::deque<std::unique_ptr<Slot>> victims;
        std::thread t;
        {
            std::lock_guard lk(m);
            closed = true;
            closing = true;
            for (auto& w : waiters) w->cv.notify_one();
            maint_cv.notify_all();
            victims.swap(idle);
            in_use += victims.size();
            t = std::move(maint);
        }
        for (auto& slot : victims) destroy(std::move(slot), true, "pool closed");
        if (t.joinable() && t.get_id() != std::this_thread::get_id()) t.join();
        std::unique_lock lk(m);
        while ((in_use > 0 || opening > 0) && clock->now() < deadline) clock->wait_until(drained_cv, lk, deadline);
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
    return pool.closed;
}

PoolStats blocking_pool_stats(const BlockingPool& pool) { return pool.snapshot(); }

LeasedSlot acquire_blocking(const std::shared_ptr<BlockingPool>& pool, std::chrono::milliseconds timeout) {
    return LeasedSlot(pool, pool->acquire(timeout).release());
}

void LeasedSlot::release() noexcept {
    if (slot_) pool_->release(std::unique_ptr<Slot>(std::exchange(slot_, nullptr)));
    pool_.reset();
}

PooledConnection& LeasedSlot::connection() const noexcept { return *slot_->conn; }
std::uint64_t LeasedSlot::id() const noexcept { return slot_ ? slot_->id : 0; }
std::uint64_t LeasedSlot::uses() const noexcept { return slot_ ? slot_->uses : 0; }

}  // namespace pgtls::pool_detail
