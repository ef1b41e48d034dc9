// AsyncConnection: the engine's algorithms (src/protocol/) run by the non-blocking driver
// (driver.cpp), one queued operation after another. Completions are collected as the driver
// reports them and handed to the application's callbacks from advance() only.
#include "pgtls/async.hpp"

#include <algorithm>
#include <deque>
#include <utility>

#include "client/async/driver.hpp"
#include "client/client_impl.hpp"
#include "protocol/cancel_flow.hpp"
#include "protocol/close_flow.hpp"
#include "protocol/connect_flow.hpp"
#include "protocol/copy.hpp"
#include "protocol/copy_in_all.hpp"
#include "protocol/frontend.hpp"
#include "protocol/notification_wait.hpp"
#include "protocol/statement_cache.hpp"
#include "protocol/pipeline.hpp"
#include "protocol/query.hpp"
#include "client/client_shared.hpp"
#include "client/session_setup.hpp"
#include "client/tls_setup_cache.hpp"
#include "client/trace_comment.hpp"
#include "client/transaction_sql.hpp"

namespace pgtls {

namespace {

// COPY data goes out in CopyData messages of at most this many bytes (as the blocking CopyIn's).
constexpr std::size_t copy_chunk = 64 * 1024;

std::exception_ptr usage_error(const char* what) {
    return std::make_exception_ptr(Error(ErrorKind::usage, ErrorCause::usage, what));
}

// The arguments and result of one extended query (execute, stream).
struct ExtendedArgs {
    std::string sql;
    std::optional<PreparedStatement> statement;
    std::vector<Param> params;
    ResultFormat format = ResultFormat::text;
    std::function<void(const Row&)> on_row;
    Result result;
    bool commented = false;  // with_trace_comment() ran

    // Prefixes the trace-context comment (Config::trace_context) as the statement goes out,
    // once; only the unnamed statement carries it (as Client::execute with the cache off).
    void with_trace_comment(const Settings& settings) {
        if (std::exchange(commented, true) || statement || !settings.trace_context) return;
        if (std::string c = trace::with_trace_context(settings, sql); !c.empty()) sql = std::move(c);
    }
};

// A streamed COPY FROM STDIN (open_copy_in), shared by the connection and its writer: open from
// the COPY's start until it ends (finish, abort, an error); `error` is how it ended, when it
// ended with an error (the writer's later operations complete with it). `ended`: the writer
// queued its finish or abort; `writer_gone`: the writer was destroyed.
struct CopyState {
    bool open = false;
    bool ended = false;
    bool writer_gone = false;
    std::exception_ptr error;
};

// A transaction begun by AsyncConnection::begin, shared by the transaction and its operations:
// `finished` once commit or rollback was queued; `owner_gone` once the AsyncTransaction was
// destroyed.
struct TransactionState {
    bool finished = false;
    bool owner_gone = false;
};

// An implicit pipeline: the queued queries' messages, each followed by its own Sync (so an
// error fails only its own query, exactly as when they run one after another), and their
// outcomes.
struct Batch {
    std::string messages;
    std::vector<std::size_t> sync_after;
    std::vector<PipelineResult> results;
};

}  // namespace

struct client::AsyncCore {
    using State = AsyncCore;
    using Clock = AsyncConnection::Clock;
    using OpId = AsyncConnection::OpId;
    template <class T>
    using Callback = AsyncConnection::Callback<T>;
    using Done = AsyncConnection::Done;
    // One queued operation: `make` builds its algorithm when it starts (so it sees the session
    // as it is then), `finish` reads the result and calls the application's callback.
    struct Op {
        OpId id = 0;
        enum class Kind { connect, close, other } kind = Kind::other;
        std::function<std::unique_ptr<protocol::Algorithm>(State&)> make;
        std::function<void(State&, protocol::Algorithm*, std::exception_ptr)> finish;
        std::unique_ptr<protocol::Algorithm> algo;
        std::exception_ptr error;  // set when it completed
        // An execute() without a row callback: such operations queued back to back go out
        // together (implicit pipelining).
        std::shared_ptr<ExtendedArgs> pipelinable;
        // An implicit pipeline: the operations it sends, in order, and their messages.
        std::vector<std::unique_ptr<Op>> members;
        std::shared_ptr<Batch> batch;
        std::size_t completed_members = 0;  // members completed so far (in order)
        // A streamed COPY's operations (open_copy_in and its writer's): while the COPY is
        // open only they start. copy_end: finish or abort, which ends the COPY.
        std::shared_ptr<CopyState> copy;
        bool copy_open = false, copy_end = false;
    };
    // An implicit pipeline's limits: past them the rest waits for the next one.
    static constexpr std::size_t max_batch_queries = 256;
    static constexpr std::size_t max_batch_bytes = std::size_t{1} << 20;
    AsyncConnection::Stats stats;
    bool kick = false;  // resume_reading(): advance() is due

