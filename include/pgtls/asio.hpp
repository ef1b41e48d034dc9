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

#include <functional>
#include <memory>
#include <optional>
#include <string>
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

    /// What an operation needs from its owner: the connection, a call that re-arms the pump
    /// driving it, and a flag that is false once the owner (and so the connection) is gone.
    struct OpTarget {
        AsyncConnection* conn = nullptr;      ///< the connection the operation runs on
        std::function<void()> arm;            ///< re-arms the pump after a change
        std::shared_ptr<bool> alive;          ///< false once `conn` may be gone
    };

protected:
    AsioOperations() = default;
    ~AsioOperations() = default;

private:
    /// Queues the operation `start` makes on the connection, with a completion that posts the
    /// handler to its executor; connects the handler's cancellation slot to cancel(id).
    template <class Signature, class Token, class Start>
    auto initiate(Token&& token, Start start) {
        Derived& self = static_cast<Derived&>(*this);
        return ::asio::async_initiate<Token, Signature>(
            [target = self.op_target(), default_ex = self.get_executor()](auto handler, Start start_op) {
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
                const AsyncConnection::OpId id = start_op(*target.conn, std::move(complete));
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
