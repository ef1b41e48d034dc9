// pgtls — a thread-safe connection pool built on the public Client API only.
//
// BasicPool<Conn> pools any connection type that offers
//     bool is_healthy() const;  TransactionStatus transaction_status() const;
//     auto query(std::string_view);  void close() noexcept;
// (and optionally `int socket() const`, used to notice data or EOF on idle connections).
// The template only adapts Conn to pool_detail::PooledConnection; the pool itself is
// compiled once, in pool/ (see pool/README.md).
// pgtls::Pool is BasicPool<Client> created from a Config, connection string or Settings;
// unit tests instantiate BasicPool with fake connections and a fake PoolClock.
//
// Threads: every member of BasicPool may be called from any thread. A Lease and the
// connection it lends belong to one thread at a time, like a Client.
#pragma once

#include "pgtls/version.hpp"

#include <array>
#include <chrono>
#include <concepts>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "pgtls/client.hpp"
#include "pgtls/config.hpp"
#include "pgtls/error.hpp"
#include "pgtls/trace.hpp"

PGTLS_API_BEGIN
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

    /// Certificate rotation (pgtls::Pool and AsyncPool; see Pool::reload_tls). Before each new
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

    /// The pool's name, for tracing and metrics (span attribute db.client.connection.pool.name,
    /// as OpenTelemetry names it). Empty: pgtls::Pool and AsyncPool name themselves
    /// "user@host:port/dbname" from their settings; other pools leave the attribute out.
    std::string name;
    /// Receives the pool's spans (pgtls/trace.hpp): "pgtls.pool.acquire", "pgtls.pool.release",
    /// "pgtls.pool.create" and "pgtls.pool.destroy". Null: pgtls::Pool and AsyncPool use their
    /// Config's tracer (Settings::tracer), other pools trace nothing. Spans of the connection's own
    /// operations that run inside one of these (the connect inside create, the health check's
    /// ping inside acquire, ROLLBACK and reset_sql inside release, the close inside destroy) name
    /// it as their parent. Called without the pool's lock held; exceptions are swallowed.
    std::shared_ptr<Tracer> tracer;

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

/// Why the pool closed a connection (PoolStats::destroyed_by_reason; the "pgtls.pool.destroy"
/// span's pgtls.pool.destroy.reason attribute is its to_string()).
enum class PoolCloseReason : std::uint8_t {
    idle_timeout,         ///< idle longer than idle_timeout (beyond min_size)
    max_lifetime,         ///< older than max_lifetime (plus its jitter)
    max_uses,             ///< acquired max_uses times
    health_check_failed,  ///< its ping before a lend failed
    broken,               ///< is_healthy() false when lent or released
    pool_closed,          ///< the pool was closing
    unclean_release,      ///< released in a state the pool could not clean (transaction, mid-query, failed reset)
    retired,              ///< opened with TLS material since reloaded (retire_on_tls_reload)
};
/// How many PoolCloseReason values there are (the size of PoolStats::destroyed_by_reason).
inline constexpr std::size_t pool_close_reason_count = 8;
/// "idle_timeout", "max_lifetime", ... (the enumerator's name; a static string).
const char* to_string(PoolCloseReason reason) noexcept;

