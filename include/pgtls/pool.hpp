/// \file
/// pgtls — a thread-safe connection pool built on the public Client API only.
///
/// BasicPool<Conn> holds the pool logic for any connection type that offers
/// @code
///     bool is_healthy() const;  TransactionStatus transaction_status() const;
///     auto query(std::string_view);  void close() noexcept;
/// @endcode
/// (and optionally `int socket() const`, used to notice data or EOF on idle connections).
/// pgtls::Pool is BasicPool<Client> created from a Config, connection string or Settings;
/// unit tests instantiate BasicPool with fake connections and a fake PoolClock.
///
/// Threads: every member of BasicPool may be called from any thread. A Lease and the
/// connection it lends belong to one thread at a time, like a Client.
#pragma once

#include "pgtls/version.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <concepts>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "pgtls/client.hpp"
#include "pgtls/config.hpp"
#include "pgtls/error.hpp"

namespace pgtls {

/// Time as the pool sees it. The default is std::chrono::steady_clock; tests substitute a
/// clock they advance by hand.
class PoolClock {
public:
    using time_point = std::chrono::steady_clock::time_point;  ///< A point on this clock.
    virtual ~PoolClock() = default;
    virtual time_point now() const = 0;  ///< The current time; never goes backwards.
    /// Block on `cv` (with `lock` held on entry and exit) until notified or until now() reaches
    /// `deadline` (time_point::max(): no deadline). May return early; callers re-check.
    virtual void wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                            time_point deadline) const = 0;
};

/// The process's steady clock.
std::shared_ptr<const PoolClock> steady_pool_clock();

/// What a connection did, for the event hooks.
struct PoolEvent {
    std::uint64_t connection_id = 0;      ///< 0 when no connection is involved (failed connect)
    std::string reason;                   ///< why a connection was removed; the error's message
    std::chrono::nanoseconds wait{0};     ///< acquire: time spent waiting for the connection
};