    Settings settings;
    std::shared_ptr<TlsSetup> tls;
    // Set by connect_shared() (client_shared.hpp) for the connect it queues: a pool's TLS
    // context and key cache; `shared` is the running connect's.
    std::shared_ptr<ConnectShared> shared, next_shared;
    transport::Channel channel;
    protocol::MessageReader reader{64 * 1024 * 1024};
    std::string out;
    protocol::SessionState session;
    protocol::StatementCache cache;  // execute()'s, as Client's
    async::Driver driver{channel, protocol::Wire{reader, out, session}, setup()};

    ConnectionInfo info;
    protocol::BackendKey key;
    HostTarget target;
    std::string address;
    protocol::TlsStart tls_start = protocol::TlsStart::none;
    bool healthy = false;
    bool closing = false;  // a close was queued: later operations fail
    std::chrono::milliseconds query_timeout{0};

    OpId next_id = 0;
    std::deque<std::unique_ptr<Op>> queue;
    std::unique_ptr<Op> running;
    std::deque<std::unique_ptr<Op>> completed;
    std::shared_ptr<CopyState> copy;  // the open COPY, if any
    // Cleared by the destructor: a callback that destroyed the connection stops the delivery.
    std::shared_ptr<bool> alive = std::make_shared<bool>(true);

    async::DriverSetup setup() {
        async::DriverSetup s;
        s.tls_context = [this]() -> tls::Context* {
            ensure_tls();
            return tls->context.get();
        };
        s.make_cancel = [this](protocol::Wire w) -> std::unique_ptr<protocol::Algorithm> {
            protocol::CancelOptions o = cancel_options(settings, target, address, tls_start, tls && tls->verify_full, key);
            return std::make_unique<protocol::CancelFlow>(std::move(o), w);
        };
        s.begin_trace = [this](const protocol::Algorithm& a, const protocol::MessageReader& in, const std::string& o) {
            return trace::begin(settings, info, a, in, o);
        };
        s.tls_backend = [this]() -> std::string_view { return tls && tls->backend ? tls->backend->name() : ""; };
        return s;
    }

    void ensure_tls() {
        if (!tls) tls = shared ? shared_tls(*shared, settings) : shared_tls_setup(settings);
    }

    protocol::Wire wire() noexcept { return protocol::Wire{reader, out, session}; }
    protocol::RequestOptions request_options() const { return {query_timeout, {}, std::nullopt}; }

    // Operations start from advance() only (deadline() is then due at once): the application's
    // code — a password callback, a notice handler — never runs inside the call that queued
    // an operation, and what is queued between two advance() calls (by several coroutines, or
    // by the callbacks of one delivery) goes out together, as one implicit pipeline.
    OpId submit(std::unique_ptr<Op> op) {
        op->id = ++next_id;
        const OpId id = op->id;
        queue.push_back(std::move(op));
        return id;
    }