/// A consistent snapshot of the pool's counters (metrics: sample it periodically, e.g.
/// examples/pool_metrics.cpp).
struct PoolStats {
    std::size_t total = 0;        ///< open or opening
    std::size_t idle = 0;         ///< open and unused
    std::size_t in_use = 0;       ///< lent out (or being checked/reset)
    std::size_t opening = 0;      ///< connects in progress
    std::size_t waiting = 0;      ///< callers blocked in acquire() waiting in the queue
    /// acquire() calls not answered yet: `waiting` plus those whose own connect is in progress.
    std::size_t pending_acquires = 0;
    std::uint64_t created = 0;    ///< connections opened successfully
    std::uint64_t destroyed = 0;  ///< connections closed (the sum of destroyed_by_reason)
    /// Connections closed, by reason: indexed by PoolCloseReason.
    std::array<std::uint64_t, pool_close_reason_count> destroyed_by_reason{};
    std::uint64_t acquire_count = 0;     ///< successful acquisitions
    std::uint64_t acquire_timeouts = 0;  ///< acquisitions that gave up (exhausted)
    std::uint64_t connect_errors = 0;    ///< connects that failed
    std::chrono::nanoseconds acquire_wait_total{0};  ///< time successful acquisitions waited, summed
    std::chrono::nanoseconds acquire_wait_max{0};    ///< the longest wait of a successful acquisition

    /// Upper bounds, in milliseconds, of the buckets of acquire_wait_histogram but its last:
    /// OpenTelemetry's default explicit bucket boundaries. Bucket i counts the waits w with
    /// bound[i-1] < w <= bound[i] (bucket 0: w <= 0 ms; the last bucket: w > 10,000 ms), so
    /// the histogram exports as is to an OpenTelemetry explicit-bucket histogram
    /// (db.client.connection.wait_time, in ms).
    static constexpr std::array<std::uint32_t, 15> acquire_wait_bounds_ms{0,   5,   10,   25,   50,   75,   100, 250,
                                                                          500, 750, 1000, 2500, 5000, 7500, 10000};
    /// Successful acquisitions by how long they waited (see acquire_wait_bounds_ms); the counts
    /// sum to acquire_count.
    std::array<std::uint64_t, acquire_wait_bounds_ms.size() + 1> acquire_wait_histogram{};

    /// Connections closed for `reason`.
    std::uint64_t destroyed_for(PoolCloseReason reason) const noexcept {
        return destroyed_by_reason[static_cast<std::size_t>(reason)];
    }
};

namespace pool_detail {
class PoolTls;  // pool/tls_reload.hpp

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

// A pooled connection as the (non-template) pool implementation sees it, whatever its type.
// Calls come from one thread at a time: the one that owns the connection's slot.
class PooledConnection {
public:
    virtual ~PooledConnection() = default;
    virtual bool is_healthy() const = 0;
    virtual TransactionStatus transaction_status() const = 0;
    // Runs `sql` and drops its result; throws what the connection throws.
    virtual void query(std::string_view sql) = 0;
    virtual void close() noexcept = 0;
    // The socket to probe for data or EOF while idle; -1 when the type has none.
    virtual int socket() const = 0;
    // The health check: runs `sql` waiting at most `limit` for its answer when the type can
    // bound it (0: no bound of the pool's own). Throws on failure.
    virtual void ping(std::chrono::milliseconds limit, const std::string& sql) = 0;
    // LeaseDefaults::restore_local / restore_session.
    virtual void restore_local() = 0;
    virtual void restore_session() = 0;
};

// The PooledConnection of a Conn, with its lease defaults captured when it is made.
template <class Conn>
class PooledAs final : public PooledConnection {
public:
    explicit PooledAs(std::unique_ptr<Conn> conn) : conn_(std::move(conn)) { defaults_.capture(*conn_); }
    Conn& get() noexcept { return *conn_; }
    const Conn& get() const noexcept { return *conn_; }

