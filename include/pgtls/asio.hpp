/// \file
/// pgtls on standalone Asio (1.22+): C++20 coroutines and any completion token.
///
/// @code
///   pgtls::AsioConnection conn(io.get_executor());
///   co_await conn.async_connect(config, asio::use_awaitable);
///   auto rows = co_await conn.async_query("SELECT 1", asio::use_awaitable);
///   auto r = co_await conn.async_execute("SELECT $1::int", {pgtls::to_param(7)}, asio::use_awaitable);
/// @endcode
///
/// Each operation completes with (std::exception_ptr[, result]): use_awaitable rethrows the
/// error in the coroutine; a plain callback receives it. Completions are posted to the
/// handler's associated executor (never run inside the initiating call).
///
/// Per-operation cancellation: an operation whose handler has a cancellation slot (a bound
/// asio::cancellation_signal, the awaitable operators `a || b`, ...) is cancelled through
/// AsyncConnection::cancel: a running query sends a real CancelRequest and completes with the
/// server's 57014 while the connection stays usable; a queued operation is removed; a connect is
/// abandoned and the connection closed.
///
/// Threading: like every Asio I/O object, a connection is used from one thread or strand at a
/// time. Destroying it completes every operation in flight with an error.
#pragma once

#include "pgtls/version.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/post.hpp>

#include "pgtls/async.hpp"
#include "pgtls/detail/asio_pump.hpp"

PGTLS_API_BEGIN
namespace pgtls {

namespace detail {
/// What an operation needs from its owner: the connection, a call that re-arms the pump
/// driving it, and a flag that is false once the owner (and so the connection) is gone.
struct AsioOpTarget {
    AsyncConnection* conn = nullptr;      ///< the connection the operation runs on
    std::function<void()> arm;            ///< re-arms the pump after a change
    std::shared_ptr<bool> alive;          ///< false once `conn` may be gone
};

/// Queues the operation `start(complete)` makes (returning its OpId on `target`'s connection),
/// with a completion that posts the handler to its associated executor (`default_ex` when it
/// has none); connects the handler's cancellation slot to AsyncConnection::cancel(id).
template <class Signature, class Token, class Start>
auto asio_initiate(Token&& token, AsioOpTarget target, ::asio::any_io_executor default_ex, Start start) {
    return ::asio::async_initiate<Token, Signature>(
        [target = std::move(target), default_ex = std::move(default_ex)](auto handler, Start start_op) {
            using Handler = decltype(handler);
            auto slot = ::asio::get_associated_cancellation_slot(handler);
            auto ex = ::asio::get_associated_executor(handler, default_ex);
            // std::function needs a copyable callable; Asio handlers may be move-only.
            auto h = std::make_shared<std::optional<Handler>>(std::move(handler));
            auto complete = [h, ex, slot](std::exception_ptr e, auto&&... result) mutable {
                if (slot.is_connected()) slot.clear();
                ::asio::post(ex, [h, e, r = std::make_tuple(std::move(result)...)]() mutable {
                    std::apply([&](auto&&... v) { std::move(**h)(e, std::move(v)...); }, std::move(r));
                });
            };
            const AsyncConnection::OpId id = start_op(std::move(complete));
            if (slot.is_connected())
                slot.assign([target, id](::asio::cancellation_type) {
                    if (*target.alive) {
                        target.conn->cancel(id);
                        target.arm();
                    }
                });
            target.arm();
        },
        token, std::move(start));
}
}  // namespace detail

namespace detail {
/// What AsioCopyIn and AsioTransaction share: an AsyncCopyIn or AsyncTransaction (`Inner`) on
/// an Asio connection, whose operations start through asio_initiate, and whose destruction
/// while open (an abort, a ROLLBACK queued) re-arms the connection's pump. `Inner` lives on the
/// heap, so an operation initiated later (a deferred token) still finds it after a move of
/// its holder; the holder itself must outlive the initiation, as any Asio I/O object.
template <class Inner>
class AsioHeld {
public:
    using executor_type = ::asio::any_io_executor;  ///< The executor of its connection.