    // Why `op` cannot run now, or null.
    std::exception_ptr refusal(const Op& op) const {
        if (op.kind == Op::Kind::connect) return nullptr;
        if (op.copy && !op.copy_open && !op.copy->open)
            return op.copy->error ? op.copy->error : usage_error("the COPY has already ended");
        if (!channel.is_open()) return usage_error("connection is closed");
        if (!healthy) return std::make_exception_ptr(
            Error(ErrorKind::connection, "connection is broken after an earlier error; reconnect"));
        return nullptr;
    }

    // The queued operation to start next: the first, or while a COPY is open the first of a
    // COPY writer's (the others wait for the COPY to end). queue.end(): none may start.
    std::deque<std::unique_ptr<Op>>::iterator next_startable() {
        if (!copy) return queue.begin();
        return std::find_if(queue.begin(), queue.end(), [](const auto& op) { return op->copy && !op->copy_open; });
    }

    // The open COPY ends (with `error` when set).
    void end_copy(std::exception_ptr error) {
        if (!copy) return;
        copy->open = false;
        if (!copy->error) copy->error = std::move(error);
        copy.reset();
    }

    void start_next(Clock::time_point now) {
        while (!driver.busy() && !running && !queue.empty()) {
            const auto next = next_startable();
            if (next == queue.end()) return;
            std::unique_ptr<Op> op = std::move(*next);
            queue.erase(next);
            if (auto why = refusal(*op)) {
                op->error = why;
                completed.push_back(std::move(op));
                continue;
            }
            // Implicit pipelining: queries queued back to back go out together. Not with a
            // query timeout, which bounds and cancels one query at a time.
            if (op->pipelinable && query_timeout.count() == 0 && cache.capacity() == 0 && !queue.empty() &&
                queue.front()->pipelinable)
                op = make_batch(std::move(op));
            try {
                op->algo = op->make(*this);
            } catch (...) {
                if (op->batch) {
                    complete_batch(*op, protocol::Action::failure(std::current_exception(), protocol::Action::Connection::kept));
                    continue;
                }
                op->error = std::current_exception();
                completed.push_back(std::move(op));
                continue;
            }
            running = std::move(op);
            session.callback_error = nullptr;
            driver.start(*running->algo, [this](const protocol::Action& done) { on_done(done); }, now);
        }
    }

    // An operation that sends `first` and the pipelinable operations queued after it as one
    // pipeline; `first` alone (unbatched) when its own messages cannot be encoded. An operation
    // whose messages cannot be encoded ends the batch and runs alone next, so callbacks still
    // run in submission order.
    std::unique_ptr<Op> make_batch(std::unique_ptr<Op> first) {
        auto batch = std::make_unique<Op>();
        batch->batch = std::make_shared<Batch>();
        Batch& b = *batch->batch;
        auto add = [&](std::unique_ptr<Op>& op) {
            ExtendedArgs& a = *op->pipelinable;
            a.with_trace_comment(settings);
            const std::size_t before = b.messages.size();
            try {
                protocol::encode_extended(b.messages, a.statement ? &*a.statement : nullptr, a.sql, a.params, a.format);
                protocol::sync(b.messages);
            } catch (...) {
                b.messages.resize(before);
                return false;
            }
            batch->members.push_back(std::move(op));
            b.sync_after.push_back(batch->members.size());
            return true;
        };
        if (!add(first)) return first;
        while (!queue.empty() && queue.front()->pipelinable && batch->members.size() < max_batch_queries &&
               b.messages.size() < max_batch_bytes) {
            if (!add(queue.front())) break;  // it stays first in the queue
            queue.pop_front();
        }
        if (batch->members.size() == 1) return std::move(batch->members.front());
        b.results.resize(batch->members.size());
        ++stats.pipelines;
        stats.pipelined_queries += batch->members.size();
        batch->make = [bp = batch->batch](State& s) -> std::unique_ptr<protocol::Algorithm> {
            return std::make_unique<protocol::PipelineRequest>(s.wire(), bp->messages, bp->results, bp->sync_after,
                                                               s.request_options());
        };
        return batch;
    }