    bool is_healthy() const override { return conn_->is_healthy(); }
    TransactionStatus transaction_status() const override { return conn_->transaction_status(); }
    void query(std::string_view sql) override { (void)conn_->query(sql); }
    void close() noexcept override { conn_->close(); }
    int socket() const override {
        if constexpr (requires(const Conn& c) { { c.socket() } -> std::convertible_to<int>; })
            return conn_->socket();
        else
            return -1;
    }
    void ping(std::chrono::milliseconds limit, const std::string& sql) override {
        Conn& c = *conn_;
        if constexpr (requires(Conn& x, std::chrono::milliseconds t, const std::string& s) { x.ping(t, s); }) {
            // An unanswered ping closes its connection at once (no cancel, no grace period),
            // so each dead idle connection costs at most this limit.
            c.ping(limit, sql);
            return;
        } else if constexpr (requires(Conn& x, std::chrono::milliseconds t) {
                                 x.set_query_timeout(t);
                                 { x.query_timeout() } -> std::convertible_to<std::chrono::milliseconds>;
                             }) {
            if (limit.count() > 0) {
                const std::chrono::milliseconds previous = c.query_timeout();
                c.set_query_timeout(limit);
                try {
                    (void)c.query(sql);
                } catch (...) {
                    c.set_query_timeout(previous);
                    throw;
                }
                c.set_query_timeout(previous);
                return;
            }
        }
        (void)c.query(sql);
    }
    void restore_local() override { defaults_.restore_local(*conn_); }
    void restore_session() override { defaults_.restore_session(*conn_); }

private:
    std::unique_ptr<Conn> conn_;
    LeaseDefaults<Conn> defaults_;
};

// The options the pool implementation uses: BasicPoolOptions without its Conn-typed parts.
struct PoolCoreOptions {
    std::size_t max_size = 10, min_size = 0;
    std::chrono::milliseconds acquire_timeout{0}, connect_timeout{0}, idle_timeout{0}, max_lifetime{0},
        max_lifetime_jitter{0};
    std::uint64_t max_uses = 0;
    std::chrono::milliseconds health_check_after{0};
    std::string ping_sql;
    std::chrono::milliseconds health_check_timeout{0};
    bool rollback_on_release = true;
    std::string reset_sql;
    std::chrono::milliseconds maintenance_interval{0}, connect_backoff_initial{0}, connect_backoff_max{0};
    std::string name;
    std::shared_ptr<Tracer> tracer;
    std::function<void(const PoolEvent&)> on_connect, on_acquire, on_release, on_remove, on_error;
};

template <class Conn>
PoolCoreOptions core_options(const BasicPoolOptions<Conn>& o) {
    PoolCoreOptions c;
    c.max_size = o.max_size;
    c.min_size = o.min_size;
    c.acquire_timeout = o.acquire_timeout;
    c.connect_timeout = o.connect_timeout;
    c.idle_timeout = o.idle_timeout;
    c.max_lifetime = o.max_lifetime;
    c.max_lifetime_jitter = o.max_lifetime_jitter;
    c.max_uses = o.max_uses;
    c.health_check_after = o.health_check_after;
    c.ping_sql = o.ping_sql;
    c.health_check_timeout = o.health_check_timeout;
    c.rollback_on_release = o.rollback_on_release;
    c.reset_sql = o.reset_sql;
    c.maintenance_interval = o.maintenance_interval;
    c.connect_backoff_initial = o.connect_backoff_initial;
    c.connect_backoff_max = o.connect_backoff_max;
    c.name = o.name;
    c.tracer = o.tracer;
    c.on_connect = o.on_connect;
    c.on_acquire = o.on_acquire;
    c.on_release = o.on_release;
    c.on_remove = o.on_remove;
    c.on_error = o.on_error;
    return c;
}

// The blocking pool's implementation (pool/blocking_pool.cpp), shared by the BasicPool and
// its leases; a lease that outlives the pool still returns safely.
class BlockingPool;
class Slot;

// Opens one connection within a timeout (0: the connection's own default); throws on failure.
using PooledConnector = std::function<std::unique_ptr<PooledConnection>(std::chrono::milliseconds)>;
// A connection for which this answers true is closed on release instead of kept.
using RetirePredicate = std::function<bool(const PooledConnection&)>;

// Validates the options (Error(usage) naming the option) and starts the maintenance thread.
std::shared_ptr<BlockingPool> start_blocking_pool(PooledConnector connector, PoolCoreOptions options,
                                                  std::shared_ptr<const PoolClock> clock, RetirePredicate retire);
void close_blocking_pool(BlockingPool& pool, std::chrono::milliseconds wait_for_leases);
bool blocking_pool_closed(const BlockingPool& pool);
PoolStats blocking_pool_stats(const BlockingPool& pool);

// One lent connection: returns it to its pool on release() or destruction. Move-only.
class LeasedSlot {
public:
    LeasedSlot() noexcept = default;
    LeasedSlot(std::shared_ptr<BlockingPool> pool, Slot* slot) noexcept : pool_(std::move(pool)), slot_(slot) {}
    LeasedSlot(LeasedSlot&& other) noexcept : pool_(std::move(other.pool_)), slot_(std::exchange(other.slot_, nullptr)) {}
    LeasedSlot& operator=(LeasedSlot&& other) noexcept {
        if (this != &other) {
            release();
            pool_ = std::move(other.pool_);
            slot_ = std::exchange(other.slot_, nullptr);
        }
        return *this;
    }
    LeasedSlot(const LeasedSlot&) = delete;
    LeasedSlot& operator=(const LeasedSlot&) = delete;
    ~LeasedSlot() { release(); }