/// Options of a pool. Durations of zero mean "no limit" / "off" unless said otherwise.
template <class Conn>
struct BasicPoolOptions {
    std::size_t max_size = 10;            ///< connections open or opening at most (>= 1)
    std::size_t min_size = 0;             ///< kept open by the maintenance thread (<= max_size)
    std::chrono::milliseconds acquire_timeout{30'000};  ///< wait for a connection; 0 = forever
    /// Per-connect timeout handed to the connector (pgtls::Pool rounds it up to whole seconds
    /// for Settings::connect_timeout); 0 = the connection settings' own connect_timeout.
    std::chrono::milliseconds connect_timeout{0};
    /// Idle connections beyond min_size are closed after this long unused.
    std::chrono::milliseconds idle_timeout{10 * 60'000};
    /// Connections are closed (when idle or on release) after max_lifetime plus a random
    /// extra in [0, max_lifetime_jitter], so connections opened together do not expire together.
    std::chrono::milliseconds max_lifetime{60 * 60'000};
    std::chrono::milliseconds max_lifetime_jitter{0};  ///< see max_lifetime
    std::uint64_t max_uses = 0;           ///< acquisitions per connection; 0 = unlimited
    /// A connection idle at least this long is pinged (ping_sql) before it is handed out;
    /// a connection whose socket turned readable while idle (for at least 1 ms) is pinged
    /// regardless.
    /// Negative: never ping.
    std::chrono::milliseconds health_check_after{1'000};
    std::string ping_sql = ";";           ///< an empty query: one round trip, no parse work
    /// How long the ping waits for its answer: at most this long, and at most a fifth of what
    /// is left of the acquire timeout (a replacement must still be opened), before the
    /// connection is discarded: an idle connection whose network went silent must not hang
    /// acquire(), nor stretch it past its timeout. With pgtls::Client (Client::ping) an
    /// unanswered ping closes the connection at once, so each dead idle connection costs at
    /// most this; a connection type with only set_query_timeout()/query_timeout() gets that
    /// query timeout (plus its own cancel). 0 = only the acquire timeout's fifth.
    std::chrono::milliseconds health_check_timeout{5'000};
    /// Run on every new connection before first use (e.g. SET statements). Throwing discards
    /// the connection and fails the connect with that exception.
    std::function<void(Conn&)> after_connect;
    /// On release: a connection inside a transaction (or failed one) is rolled back with
    /// ROLLBACK when true, discarded when false. A connection mid-query or mid-COPY
    /// (transaction status unknown) or broken (is_healthy() false) is always discarded.
    bool rollback_on_release = true;
    /// Run on every release of a clean connection (e.g. "DISCARD ALL"); failure discards it.
    /// Empty by default: each release costs no extra round trip. The client-side state of a
    /// lease (notice handler, query timeout, statement cache capacity, queued notifications,
    /// LISTENs) is reset whatever this says; see Lease.
    std::string reset_sql;
    /// How often the maintenance thread closes expired idle connections and refills min_size.
    std::chrono::milliseconds maintenance_interval{1'000};
    /// Delay before retrying after a failed connect: doubles per failure up to the max,
    /// back to zero after a success. Acquirers needing a new connection wait it out.
    std::chrono::milliseconds connect_backoff_initial{100};
    std::chrono::milliseconds connect_backoff_max{5'000};  ///< the backoff's ceiling
    /// How long the destructor waits for outstanding leases before closing the rest.
    std::chrono::milliseconds close_timeout{5'000};

    /// Certificate rotation (pgtls::Pool only; see Pool::reload_tls). Before each new
    /// connection, at most once per tls_check_interval, the pool stats sslcert, sslkey,
    /// sslrootcert, sslcrl and sslcrldir (and its entries) — mtime, size, inode — and when one
    /// changed builds a new TLS context from the files for the connections opened afterwards;
    /// connections already open keep theirs. If the new files do not load, the last good
    /// context stays in use and on_tls_reload reports the error. 0: check on every new
    /// connection; negative: never (reload_tls() only).
    std::chrono::milliseconds tls_check_interval{1'000};
    /// After a reload, close connections made with the previous TLS material when they are next
    /// released, instead of returning them to idle.
    bool retire_on_tls_reload = false;

    /// Event hooks, called without the pool's lock held, from whichever thread caused the
    /// event. They must not throw (exceptions are swallowed) and must be thread-safe.
    std::function<void(const PoolEvent&)> on_connect;  ///< a new connection is ready
    std::function<void(const PoolEvent&)> on_acquire;  ///< a lease was handed out
    std::function<void(const PoolEvent&)> on_release;  ///< a connection went back to idle
    std::function<void(const PoolEvent&)> on_remove;   ///< a connection was closed (reason says why)
    std::function<void(const PoolEvent&)> on_error;    ///< a connect failed (reason = message)
    /// A TLS context rebuild after changed files or reload_tls(): reason empty when the new
    /// context is in use, else the load error (the previous context stays in use).
    std::function<void(const PoolEvent&)> on_tls_reload;
};

/// A consistent snapshot of the pool's counters.
struct PoolStats {
    std::size_t total = 0;        ///< open or opening
    std::size_t idle = 0;         ///< open and unused
    std::size_t in_use = 0;       ///< lent out (or being checked/reset)
    std::size_t opening = 0;      ///< connects in progress
    std::size_t waiting = 0;      ///< callers blocked in acquire()
    std::uint64_t created = 0;    ///< connections opened successfully
    std::uint64_t destroyed = 0;  ///< connections closed
    std::uint64_t acquire_count = 0;     ///< successful acquisitions
    std::uint64_t acquire_timeouts = 0;  ///< acquisitions that gave up (exhausted)
    std::uint64_t connect_errors = 0;    ///< connects that failed
    std::chrono::nanoseconds acquire_wait_total{0};  ///< time successful acquisitions waited, summed
    std::chrono::nanoseconds acquire_wait_max{0};    ///< the longest wait of a successful acquisition
};

namespace pool_detail {
/// True when fd has data or EOF pending (poll with zero timeout). Defined in pool/pool.cpp.
bool socket_has_input(int fd) noexcept;
std::string describe_exception(std::exception_ptr e);
class TlsFileWatch;  ///< pool/tls_reload.hpp
long long to_ms(std::chrono::nanoseconds d) noexcept;

/// What a borrower may change on a connection's client side, as the connection was set up
/// (connector, then after_connect): put back on every release so that each lease starts
/// clean. Each part applies only when the connection type has the matching members (as
/// pgtls::Client does); fake connections in tests/pool may have none.
template <class Conn>
struct LeaseDefaults {
    std::function<void(const Notice&)> notice_handler;
    std::chrono::milliseconds query_timeout{0};
    std::size_t statement_cache_capacity = 0;

    static constexpr bool has_notice_handler = requires(Conn& c, const std::function<void(const Notice&)>& h) {
        { c.notice_handler() } -> std::convertible_to<const std::function<void(const Notice&)>&>;
        c.set_notice_handler(h);
    };
    static constexpr bool has_query_timeout = requires(Conn& c, std::chrono::milliseconds t) {
        c.set_query_timeout(t);
        { c.query_timeout() } -> std::convertible_to<std::chrono::milliseconds>;
    };
    static constexpr bool has_statement_cache = requires(Conn& c, std::size_t n) {
        c.set_statement_cache_capacity(n);
        { c.statement_cache_capacity() } -> std::convertible_to<std::size_t>;
    };
    static constexpr bool has_listen = requires(Conn& c) {
        { c.listening() } -> std::convertible_to<bool>;
        c.unlisten_all();
    };
    static constexpr bool has_notifications = requires(Conn& c) { c.take_notifications(); };

    void capture(const Conn& c) {
        if constexpr (has_notice_handler) notice_handler = c.notice_handler();
        if constexpr (has_query_timeout) query_timeout = c.query_timeout();
        if constexpr (has_statement_cache) statement_cache_capacity = c.statement_cache_capacity();
    }
    /// First thing on release, before any I/O: the borrower's notice handler (whose captures
    /// may already be gone) must not see the notices of the release's ROLLBACK or reset_sql,
    /// nor run under the borrower's query timeout. No I/O.
    void restore_local(Conn& c) const {
        if constexpr (has_notice_handler)
            if (c.notice_handler() || notice_handler) c.set_notice_handler(notice_handler);
        if constexpr (has_query_timeout)
            if (c.query_timeout() != query_timeout) c.set_query_timeout(query_timeout);
    }
    /// Last thing on release of a connection that is kept (after ROLLBACK and reset_sql): the
    /// statement cache's capacity (statements it forgets are closed), the borrower's LISTENs
    /// (UNLISTEN * when one ran) and its queued notifications. Throws what the I/O throws.
    void restore_session(Conn& c) const {
        if constexpr (has_statement_cache)
            if (c.statement_cache_capacity() != statement_cache_capacity)
                c.set_statement_cache_capacity(statement_cache_capacity);
        if constexpr (has_listen)
            if (c.listening()) c.unlisten_all();
        if constexpr (has_notifications) (void)c.take_notifications();
    }
};
}  // namespace pool_detail

/// A thread-safe pool of connections of type Conn (pgtls::Client for Pool; tests use fakes),
/// opened by a Connector: FIFO acquire with a timeout, health checks, idle and lifetime
/// expiry, min_size kept open by a maintenance thread. Every member is safe to call from any
/// thread; a Lease and its connection are used by one thread at a time.
template <class Conn>
class BasicPool {
    struct Slot;
    struct State;

public:
    using Options = BasicPoolOptions<Conn>;     ///< The pool's options.
    using time_point = PoolClock::time_point;  ///< A point on the pool's clock.
    /// Opens one connection within `connect_timeout` (0: the connection's own default).
    /// Throws on failure; the exception reaches the acquire() caller that needed it.
    using Connector = std::function<std::unique_ptr<Conn>(std::chrono::milliseconds connect_timeout)>;

    /// RAII loan of one connection: returned to the pool (or discarded when dirty or broken)
    /// by release() or the destructor. Move-only.
    ///
    /// A lease starts clean. What the borrower changed on the connection's client side is put
    /// back on release, to what the connector and after_connect left: the notice handler
    /// (reset before the release's ROLLBACK and reset_sql run, so it never sees their notices
    /// nor any later borrower's), the query timeout, and the statement cache capacity
    /// (statements it forgets are closed on the server). Notifications still queued are
    /// dropped, and when a LISTEN ran during the lease (Client::listening()) the pool sends
    /// UNLISTEN * first: the next borrower never receives the previous one's payloads. Server
    /// session state (SET, PREPARE, temp tables, advisory locks) stays unless reset_sql
    /// clears it (e.g. DISCARD ALL). A LISTEN run inside a function or DO block is not seen:
    /// use reset_sql = "UNLISTEN *" (or DISCARD ALL) for that.
    class Lease {
    public:
        Lease() noexcept = default;
        /// Takes over the loan; `other` becomes empty.
        Lease(Lease&& other) noexcept = default;
        /// Releases this lease's connection, then takes over `other`'s loan.
        Lease& operator=(Lease&& other) noexcept {
            if (this != &other) {
                release();
                state_ = std::move(other.state_);
                slot_ = std::move(other.slot_);
            }
            return *this;
        }
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        ~Lease() { release(); }

        /// Give the connection back now; the lease becomes empty. Idempotent.
        void release() noexcept {
            if (slot_) State::release(state_, std::move(slot_));
            state_.reset();
        }
        explicit operator bool() const noexcept { return slot_ != nullptr; }  ///< Holds a connection.
        Conn* operator->() const { return &get(); }  ///< The connection; Error(usage) when empty.
        Conn& operator*() const { return get(); }    ///< The connection; Error(usage) when empty.
        /// The connection; Error(usage) when the lease is empty (released or moved from).
        Conn& get() const {
            if (!slot_) throw Error(ErrorKind::usage, "pool lease is empty (released or moved from)");
            return *slot_->conn;
        }
        /// The pool's id of the lent connection (1, 2, ... in creation order); 0 when empty.
        std::uint64_t connection_id() const noexcept { return slot_ ? slot_->id : 0; }
        /// How many times this connection has been acquired, this lease included.
        std::uint64_t uses() const noexcept { return slot_ ? slot_->uses : 0; }

    private:
        friend class BasicPool;
        Lease(std::shared_ptr<State> state, std::unique_ptr<Slot> slot) noexcept
            : state_(std::move(state)), slot_(std::move(slot)) {}
        std::shared_ptr<State> state_;
        std::unique_ptr<Slot> slot_;
    };

    /// Validates the options (Error(usage) naming the option) and starts the maintenance
    /// thread; opens no connection itself (min_size is filled in the background).
    explicit BasicPool(Connector connector, Options options = {},
                       std::shared_ptr<const PoolClock> clock = nullptr)
        : state_(std::make_shared<State>(std::move(connector), std::move(options),
                                         clock ? std::move(clock) : steady_pool_clock())) {
        state_->start();
    }
    ~BasicPool() { close(state_->opt.close_timeout); }
    BasicPool(const BasicPool&) = delete;
    BasicPool& operator=(const BasicPool&) = delete;

    /// Wait (FIFO) for a connection up to options().acquire_timeout, or `timeout`
    /// (0 = forever). Throws Error(pool) when exhausted or closed, or the connect error when
    /// this caller's connect failed. The timeout bounds everything acquire() does: a
    /// connection it opens gets what is left of it (at most connect_timeout), and the
    /// health check's ping a fifth of it (see health_check_timeout).
    Lease acquire() { return acquire(state_->opt.acquire_timeout); }
    /// The same with its own `timeout` instead of options().acquire_timeout.
    Lease acquire(std::chrono::milliseconds timeout) { return Lease(state_, state_->acquire(timeout)); }

    /// Runs f(connection) on a lease; when it fails because the connection was lost
    /// (Error::connection_lost(): a terminated backend, a reset, a server restart), runs it
    /// once more on another connection. Only for idempotent work: the first run may have
    /// taken effect before the connection went. Returns what f returns; other errors, and
    /// the second failure, reach the caller.
    template <class F>
    auto run_retrying(F&& f) -> decltype(f(std::declval<Conn&>())) {
        for (int attempt = 0;; ++attempt) {
            Lease lease = acquire();
            try {
                return f(*lease);
            } catch (const Error& e) {
                if (attempt > 0 || !e.connection_lost()) throw;
            }
        }
    }

    /// One-off statements on a pooled connection.
    auto query(std::string_view sql) { return acquire()->query(sql); }
    /// One-off Client::exec() on a pooled connection.
    template <typename... Args>
    auto exec(std::string_view sql, const Args&... args) {
        return acquire()->exec(sql, args...);
    }

    /// Stop handing out connections (waiters and later acquire() get Error(pool)), close idle
    /// connections, join the maintenance thread, wait up to `wait_for_leases` for leases to come
    /// back (closing each as it returns). Leases still out afterwards close their connection
    /// when released. Safe to call more than once and from several threads.
    void close() { close(state_->opt.close_timeout); }
    /// close() waiting `wait_for_leases` instead of options().close_timeout.
    void close(std::chrono::milliseconds wait_for_leases) { state_->close(wait_for_leases); }
    /// True once close() began (or the pool is being destroyed).
    bool is_closed() const {
        std::lock_guard lk(state_->m);
        return state_->closed;
    }

    PoolStats stats() const { return state_->snapshot(); }  ///< The counters, taken under the lock.
    const Options& options() const noexcept { return state_->opt; }  ///< The options it runs with.

protected:
    /// For a pool of a concrete connection type: a connection for which `retire` answers true
    /// is closed when released instead of kept ("retired: TLS material reloaded").
    BasicPool(Connector connector, Options options, std::function<bool(const Conn&)> retire)
        : state_(std::make_shared<State>(std::move(connector), std::move(options), steady_pool_clock())) {
        state_->retire = std::move(retire);
        state_->start();
    }

private:
    struct Slot {
        std::unique_ptr<Conn> conn;
        pool_detail::LeaseDefaults<Conn> defaults;  ///< put back on every release
        std::uint64_t id = 0;
        time_point created{}, expires{}, last_used{};
        std::uint64_t uses = 0;
    };

    /// One blocked acquire(). A release hands its connection straight to the oldest waiter
    /// (`handed`, set under the pool lock) and notifies it after unlocking, so the waiter
    /// neither competes for the connection nor wakes into a held lock, and nobody else is
    /// woken. Shared so that a notify after unlocking never outlives the waiter's object.
    struct Waiter {
        std::condition_variable cv;
        std::unique_ptr<Slot> handed;
        bool queued = false;
    };

    struct State {
        State(Connector c, Options o, std::shared_ptr<const PoolClock> k)
            : connector(std::move(c)), opt(std::move(o)), clock(std::move(k)), rng(std::random_device{}()) {
            if (!connector) throw Error(ErrorKind::usage, "pool: connector is empty");
            if (opt.max_size == 0) throw Error(ErrorKind::usage, "pool: max_size must be at least 1");
            if (opt.min_size > opt.max_size)
                throw Error(ErrorKind::usage, "pool: min_size (" + std::to_string(opt.min_size) +
                                                  ") exceeds max_size (" + std::to_string(opt.max_size) + ")");
            if (opt.maintenance_interval.count() <= 0)
                throw Error(ErrorKind::usage, "pool: maintenance_interval must be positive");
            if (opt.connect_backoff_initial.count() < 0 || opt.connect_backoff_max < opt.connect_backoff_initial)
                throw Error(ErrorKind::usage, "pool: connect_backoff_initial must be >= 0 and <= connect_backoff_max");
            if (opt.max_lifetime_jitter.count() < 0 || opt.acquire_timeout.count() < 0 ||
                opt.idle_timeout.count() < 0 || opt.max_lifetime.count() < 0 || opt.connect_timeout.count() < 0 ||
                opt.health_check_timeout.count() < 0)
                throw Error(ErrorKind::usage, "pool: durations must not be negative");
        }

        /// An idle connection's socket is probed for data/EOF only after this long idle.
        static constexpr std::chrono::milliseconds kProbeIdleAfter{1};

        const Connector connector;
        const Options opt;
        std::function<bool(const Conn&)> retire;  ///< set before start(); see the protected constructor
        const std::shared_ptr<const PoolClock> clock;

        mutable std::mutex m;
        std::deque<std::unique_ptr<Slot>> idle;  ///< back = most recently released
        std::deque<std::shared_ptr<Waiter>> waiters;  ///< FIFO; only the front may take a connection
        std::size_t total = 0, opening = 0, in_use = 0;
        bool closed = false;
        /// Mirrors `closed` for release()'s unlocked early check (skip ROLLBACK/reset on a
        /// closed pool); the decision is always re-checked under the lock.
        std::atomic<bool> closing{false};
        bool maint_kick = false;  ///< a connection was removed: refill min_size now, not next tick
        std::condition_variable maint_cv, drained_cv;
        std::thread maint;
        std::uint64_t next_id = 1;
        PoolStats counters;
        time_point backoff_until{};
        std::chrono::milliseconds backoff{0};
        std::string last_connect_error;
        std::minstd_rand rng;

        void start() { maint = std::thread([this] { maintain(); }); }

        static void emit(const std::function<void(const PoolEvent&)>& hook, std::uint64_t id,
                         std::string reason, std::chrono::nanoseconds wait = {}) noexcept {
            if (!hook) return;
            try {
                hook(PoolEvent{id, std::move(reason), wait});
            } catch (...) {
            }
        }

        void notify_head() {
            if (!waiters.empty()) waiters.front()->cv.notify_one();
        }
        /// After the head left the queue: wake the new head only when it can make progress
        /// (an idle connection or room to open one), not on every hand-over.
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
        /// A ready connection (released clean, or opened by the maintenance thread): to the
        /// oldest waiter if there is one, else to the idle list. Caller holds the lock; the
        /// slot counts in in_use for a waiter, in idle otherwise. Returns the waiter, which
        /// the caller notifies once it has released the lock (empty: none).
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
        /// Bookkeeping of a successful acquisition; caller holds the lock.
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

        /// What a connect made for an acquire() may take: what is left until its deadline, and
        /// at most connect_timeout; never 0 ("no limit") when a deadline is set.
        std::chrono::milliseconds connect_budget(time_point deadline) const {
            if (deadline == time_point::max()) return opt.connect_timeout;
            auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock->now());
            left = std::max(left, std::chrono::milliseconds(1));
            return opt.connect_timeout.count() > 0 ? std::min(left, opt.connect_timeout) : left;
        }

        /// Opens one connection within `timeout` (0: the connection's own default); the caller
        /// has already counted it in total and opening. On failure undoes that, arms the
        /// backoff, wakes the head waiter and rethrows.
        std::unique_ptr<Slot> open(std::chrono::milliseconds timeout) {
            std::unique_ptr<Conn> conn;
            try {
                conn = connector(timeout);
                if (!conn) throw Error(ErrorKind::connection, "pool: connector returned no connection");
                if (opt.after_connect) opt.after_connect(*conn);
            } catch (...) {
                auto error = std::current_exception();
                if (conn) conn->close();
                std::string message = pool_detail::describe_exception(error);
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
            slot->defaults.capture(*slot->conn);
            {
                std::lock_guard lk(m);
                slot->id = next_id++;
                slot->created = slot->last_used = clock->now();
                if (opt.max_lifetime.count() > 0) {
                    auto extra = std::chrono::milliseconds(0);
                    if (opt.max_lifetime_jitter.count() > 0)
                        extra = std::chrono::milliseconds(std::uniform_int_distribution<std::int64_t>(
                            0, opt.max_lifetime_jitter.count())(rng));
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

        /// Closes a connection that is counted in total (and in in_use when `was_in_use`).
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

        /// health_check_timeout, and at most a fifth of what is left until `deadline`
        /// (0: neither applies).
        std::chrono::milliseconds ping_limit(time_point deadline) const {
            auto limit = opt.health_check_timeout;
            if (deadline != time_point::max()) {
                auto share = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock->now()) / 5;
                share = std::max(share, std::chrono::milliseconds(1));
                if (limit.count() == 0 || share < limit) limit = share;
            }
            return limit;
        }

        /// The health check's ping, bounded per health_check_timeout and the acquire deadline
        /// when the connection type has a query timeout; the connection's own timeout is restored.
        void ping_idle(Conn& c, time_point deadline) {
            if constexpr (requires(Conn& x, std::chrono::milliseconds t, const std::string& sql) { x.ping(t, sql); }) {
                // An unanswered ping closes its connection at once (no cancel, no grace period),
                // so each dead idle connection costs at most this limit.
                c.ping(ping_limit(deadline), opt.ping_sql);
                return;
            } else if constexpr (requires(Conn& x, std::chrono::milliseconds t) {
                              x.set_query_timeout(t);
                              { x.query_timeout() } -> std::convertible_to<std::chrono::milliseconds>;
                          }) {
                const auto limit = ping_limit(deadline);
                if (limit.count() > 0) {
                    const std::chrono::milliseconds previous = c.query_timeout();
                    c.set_query_timeout(limit);
                    try {
                        c.query(opt.ping_sql);
                    } catch (...) {
                        c.set_query_timeout(previous);
                        throw;
                    }
                    c.set_query_timeout(previous);
                    return;
                }
            }
            c.query(opt.ping_sql);
        }

        /// Why an idle connection about to be lent must not be, or empty. Runs unlocked:
        /// the caller owns the slot.
        std::string reject_reason(Slot& s, time_point deadline) {
            auto now = clock->now();
            if (now >= s.expires) return "max lifetime reached";
            if (!s.conn->is_healthy()) return "connection broken";
            bool ping = opt.health_check_after.count() >= 0 && now - s.last_used >= opt.health_check_after;
            if constexpr (requires(const Conn& c) { { c.socket() } -> std::convertible_to<int>; }) {
                // Data or EOF on an idle connection: the server probably said goodbye. Not
                // probed when released under kProbeIdleAfter ago (handed straight from one
                // lease to the next): the previous holder just saw ReadyForQuery, and the
                // poll() would cost a system call per acquisition.
                if (!ping && now - s.last_used >= kProbeIdleAfter && pool_detail::socket_has_input(s.conn->socket()))
                    ping = true;
            }
            if (ping) {
                try {
                    ping_idle(*s.conn, deadline);
                } catch (...) {
                    return "health check failed: " + pool_detail::describe_exception(std::current_exception());
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
                    // A release gave us its connection; it already left the queue and
                    // counts in in_use.
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
                            slot = open(connect_budget(deadline));  ///< throws the connect error to this caller
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
                    // Counted now, while the lock is held, and checked unlocked (the slot
                    // counts in in_use meanwhile); a rejected slot's count is taken back.
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
                    waiters.push_front(me);  ///< keep our place at the head
                    me->queued = true;
                    lk.unlock();
                    destroy(std::move(slot), true, reason);  ///< wakes us (the head) to reconnect
                    lk.lock();
                    continue;
                }
                if (now >= deadline) {
                    remove_waiter(me);
                    ++counters.acquire_timeouts;
                    std::string msg = "pool exhausted: " + std::to_string(in_use) + " of " +
                                      std::to_string(opt.max_size) + " connections in use";
                    if (opening) msg += " (" + std::to_string(opening) + " opening)";
                    msg += ", waited " + std::to_string(pool_detail::to_ms(now - start)) + " ms";
                    if (!last_connect_error.empty()) msg += "; last connect error: " + last_connect_error;
                    throw Error(ErrorKind::pool, msg);
                }
                clock->wait_until(me->cv, lk, wait_deadline);
            }
        }

        /// Why a returned connection must be closed rather than kept, or empty; resets it.
        std::string release_reason(Slot& s) {
            s.defaults.restore_local(*s.conn);
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
                        return "rollback on release failed: " + pool_detail::describe_exception(std::current_exception());
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
                    return "reset failed: " + pool_detail::describe_exception(std::current_exception());
                }
                if (!s.conn->is_healthy() || s.conn->transaction_status() != TransactionStatus::idle)
                    return "reset left the connection busy";
            }
            try {
                s.defaults.restore_session(*s.conn);
            } catch (...) {
                return "lease reset failed: " + pool_detail::describe_exception(std::current_exception());
            }
            if (!s.conn->is_healthy() || s.conn->transaction_status() != TransactionStatus::idle)
                return "lease reset left the connection busy";
            return {};
        }

        static void release(const std::shared_ptr<State>& self, std::unique_ptr<Slot> slot) noexcept {
            State& st = *self;
            std::string reason;
            if (st.closing.load(std::memory_order_relaxed)) reason = "pool closed";
            if (reason.empty()) {
                try {
                    reason = st.release_reason(*slot);
                } catch (...) {
                    reason = "release failed";
                }
            }
            if (!reason.empty()) {
                st.destroy(std::move(slot), true, reason);
                return;
            }
            std::uint64_t id = slot->id;
            std::shared_ptr<Waiter> next;
            {
                std::unique_lock lk(st.m);
                if (st.closed) {
                    lk.unlock();
                    st.destroy(std::move(slot), true, "pool closed");
                    return;
                }
                slot->last_used = st.clock->now();
                next = st.hand_over(std::move(slot), true);
            }
            if (next) next->cv.notify_one();
            emit(st.opt.on_release, id, {});
        }

        /// Background: close expired or surplus idle connections and keep min_size open.
        void maintain() {
            std::unique_lock lk(m);
            while (!closed) {
                maint_kick = false;
                auto now = clock->now();
                std::deque<std::pair<std::unique_ptr<Slot>, std::string>> victims;
                std::size_t remaining = total;
                for (auto it = idle.begin(); it != idle.end();) {  ///< oldest released first
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
                    ++in_use;  ///< destroy() counts them down as lent connections
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

    std::shared_ptr<State> state_;
};

/// Compiled once in pool/pool.cpp.
extern template class BasicPool<Client>;

/// Options of the Client pool.
using PoolOptions = BasicPoolOptions<Client>;

/// A pool of pgtls::Client connections sharing one resolved Settings (host list, TLS settings
/// and backend, credentials): resolved once at construction, so configuration errors throw here.
class Pool : public BasicPool<Client> {
public:
    /// Resolves `config` (Error(config) when invalid), validates the options (Error(usage))
    /// and starts the pool; no connection is opened here (min_size fills in the background).
    explicit Pool(const Config& config, PoolOptions options = {});
    /// The same from a libpq connection string or URI.
    explicit Pool(const std::string& conninfo, PoolOptions options = {});
    /// The same with settings already resolved.
    explicit Pool(Settings settings, PoolOptions options = {});

    /// Rebuilds the TLS context from the files the settings name (sslcert, sslkey,
    /// sslrootcert, sslcrl, sslcrldir) now, whether or not they changed, for the connections
    /// opened afterwards; connections already open keep their context. Reports through
    /// on_tls_reload too. Throws the load error (Error(config) or Error(tls)) and keeps the
    /// last good context. Does nothing with sslmode=disable.
    void reload_tls();

private:
    struct Parts;
    explicit Pool(Parts parts);
    std::shared_ptr<pool_detail::TlsFileWatch> tls_watch_;
};

}  // namespace pgtls