    // Completes the members of the running implicit pipeline whose outcome is final (their
    // sync group ended: its implicit COMMIT can fail until then), each as soon as it is (a
    // query's caller never waits for the queries sent after it).
    void harvest_batch() {
        if (!running || !running->batch || !running->algo) return;
        Op& batch = *running;
        const std::size_t settled = static_cast<const protocol::PipelineRequest&>(*batch.algo).settled();
        while (batch.completed_members < settled) complete_member(batch, batch.completed_members++, nullptr);
    }

    // Member `i` of `batch` completes: with `error` when set, else with its own result.
    void complete_member(Op& batch, std::size_t i, std::exception_ptr error) {
        std::unique_ptr<Op>& m = batch.members[i];
        PipelineResult& r = batch.batch->results[i];
        if (error) {
            m->error = std::move(error);
        } else if (r.status == PipelineResult::Status::ok) {
            m->pipelinable->result = std::move(r.result);
        } else if (r.status == PipelineResult::Status::error && r.error) {
            m->error = std::make_exception_ptr(std::move(*r.error));
        } else {
            m->error = std::make_exception_ptr(
                Error(ErrorKind::protocol, ErrorCause::protocol_violation, "the server skipped a pipelined query"));
        }
        completed.push_back(std::move(m));
    }

    // A finished implicit pipeline: the members not completed yet complete with their own
    // outcome, or, those the server had not answered when the pipeline failed, its error.
    void complete_batch(Op& batch, const protocol::Action& done) {
        const std::size_t answered =
            batch.algo ? static_cast<const protocol::PipelineRequest&>(*batch.algo).settled() : 0;
        for (std::size_t i = batch.completed_members; i < batch.members.size(); ++i)
            complete_member(batch, i, done.error && i >= answered ? done.error : nullptr);
        batch.completed_members = batch.members.size();
    }

    // From the driver: internal bookkeeping only; the application's callback runs later.
    void on_done(const protocol::Action& done) {
        std::unique_ptr<Op> op = std::move(running);
        if (op->batch) {
            if (done.connection == protocol::Action::Connection::retired) healthy = false;
            complete_batch(*op, done);
            return;
        }
        op->error = done.error;
        // A user callback (on_row, on_data, the notice handler) threw: its exception is the
        // operation's outcome, unchanged, in place of its result or of an error that followed
        // (as the blocking Client's call rethrows it).
        if (auto thrown = std::exchange(session.callback_error, nullptr)) op->error = std::move(thrown);
        if (done.connection == protocol::Action::Connection::retired) {
            healthy = false;
            end_copy(done.error);
        }
        if (op->copy) {
            if (op->copy_open && !done.error) {
                op->copy->open = true;
                copy = op->copy;
            } else if (!op->copy_open && (done.error || op->copy_end)) {
                end_copy(done.error);
            }
        }
        if (op->kind == Op::Kind::connect && !done.error) connected(static_cast<protocol::ConnectFlow&>(*op->algo));
        if (op->kind == Op::Kind::close) {
            channel.abort();
            healthy = false;
            end_copy(nullptr);
        }
        completed.push_back(std::move(op));
    }

    void connected(const protocol::ConnectFlow& a) {
        const auto& f = a.startup();
        healthy = true;
        target = a.target();
        address = a.address();
        tls_start = a.tls();
        key = f.backend_key();
        info = connection_info(target, address, tls_start, a.tls_up(), a.tls_up() ? tls->backend : nullptr, f, session);
    }

