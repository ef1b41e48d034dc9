// AsyncConnection: the engine's algorithms (src/protocol/) run by the non-blocking driver
// (driver.cpp), one queued operation after another. Completions are collected as the driver
// reports them and handed to the application's callbacks from advance() only.
#include "pgtls/async.hpp"

#include "client/async/core.hpp"

namespace pgtls {

using client::Batch;
using client::copy_chunk;
using client::CopyState;
using client::ExtendedArgs;
using client::make_op;
using client::usage_error;
using Op = client::AsyncCore::Op;
using State = client::AsyncCore;


AsyncConnection::AsyncConnection() : state_(std::make_unique<State>()) {}

AsyncConnection::AsyncConnection(AsyncConnection&&) noexcept = default;

AsyncConnection::~AsyncConnection() {
    if (!state_) return;
    State& s = *state_;
    s.fail_all(std::make_exception_ptr(
        Error(ErrorKind::usage, ErrorCause::usage, "the connection was destroyed with this operation in flight")));
    // Callbacks run now, while the connection still exists; a callback that queues another
    // operation sees it fail at once.
    s.closing = true;
    while (!s.completed.empty() || !s.queue.empty()) {
        s.fail_all(usage_error("the connection was destroyed"));
        if (!s.deliver(true)) return;
    }
    *s.alive = false;
    s.channel.abort();
}

std::array<AsyncWatch, 2> AsyncConnection::watches() const noexcept {
    const auto in = state_->driver.interest();
    std::array<AsyncWatch, 2> w;
    for (std::size_t i = 0; i < 2; ++i) w[i] = AsyncWatch{in[i].fd, in[i].read, in[i].write, in[i].epoch};
    return w;
}

std::optional<AsyncConnection::Clock::time_point> AsyncConnection::deadline() const noexcept {
    // advance() is due at once when a completion waits for its callback, a queued operation
    // waits to start, or queued queries can join the running pipeline. The clock's epoch: a
    // time every later `now` is past, whenever the loop
    // took its own `now` (Clock::now() here would be later than a loop's earlier reading, and
    // `deadline <= now` would then never hold for it); and not time_point::min(), which
    // overflows a loop's `deadline - now`.
    if (!state_->completed.empty() || (!state_->running && !state_->queue.empty()) || state_->kick ||
        state_->can_append())
        return Clock::time_point{};
    return state_->driver.deadline();
}

void AsyncConnection::advance(Clock::time_point now) {
    State& s = *state_;
    s.kick = false;
    while (true) {
        s.driver.advance(now);
        s.harvest_batch();
        if (s.start_next(now)) continue;  // queries joined the running pipeline: write them
        if (s.completed.empty()) return;
        if (!s.deliver()) return;
        now = Clock::now();
    }
}

bool AsyncConnection::busy() const noexcept {
    // The library's own operations do not count, running or completed: the Close of leftover
    // statements may complete before the callbacks of the operations that ran ahead of it.
    const auto applications = [](const auto& op) { return !op->internal; };
    return (state_->running && !state_->running->internal) ||
           std::any_of(state_->queue.begin(), state_->queue.end(), applications) ||
           std::any_of(state_->completed.begin(), state_->completed.end(), applications);
}

AsyncConnection::OpId AsyncConnection::connect(Settings settings, Done done) {
    auto op = make_op<protocol::ConnectFlow>(
        [settings = std::move(settings), shared = std::exchange(state_->next_shared, nullptr)](
            State& s) mutable -> std::unique_ptr<protocol::Algorithm> {
            s.channel.abort();
            s.healthy = false;
            s.closing = false;
            s.settings = std::move(settings);
            s.tls.reset();
            s.shared = std::move(shared);
            s.reader = protocol::MessageReader(s.settings.max_message_size);
            s.out.clear();
            {
                auto handler = std::move(s.session.notice_handler);
                s.session = protocol::SessionState{};
                s.session.notice_handler = std::move(handler);
                s.session.limits = protocol::SessionState::Limits::from(s.settings);
            }
            s.end_copy(nullptr);
            s.cache.clear();  // a new session has none of the old one's statements
            // The connect policy is the blocking client's (ConnectFlow); the TLS context is
            // built before the first TLS attempt, once.
            protocol::ConnectOptions o = connect_options(s.settings);
            o.prepare_tls = [&s] { s.ensure_tls(); };
            o.startup_options = [&s](const HostTarget& t, protocol::TlsStart how) {
                if (how != protocol::TlsStart::none) s.ensure_tls();
                const crypto::Provider* crypto = s.tls ? &s.tls->backend->crypto() : &tls::default_crypto();
                if (s.shared) crypto = &shared_auth_crypto(*s.shared, *crypto);
                return startup_options(s.settings, t, how, *crypto, s.session);
            };
            return std::make_unique<protocol::ConnectFlow>(std::move(o), s.wire());
        },
        [done = std::move(done)](State&, protocol::ConnectFlow*, std::exception_ptr e) { done(e); });
    op->kind = Op::Kind::connect;
    return state_->submit(std::move(op));
}

AsyncConnection::OpId connect_shared(AsyncConnection& connection, Settings settings,
                                     std::shared_ptr<ConnectShared> shared, AsyncConnection::Done done) {
    connection.core()->next_shared = std::move(shared);  // taken by the connect queued now
    return connection.connect(std::move(settings), std::move(done));
}

bool uses_current_tls(const AsyncConnection& connection, const ConnectShared& shared) {
    const client::AsyncCore* core = connection.core();
    if (!core || !core->tls || core->shared.get() != &shared) return true;
    return is_current_tls(shared, core->tls);
}

AsyncConnection::OpId AsyncConnection::connect(const Config& config, Done done) {
    // Resolve before `done` is handed on: a parameter built from it could be constructed
    // (moved from) before resolve() throws, leaving nothing to report the error to.
    std::optional<Settings> settings;
    try {
        settings.emplace(resolve(config));
    } catch (...) {
        auto op = std::make_unique<Op>();
        op->kind = Op::Kind::connect;
        const std::exception_ptr e = std::current_exception();
        op->make = [e](State&) -> std::unique_ptr<protocol::Algorithm> { std::rethrow_exception(e); };
        op->finish = [done = std::move(done)](State&, protocol::Algorithm*, std::exception_ptr err) { done(err); };
        return state_->submit(std::move(op));
    }
    return connect(std::move(*settings), std::move(done));
}

AsyncConnection::OpId client::AsyncCore::simple(std::string sql,
                                                std::function<void(std::exception_ptr, std::vector<Result>)> done,
                                                std::function<void(const State&)> check) {
    auto held = std::make_shared<std::string>(std::move(sql));
    return submit(make_op<protocol::SimpleQuery>(
        [held, check = std::move(check)](State& s) {
            if (check) check(s);
            if (std::string c = trace::with_trace_context(s.settings, *held); !c.empty()) *held = std::move(c);
            return std::make_unique<protocol::SimpleQuery>(s.wire(), *held, s.request_options());
        },
        [held, done = std::move(done)](State& s, protocol::SimpleQuery* q, std::exception_ptr e) {
            if (q) s.cache.after_simple_query(q->results());
            done(e, q && !e ? std::move(q->results()) : std::vector<Result>{});
        }));
}

AsyncConnection::OpId AsyncConnection::query(std::string sql, Callback<std::vector<Result>> done) {
    return state_->simple(std::move(sql), std::move(done));
}

namespace {
std::unique_ptr<Op> extended_op(std::shared_ptr<ExtendedArgs> a,
                                std::function<void(ExtendedArgs&, std::exception_ptr)> result) {
    // A COPY runs alone: inside an implicit pipeline the server's CopyInResponse would take
    // the queries after it as COPY data (see protocol::runs_copy).
    const bool pipelinable = !a->on_row && !protocol::runs_copy(a->sql);
    auto op = make_op<protocol::Algorithm>(
        [a](State& s) -> std::unique_ptr<protocol::Algorithm> {
            const std::function<void(const Row&)>* on_row = a->on_row ? &a->on_row : nullptr;
            if (!a->statement && s.cache.capacity() > 0)  // execute() starts over once, as Client's
                return std::make_unique<protocol::CachedExecute>(
                    s.wire(), s.cache, protocol::ExtendedCall{nullptr, a->sql, a->params, a->format, on_row, &a->result},
                    s.request_options(), !on_row);
            a->with_trace_comment(s.settings);
            protocol::ExtendedCall call{a->statement ? &*a->statement : nullptr, a->sql, a->params, a->format, on_row,
                                        &a->result};
            return std::make_unique<protocol::ExtendedRequest>(s.wire(), call, s.request_options());
        },
        [a, result = std::move(result)](State&, protocol::Algorithm*, std::exception_ptr e) { result(*a, e); });
    if (pipelinable) op->pipelinable = std::move(a);
    return op;
}
}  // namespace

AsyncConnection::OpId AsyncConnection::execute(std::string sql, std::vector<Param> params, Callback<Result> done,
                                               ResultFormat format) {
    auto a = std::make_shared<ExtendedArgs>(ExtendedArgs{std::move(sql), std::nullopt, std::move(params), format, {}, {}});
    return state_->submit(extended_op(a, [done = std::move(done)](ExtendedArgs& a, std::exception_ptr e) {
        done(e, e ? Result{} : std::move(a.result));
    }));
}

AsyncConnection::OpId AsyncConnection::execute(PreparedStatement statement, std::vector<Param> params,
                                               Callback<Result> done, ResultFormat format) {
    if (params.size() != statement.param_types.size()) {
        auto op = std::make_unique<Op>();
        const auto e = std::make_exception_ptr(Error(
            ErrorKind::usage, "prepared statement \"" + statement.name + "\" takes " +
                                  std::to_string(statement.param_types.size()) + " parameters, " +
                                  std::to_string(params.size()) + " given"));
        op->make = [e](State&) -> std::unique_ptr<protocol::Algorithm> { std::rethrow_exception(e); };
        op->finish = [done = std::move(done)](State&, protocol::Algorithm*, std::exception_ptr err) { done(err, Result{}); };
        return state_->submit(std::move(op));
    }
    auto a = std::make_shared<ExtendedArgs>(ExtendedArgs{{}, std::move(statement), std::move(params), format, {}, {}});
    return state_->submit(extended_op(a, [done = std::move(done)](ExtendedArgs& a, std::exception_ptr e) {
        done(e, e ? Result{} : std::move(a.result));
    }));
}

AsyncConnection::OpId AsyncConnection::stream(std::string sql, std::vector<Param> params,
                                              std::function<void(const Row&)> on_row, Callback<std::uint64_t> done,
                                              ResultFormat format) {
    auto a = std::make_shared<ExtendedArgs>(
        ExtendedArgs{std::move(sql), std::nullopt, std::move(params), format, std::move(on_row), {}});
    return state_->submit(extended_op(a, [done = std::move(done)](ExtendedArgs& a, std::exception_ptr e) {
        done(e, e ? 0 : a.result.affected_rows());
    }));
}

AsyncConnection::OpId AsyncConnection::prepare(std::string name, std::string sql, std::vector<std::uint32_t> types,
                                               Callback<PreparedStatement> done) {
    if (name.empty()) {
        auto op = std::make_unique<Op>();
        op->make = [](State&) -> std::unique_ptr<protocol::Algorithm> {
            throw Error(ErrorKind::usage, "prepare() needs a statement name (the unnamed statement is execute()'s)");
        };
        op->finish = [done = std::move(done)](State&, protocol::Algorithm*, std::exception_ptr e) { done(e, {}); };
        return state_->submit(std::move(op));
    }
    struct Args {
        std::string name, sql;
        std::vector<std::uint32_t> types;
    };
    auto a = std::make_shared<Args>(Args{std::move(name), std::move(sql), std::move(types)});
    return state_->submit(make_op<protocol::DescribeStatement>(
        [a](State& s) {
            return std::make_unique<protocol::DescribeStatement>(s.wire(), a->name, a->sql, &a->types, s.request_options());
        },
        [a, done = std::move(done)](State&, protocol::DescribeStatement* q, std::exception_ptr e) {
            done(e, q && !e ? std::move(q->statement()) : PreparedStatement{});
        }));
}

AsyncConnection::OpId AsyncConnection::pipeline(std::vector<PipelineQuery> queries,
                                                Callback<std::vector<PipelineResult>> done) {
    struct Args {
        std::string messages;
        std::vector<std::size_t> sync_after;
        std::vector<PipelineResult> results;
        std::vector<std::string> names;  // per query, the statement it parses ("" unnamed)
        std::vector<std::string> texts;  // per query, its SQL when traced with trace_query_text
    };
    auto a = std::make_shared<Args>();
    return state_->submit(make_op<protocol::PipelineRequest>(
        [a, queries = std::move(queries)](State& s) {
            for (std::size_t i = 0; i < queries.size(); ++i) {
                // After the first Sync, a statement of its own name (see encode_pipeline_query).
                a->names.push_back(protocol::encode_pipeline_query(a->messages, !a->sync_after.empty(), queries[i].sql,
                                                                   queries[i].params, queries[i].format, s.cache));
                if (queries[i].sync_after) {
                    protocol::sync(a->messages);
                    a->sync_after.push_back(i + 1);
                }
            }
            if (a->sync_after.empty() || a->sync_after.back() != queries.size()) {
                protocol::sync(a->messages);
                a->sync_after.push_back(queries.size());
            }
            a->results.resize(queries.size());
            auto request = std::make_unique<protocol::PipelineRequest>(s.wire(), a->messages, a->results,
                                                                       a->sync_after, s.request_options());
            if (trace::reports_query_text(s.settings))
                for (const auto& q : queries) a->texts.push_back(q.sql);
            request->set_texts(&a->texts);
            return request;
        },
        [a, done = std::move(done)](State& s, protocol::PipelineRequest*, std::exception_ptr e) {
            // A failed query skipped its Close: its statement is closed before the next operation.
            if (!e) {
                for (auto& name : protocol::pipeline_leftovers(a->names, a->results)) s.to_close.push_back(std::move(name));
                s.cache.after_pipeline(a->results);  // DEALLOCATE ALL
            }
            done(e, e ? std::vector<PipelineResult>{} : std::move(a->results));
        }));
}

AsyncConnection::OpId AsyncConnection::copy_out(std::string sql, std::function<void(std::string_view)> on_data,
                                                Callback<std::uint64_t> done) {
    struct Args {
        std::string sql;
        std::function<void(std::string_view)> on_data;
    };
    auto a = std::make_shared<Args>(Args{std::move(sql), std::move(on_data)});
    return state_->submit(make_op<protocol::CopyOut>(
        [a](State& s) { return std::make_unique<protocol::CopyOut>(s.wire(), a->sql, a->on_data, s.request_options()); },
        [a, done = std::move(done)](State&, protocol::CopyOut* q, std::exception_ptr e) {
            done(e, q && !e ? q->rows() : 0);
        }));
}

AsyncConnection::OpId AsyncConnection::copy_in(std::string sql, std::string data, Callback<std::uint64_t> done) {
    struct Args {
        std::string sql;
        std::string messages;
    };
    auto a = std::make_shared<Args>();
    a->sql = std::move(sql);
    for (std::size_t off = 0; off < data.size(); off += copy_chunk)
        protocol::copy_data(a->messages, std::string_view(data).substr(off, copy_chunk));
    protocol::copy_done(a->messages);
    return state_->submit(make_op<protocol::CopyInAll>(
        [a](State& s) { return std::make_unique<protocol::CopyInAll>(s.wire(), a->sql, a->messages, s.request_options()); },
        [a, done = std::move(done)](State&, protocol::CopyInAll* q, std::exception_ptr e) { done(e, q && !e ? q->rows() : 0); }));
}

// ---- prepared statements by name

AsyncConnection::OpId AsyncConnection::describe_statement(std::string name, Callback<PreparedStatement> done) {
    auto held = std::make_shared<std::string>(std::move(name));
    return state_->submit(make_op<protocol::DescribeStatement>(
        [held](State& s) {
            return std::make_unique<protocol::DescribeStatement>(s.wire(), *held, std::string_view{}, nullptr,
                                                                 s.request_options());
        },
        [held, done = std::move(done)](State&, protocol::DescribeStatement* q, std::exception_ptr e) {
            done(e, q && !e ? std::move(q->statement()) : PreparedStatement{});
        }));
}

AsyncConnection::OpId AsyncConnection::set_statement_cache_capacity(std::size_t capacity, Done done) {
    auto names = std::make_shared<std::vector<std::string>>();
    return state_->submit(make_op<protocol::CloseStatements>(
        [names, capacity](State& s) {
            *names = s.cache.set_capacity(capacity);
            return std::make_unique<protocol::CloseStatements>(s.wire(), *names, s.request_options());
        },
        [done = std::move(done)](State&, protocol::CloseStatements*, std::exception_ptr e) { done(e); }));
}

std::size_t AsyncConnection::statement_cache_capacity() const noexcept { return state_->cache.capacity(); }

AsyncConnection::OpId AsyncConnection::close_statement(std::string name, Done done) {
    auto held = std::make_shared<std::vector<std::string>>(std::vector<std::string>{std::move(name)});
    return state_->submit(make_op<protocol::CloseStatements>(
        [held](State& s) { return std::make_unique<protocol::CloseStatements>(s.wire(), *held, s.request_options()); },
        [done = std::move(done)](State&, protocol::CloseStatements*, std::exception_ptr e) { done(e); }));
}

AsyncConnection::OpId AsyncConnection::wait_notification(std::chrono::milliseconds timeout,
                                                         Callback<std::optional<Notification>> done) {
    return state_->submit(make_op<protocol::NotificationWait>(
        [timeout](State& s) { return std::make_unique<protocol::NotificationWait>(s.wire(), timeout); },
        [done = std::move(done)](State& s, protocol::NotificationWait*, std::exception_ptr e) {
            std::optional<Notification> n;
            if (!e && !s.session.notifications.empty()) {
                n = std::move(s.session.notifications.front());
                s.session.notifications.pop_front();
            }
            done(e, std::move(n));
        }));
}

AsyncConnection::OpId AsyncConnection::close(Done done) {
    auto op = make_op<protocol::CloseFlow>(
        [](State& s) -> std::unique_ptr<protocol::Algorithm> {
            s.out.clear();
            return std::make_unique<protocol::CloseFlow>(s.wire(), std::chrono::seconds(5));
        },
        [done = std::move(done)](State&, protocol::CloseFlow*, std::exception_ptr e) { done(e); });
    op->kind = Op::Kind::close;
    return state_->submit(std::move(op));
}

void AsyncConnection::cancel(OpId id) {
    State& s = *state_;
    // 0 names no operation (ids start at 1) — but it is the id of every implicit pipeline's own
    // operation, which it must not cancel.
    if (id == 0) return;
    for (auto it = s.queue.begin(); it != s.queue.end(); ++it) {
        if ((*it)->id != id) continue;
        (*it)->error = usage_error("operation cancelled");
        s.completed.push_back(std::move(*it));
        s.queue.erase(it);
        return;
    }
    if (!s.running) return;
    const auto closed = [] {
        return std::make_exception_ptr(
            Error(ErrorKind::connection, ErrorCause::usage, "operation cancelled; the connection was closed"));
    };
    // From a callback the running operation calls (on_row, the notice handler) the driver only
    // records the cancel: advance() carries it out, and is due at once.
    if (s.running->id == id) {
        s.driver.request_cancel(closed());
        s.kick = true;
        return;
    }
    // A query in an implicit pipeline: a CancelRequest when the server is running it (its
    // result is then 57014, the others' are unaffected). One the server has not reached is
    // already sent and runs; one it has answered is complete: both keep their outcome, as a
    // cancel that arrives after a query finished does.
    const auto& members = s.running->members;
    for (std::size_t i = s.running->completed_members; i < members.size(); ++i) {
        if (members[i]->id != id) continue;
        const auto& pipeline = static_cast<const protocol::PipelineRequest&>(*s.running->algo);
        if (pipeline.reported() == i) {
            s.driver.request_cancel(closed());
            s.kick = true;
        }
        return;
    }
}

bool AsyncConnection::is_open() const noexcept { return state_->channel.is_open(); }
bool AsyncConnection::is_healthy() const noexcept { return state_->channel.is_open() && state_->healthy; }
const ConnectionInfo& AsyncConnection::info() const noexcept { return state_->info; }
TransactionStatus AsyncConnection::transaction_status() const noexcept {
    // Mid-COPY FROM STDIN (an AsyncCopyIn open, no operation running) the last ReadyForQuery no
    // longer describes the session: a pool must not take such a connection for idle.
    return is_open() && !state_->copy ? state_->session.transaction_status : TransactionStatus::unknown;
}
std::optional<std::string> AsyncConnection::parameter_status(std::string_view name) const {
    if (auto it = state_->session.parameters.find(name); it != state_->session.parameters.end()) return it->second;
    return std::nullopt;
}
std::vector<Notification> AsyncConnection::take_notifications() {
    std::vector<Notification> v(state_->session.notifications.begin(), state_->session.notifications.end());
    state_->session.notifications.clear();
    return v;
}
AsyncConnection::Stats AsyncConnection::stats() const noexcept { return state_->stats; }
void AsyncConnection::pause_reading() noexcept { state_->driver.pause_reading(true); }
void AsyncConnection::resume_reading() noexcept {
    if (!state_->driver.reading_paused()) return;
    state_->driver.pause_reading(false);
    state_->kick = true;  // the read waits for an advance(): no socket is watched for it
}
bool AsyncConnection::reading_paused() const noexcept { return state_->driver.reading_paused(); }
void AsyncConnection::set_query_timeout(std::chrono::milliseconds timeout) noexcept { state_->query_timeout = timeout; }
void AsyncConnection::set_pipeline_overlap(PipelineOverlap overlap) noexcept { state_->pipeline_overlap = overlap; }
PipelineOverlap AsyncConnection::pipeline_overlap() const noexcept { return state_->pipeline_overlap; }
std::chrono::milliseconds AsyncConnection::query_timeout() const noexcept { return state_->query_timeout; }
int AsyncConnection::socket() const noexcept { return state_->channel.fd(); }
const std::function<void(const Notice&)>& AsyncConnection::notice_handler() const noexcept {
    return state_->session.notice_handler;
}
void AsyncConnection::set_notice_handler(std::function<void(const Notice&)> handler) {
    state_->session.notice_handler = std::move(handler);
}

}  // namespace pgtls