    /// Holds nothing (what a failed operation that makes one completes with).
    AsioHeld() = default;
    /// Holds `inner`, of the connection `target` names.
    AsioHeld(Inner inner, AsioOpTarget target, executor_type ex)
        : inner_(std::make_unique<Inner>(std::move(inner))), target_(std::move(target)), ex_(std::move(ex)) {}
    AsioHeld(AsioHeld&&) noexcept = default;  ///< Takes over what the source holds.
    /// Ends what this one holds (as the destructor), then takes over the source's.
    AsioHeld& operator=(AsioHeld&& other) noexcept {
        if (this != &other) {
            AsioHeld gone(std::move(*this));
            inner_ = std::move(other.inner_);
            target_ = std::move(other.target_);
            ex_ = std::move(other.ex_);
        }
        return *this;
    }
    /// Ends what it holds when still open (Inner's destructor queues it) and re-arms the pump.
    ~AsioHeld() {
        if (!is_open()) return;
        inner_.reset();  // Inner's destructor queues the abort or ROLLBACK
        if (target_.alive && *target_.alive) target_.arm();
    }

    executor_type get_executor() const noexcept { return ex_; }        ///< Its connection's executor.
    bool is_open() const noexcept { return inner_ && inner_->is_open(); }  ///< As Inner::is_open().

protected:
    /// Starts `start(inner, done)` (an operation of Inner) for any completion token; one that
    /// holds nothing starts on an Inner of nothing (whose operations throw Error(usage)).
    template <class Signature, class Token, class Start>
    auto run(Token&& token, Start start) {
        if (!inner_) inner_ = std::make_unique<Inner>();
        return asio_initiate<Signature>(std::forward<Token>(token), target_, ex_,
                                        [inner = inner_.get(), start = std::move(start)](auto done) mutable {
                                            return start(*inner, std::move(done));
                                        });
    }

private:
    std::unique_ptr<Inner> inner_;
    AsioOpTarget target_;
    executor_type ex_;
};
}  // namespace detail

/// A streamed COPY ... FROM STDIN on an Asio connection (AsioOperations::async_open_copy_in):
/// the async_* forms of AsyncCopyIn's operations, for any completion token, cancellable as
/// the connection's operations are. Destroying it while its COPY is open aborts the COPY.
class AsioCopyIn : public detail::AsioHeld<AsyncCopyIn> {
public:
    using AsioHeld::AsioHeld;

    /// AsyncCopyIn::write: completes with (error) once `data` went out to the socket.
    template <class Token>
    auto async_write(std::string data, Token&& token) {
        return run<void(std::exception_ptr)>(std::forward<Token>(token), [d = std::move(data)](AsyncCopyIn& w, auto done) mutable {
            return w.write(std::move(d), std::move(done));
        });
    }
    /// AsyncCopyIn::finish: completes with (error, rows copied).
    template <class Token>
    auto async_finish(Token&& token) {
        return run<void(std::exception_ptr, std::uint64_t)>(std::forward<Token>(token),
                                                            [](AsyncCopyIn& w, auto done) { return w.finish(std::move(done)); });
    }
    /// AsyncCopyIn::abort: completes with (error), null once the server ended the COPY.
    template <class Token>
    auto async_abort(std::string reason, Token&& token) {
        return run<void(std::exception_ptr)>(std::forward<Token>(token), [r = std::move(reason)](AsyncCopyIn& w, auto done) mutable {
            return w.abort(std::move(r), std::move(done));
        });
    }
};

/// A transaction on an Asio connection (AsioOperations::async_begin): the async_* forms of
/// AsyncTransaction's operations, for any completion token. Destroying it before it was
/// committed or rolled back queues a ROLLBACK, so in a coroutine an exception (or a cancelled
/// co_await) that leaves the scope rolls the transaction back:
/// @code
///   pgtls::AsioTransaction tx = co_await conn.async_begin({}, asio::use_awaitable);
///   co_await conn.async_execute(sql, params, asio::use_awaitable);  // throws: rolled back
///   co_await tx.async_commit(asio::use_awaitable);
/// @endcode
class AsioTransaction : public detail::AsioHeld<AsyncTransaction> {
public:
    using AsioHeld::AsioHeld;

