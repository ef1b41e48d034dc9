/// \file
/// pgtls — a pool of non-blocking connections for any event loop (epoll, libuv, Qt, Asio).
///
/// AsyncPool is the asynchronous front end of the same pool logic as pgtls::Pool (the core in
/// src/pool/pool_core): FIFO acquire with a timeout, min/max size, idle timeout, lifetime with
/// jitter, max uses, the health check before a lend, rollback and reset_sql on release, the
/// connect backoff, certificate rotation (tls_check_interval, reload_tls(),
/// retire_on_tls_reload; one TLS context shared by the pool's connections), stats and the
/// event hooks — with AsyncConnection instead of Client, and
/// no thread: connects, pings, ROLLBACKs, resets and closes are non-blocking operations on the
/// pooled AsyncConnections, and the loop drives the pool as it drives one AsyncConnection.
///
/// The loop asks the pool what to wait for — watches(): the sockets of every connection the
/// pool or a borrower is using (each AsyncWatch's epoch is unique in the process, so it names
/// one socket) — and deadline(); it calls advance() on readiness or at the deadline. advance()
/// advances every pooled connection, lent ones included: a borrower queues operations on its
/// lease's AsyncConnection and the pool's advance() runs them. Spurious calls are harmless.
///
/// acquire() completes through its callback, from advance() only (never from the call that
/// queued it), with a Lease or an exception_ptr: Error(pool) when the pool is exhausted by the
/// timeout, closed, or the acquire cancelled; the connect's own exception when the connect made
/// for this acquire failed. Acquires are served in the order they were made.
///
/// close() stops the pool: pending acquires complete with Error(pool, "pool is closed") at the
/// next advance(), idle connections close, leases still out keep working and their connection
/// is closed when they are released. Destroying the pool completes pending acquires (in the
/// destructor) and destroys every connection, lent ones too: their operations in flight
/// complete with an error, and a Lease that outlives the pool is then empty. No callback runs
/// after the destructor returns. Use a pool and its leases from one thread (the loop's).
#pragma once

#include "pgtls/version.hpp"

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "pgtls/async.hpp"
#include "pgtls/config.hpp"
#include "pgtls/pool.hpp"

// The pool's state, defined inside the library (src/pool/async_pool_state.hpp): opaque here
// and not exported.
namespace pgtls::pool_detail {
struct AsyncPoolState;
}

PGTLS_API_BEGIN
namespace pgtls {

/// Options of an AsyncPool: the blocking pool's, with these differences. after_connect runs
/// from advance() on each new connection; it may queue operations (SET ...), and the
/// connection is lent only once they completed, with the connection still healthy and idle.
/// The hooks run from advance() only, on the loop's thread (never from acquire(), release()
/// or reload_tls()), in the order of their events and before the acquire completions of the
/// same pass. maintenance_interval paces the maintenance pass that advance() runs (deadline()
/// includes it). close_timeout does not apply. The TLS files are checked (tls_check_interval)
/// as a connection is opened. On release the notice handler, query timeout, statement cache
/// capacity (statements it forgets are closed) and queued notifications are put back as
/// after_connect left them; a LISTEN is not undone (use reset_sql = "UNLISTEN *"). The pool's
/// spans are the blocking pool's, reported from advance(); a span ends when its operation
/// does (a release's when the pool decided, before a close it caused), and connections still
/// open when the pool is destroyed report no destroy span.
using AsyncPoolOptions = BasicPoolOptions<AsyncConnection>;

/// A pool of AsyncConnection driven by the application's event loop (see the file comment).
class AsyncPool {
public:
    using Clock = AsyncConnection::Clock;  ///< The clock of deadline() and advance().
    using OpId = std::uint64_t;            ///< Names a pending acquire, for cancel().

    /// One lent connection: given back to the pool by release() or the destructor (the
    /// connection is then rolled back, reset or closed as the options say). Move-only.
    /// Operations queued on it run when the pool's advance() runs. Releasing with operations
    /// still queued or running closes the connection (they complete with an error).
    class Lease {
    public:
        Lease() noexcept = default;
        /// Takes over the loan; `other` becomes empty.
        Lease(Lease&& other) noexcept;
        /// Gives back what this lease held, then takes over `other`'s loan.
        Lease& operator=(Lease&& other) noexcept;
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        ~Lease();

