// A connection made by either driver of the engine — the blocking Client or the non-blocking
// AsyncConnection run by a poll() loop — behind a blocking surface named after Client's, so one
// test body checks both drivers: they must connect to the same host, with the same encryption,
// fail with the same Error (kind, cause, text, attempts), and give the same results, rows, COPY
// data and notifications: COPY writers, transactions and the statement cache included.
#pragma once

#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "pgtls/async.hpp"
#include "pgtls/client.hpp"

namespace pgtls::test {

enum class DriverKind { blocking, async };

// The pipeline overlap the suites give their AsyncConnections: automatic (off on the loopback
// servers of the test rig) unless PGTLS_TEST_PIPELINE_OVERLAP is "on" or "off" — the meson
// suites named *_overlap run the async ones again with it on.
inline PipelineOverlap test_pipeline_overlap() {
    const char* v = std::getenv("PGTLS_TEST_PIPELINE_OVERLAP");
    const std::string_view s = v ? v : "";
    return s == "on" ? PipelineOverlap::on : s == "off" ? PipelineOverlap::off : PipelineOverlap::automatic;
}

// Runs one poll() loop over `loops` (AsyncConnections, or AsyncPools) until `finished()`; false
// after `limit`. It wakes at each one's deadline, at `wake_at` if given (to let `finished` act,
// say), and at least every 100 ms to check `finished`. The longest single advance() goes to
// `longest` if given (a loop held by one connection shows there).
template <class Loop>
bool run_async_loop(const std::vector<Loop*>& loops, const std::function<bool()>& finished,
                    std::chrono::milliseconds limit = std::chrono::seconds(60),
                    std::optional<AsyncConnection::Clock::time_point> wake_at = std::nullopt,
                    std::chrono::steady_clock::duration* longest = nullptr) {
    const auto end = AsyncConnection::Clock::now() + limit;
    while (!finished()) {
        const auto now = AsyncConnection::Clock::now();
        if (now >= end) return false;
        std::vector<pollfd> fds;
        auto wake = end;
        for (Loop* c : loops) {
            for (const AsyncWatch& w : c->watches())
                if (w.fd >= 0 && (w.read || w.write))
                    fds.push_back({w.fd, static_cast<short>((w.read ? POLLIN : 0) | (w.write ? POLLOUT : 0)), 0});
            if (auto d = c->deadline(); d && *d < wake) wake = *d;
        }
        if (wake_at && *wake_at > now && *wake_at < wake) wake = *wake_at;
        const auto ms = std::chrono::ceil<std::chrono::milliseconds>(wake - now).count();
        ::poll(fds.data(), fds.size(), static_cast<int>(std::clamp<long long>(ms, 0, 100)));
        for (Loop* c : loops) {
            const auto t0 = std::chrono::steady_clock::now();
            c->advance();
            if (longest) *longest = std::max(*longest, std::chrono::steady_clock::now() - t0);
        }
    }
    return true;
}
// The same for one AsyncConnection or AsyncPool.
template <class Loop>
bool run_async_loop(Loop& c, const std::function<bool()>& finished,
                    std::chrono::milliseconds limit = std::chrono::seconds(60),
                    std::optional<AsyncConnection::Clock::time_point> wake_at = std::nullopt) {
    return run_async_loop(std::vector<Loop*>{&c}, finished, limit, wake_at);
}

// The text of an operation's error ("" for none).
inline std::string what(std::exception_ptr e) {
    if (!e) return "";
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        return x.what();
    } catch (...) {
    }
    return "?";
}

// What an awaited operation's callback writes. The callback holds it by a shared_ptr: a wait
// that throws on the loop's time limit leaves the operation pending, and when `c` completes it
// later (advanced, or destroyed) the callback must not write into the returned stack frame.
template <class T>
struct AsyncOutcome {
    std::optional<std::exception_ptr> error;
    std::optional<T> value;
};