    /// COMMIT: completes with (error); Error(server) when the server rolled back instead.
    template <class Token>
    auto async_commit(Token&& token) {
        return done_by(std::forward<Token>(token), [](AsyncTransaction& t, auto done) { return t.commit(std::move(done)); });
    }
    /// ROLLBACK: completes with (error).
    template <class Token>
    auto async_rollback(Token&& token) {
        return done_by(std::forward<Token>(token), [](AsyncTransaction& t, auto done) { return t.rollback(std::move(done)); });
    }
    /// SAVEPOINT `name`: completes with (error).
    template <class Token>
    auto async_savepoint(std::string name, Token&& token) {
        return done_by(std::forward<Token>(token),
                       [n = std::move(name)](AsyncTransaction& t, auto done) mutable { return t.savepoint(std::move(n), std::move(done)); });
    }
    /// ROLLBACK TO SAVEPOINT `name`: completes with (error).
    template <class Token>
    auto async_rollback_to(std::string name, Token&& token) {
        return done_by(std::forward<Token>(token),
                       [n = std::move(name)](AsyncTransaction& t, auto done) mutable { return t.rollback_to(std::move(n), std::move(done)); });
    }
    /// RELEASE SAVEPOINT `name`: completes with (error).
    template <class Token>
    auto async_release(std::string name, Token&& token) {
        return done_by(std::forward<Token>(token),
                       [n = std::move(name)](AsyncTransaction& t, auto done) mutable { return t.release(std::move(n), std::move(done)); });
    }

private:
    template <class Token, class Start>
    auto done_by(Token&& token, Start start) {
        return run<void(std::exception_ptr)>(std::forward<Token>(token), std::move(start));
    }
};

/// The async_* operations of an AsyncConnection owned by `Derived` (AsioConnection, or an
/// AsioPool lease), for any completion token. Each queues the AsyncConnection operation of the
/// same name and completes with its outcome, posted to the handler's associated executor (the
/// owner's by default). A handler with a cancellation slot cancels its operation through
/// AsyncConnection::cancel.
///
/// `Derived` provides get_executor(), and op_target(): an OpTarget naming the connection.
template <class Derived>
class AsioOperations {
public:
    /// Resolves `config` and connects (AsyncConnection::connect): completes with (error).
    template <class Token>
    auto async_connect(Config config, Token&& token) {
        return initiate<void(std::exception_ptr)>(std::forward<Token>(token), [config = std::move(config)](AsyncConnection& c, auto done) {
            return c.connect(config, std::move(done));
        });
    }
    /// Connects with resolved settings: completes with (error).
    template <class Token>
    auto async_connect(Settings settings, Token&& token) {
        return initiate<void(std::exception_ptr)>(std::forward<Token>(token), [s = std::move(settings)](AsyncConnection& c, auto done) mutable {
            return c.connect(std::move(s), std::move(done));
        });
    }
    /// Simple query: completes with (error, every statement's Result).
    template <class Token>
    auto async_query(std::string sql, Token&& token) {
        return initiate<void(std::exception_ptr, std::vector<Result>)>(
            std::forward<Token>(token),
            [sql = std::move(sql)](AsyncConnection& c, auto done) mutable { return c.query(std::move(sql), std::move(done)); });
    }
    /// Extended query, implicitly pipelined (AsyncConnection::execute): completes with (error, Result).
    template <class Token>
    auto async_execute(std::string sql, std::vector<Param> params, Token&& token, ResultFormat format = ResultFormat::text) {
        return initiate<void(std::exception_ptr, Result)>(
            std::forward<Token>(token), [sql = std::move(sql), params = std::move(params), format](AsyncConnection& c, auto done) mutable {
                return c.execute(std::move(sql), std::move(params), std::move(done), format);
            });
    }
    /// Prepares a named statement (types inferred): completes with (error, PreparedStatement).
    template <class Token>
    auto async_prepare(std::string name, std::string sql, Token&& token) {
        return initiate<void(std::exception_ptr, PreparedStatement)>(
            std::forward<Token>(token), [name = std::move(name), sql = std::move(sql)](AsyncConnection& c, auto done) mutable {
                return c.prepare(std::move(name), std::move(sql), {}, std::move(done));
            });
    }
    /// Executes a prepared statement: completes with (error, Result).
    template <class Token>
    auto async_execute(PreparedStatement statement, std::vector<Param> params, Token&& token) {
        return initiate<void(std::exception_ptr, Result)>(
            std::forward<Token>(token), [st = std::move(statement), params = std::move(params)](AsyncConnection& c, auto done) mutable {
                return c.execute(std::move(st), std::move(params), std::move(done));
            });
    }
    /// Rows go to `on_row` as they arrive; completes with the affected-row count.
    template <class Token>
    auto async_stream(std::string sql, std::vector<Param> params, std::function<void(const Row&)> on_row, Token&& token) {
        return initiate<void(std::exception_ptr, std::uint64_t)>(
            std::forward<Token>(token),
            [sql = std::move(sql), params = std::move(params), on_row = std::move(on_row)](AsyncConnection& c, auto done) mutable {
                return c.stream(std::move(sql), std::move(params), std::move(on_row), std::move(done));
            });
    }
    /// Explicit pipeline (AsyncConnection::pipeline): completes with (error, one outcome per query).
    template <class Token>
    auto async_pipeline(std::vector<PipelineQuery> queries, Token&& token) {
        return initiate<void(std::exception_ptr, std::vector<PipelineResult>)>(
            std::forward<Token>(token), [q = std::move(queries)](AsyncConnection& c, auto done) mutable {
                return c.pipeline(std::move(q), std::move(done));
            });
    }
    /// COPY ... TO STDOUT, each chunk to `on_data`: completes with (error, row count).
    template <class Token>
    auto async_copy_out(std::string sql, std::function<void(std::string_view)> on_data, Token&& token) {
        return initiate<void(std::exception_ptr, std::uint64_t)>(
            std::forward<Token>(token), [sql = std::move(sql), f = std::move(on_data)](AsyncConnection& c, auto done) mutable {
                return c.copy_out(std::move(sql), std::move(f), std::move(done));
            });
    }
    /// COPY ... FROM STDIN with all of `data`: completes with (error, row count).
    template <class Token>
    auto async_copy_in(std::string sql, std::string data, Token&& token) {
        return initiate<void(std::exception_ptr, std::uint64_t)>(
            std::forward<Token>(token), [sql = std::move(sql), d = std::move(data)](AsyncConnection& c, auto done) mutable {
                return c.copy_in(std::move(sql), std::move(d), std::move(done));
            });
    }
    /// COPY ... FROM STDIN streamed (AsyncConnection::open_copy_in): completes with (error,
    /// the AsioCopyIn to write the data through).
    template <class Token>
    auto async_open_copy_in(std::string sql, Token&& token) {
        return initiate_wrapped<AsioCopyIn>(std::forward<Token>(token), [sql = std::move(sql)](AsyncConnection& c, auto done) mutable {
            return c.open_copy_in(std::move(sql), std::move(done));
        });
    }
    /// BEGIN with `options` (AsyncConnection::begin): completes with (error, the AsioTransaction).
    template <class Token>
    auto async_begin(TransactionOptions options, Token&& token) {
        return initiate_wrapped<AsioTransaction>(
            std::forward<Token>(token), [options](AsyncConnection& c, auto done) { return c.begin(options, std::move(done)); });
    }
    /// Sets the statement cache's capacity (AsyncConnection::set_statement_cache_capacity):
    /// completes with (error) once the statements it forgets are closed on the server.
    template <class Token>
    auto async_set_statement_cache_capacity(std::size_t capacity, Token&& token) {
        return initiate<void(std::exception_ptr)>(std::forward<Token>(token), [capacity](AsyncConnection& c, auto done) {
            return c.set_statement_cache_capacity(capacity, std::move(done));
        });
    }
    /// The parameter types and columns of a named statement (AsyncConnection::describe_statement):
    /// completes with (error, PreparedStatement).
    template <class Token>
    auto async_describe_statement(std::string name, Token&& token) {
        return initiate<void(std::exception_ptr, PreparedStatement)>(
            std::forward<Token>(token),
            [n = std::move(name)](AsyncConnection& c, auto done) mutable { return c.describe_statement(std::move(n), std::move(done)); });
    }
    /// Closes a named statement (AsyncConnection::close_statement): completes with (error).
    template <class Token>
    auto async_close_statement(std::string name, Token&& token) {
        return initiate<void(std::exception_ptr)>(
            std::forward<Token>(token),
            [n = std::move(name)](AsyncConnection& c, auto done) mutable { return c.close_statement(std::move(n), std::move(done)); });
    }
    /// The next notification: completes with (error, notification or nullopt after `timeout`).
    template <class Token>
    auto async_wait_notification(std::chrono::milliseconds timeout, Token&& token) {
        return initiate<void(std::exception_ptr, std::optional<Notification>)>(
            std::forward<Token>(token),
            [timeout](AsyncConnection& c, auto done) { return c.wait_notification(timeout, std::move(done)); });
    }
    /// Terminate and close: completes with (error).
    template <class Token>
    auto async_close(Token&& token) {
        return initiate<void(std::exception_ptr)>(std::forward<Token>(token),
                                                  [](AsyncConnection& c, auto done) { return c.close(std::move(done)); });
    }