        /// Give the connection back now; the lease becomes empty. Idempotent.
        void release() noexcept;
        /// True while the lease holds a connection (false once released, moved from, or its
        /// pool destroyed).
        explicit operator bool() const noexcept;
        /// The lent connection; Error(usage) when the lease is empty.
        AsyncConnection& get() const;
        /// The lent connection; Error(usage) when the lease is empty.
        AsyncConnection* operator->() const { return &get(); }
        /// The lent connection; Error(usage) when the lease is empty.
        AsyncConnection& operator*() const { return get(); }
        /// The pool's id of the lent connection (1, 2, ... in creation order); 0 when empty.
        std::uint64_t connection_id() const noexcept;
        /// How many times this connection has been acquired, this lease included; 0 when empty.
        std::uint64_t uses() const noexcept;

        /// The loan of `slot` of `pool` (the pool's opaque state): what an acquire completes
        /// with. Applications receive leases, never make them.
        Lease(std::shared_ptr<pool_detail::AsyncPoolState> pool, std::uint64_t slot) noexcept;

    private:
        std::shared_ptr<pool_detail::AsyncPoolState> pool_;
        std::uint64_t slot_ = 0;
    };

    /// Completion of acquire(): the exception_ptr is null on success, and then the Lease holds
    /// a connection. Called from advance() (or the destructor, with an error).
    using AcquireCallback = std::function<void(std::exception_ptr, Lease)>;

    /// Validates the options (Error(usage) naming the option); opens nothing here (min_size is
    /// filled by advance()). Host names in `settings` are resolved by the system resolver
    /// when a connection opens, which may block (give hostaddr to avoid it).
    explicit AsyncPool(Settings settings, AsyncPoolOptions options = {});
    /// Resolves `config` first (Error(config) when invalid).
    explicit AsyncPool(const Config& config, AsyncPoolOptions options = {});
    /// Completes pending acquires with an error and destroys every connection (see the file
    /// comment).
    ~AsyncPool();
    AsyncPool(const AsyncPool&) = delete;
    AsyncPool& operator=(const AsyncPool&) = delete;

    // ---- the event loop
    /// The sockets to watch now, and for what: one entry per socket (fd >= 0), in no order.
    std::vector<AsyncWatch> watches() const;
    /// When advance() must be called even if no socket is ready; nullopt: only on readiness.
    /// A time in the past (the clock's epoch) when work is due at once, as AsyncConnection.
    std::optional<Clock::time_point> deadline() const;
    /// Does all the work that can be done now: advances every pooled connection, runs the
    /// pool's timers and maintenance, and calls the completions that are due. Call it when a
    /// watched socket is ready or deadline() has passed; extra calls are harmless. A callback
    /// may destroy the pool.
    void advance(Clock::time_point now = Clock::now());

    // ---- acquire
    /// Asks for a connection within options().acquire_timeout (0: no limit); FIFO. The
    /// timeout bounds everything the acquire does: a connect made for it gets what is left
    /// (at most connect_timeout), a health-check ping at most a fifth of it.
    OpId acquire(AcquireCallback done);
    /// As acquire(done), within `timeout` (0: no limit).
    OpId acquire(std::chrono::milliseconds timeout, AcquireCallback done);
    /// Cancels a pending acquire: it completes with Error(pool, "acquire cancelled") at the
    /// next advance(), and the connection it would have had goes to the next waiter. Nothing
    /// if it already completed.
    void cancel(OpId id);

    // ---- lifetime and state
    /// Rebuilds the TLS context from the files the settings name now, whether or not they
    /// changed, for the connections opened afterwards (Pool::reload_tls): connections already
    /// open keep theirs, and with retire_on_tls_reload are closed when released. Throws the
    /// load error (Error(config) or Error(tls)) and keeps the last good context; the next
    /// advance() reports the outcome to on_tls_reload. Does nothing with sslmode=disable.
    void reload_tls();
    /// Stops the pool (see the file comment). Safe to call more than once.
    void close();
    /// True once close() has begun.
    bool is_closed() const noexcept;
    /// The pool's counters now.
    PoolStats stats() const;
    /// The options the pool runs with.
    const AsyncPoolOptions& options() const noexcept;


private:
    std::shared_ptr<pool_detail::AsyncPoolState> state_;
};

}  // namespace pgtls
PGTLS_API_END