    // Runs the callbacks of completed operations. False when a callback destroyed the
    // connection (nothing of it may be touched then).
    // A callback that throws: from advance() its exception propagates to the loop (this
    // connection and the other completions are unaffected: the next advance() delivers them);
    // from the destructor (`discard_exceptions`) it is dropped, as a destructor cannot throw.
    bool deliver(bool discard_exceptions = false) {
        const std::shared_ptr<bool> token = alive;
        while (!completed.empty()) {
            std::unique_ptr<Op> op = std::move(completed.front());
            completed.pop_front();
            if (discard_exceptions) {
                try {
                    op->finish(*this, op->algo.get(), op->error);
                } catch (...) {
                }
            } else {
                op->finish(*this, op->algo.get(), op->error);
            }
            if (!*token) return false;
        }
        return true;
    }

    // A writer of the COPY `state` just opened on this connection.
    AsyncCopyIn writer(std::shared_ptr<CopyState> state);
    // A transaction just begun on this connection.
    AsyncTransaction transaction();
    // Queues `sql` (simple protocol, with the trace-context comment); `check`, when set, runs
    // first when the operation starts and may refuse it by throwing.
    OpId simple(std::string sql, std::function<void(std::exception_ptr, std::vector<Result>)> done,
                std::function<void(const State&)> check = {});

    void fail_all(std::exception_ptr why) {
        if (running) driver.abandon(why);  // on_done moves it to `completed`
        while (!queue.empty()) {
            queue.front()->error = why;
            completed.push_back(std::move(queue.front()));
            queue.pop_front();
        }
    }
};

namespace {
using State = client::AsyncCore;
using Op = State::Op;

template <class Algo, class Make, class Result>
std::unique_ptr<Op> make_op(Make make, Result result) {
    auto op = std::make_unique<Op>();
    op->make = [make = std::move(make)](State& s) mutable -> std::unique_ptr<protocol::Algorithm> { return make(s); };
    op->finish = [result = std::move(result)](State& s, protocol::Algorithm* a, std::exception_ptr e) mutable {
        result(s, static_cast<Algo*>(a), e);
    };
    return op;
}
}  // namespace

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
    // advance() is due at once when a completion waits for its callback or a queued operation
    // waits to start. The clock's epoch: a time every later `now` is past, whenever the loop
    // took its own `now` (Clock::now() here would be later than a loop's earlier reading, and
    // `deadline <= now` would then never hold for it); and not time_point::min(), which
    // overflows a loop's `deadline - now`.
    if (!state_->completed.empty() || (!state_->running && !state_->queue.empty()) || state_->kick)
        return Clock::time_point{};
    return state_->driver.deadline();
}

void AsyncConnection::advance(Clock::time_point now) {
    State& s = *state_;
    s.kick = false;
    while (true) {
        s.driver.advance(now);
        s.harvest_batch();
        s.start_next(now);
        if (s.completed.empty()) return;
        if (!s.deliver()) return;
        now = Clock::now();
    }
}