    /// What an operation needs from its owner (see detail::AsioOpTarget).
    using OpTarget = detail::AsioOpTarget;

protected:
    AsioOperations() = default;
    ~AsioOperations() = default;

private:
    /// Queues the operation `start` makes on the connection (see detail::asio_initiate).
    template <class Signature, class Token, class Start>
    auto initiate(Token&& token, Start start) {
        Derived& self = static_cast<Derived&>(*this);
        OpTarget target = self.op_target();
        AsyncConnection* conn = target.conn;
        return detail::asio_initiate<Signature>(
            std::forward<Token>(token), std::move(target), self.get_executor(),
            [conn, start = std::move(start)](auto done) mutable { return start(*conn, std::move(done)); });
    }
    /// initiate() of an operation that completes with an AsyncCopyIn or AsyncTransaction: the
    /// handler gets its Asio form `Wrapper` (AsioCopyIn, AsioTransaction) on this connection.
    template <class Wrapper, class Token, class Start>
    auto initiate_wrapped(Token&& token, Start start) {
        Derived& self = static_cast<Derived&>(*this);
        return initiate<void(std::exception_ptr, Wrapper)>(
            std::forward<Token>(token), [start = std::move(start), target = self.op_target(),
                                         ex = self.get_executor()](AsyncConnection& c, auto done) mutable {
                return start(c, [done = std::move(done), target, ex](std::exception_ptr e, auto inner) mutable {
                    done(e, Wrapper(std::move(inner), target, ex));
                });
            });
    }
};

/// An AsyncConnection driven by an Asio executor, with async_* operations for any completion
/// token (see the file comment and AsioOperations).
class AsioConnection : public AsioOperations<AsioConnection> {
public:
    using executor_type = ::asio::any_io_executor;  ///< The executor it runs on.

