// Fake connections and a hand-driven clock for the pool's unit tests.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "pgtls/pool.hpp"

namespace pgtls::test {

// A clock that only moves when advance() is called. wait_until() sleeps briefly in real time
// and returns (spurious wake-ups are allowed by the PoolClock contract), so the pool re-checks
// its deadlines against the advanced time.
class FakeClock final : public PoolClock {
public:
    time_point now() const override { return time_point(std::chrono::nanoseconds(ns_.load())) + std::chrono::hours(1); }
    void wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, time_point deadline) const override {
        if (now() >= deadline) return;
        ++waits_;
        cv.wait_for(lock, std::chrono::microseconds(500));
    }
    void advance(std::chrono::nanoseconds d) { ns_ += d.count(); }
    // How often a thread slept in wait_until() (the pool's maintenance thread does once its
    // pass is over; an acquire() does while it waits).
    int waits() const noexcept { return waits_.load(); }

private:
    std::atomic<std::int64_t> ns_{0};
    mutable std::atomic<int> waits_{0};
};

// What the fake server saw, shared by all connections of one test.
struct FakeServer {
    std::atomic<int> connect_attempts{0};
    std::atomic<int> open{0};          // connected and not yet closed
    std::atomic<int> closed{0};
    std::atomic<bool> refuse{false};   // connects fail with Error(connection, "connection refused")
    std::atomic<bool> fail_pings{false};
    std::atomic<bool> fail_reset{false};
    std::mutex m;
    std::vector<std::string> log;      // "<id>:<sql>" of every query, in order

    std::vector<std::string> queries() {
        std::lock_guard lk(m);
        return log;
    }
    int count(const std::string& entry) {
        std::lock_guard lk(m);
        int n = 0;
        for (auto& e : log) n += e == entry;
        return n;
    }
};

class FakeConnection {
public:
    FakeConnection(std::shared_ptr<FakeServer> server, int id) : server_(std::move(server)), id_(id) { ++server_->open; }
    ~FakeConnection() { close(); }
    FakeConnection(const FakeConnection&) = delete;
    FakeConnection& operator=(const FakeConnection&) = delete;

    bool is_healthy() const noexcept { return healthy_; }
    TransactionStatus transaction_status() const noexcept { return status_; }
    void close() noexcept {
        if (!closed_.exchange(true)) {
            --server_->open;
            ++server_->closed;
        }
    }
    int id() const { return id_; }
    bool is_closed() const { return closed_; }

    // BEGIN / ROLLBACK / COMMIT move the transaction status; "ERROR" fails the transaction;
    // "COPY" leaves the connection mid-COPY (status unknown); "KILL" breaks it.
    std::string query(std::string_view sql) {
        if (lent_.exchange(true)) throw std::logic_error("connection used by two threads at once");
        struct Unlend { std::atomic<bool>& f; ~Unlend() { f = false; } } unlend{lent_};
        if (closed_ || !healthy_) throw Error(ErrorKind::connection, "connection closed");
        {
            std::lock_guard lk(server_->m);
            server_->log.push_back(std::to_string(id_) + ":" + std::string(sql));
        }
        if (sql == ";" && server_->fail_pings) {
            healthy_ = false;
            throw Error(ErrorKind::connection, "server closed the connection unexpectedly");
        }
        if (sql == "DISCARD ALL" && server_->fail_reset) throw Error(ErrorKind::server, "reset refused");
        if (sql == "BEGIN") status_ = TransactionStatus::in_transaction;
        if (sql == "ROLLBACK" || sql == "COMMIT") status_ = TransactionStatus::idle;
        if (sql == "ERROR") {
            if (status_ == TransactionStatus::in_transaction) status_ = TransactionStatus::failed;
            throw Error(ErrorKind::server, "ERROR:  syntax error");
        }
        if (sql == "COPY") status_ = TransactionStatus::unknown;
        if (sql == "KILL") {
            healthy_ = false;
            throw Error(ErrorKind::connection, "connection reset");
        }
        return std::string(sql);
    }
    template <typename... Args>
    std::string exec(std::string_view sql, const Args&... args) {
        std::string r = query(sql);
        ((r += "|" + std::to_string(args)), ...);
        return r;
    }
    void break_connection() { healthy_ = false; }

private:
    std::shared_ptr<FakeServer> server_;
    int id_;
    std::atomic<bool> healthy_{true};
    std::atomic<TransactionStatus> status_{TransactionStatus::idle};
    std::atomic<bool> closed_{false};
    std::atomic<bool> lent_{false};
};

using FakePool = BasicPool<FakeConnection>;

inline FakePool::Connector fake_connector(std::shared_ptr<FakeServer> server) {
    return [server](std::chrono::milliseconds) -> std::unique_ptr<FakeConnection> {
        int n = ++server->connect_attempts;
        if (server->refuse) throw Error(ErrorKind::connection, "connection refused");
        return std::make_unique<FakeConnection>(server, n);
    };
}

// Polls `pred` in real time for up to 5 s.
inline bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (pred()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return pred();
}

}  // namespace pgtls::test