    void release() noexcept;  // idempotent
    explicit operator bool() const noexcept { return slot_ != nullptr; }
    PooledConnection& connection() const noexcept;  // only when non-empty
    std::uint64_t id() const noexcept;               // 0 when empty
    std::uint64_t uses() const noexcept;             // 0 when empty

private:
    std::shared_ptr<BlockingPool> pool_;
    Slot* slot_ = nullptr;
};

// Waits (FIFO) up to `timeout` (0 = forever) for a connection; throws as BasicPool::acquire.
LeasedSlot acquire_blocking(const std::shared_ptr<BlockingPool>& pool, std::chrono::milliseconds timeout);
}  // namespace pool_detail

/// A thread-safe pool of connections of type Conn (pgtls::Client for Pool; tests use fakes),
/// opened by a Connector: FIFO acquire with a timeout, health checks, idle and lifetime
/// expiry, min_size kept open by a maintenance thread. Every member is safe to call from any
/// thread; a Lease and its connection are used by one thread at a time.
template <class Conn>
class BasicPool {
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
        /// Gives back what this lease held, then takes over `other`'s loan.
        Lease& operator=(Lease&& other) noexcept = default;
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        ~Lease() = default;

        /// Give the connection back now; the lease becomes empty. Idempotent.
        void release() noexcept { slot_.release(); }
        /// True while the lease holds a connection.
        explicit operator bool() const noexcept { return static_cast<bool>(slot_); }
        /// The lent connection; Error(usage) when the lease is empty.
        Conn* operator->() const { return &get(); }
        /// The lent connection; Error(usage) when the lease is empty.
        Conn& operator*() const { return get(); }
        /// The lent connection; Error(usage) when the lease is empty (released or moved from).
        Conn& get() const {
            if (!slot_) throw Error(ErrorKind::usage, "pool lease is empty (released or moved from)");
            return static_cast<pool_detail::PooledAs<Conn>&>(slot_.connection()).get();
        }
        /// The pool's id of the lent connection (1, 2, ... in creation order); 0 when empty.
        std::uint64_t connection_id() const noexcept { return slot_.id(); }
        /// How many times this connection has been acquired, this lease included.
        std::uint64_t uses() const noexcept { return slot_.uses(); }