// Waits for the operation `start(callback)` queued on `c`: rethrows its error, else returns
// its value.
template <class T, class Pollable, class Start>
T await_async(Pollable& c, const char* what, Start start) {
    const auto out = std::make_shared<AsyncOutcome<T>>();
    start([out](std::exception_ptr e, T v) {
        out->error = e;
        if (!e) out->value.emplace(std::move(v));
    });
    if (!run_async_loop(c, [&] { return out->error.has_value(); }))
        throw std::runtime_error(std::string("the async ") + what + " did not complete within the test's limit");
    if (*out->error) std::rethrow_exception(*out->error);
    return std::move(*out->value);
}
// The same for an operation without a value.
template <class Pollable, class Start>
void await_async_done(Pollable& c, const char* what, Start start) {
    await_async<bool>(c, what, [&](auto done) { start([done](std::exception_ptr e) { done(e, true); }); });
}

// A COPY FROM STDIN writer of either driver, with CopyIn's blocking surface: the blocking
// CopyIn, or an AsyncCopyIn whose every operation is awaited on its connection's loop.
class DriverCopyIn {
public:
    explicit DriverCopyIn(CopyIn in) : blocking_(std::move(in)) {}
    DriverCopyIn(AsyncConnection& c, AsyncCopyIn w) : conn_(&c), async_(std::move(w)) {}
    void write(std::string data) {
        if (blocking_) return blocking_->write(data);
        await_async_done(*conn_, "COPY write", [&](auto done) { async_.write(std::move(data), done); });
    }
    std::uint64_t finish() {
        if (blocking_) return blocking_->finish();
        return await_async<std::uint64_t>(*conn_, "COPY finish", [&](auto done) { async_.finish(done); });
    }
    void abort(std::string reason) {
        if (blocking_) return blocking_->abort(reason);
        await_async_done(*conn_, "COPY abort", [&](auto done) { async_.abort(std::move(reason), done); });
    }

private:
    std::optional<CopyIn> blocking_;
    AsyncConnection* conn_ = nullptr;
    AsyncCopyIn async_;
};

