/// \file
/// pgtls on standalone Asio (1.22+): the asynchronous pool with C++20 coroutines and any
/// completion token.
///
/// @code
///   pgtls::AsioPool pool(io.get_executor(), config, options);
///   pgtls::AsioPool::Lease db = co_await pool.async_acquire(asio::use_awaitable);
///   auto r = co_await db.async_execute("SELECT $1::int", {pgtls::to_param(7)}, asio::use_awaitable);
/// @endcode
///
/// async_acquire completes with (std::exception_ptr, Lease): use_awaitable rethrows the error
/// (Error(pool) when exhausted by the timeout, closed or cancelled; the connect's own error
/// when the connect made for it failed). Completions are posted to the handler's associated
/// executor. A lease has the async_* operations of AsioConnection, on the lent connection, and
/// gives it back when destroyed or released.
///
/// Per-operation cancellation: an async_acquire whose handler has a cancellation slot (a
/// bound asio::cancellation_signal, the awaitable operators `a || timer.async_wait(...)`) is
/// cancelled through AsyncPool::cancel, and the connection it would have had goes to the next
/// waiter. (Asio 1.22, Debian's, has no asio::cancel_after: use a timer with `||`.)
///
/// Threading: one thread or strand, like every Asio I/O object. Destroying the pool completes
/// every acquire in flight with an error and destroys the connections, lent ones included.
#pragma once

#include "pgtls/version.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "pgtls/asio.hpp"
#include "pgtls/async_pool.hpp"
#include "pgtls/detail/asio_pump.hpp"

PGTLS_API_BEGIN
namespace pgtls {

/// An AsyncPool driven by an Asio executor (see the file comment).
class AsioPool {
public:
    using executor_type = ::asio::any_io_executor;  ///< The executor it runs on.

private:
    // What a lease needs of its pool, shared so that a lease may outlive the pool: the
    // executor, and the pump to re-arm while the pool lives.
    struct Link {
        Link(executor_type e, AsioPool* p) : ex(std::move(e)), pool(p) {}
        executor_type ex;
        AsioPool* pool;  // valid while *alive
        std::shared_ptr<bool> alive = std::make_shared<bool>(true);
        void arm() { pool->pump_.arm(); }
    };

public:

    /// One lent connection with the async_* operations of AsioConnection (see AsioOperations).
    /// Gives the connection back to the pool on release() or destruction. Move-only.
    class Lease : public AsioOperations<Lease> {
    public:
        Lease() noexcept = default;
        /// Takes over the loan; `other` becomes empty.
        Lease(Lease&& other) noexcept = default;
        /// Gives back what this lease held, then takes over `other`'s loan.
        Lease& operator=(Lease&& other) noexcept {
            if (this != &other) {
                release();
                lease_ = std::move(other.lease_);
                pool_ = std::move(other.pool_);
            }
            return *this;
        }
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        ~Lease() { release(); }

        /// Give the connection back now; the lease becomes empty. Idempotent.
        void release() noexcept {
            lease_.release();
            if (pool_ && *pool_->alive) pool_->arm();
            pool_.reset();
        }
        /// True while the lease holds a connection.
        explicit operator bool() const noexcept { return static_cast<bool>(lease_); }
        /// The lent connection (state, notice handler, query timeout); Error(usage) when empty.
        AsyncConnection& connection() const { return lease_.get(); }
        /// The pool's id of the lent connection; 0 when empty.
        std::uint64_t connection_id() const noexcept { return lease_.connection_id(); }
        /// How many times this connection has been acquired, this lease included.
        std::uint64_t uses() const noexcept { return lease_.uses(); }
        /// The executor of the pool it came from (a default-constructed one when empty).
        executor_type get_executor() const noexcept { return pool_ ? pool_->ex : executor_type(); }

