// A connection made by either driver of the engine — the blocking Client or the non-blocking
// AsyncConnection run by a poll() loop — behind the small blocking surface the connect-policy
// suites use, so one test body checks both drivers: they must connect to the same host, with
// the same encryption, and fail with the same Error (kind, cause, text, attempts).
#pragma once

#include <poll.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pgtls/async.hpp"
#include "pgtls/client.hpp"

namespace pgtls::test {

enum class DriverKind { blocking, async };

// Runs the loop for `c` until `finished()`; false after `limit`.
inline bool run_async_loop(AsyncConnection& c, const std::function<bool()>& finished,
                           std::chrono::milliseconds limit = std::chrono::seconds(60)) {
    const auto end = AsyncConnection::Clock::now() + limit;
    while (!finished()) {
        const auto now = AsyncConnection::Clock::now();
        if (now >= end) return false;
        std::vector<pollfd> fds;
        for (const AsyncWatch& w : c.watches())
            if (w.fd >= 0 && (w.read || w.write))
                fds.push_back({w.fd, static_cast<short>((w.read ? POLLIN : 0) | (w.write ? POLLOUT : 0)), 0});
        auto wake = end;
        if (auto d = c.deadline(); d && *d < wake) wake = *d;
        const auto ms = std::chrono::ceil<std::chrono::milliseconds>(wake - now).count();
        ::poll(fds.data(), fds.size(), static_cast<int>(std::clamp<long long>(ms, 0, 1000)));
        c.advance();
    }
    return true;
}

class DriverConnection {
public:
    // Connects with `driver`; throws what the connect failed with (unchanged).
    DriverConnection(DriverKind driver, const Config& config, std::function<void(const Notice&)> notices = {}) {
        if (driver == DriverKind::blocking) {
            blocking_ = std::make_unique<Client>();
            if (notices) blocking_->set_notice_handler(std::move(notices));
            blocking_->connect(config);
            return;
        }
        async_ = std::make_unique<AsyncConnection>();
        if (notices) async_->set_notice_handler(std::move(notices));
        std::optional<std::exception_ptr> outcome;
        async_->connect(config, [&](std::exception_ptr e) { outcome = e; });
        if (!run_async_loop(*async_, [&] { return outcome.has_value(); }))
            throw std::runtime_error("the async connect did not complete within the test's limit");
        if (*outcome) std::rethrow_exception(*outcome);
    }

    // As Client(conninfo): environment included.
    DriverConnection(DriverKind driver, const std::string& conninfo) : DriverConnection(driver, with(conninfo)) {}

    const ConnectionInfo& info() const { return blocking_ ? blocking_->info() : async_->info(); }
    bool is_healthy() const { return blocking_ ? blocking_->is_healthy() : async_->is_healthy(); }
    void set_query_timeout(std::chrono::milliseconds t) {
        if (blocking_)
            blocking_->set_query_timeout(t);
        else
            async_->set_query_timeout(t);
    }

    // The last statement's result; throws as Client::query does.
    Result query(const std::string& sql) {
        if (blocking_) return blocking_->query(sql);
        std::optional<std::exception_ptr> outcome;
        std::vector<Result> results;
        async_->query(sql, [&](std::exception_ptr e, std::vector<Result> r) {
            outcome = e;
            results = std::move(r);
        });
        if (!run_async_loop(*async_, [&] { return outcome.has_value(); }))
            throw std::runtime_error("the async query did not complete within the test's limit");
        if (*outcome) std::rethrow_exception(*outcome);
        if (results.empty()) throw std::runtime_error("no result");
        return std::move(results.back());
    }

private:
    static Config with(const std::string& conninfo) {
        Config c;
        c.conninfo = conninfo;
        return c;
    }
    std::unique_ptr<Client> blocking_;
    std::unique_ptr<AsyncConnection> async_;
};

}  // namespace pgtls::test