// A transaction of either driver, with Transaction's blocking surface. The async one's end of
// scope (its ROLLBACK when not finished) is awaited too, so what a test checks next sees it.
class DriverTransaction {
public:
    DriverTransaction(Client& c, const TransactionOptions& o) : blocking_(std::make_unique<Transaction>(c, o)) {}
    DriverTransaction(AsyncConnection& c, AsyncTransaction t) : conn_(&c), async_(std::move(t)) {}
    DriverTransaction(const DriverTransaction&) = delete;
    DriverTransaction& operator=(const DriverTransaction&) = delete;
    ~DriverTransaction() {
        if (!conn_) return;
        async_ = AsyncTransaction{};
        run_async_loop(*conn_, [&] { return !conn_->busy(); });
    }
    void commit() { run("commit", [&](auto done) { return async_.commit(done); }, [&] { blocking_->commit(); }); }
    void rollback() { run("rollback", [&](auto done) { return async_.rollback(done); }, [&] { blocking_->rollback(); }); }
    void savepoint(std::string n) {
        run("savepoint", [&](auto done) { return async_.savepoint(n, done); }, [&] { blocking_->savepoint(n); });
    }
    void rollback_to(std::string n) {
        run("rollback_to", [&](auto done) { return async_.rollback_to(n, done); }, [&] { blocking_->rollback_to(n); });
    }
    void release(std::string n) {
        run("release", [&](auto done) { return async_.release(n, done); }, [&] { blocking_->release(n); });
    }

private:
    template <class Async, class Blocking>
    void run(const char* what, Async async, Blocking blocking) {
        if (blocking_) return blocking();
        await_async_done(*conn_, what, async);
    }
    std::unique_ptr<Transaction> blocking_;
    AsyncConnection* conn_ = nullptr;
    AsyncTransaction async_;
};

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
        async_->set_pipeline_overlap(test_pipeline_overlap());
        if (notices) async_->set_notice_handler(std::move(notices));
        // Thrown on the loop's limit, async_ is destroyed after this frame: it completes the
        // connect then, into the callback's own outcome.
        await_async_done(*async_, "connect", [&](auto done) { async_->connect(config, done); });
    }

    // Connects with `driver` to exactly `settings` (a scripted server's, say).
    DriverConnection(DriverKind driver, Settings settings) {
        if (driver == DriverKind::blocking) {
            blocking_ = std::make_unique<Client>(std::move(settings));
            return;
        }
        async_ = std::make_unique<AsyncConnection>();
        async_->set_pipeline_overlap(test_pipeline_overlap());
        await_async_done(*async_, "connect", [&](auto done) { async_->connect(std::move(settings), done); });
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

    // The Client behind a blocking DriverConnection; null for the async driver.
    Client* client() const { return blocking_.get(); }
    AsyncConnection* async() const { return async_.get(); }

    // Each call below does what Client's call of that name does (throws what it throws),
    // through this connection's driver.
    Result query(std::string sql) {
        if (blocking_) return blocking_->query(sql);
        auto results = await<std::vector<Result>>("query", [&](auto done) { async_->query(std::move(sql), done); });
        if (results.empty()) throw std::runtime_error("no result");
        return std::move(results.back());
    }
    std::vector<Result> query_all(std::string sql) {
        if (blocking_) return blocking_->query_all(sql);
        return await<std::vector<Result>>("query", [&](auto done) { async_->query(std::move(sql), done); });
    }
    Result execute(std::string sql, Params params = {}, ResultFormat format = ResultFormat::text) {
        if (blocking_) return blocking_->execute(sql, params, format);
        return await<Result>("execute", [&](auto done) { async_->execute(std::move(sql), std::move(params), done, format); });
    }
    // As Client::exec: each argument bound, or one plain struct's fields (row_mapping.hpp).
    template <typename... Args>
    Result exec(std::string sql, const Args&... args) {
        if constexpr (sizeof...(Args) == 1 && (row_struct<Args> && ...)) {
            const auto params = detail::params_of(args...);
            return execute(std::move(sql), Params(params.begin(), params.end()));
        } else {
            return execute(std::move(sql), Params{to_param(args)...});
        }
    }
    PreparedStatement prepare(std::string name, std::string sql, std::vector<std::uint32_t> types = {}) {
        if (blocking_) return blocking_->prepare(name, sql, types);
        return await<PreparedStatement>("prepare", [&](auto done) {
            async_->prepare(std::move(name), std::move(sql), std::move(types), done);
        });
    }
    Result execute(const PreparedStatement& ps, Params params = {}, ResultFormat format = ResultFormat::text) {
        if (blocking_) return blocking_->execute(ps, params, format);
        return await<Result>("execute", [&](auto done) { async_->execute(ps, std::move(params), done, format); });
    }
    std::uint64_t stream(std::string sql, Params params, std::function<void(const Row&)> on_row,
                         ResultFormat format = ResultFormat::text) {
        if (blocking_) return blocking_->stream(sql, params, on_row, format);
        return await<std::uint64_t>("stream", [&](auto done) {
            async_->stream(std::move(sql), std::move(params), std::move(on_row), done, format);
        });
    }
    // As Client::stream_as: each row as a T, the columns checked against T at the first row.
    template <typename T, typename F>
    std::uint64_t stream_as(std::string sql, Params params, F&& on_value, ResultFormat format = ResultFormat::text) {
        std::optional<RowMapper<T>> mapper;
        return stream(std::move(sql), std::move(params), [&](const Row& row) {
            if (!mapper) mapper.emplace(row.columns());
            on_value(mapper->map(row));
        }, format);
    }
    std::uint64_t copy_out(std::string sql, std::function<void(std::string_view)> on_data) {
        if (blocking_) return blocking_->copy_out(sql, on_data);
        return await<std::uint64_t>("copy_out", [&](auto done) { async_->copy_out(std::move(sql), std::move(on_data), done); });
    }
    // COPY ... FROM STDIN with all of `data` (the async API takes the whole stream; the blocking
    // one writes it through a CopyIn and finishes).
    std::uint64_t copy_in(std::string sql, std::string data) {
        if (blocking_) {
            CopyIn in = blocking_->copy_in(sql);
            in.write(data);
            return in.finish();
        }
        return await<std::uint64_t>("copy_in", [&](auto done) { async_->copy_in(std::move(sql), std::move(data), done); });
    }
    // COPY ... FROM STDIN through a writer (Client::copy_in, AsyncConnection::open_copy_in).
    DriverCopyIn copy_in_writer(std::string sql) {
        if (blocking_) return DriverCopyIn(blocking_->copy_in(sql));
        return DriverCopyIn(*async_, await<AsyncCopyIn>("open_copy_in", [&](auto done) { async_->open_copy_in(std::move(sql), done); }));
    }
    // A Transaction, or AsyncConnection::begin's (null when begin failed: it throws).
    std::unique_ptr<DriverTransaction> begin(TransactionOptions options = {}) {
        if (blocking_) return std::make_unique<DriverTransaction>(*blocking_, options);
        return std::make_unique<DriverTransaction>(
            *async_, await<AsyncTransaction>("begin", [&](auto done) { async_->begin(options, done); }));
    }
    // Client::set_statement_cache_capacity, or the async driver's.
    void set_statement_cache_capacity(std::size_t capacity) {
        if (blocking_) return blocking_->set_statement_cache_capacity(capacity);
        await_async_done(*async_, "set_statement_cache_capacity",
                         [&](auto done) { async_->set_statement_cache_capacity(capacity, done); });
    }
    // Client::describe_statement / close_statement, or the async driver's.
    PreparedStatement describe_statement(std::string name) {
        if (blocking_) return blocking_->describe_statement(name);
        return await<PreparedStatement>("describe_statement",
                                        [&](auto done) { async_->describe_statement(std::move(name), done); });
    }
    void close_statement(std::string name) {
        if (blocking_) return blocking_->close_statement(name);
        await_async_done(*async_, "close_statement", [&](auto done) { async_->close_statement(std::move(name), done); });
    }
    std::optional<Notification> wait_for_notification(std::chrono::milliseconds timeout) {
        if (blocking_) return blocking_->wait_for_notification(timeout);
        return await<std::optional<Notification>>("wait_notification",
                                                  [&](auto done) { async_->wait_notification(timeout, done); });
    }
    std::vector<Notification> take_notifications() {
        return blocking_ ? blocking_->take_notifications() : async_->take_notifications();
    }
    // The queries in order, sync groups ending at sync_after, as Pipeline::run() reports them.
    std::vector<PipelineResult> pipeline(std::vector<PipelineQuery> queries) {
        if (blocking_) {
            Pipeline p(*blocking_);
            for (const PipelineQuery& q : queries) {
                p.add(q.sql, q.params, q.format);
                if (q.sync_after) p.sync();
            }
            return p.run();
        }
        return await<std::vector<PipelineResult>>("pipeline", [&](auto done) { async_->pipeline(std::move(queries), done); });
    }
    // query(sql), cancelled `after` its start: by Client::cancel() from another thread, or by
    // AsyncConnection::cancel(id) from the loop.
    Result query_cancelled_after(std::string sql, std::chrono::milliseconds after) {
        std::vector<Result> results = cancelled_after<std::vector<Result>>(
            "query", after, [&] { return std::vector<Result>{blocking_->query(sql)}; },
            [&](auto done) { return async_->query(std::move(sql), done); });
        if (results.empty()) throw std::runtime_error("no result");
        return std::move(results.back());
    }
    // pipeline(queries), cancelled `after` its start, as query_cancelled_after(); the results,
    // or the exception the pipeline ended with.
    std::vector<PipelineResult> pipeline_cancelled_after(std::vector<PipelineQuery> queries, std::chrono::milliseconds after) {
        return cancelled_after<std::vector<PipelineResult>>(
            "pipeline", after, [&] { return pipeline(std::move(queries)); },
            [&](auto done) { return async_->pipeline(std::move(queries), done); });
    }
    std::optional<std::string> parameter_status(const std::string& name) const {
        return blocking_ ? blocking_->parameter_status(name) : async_->parameter_status(name);
    }
    TransactionStatus transaction_status() const {
        return blocking_ ? blocking_->transaction_status() : async_->transaction_status();
    }
    void set_notice_handler(std::function<void(const Notice&)> handler) {
        if (blocking_)
            blocking_->set_notice_handler(std::move(handler));
        else
            async_->set_notice_handler(std::move(handler));
    }

private:
    // Queues an operation through `start(callback)` and runs the loop until it completes;
    // rethrows its error, else returns its value.
    template <class T, class Start>
    T await(const char* what, Start start) {
        return await_async<T>(*async_, what, std::move(start));
    }

    static Config with(const std::string& conninfo) {
        Config c;
        c.conninfo = conninfo;
        return c;
    }
    // An operation cancelled `after` its start: `blocking()` with Client::cancel() from another
    // thread, or the operation `start(done)` queues (returning its OpId) with
    // AsyncConnection::cancel(id) from the loop. Its value, or the exception it ended with.
    template <class T, class Blocking, class Start>
    T cancelled_after(const char* what, std::chrono::milliseconds after, Blocking blocking, Start start) {
        if (blocking_) {
            std::thread canceller([this, after] {
                std::this_thread::sleep_for(after);
                blocking_->cancel();
            });
            try {
                T r = blocking();
                canceller.join();
                return r;
            } catch (...) {
                canceller.join();
                throw;
            }
        }
        const auto out = std::make_shared<AsyncOutcome<T>>();  // the callback's own, as in await_async
        const AsyncConnection::OpId id = start([out](std::exception_ptr e, T v) {
            out->error = e;
            out->value = std::move(v);
        });
        const auto cancel_at = AsyncConnection::Clock::now() + after;
        bool cancelled = false;
        const bool finished = run_async_loop(
            *async_,
            [&] {
                if (!cancelled && AsyncConnection::Clock::now() >= cancel_at) {
                    cancelled = true;
                    async_->cancel(id);
                }
                return out->error.has_value();
            },
            std::chrono::seconds(60), cancel_at);
        if (!finished) throw std::runtime_error(std::string("the async ") + what + " did not complete within the test's limit");
        if (*out->error) std::rethrow_exception(*out->error);
        return std::move(*out->value);
    }
    std::unique_ptr<Client> blocking_;
    std::unique_ptr<AsyncConnection> async_;
};