    /// A closed connection whose socket work runs on `ex`.
    explicit AsioConnection(executor_type ex) : ex_(std::move(ex)), pollable_{conn_}, pump_(ex_, pollable_) {}
    AsioConnection(const AsioConnection&) = delete;
    AsioConnection& operator=(const AsioConnection&) = delete;
    ~AsioConnection() { *alive_ = false; }

    executor_type get_executor() const noexcept { return ex_; }  ///< The executor it runs on.
    /// The loop-agnostic connection underneath (state, notice handler, query timeout).
    AsyncConnection& connection() noexcept { return conn_; }
    /// Back-pressure for async_stream (see AsyncConnection::pause_reading): stop reading the
    /// socket until resume_reading(), e.g. while a slow consumer drains what on_row queued.
    void pause_reading() noexcept { conn_.pause_reading(); }
    /// Reads again after pause_reading().
    void resume_reading() {
        conn_.resume_reading();
        pump_.arm();
    }


private:
    friend class AsioOperations<AsioConnection>;
    OpTarget op_target() {
        return OpTarget{&conn_, [this, alive = alive_] {
                            if (*alive) pump_.arm();
                        },
                        alive_};
    }

    struct Pollable {
        AsyncConnection& c;
        std::array<AsyncWatch, 2> interest() const noexcept { return c.watches(); }
        std::optional<AsyncConnection::Clock::time_point> deadline() const noexcept { return c.deadline(); }
        void advance() { c.advance(); }
    };

    executor_type ex_;
    AsyncConnection conn_;
    Pollable pollable_;
    detail::AsioPump<Pollable> pump_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace pgtls
PGTLS_API_END