    private:
        friend class BasicPool;
        explicit Lease(pool_detail::LeasedSlot slot) noexcept : slot_(std::move(slot)) {}
        pool_detail::LeasedSlot slot_;
    };

    /// Validates the options (Error(usage) naming the option) and starts the maintenance
    /// thread; opens no connection itself (min_size is filled in the background).
    explicit BasicPool(Connector connector, Options options = {},
                       std::shared_ptr<const PoolClock> clock = nullptr)
        : BasicPool(std::move(connector), std::move(options), std::move(clock), {}) {}
    ~BasicPool() { close(opt_.close_timeout); }
    BasicPool(const BasicPool&) = delete;
    BasicPool& operator=(const BasicPool&) = delete;

    /// Wait (FIFO) for a connection up to options().acquire_timeout, or `timeout`
    /// (0 = forever). Throws Error(pool) when exhausted or closed, or the connect error when
    /// this caller's connect failed. The timeout bounds everything acquire() does: a
    /// connection it opens gets what is left of it (at most connect_timeout), and the
    /// health check's ping a fifth of it (see health_check_timeout).
    Lease acquire() { return acquire(opt_.acquire_timeout); }
    /// As acquire(), waiting up to `timeout` (0 = forever).
    Lease acquire(std::chrono::milliseconds timeout) { return Lease(pool_detail::acquire_blocking(impl_, timeout)); }

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
    /// connections, join the maintenance thread, wait up to options().close_timeout for leases
    /// to come back (closing each as it returns). Leases still out afterwards close their
    /// connection when released. Safe to call more than once and from several threads.
    void close() { close(opt_.close_timeout); }
    /// As close(), waiting up to `wait_for_leases` for the leases out.
    void close(std::chrono::milliseconds wait_for_leases) { pool_detail::close_blocking_pool(*impl_, wait_for_leases); }
    /// True once close() has begun.
    bool is_closed() const { return pool_detail::blocking_pool_closed(*impl_); }

    /// The pool's counters now (a consistent snapshot).
    PoolStats stats() const { return pool_detail::blocking_pool_stats(*impl_); }
    /// The options the pool runs with.
    const Options& options() const noexcept { return opt_; }

protected:
    /// For a pool of a concrete connection type: a connection for which `retire` answers true
    /// is closed when released instead of kept ("retired: TLS material reloaded").
    BasicPool(Connector connector, Options options, std::function<bool(const Conn&)> retire)
        : BasicPool(std::move(connector), std::move(options), nullptr, std::move(retire)) {}

private:
    BasicPool(Connector connector, Options options, std::shared_ptr<const PoolClock> clock,
              std::function<bool(const Conn&)> retire)
        : opt_(std::move(options)),
          impl_(pool_detail::start_blocking_pool(erase(std::move(connector), opt_.after_connect),
                                                 pool_detail::core_options(opt_),
                                                 clock ? std::move(clock) : steady_pool_clock(),
                                                 erase(std::move(retire)))) {}

    // The connector as the implementation calls it: after_connect run on each new
    // connection (a throw closes it and fails the connect), and its lease defaults captured.
    static pool_detail::PooledConnector erase(Connector connector, std::function<void(Conn&)> after_connect) {
        if (!connector) return {};
        return [connector = std::move(connector), after_connect = std::move(after_connect)](
                   std::chrono::milliseconds timeout) -> std::unique_ptr<pool_detail::PooledConnection> {
            std::unique_ptr<Conn> conn = connector(timeout);
            if (!conn) throw Error(ErrorKind::connection, "pool: connector returned no connection");
            if (after_connect) {
                try {
                    after_connect(*conn);
                } catch (...) {
                    conn->close();
                    throw;
                }
            }
            return std::make_unique<pool_detail::PooledAs<Conn>>(std::move(conn));
        };
    }
    static pool_detail::RetirePredicate erase(std::function<bool(const Conn&)> retire) {
        if (!retire) return {};
        return [retire = std::move(retire)](const pool_detail::PooledConnection& c) {
            return retire(static_cast<const pool_detail::PooledAs<Conn>&>(c).get());
        };
    }

    Options opt_;
    std::shared_ptr<pool_detail::BlockingPool> impl_;
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
    std::shared_ptr<pool_detail::PoolTls> tls_;
};

}  // namespace pgtls
PGTLS_API_END