// Overlapping pipelines (the async suite, and the fault suite across a real network link):
// queues, on `c`, a pipeline whose first query keeps the server busy for `sleep_s` seconds,
// then two queries (a division by zero, a value), and after 100 ms — while the server sleeps —
// `later` queries of one statement dividing 12 by 3, 0 (22012) and 4, and one of another
// statement that counts the server's prepared statements named like pgtls's. Returns each
// outcome in order: the value, E for 22012, ! and the error for anything else (prefixed with
// a note when they did not all complete within 10 s).
inline std::string overlap_scenario(AsyncConnection& c, int later, double sleep_s = 0.3) {
    // The callbacks' own (a shared_ptr): when not all completed within 10 s, `c` completes the
    // rest after this returned.
    const auto out = std::make_shared<std::vector<std::string>>();
    std::vector<std::string>& got = *out;
    auto add = [&](const std::string& sql, const std::string& arg) {
        const std::size_t i = got.size();
        got.emplace_back();
        c.execute(sql, {Param{arg, 0, 0}}, [out, i](std::exception_ptr e, Result r) {
            std::string& g = (*out)[i];
            if (!e) {
                g = std::string(r[0][0].view());
                return;
            }
            try {
                std::rethrow_exception(e);
            } catch (const ServerError& se) {
                g = se.sqlstate() == "22012" ? "E" : "!" + std::string(se.what());
            } catch (const std::exception& x) {
                g = "!" + std::string(x.what());
            }
        });
    };
    add("SELECT pg_sleep($1::float8)::text || 'a'", std::to_string(sleep_s));
    add("SELECT 10 / $1::int", "0");
    add("SELECT $1::int", "2");
    run_async_loop(c, [] { return false; }, std::chrono::milliseconds(100));  // the server sleeps on the first query
    for (int i = 0; i < later; ++i) add("SELECT 12 / $1::int", i == 0 ? "3" : i == 1 ? "0" : "4");
    add("SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'pgtls%' AND $1::int > 0", "1");
    const bool all = run_async_loop(
        c, [&] { return std::none_of(got.begin(), got.end(), [](const std::string& g) { return g.empty(); }); },
        std::chrono::seconds(10));
    std::string joined = all ? "" : "(the queries did not complete) ";
    for (const auto& g : got) joined += g + " ";
    return joined;
}

}  // namespace pgtls::test
