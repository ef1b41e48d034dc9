// A pool of either front end — the blocking pgtls::Pool, or AsyncPool run by a poll() loop —
// behind a blocking surface named after Pool's, so one test body checks both pools: the same
// options, the same outcomes. The async side runs its loop inside each call until what the
// call asked for is done: an acquire or query completed, a release settled (the connection
// idle again or closed), a reload_tls() reported to on_tls_reload.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "pgtls/async_pool.hpp"
#include "pgtls/pool.hpp"
#include "tests/integration/driver_connection.hpp"

namespace pgtls::test {

class DriverPool {
public:
    // `configure(options)` is called with the pool's options (PoolOptions or AsyncPoolOptions,
    // default-constructed): a generic lambda sets the fields both have.
    template <class Configure>
    DriverPool(DriverKind driver, const Config& config, Configure configure) {
        if (driver == DriverKind::blocking) {
            PoolOptions o;
            configure(o);
            blocking_ = std::make_unique<Pool>(config, std::move(o));
        } else {
            AsyncPoolOptions o;
            configure(o);
            async_ = std::make_unique<AsyncPool>(config, std::move(o));
        }
    }

    class Lease {
    public:
        Lease(Lease&& other) noexcept
            : blocking_(std::exchange(other.blocking_, std::nullopt)),
              async_(std::move(other.async_)),
              pool_(std::exchange(other.pool_, nullptr)) {}
        Lease& operator=(Lease&& other) noexcept {
            if (this != &other) {
                release();
                blocking_ = std::exchange(other.blocking_, std::nullopt);
                async_ = std::move(other.async_);
                pool_ = std::exchange(other.pool_, nullptr);
            }
            return *this;
        }
        ~Lease() { release(); }

        std::uint64_t connection_id() const { return blocking_ ? blocking_->connection_id() : async_.connection_id(); }
        // Client::query's last result, on the lent connection; throws what the query failed with.
        Result query(std::string sql) {
            if (blocking_) return (*blocking_)->query(sql);
            // await_async's callback keeps its outcome alive should the pool complete it after a throw.
            auto results = await_async<std::vector<Result>>(
                *pool_, "query", [&](auto done) { async_->query(std::move(sql), done); });
            if (results.empty()) throw std::runtime_error("no result");
            return std::move(results.back());
        }
        // Gives the connection back; returns once the pool kept or closed it.
        void release() {
            if (blocking_) {
                blocking_->release();
                blocking_.reset();
            }
            if (pool_ && async_) {
                const std::size_t in_use = pool_->stats().in_use;
                async_.release();
                (void)run_async_loop(*pool_, [&] { return pool_->stats().in_use < in_use; });
            }
            pool_ = nullptr;
        }

    private:
        friend class DriverPool;
        explicit Lease(Pool::Lease l) : blocking_(std::move(l)) {}
        Lease(AsyncPool::Lease l, AsyncPool* pool) : async_(std::move(l)), pool_(pool) {}
        std::optional<Pool::Lease> blocking_;
        AsyncPool::Lease async_;
        AsyncPool* pool_ = nullptr;
    };

    // Pool::acquire(): throws what the acquire failed with.
    Lease acquire() {
        if (blocking_) return Lease(blocking_->acquire());
        return Lease(await_async<AsyncPool::Lease>(*async_, "acquire", [&](auto done) { async_->acquire(done); }),
                     async_.get());
    }
    // Pool::reload_tls(); the async pool's on_tls_reload has heard the outcome when it returns.
    void reload_tls() {
        if (blocking_) return blocking_->reload_tls();
        try {
            async_->reload_tls();
        } catch (...) {
            async_->advance();
            throw;
        }
        async_->advance();
    }
    PoolStats stats() const { return blocking_ ? blocking_->stats() : async_->stats(); }
    // Pool::close(0 ms) / AsyncPool::close(), run until the pool has nothing left to do.
    void close() {
        if (blocking_) return blocking_->close(std::chrono::milliseconds(0));
        async_->close();
        (void)run_async_loop(*async_, [&] { return async_->stats().total == 0; });
    }

private:
    std::unique_ptr<Pool> blocking_;
    std::unique_ptr<AsyncPool> async_;
};

}  // namespace pgtls::test