bool AsyncConnection::busy() const noexcept {
    return state_->running || !state_->queue.empty() || !state_->completed.empty();
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

// ---- transactions

// A transaction's hold on its connection (while `alive`), and its state.
struct AsyncTransaction::Link {
    client::AsyncCore* core = nullptr;
    std::shared_ptr<bool> alive;
    std::shared_ptr<TransactionState> state;
};

AsyncTransaction client::AsyncCore::transaction() {
    AsyncTransaction t;
    t.link_ = std::make_unique<AsyncTransaction::Link>(
        AsyncTransaction::Link{this, alive, std::make_shared<TransactionState>()});
    return t;
}

AsyncConnection::OpId AsyncConnection::begin(TransactionOptions options, Callback<AsyncTransaction> done) {
    State* core = state_.get();  // outlives every completion it delivers
    return state_->simple(
        client::begin_statement(options),
        [core, done = std::move(done)](std::exception_ptr e, std::vector<Result>) {
            done(e, e ? AsyncTransaction{} : core->transaction());
        },
        [](const State& s) { client::refuse_nested(s.session.transaction_status); });
}

namespace {
// Queues `sql` for transaction `link`; `finishes`: commit or rollback, after which the
// transaction's operations fail; `is_commit`: COMMIT, whose result is checked.
//
// A commit or rollback that failed with the transaction still open on the server (cancelled
// while queued, say) leaves it open: its owner may end it again, or, when the owner is gone, it
// is rolled back for it.
AsyncTransaction::OpId transaction_op(AsyncTransaction::Link* link, std::string sql, bool finishes,
                                      AsyncTransaction::Done done, bool is_commit = false) {
    if (!link || !*link->alive)
        throw Error(ErrorKind::usage, ErrorCause::usage, "this AsyncTransaction has no connection (moved from, or destroyed)");
    std::function<void(const State&)> check;
    const std::shared_ptr<TransactionState> tx = link->state;
    if (tx->finished) check = [](const State&) { throw Error(ErrorKind::usage, "transaction is already finished"); };
    const bool ends = finishes && !tx->finished;
    if (ends) tx->finished = true;
    State* core = link->core;
    return core->simple(
        std::move(sql),
        [done = std::move(done), is_commit, ends, tx, core](std::exception_ptr e, std::vector<Result> rs) {
            const TransactionStatus st = core->session.transaction_status;
            if (ends && e && core->healthy && (st == TransactionStatus::in_transaction || st == TransactionStatus::failed)) {
                tx->finished = false;
                if (tx->owner_gone) {
                    AsyncTransaction::Link orphan{core, core->alive, tx};
                    transaction_op(&orphan, "ROLLBACK", true, [](std::exception_ptr) {});
                }
            }
            if (!e && is_commit && !rs.empty()) {
                try {
                    client::check_committed(rs.back());
                } catch (...) {
                    e = std::current_exception();
                }
            }
            done(e);
        },
        std::move(check));
}
}  // namespace

AsyncTransaction::AsyncTransaction() noexcept = default;
AsyncTransaction::AsyncTransaction(AsyncTransaction&&) noexcept = default;
AsyncTransaction& AsyncTransaction::operator=(AsyncTransaction&& other) noexcept {
    if (this != &other) {
        AsyncTransaction gone(std::move(*this));  // rolls this one back, if open
        link_ = std::move(other.link_);
    }
    return *this;
}
AsyncTransaction::~AsyncTransaction() {
    if (!link_) return;
    link_->state->owner_gone = true;
    if (!is_open() || !link_->core->healthy) return;
    try {
        rollback([](std::exception_ptr) {});
    } catch (...) {
    }
}
bool AsyncTransaction::is_open() const noexcept { return link_ && !link_->state->finished && *link_->alive; }
AsyncTransaction::OpId AsyncTransaction::commit(Done done) { return transaction_op(link_.get(), "COMMIT", true, std::move(done), true); }
AsyncTransaction::OpId AsyncTransaction::rollback(Done done) { return transaction_op(link_.get(), "ROLLBACK", true, std::move(done)); }
AsyncTransaction::OpId AsyncTransaction::savepoint(std::string name, Done done) {
    return transaction_op(link_.get(), client::savepoint_statement("SAVEPOINT", name), false, std::move(done));
}
AsyncTransaction::OpId AsyncTransaction::rollback_to(std::string name, Done done) {
    return transaction_op(link_.get(), client::savepoint_statement("ROLLBACK TO SAVEPOINT", name), false, std::move(done));
}
AsyncTransaction::OpId AsyncTransaction::release(std::string name, Done done) {
    return transaction_op(link_.get(), client::savepoint_statement("RELEASE SAVEPOINT", name), false, std::move(done));
}

namespace {
std::unique_ptr<Op> extended_op(std::shared_ptr<ExtendedArgs> a,
                                std::function<void(ExtendedArgs&, std::exception_ptr)> result) {
    const bool pipelinable = !a->on_row;
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
    };
    auto a = std::make_shared<Args>();
    return state_->submit(make_op<protocol::PipelineRequest>(
        [a, queries = std::move(queries)](State& s) {
            for (std::size_t i = 0; i < queries.size(); ++i) {
                protocol::encode_extended(a->messages, nullptr, queries[i].sql, queries[i].params, queries[i].format);
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
            return std::make_unique<protocol::PipelineRequest>(s.wire(), a->messages, a->results, a->sync_after,
                                                               s.request_options());
        },
        [a, done = std::move(done)](State&, protocol::PipelineRequest*, std::exception_ptr e) {
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

// ---- streamed COPY FROM STDIN

// A writer's hold on its COPY: the connection (while `alive`), the COPY's shared state, and
// whether the writer queued its end (finish or abort) already.
struct AsyncCopyIn::Link {
    client::AsyncCore* core = nullptr;
    std::shared_ptr<bool> alive;
    std::shared_ptr<CopyState> copy;
};

AsyncCopyIn client::AsyncCore::writer(std::shared_ptr<CopyState> state) {
    AsyncCopyIn w;
    w.link_ = std::make_unique<AsyncCopyIn::Link>(AsyncCopyIn::Link{this, alive, std::move(state)});
    return w;
}

AsyncConnection::OpId AsyncConnection::open_copy_in(std::string sql, Callback<AsyncCopyIn> done) {
    auto held = std::make_shared<std::string>(std::move(sql));
    auto op = make_op<protocol::CopyInStart>(
        [held](State& s) { return std::make_unique<protocol::CopyInStart>(s.wire(), *held, s.request_options()); },
        [held, done = std::move(done)](State& s, protocol::CopyInStart*, std::exception_ptr e) {
            done(e, e ? AsyncCopyIn{} : s.writer(s.copy));
        });
    op->copy = std::make_shared<CopyState>();
    op->copy_open = true;
    return state_->submit(std::move(op));
}

namespace {
// One operation of a writer on its COPY: `make` builds its algorithm, `done` gets the outcome;
// Error(usage) for a writer of no COPY or of a destroyed connection, and an operation queued
// after the writer's end fails as the COPY ended.
//
// A finish or abort that never ran (cancelled while queued, refused) leaves the COPY open:
// the writer may end it again, or, when it is gone, the COPY is aborted for it.
template <class Algo, class Make, class Done>
AsyncCopyIn::OpId copy_op(AsyncCopyIn::Link* link, bool ends, Make make, Done done) {
    if (!link) throw Error(ErrorKind::usage, ErrorCause::usage, "this AsyncCopyIn has no COPY (moved from, or never opened)");
    if (!*link->alive) throw Error(ErrorKind::usage, ErrorCause::usage, "the connection of this COPY was destroyed");
    const std::shared_ptr<CopyState> copy = link->copy;
    std::unique_ptr<Op> op;
    if (copy->ended) {
        op = make_op<Algo>([](State&) -> std::unique_ptr<Algo> { throw Error(ErrorKind::usage, ErrorCause::usage, "the COPY has already ended"); },
                           std::move(done));
    } else if (ends) {
        copy->ended = true;
        op = make_op<Algo>(std::move(make), [copy, done = std::move(done)](State& s, Algo* a, std::exception_ptr e) mutable {
            if (copy->open && copy == s.copy) {  // it never ran
                copy->ended = false;
                if (copy->writer_gone) AsyncCopyIn(s.writer(copy)).abort("COPY abandoned by the client", [](std::exception_ptr) {});
            }
            done(s, a, e);
        });
    } else {
        op = make_op<Algo>(std::move(make), std::move(done));
    }
    op->copy = copy;
    op->copy_end = ends;
    return link->core->submit(std::move(op));
}

// The message that ends a COPY: CopyFail with `reason` when `fail`, else CopyDone.
std::shared_ptr<std::string> copy_end_message(bool fail, std::string_view reason) {
    auto m = std::make_shared<std::string>();
    if (fail)
        protocol::copy_fail(*m, reason);
    else
        protocol::copy_done(*m);
    return m;
}
}  // namespace

AsyncCopyIn::AsyncCopyIn() noexcept = default;
AsyncCopyIn::AsyncCopyIn(AsyncCopyIn&&) noexcept = default;

AsyncCopyIn& AsyncCopyIn::operator=(AsyncCopyIn&& other) noexcept {
    if (this != &other) {
        AsyncCopyIn gone(std::move(*this));  // aborts this writer's COPY, if open
        link_ = std::move(other.link_);
    }
    return *this;
}

AsyncCopyIn::~AsyncCopyIn() {
    if (!link_) return;
    link_->copy->writer_gone = true;
    if (!is_open()) return;
    try {
        abort("COPY abandoned by the client", [](std::exception_ptr) {});
    } catch (...) {
    }
}

bool AsyncCopyIn::is_open() const noexcept { return link_ && !link_->copy->ended && *link_->alive && link_->copy->open; }

AsyncCopyIn::OpId AsyncCopyIn::write(std::string data, Done done) {
    auto messages = std::make_shared<std::string>();
    for (std::size_t off = 0; off < data.size(); off += copy_chunk)
        protocol::copy_data(*messages, std::string_view(data).substr(off, copy_chunk));
    return copy_op<protocol::CopyInData>(
        link_.get(), false,
        [messages](State& s) { return std::make_unique<protocol::CopyInData>(s.wire(), *messages, s.request_options()); },
        [messages, done = std::move(done)](State&, protocol::CopyInData*, std::exception_ptr e) { done(e); });
}

AsyncCopyIn::OpId AsyncCopyIn::finish(Callback<std::uint64_t> done) {
    auto messages = copy_end_message(false, {});
    return copy_op<protocol::CopyInEnd>(
        link_.get(), true,
        [messages](State& s) {
            return std::make_unique<protocol::CopyInEnd>(s.wire(), *messages, protocol::CopyInEnd::How::finish,
                                                         s.request_options());
        },
        [messages, done = std::move(done)](State&, protocol::CopyInEnd* q, std::exception_ptr e) {
            done(e, q && !e ? q->rows() : 0);
        });
}

AsyncCopyIn::OpId AsyncCopyIn::abort(std::string reason, Done done) {
    auto messages = copy_end_message(true, reason);
    return copy_op<protocol::CopyInEnd>(
        link_.get(), true,
        [messages](State& s) {
            return std::make_unique<protocol::CopyInEnd>(s.wire(), *messages, protocol::CopyInEnd::How::abort,
                                                         s.request_options());
        },
        [messages, done = std::move(done)](State&, protocol::CopyInEnd*, std::exception_ptr e) { done(e); });
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
    if (s.running->id == id) {
        s.driver.request_cancel(closed());
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
        if (pipeline.reported() == i) s.driver.request_cancel(closed());
        return;
    }
}

bool AsyncConnection::is_open() const noexcept { return state_->channel.is_open(); }
bool AsyncConnection::is_healthy() const noexcept { return state_->channel.is_open() && state_->healthy; }
const ConnectionInfo& AsyncConnection::info() const noexcept { return state_->info; }
TransactionStatus AsyncConnection::transaction_status() const noexcept {
    return is_open() ? state_->session.transaction_status : TransactionStatus::unknown;
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
std::chrono::milliseconds AsyncConnection::query_timeout() const noexcept { return state_->query_timeout; }
int AsyncConnection::socket() const noexcept { return state_->channel.fd(); }
const std::function<void(const Notice&)>& AsyncConnection::notice_handler() const noexcept {
    return state_->session.notice_handler;
}
void AsyncConnection::set_notice_handler(std::function<void(const Notice&)> handler) {
    state_->session.notice_handler = std::move(handler);
}

}  // namespace pgtls