    private:
        friend class AsioPool;
        friend class AsioOperations<Lease>;
        Lease(AsyncPool::Lease lease, std::shared_ptr<Link> pool) noexcept
            : lease_(std::move(lease)), pool_(std::move(pool)) {}
        OpTarget op_target() const {
            AsyncConnection& c = lease_.get();  // Error(usage) when empty
            return OpTarget{&c, [p = pool_] {
                                if (*p->alive) p->arm();
                            },
                            pool_->alive};
        }
        AsyncPool::Lease lease_;
        std::shared_ptr<Link> pool_;
    };

    /// A pool of connections made with `settings` (see AsyncPool), driven on `ex`.
    AsioPool(executor_type ex, Settings settings, AsyncPoolOptions options = {})
        : pool_(std::move(settings), std::move(options)), link_(std::make_shared<Link>(std::move(ex), this)) {
        pump_.arm();  // min_size fills from the start
    }
    /// Resolves `config` first (Error(config) when invalid).
    AsioPool(executor_type ex, const Config& config, AsyncPoolOptions options = {})
        : AsioPool(std::move(ex), resolve(config), std::move(options)) {}
    AsioPool(const AsioPool&) = delete;
    AsioPool& operator=(const AsioPool&) = delete;
    /// Completes every acquire in flight with an error (posted) and destroys the connections.
    ~AsioPool() { *link_->alive = false; }

    executor_type get_executor() const noexcept { return link_->ex; }  ///< The executor it runs on.
    /// The loop-agnostic pool underneath (stats, options, close).
    AsyncPool& pool() noexcept { return pool_; }
    /// The pool's counters now.
    PoolStats stats() const { return pool_.stats(); }
    /// Rebuilds the TLS context now (AsyncPool::reload_tls): throws the load error and keeps
    /// the last good context; on_tls_reload hears the outcome from the executor.
    void reload_tls() {
        // on_tls_reload is told from the pool's advance(), which the pump runs: on failure too.
        try {
            pool_.reload_tls();
        } catch (...) {
            pump_.arm();
            throw;
        }
        pump_.arm();
    }
    /// Stops the pool (AsyncPool::close): acquires in flight fail, leases out keep working.
    void close() {
        pool_.close();
        pump_.arm();
    }

    /// Acquires a connection within options().acquire_timeout: completes with (error, Lease).
    template <class Token>
    auto async_acquire(Token&& token) {
        return async_acquire(pool_.options().acquire_timeout, std::forward<Token>(token));
    }
    /// Acquires a connection within `timeout` (0: no limit): completes with (error, Lease).
    template <class Token>
    auto async_acquire(std::chrono::milliseconds timeout, Token&& token) {
        return ::asio::async_initiate<Token, void(std::exception_ptr, Lease)>(
            [this, timeout](auto handler) {
                using Handler = decltype(handler);
                auto slot = ::asio::get_associated_cancellation_slot(handler);
                auto ex = ::asio::get_associated_executor(handler, link_->ex);
                auto h = std::make_shared<std::optional<Handler>>(std::move(handler));
                const AsyncPool::OpId id =
                    pool_.acquire(timeout, [h, ex, slot, link = link_](std::exception_ptr e, AsyncPool::Lease l) mutable {
                        if (slot.is_connected()) slot.clear();
                        Lease lease(std::move(l), link);
                        ::asio::post(ex, [h, e, lease = std::move(lease)]() mutable { std::move(**h)(e, std::move(lease)); });
                    });
                if (slot.is_connected())
                    slot.assign([this, id, alive = link_->alive](::asio::cancellation_type) {
                        if (*alive) {
                            pool_.cancel(id);
                            pump_.arm();
                        }
                    });
                pump_.arm();
            },
            token);
    }

private:
    struct Pollable {
        AsyncPool& p;
        std::vector<AsyncWatch> interest() const { return p.watches(); }
        std::optional<AsyncPool::Clock::time_point> deadline() const { return p.deadline(); }
        void advance() { p.advance(); }
    };

    AsyncPool pool_;
    Pollable pollable_{pool_};
    std::shared_ptr<Link> link_;
    detail::AsioPump<Pollable> pump_{link_->ex, pollable_};
};

}  // namespace pgtls
PGTLS_API_END
