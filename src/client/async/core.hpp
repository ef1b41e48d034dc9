// The state of one AsyncConnection (`client::AsyncCore`): its channel, session, operation
// queue, implicit pipelines and streamed COPY, shared by the files that implement the async
// API — connection.cpp (the connection and its operations), transaction.cpp (AsyncTransaction)
// and copy_in.cpp (AsyncCopyIn).
#pragma once

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
#include "transport/socket.hpp"

namespace pgtls::client {

// COPY data goes out in CopyData messages of at most this many bytes (as the blocking CopyIn's).
constexpr std::size_t copy_chunk = 64 * 1024;

inline std::exception_ptr usage_error(const char* what) {
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
    std::vector<std::string> texts;  // per query, its SQL when traced with trace_query_text
    // With the statement cache on: how each query used it (settled as the query completes).
    std::vector<protocol::StatementCache::PipelinedUse> cache_uses;
    // Every query after the first that parses outside the cache and a run parses a statement
    // of its own unique name and closes it before its Sync (see fill_batch).
    // With the cache off, a run of queries with the same SQL and parameter types shares one Parse:
    // the first parses a statement of a name unique to the connection, the others bind it
    // and the last closes it (a Bind of a statement parsed in another pipeline could reach
    // another server connection behind a transaction pooler; a unique name cannot run
    // another client's statement there). The first also describes the statement, and every
    // member of the run takes its columns from that description (no Describe of its own).
    // Per member, in step with them: the member whose Parse it binds (npos: its own), the
    // statement it closes (empty: none), and its result format when its columns are the
    // described statement's (PipelineFlow::own_description: its own Describe).
    static constexpr std::size_t own_parse = static_cast<std::size_t>(-1);
    std::vector<std::size_t> parsed_by;
    std::vector<std::string> closes;
    std::vector<std::int16_t> described;
    // The server error of a run's first query, for the queries that bind its statement.
    std::optional<ServerError> run_error;
    std::size_t run_error_of = own_parse;
};


struct AsyncCore {
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
        bool internal = false;  // the library's own (queue_closes), not the application's
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
    // Queries one pipeline takes in all, appended writes included (append_to_running), so the
    // outcomes it holds stay bounded.
    static constexpr std::size_t max_running_queries = 512;
    PipelineOverlap pipeline_overlap = PipelineOverlap::automatic;
    bool peer_remote = false;     // the connected peer is neither a Unix socket nor loopback
    bool append_refused = false;  // a queued query could not join the running pipeline
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
    // Statements an implicit pipeline left on the server that the cache does not hold: closed
    // by an operation of their own before the next one starts.
    std::vector<std::string> to_close;
    // Cleared by the destructor: a callback that destroyed the connection stops the delivery.
    std::shared_ptr<bool> alive = std::make_shared<bool>(true);

    async::DriverSetup setup() {
        async::DriverSetup s;
        s.socket_options = [this] { return socket_options(settings); };
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

    // Queues the Close of `to_close` first: the statements an implicit pipeline left behind.
    void queue_closes() {
        if (to_close.empty() || !channel.is_open() || !healthy || copy) return;
        auto names = std::make_shared<std::vector<std::string>>(std::exchange(to_close, {}));
        auto op = std::make_unique<Op>();
        op->id = ++next_id;
        op->internal = true;
        op->make = [names](State& s) -> std::unique_ptr<protocol::Algorithm> {
            return std::make_unique<protocol::CloseStatements>(s.wire(), std::move(*names), s.request_options());
        };
        op->finish = [](State&, protocol::Algorithm*, std::exception_ptr) {};  // nobody waits for it
        queue.push_front(std::move(op));
    }

    // Starts what can start: queued queries join the running pipeline (true: advance() must
    // write them), or the next operation starts when none runs.
    bool start_next(Clock::time_point now) {
        if (!driver.busy() && !running) queue_closes();
        if (append_to_running(now)) return true;
        while (!driver.busy() && !running && !queue.empty()) {
            const auto next = next_startable();
            if (next == queue.end()) return false;
            std::unique_ptr<Op> op = std::move(*next);
            queue.erase(next);
            if (auto why = refusal(*op)) {
                op->error = why;
                completed.push_back(std::move(op));
                continue;
            }
            // Implicit pipelining: queries queued back to back go out together. Not with a
            // query timeout, which bounds and cancels one query at a time.
            if (op->pipelinable && query_timeout.count() == 0 && !queue.empty() && queue.front()->pipelinable)
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
        return false;
    }

    // An operation that sends `first` and the pipelinable operations queued after it as one
    // pipeline; `first` alone (unbatched) when its own messages cannot be encoded. An operation
    // whose messages cannot be encoded ends the batch and runs alone next, so callbacks still
    // run in submission order.
    std::unique_ptr<Op> make_batch(std::unique_ptr<Op> first) {
        auto batch = std::make_unique<Op>();
        batch->batch = std::make_shared<Batch>();
        Batch& b = *batch->batch;
        queue.push_front(std::move(first));  // it came from the front
        if (fill_batch(*batch, b.messages) == 0) {
            first = std::move(queue.front());
            queue.pop_front();
            return first;
        }
        // Alone, it runs as one operation — unless it already prepared through the cache.
        if (batch->members.size() == 1 &&
            (b.cache_uses.empty() || b.cache_uses.front().kind != protocol::StatementCache::PipelinedUse::Kind::miss))
            return std::move(batch->members.front());
        ++stats.pipelines;
        stats.pipelined_queries += batch->members.size();
        batch->make = [bp = batch->batch](State& s) -> std::unique_ptr<protocol::Algorithm> {
            auto request = std::make_unique<protocol::PipelineRequest>(s.wire(), bp->messages, bp->results,
                                                                       bp->sync_after, s.request_options(), bp->described);
            request->set_texts(&bp->texts);
            request->set_implicit();
            return request;
        };
        return batch;
    }

    // Takes the pipelinable operations at the head of the queue into `batch`, their messages
    // appended to `messages` (one write: the batch's first, or one appended while the batch is
    // answered), as many as one write holds; an operation whose messages cannot be encoded
    // stops it and stays first in the queue. Runs form within one write. How many it took.
    std::size_t fill_batch(Op& batch, std::string& messages) {
        Batch& b = *batch.batch;
        const bool cached = cache.capacity() > 0;
        const std::size_t start = batch.members.size(), base = messages.size();
        // The current run (see Batch): its first member, where that member's messages start,
        // and the statement it parses once a second member joins (empty before).
        std::size_t run_first = Batch::own_parse, run_start = 0;
        std::string run_name;
        auto joins_run = [&](const ExtendedArgs& a) {
            if (run_first == Batch::own_parse || a.statement) return false;
            const ExtendedArgs& f = *batch.members[run_first]->pipelinable;
            return a.sql == f.sql && std::equal(a.params.begin(), a.params.end(), f.params.begin(), f.params.end(),
                                                [](const Param& x, const Param& y) { return x.type_oid == y.type_oid; });
        };
        // The run's last query (the write's last member) closes its statement, before its Sync.
        auto end_run = [&] {
            if (!run_name.empty()) {
                constexpr std::size_t sync_bytes = 5;  // the Sync protocol::sync() appended last
                messages.resize(messages.size() - sync_bytes);
                protocol::close(messages, 'S', run_name);
                protocol::sync(messages);
                b.closes.back() = std::move(run_name);
            }
            run_first = Batch::own_parse;
            run_name.clear();
        };
        auto add = [&](std::unique_ptr<Op>& op) {
            ExtendedArgs& a = *op->pipelinable;
            if (!cached) a.with_trace_comment(settings);
            const bool joins = !cached && joins_run(a);
            if (!joins) end_run();
            const std::size_t before = messages.size();
            // A prepared statement's query has no Describe: its result slot gets its columns.
            std::shared_ptr<const std::vector<Column>> known;
            const auto fmt = static_cast<std::int16_t>(a.format);
            protocol::StatementCache::PipelinedUse use;  // unnamed unless the cache encodes it
            // The second query of a run: the run's first is encoded again, to parse and describe
            // the run's statement.
            const bool second = joins && run_name.empty();
            // A query after the pipeline's first that parses a statement outside a run (nor
            // through the cache's named one) parses one of its own unique name and closes it
            // before its Sync, as a run does: a transaction pooler may hand the server
            // connection over between the Parse and the Bind of one Sync group once it has the
            // answers to the Syncs before it (PgBouncer, pgbouncer#759), and a Bind of the
            // unnamed statement would then run whatever another client parsed there; a unique
            // name fails with 26000 instead. The pipeline's first query has no Sync unanswered
            // before it, and DEALLOCATE or DISCARD would drop their own. Such a query may also
            // start a run (below), unless the cache encodes it.
            const bool parses_own = !a.statement && !joins && !protocol::drops_prepared_statements(a.sql);
            const bool own_statement = parses_own && !batch.members.empty();
            std::string own_name;
            try {
                if (!a.statement && cached) {  // as CachedExecute: no trace comment
                    use = cache.encode_pipelined(messages, a.sql, a.params, a.format, own_statement);
                    if (use.kind == protocol::StatementCache::PipelinedUse::Kind::unnamed) own_name = use.name;
                    if (use.columns) known = session.columns_like(*use.columns, fmt);
                    protocol::sync(messages);
                } else if (joins) {
                    // Encoded apart, then put in place at once: a query that cannot be encoded
                    // changes nothing.
                    std::string name = second ? cache.next_name() : run_name;
                    std::string tail;
                    if (second) {
                        const ExtendedArgs& f = *batch.members[run_first]->pipelinable;
                        protocol::encode_parsed_and_described(tail, name, f.sql, f.params, f.format);
                        protocol::sync(tail);
                    }
                    protocol::encode_bound(tail, name, a.params, a.format);
                    protocol::sync(tail);
                    messages.replace(second ? run_start : messages.size(), std::string::npos, tail);
                    run_name = std::move(name);
                } else {
                    if (own_statement) own_name = cache.next_name();
                    protocol::encode_extended_closing(messages, a.statement ? &*a.statement : nullptr, a.sql,
                                                      a.params, a.format, own_name);
                    if (a.statement) known = session.columns_like(a.statement->columns, fmt);
                    protocol::sync(messages);
                }
            } catch (...) {
                messages.resize(before);
                return false;
            }
            if (cached) b.cache_uses.push_back(std::move(use));  // one per member, in step with them
            b.results.emplace_back();
            if (trace::reports_query_text(settings)) b.texts.push_back(a.statement ? std::string() : a.sql);
            if (known) b.results.back().result.set_columns(std::move(known));
            b.parsed_by.push_back(joins ? run_first : Batch::own_parse);
            b.closes.push_back(std::move(own_name));
            b.described.push_back(joins ? fmt : protocol::PipelineFlow::own_description);
            if (second) {  // the run's first no longer parses a statement of its own
                b.described[run_first] = static_cast<std::int16_t>(batch.members[run_first]->pipelinable->format);
                b.closes[run_first].clear();
            }
            batch.members.push_back(std::move(op));
            b.sync_after.push_back(batch.members.size());
            // A query may start a run — not DEALLOCATE or DISCARD, which would drop the run's
            // statement (its other queries have the same SQL: checked once, here).
            if (parses_own && !cached) {
                run_first = batch.members.size() - 1;
                run_start = before;
            }
            return true;
        };
        while (!queue.empty() && queue.front()->pipelinable && batch.members.size() - start < max_batch_queries &&
               messages.size() - base < max_batch_bytes && batch.members.size() < max_running_queries) {
            if (!add(queue.front())) break;  // it stays first in the queue
            queue.pop_front();
        }
        end_run();
        return batch.members.size() - start;
    }

    // Overlapping pipelines (see AsyncConnection::set_pipeline_overlap): while the running
    // pipeline is answered, the queries queued since join it once they are as many as its
    // unanswered ones, written at once and answered in order after the others, so the server
    // does not wait a round trip for the client between one write and the next. Up to
    // max_running_queries per pipeline (their outcomes are held until it ends). True when
    // some joined: advance() then writes them.
    bool append_to_running(Clock::time_point now) {
        if (!can_append()) return false;
        const std::size_t taken = fill_batch(*running, out);
        if (taken == 0) {  // the first queued cannot be encoded: it runs alone after this pipeline
            append_refused = true;
            return false;
        }
        stats.pipelined_queries += taken;
        ++stats.pipeline_appends;
        const Batch& b = *running->batch;
        static_cast<protocol::PipelineRequest&>(*running->algo).append(b.sync_after, b.described);
        driver.more(now);
        return true;
    }

    bool overlapping() const noexcept {
        return pipeline_overlap == PipelineOverlap::on || (pipeline_overlap == PipelineOverlap::automatic && peer_remote);
    }

    // Queued queries could join the running pipeline now (advance() is then due at once).
    bool can_append() const noexcept {
        if (!running || !running->batch || !running->algo || !overlapping() || append_refused || queue.empty() ||
            !queue.front()->pipelinable || query_timeout.count() != 0 || driver.reading_paused() || !out.empty() ||
            running->members.size() >= max_running_queries)
            return false;
        const auto& pipeline = static_cast<const protocol::PipelineRequest&>(*running->algo);
        if (!pipeline.appendable()) return false;
        // Join once as many wait as are left to answer: the server still has work while they
        // travel, and each write carries many queries (joining each as it comes would cost the
        // server a read and a wake-up per query).
        // (Joining as soon as one waits was measured too: across 0.25 ms each way 64k queries/s
        // against 48k, but 8.3 against 7.0 µs of server CPU per query.)
        const std::size_t required = std::max<std::size_t>(running->members.size() - pipeline.reported(), 1);
        std::size_t waiting = 0;
        for (const auto& op : queue) {
            if (!op->pipelinable || waiting >= required) break;
            ++waiting;
        }
        return waiting >= required;
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
        Batch& b = *batch.batch;
        PipelineResult& r = b.results[i];
        const bool ok = !error && r.status == PipelineResult::Status::ok;
        const ServerError* server_error = !error && r.status == PipelineResult::Status::error && r.error ? &*r.error : nullptr;
        if (!b.cache_uses.empty()) {
            auto names = cache.settle_pipelined(b.cache_uses[i], ok ? &r.result : nullptr, server_error);
            if (healthy) to_close.insert(to_close.end(), names.begin(), names.end());
        }
        if (const std::size_t first = b.parsed_by[i]; first == Batch::own_parse) {
            if (server_error && i + 1 < b.parsed_by.size() && b.parsed_by[i + 1] == i) {
                b.run_error = *server_error;
                b.run_error_of = i;
            }
        } else if (server_error && server_error->sqlstate() == "26000" && b.run_error_of == first) {
            // The run's first query failed to parse, so its statement does not exist: this
            // query's own Parse would have failed the same way.
            r.error = b.run_error;
        }
        // A query that did not succeed skipped the Close after it: closed later.
        if (!ok && healthy && !b.closes[i].empty()) to_close.push_back(b.closes[i]);
        // A user callback (the notice handler) threw while this query was answered: what it
        // threw is its outcome, as when it runs alone.
        std::exception_ptr thrown =
            batch.algo ? static_cast<protocol::PipelineRequest&>(*batch.algo).take_thrown(i) : nullptr;
        if (error) {
            m->error = std::move(error);
        } else if (thrown) {
            m->error = std::move(thrown);
        } else if (ok) {
            m->pipelinable->result = std::move(r.result);
        } else if (server_error) {
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
        append_refused = false;
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
        peer_remote = !target.is_unix_socket() && !transport::is_loopback_address(address);
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

// An operation of the async API: `make` builds an `Algo` when it starts, `result` gets it (null
// when it never started) and the outcome.
template <class Algo, class Make, class Result>
std::unique_ptr<AsyncCore::Op> make_op(Make make, Result result) {
    auto op = std::make_unique<AsyncCore::Op>();
    op->make = [make = std::move(make)](AsyncCore& s) mutable -> std::unique_ptr<protocol::Algorithm> { return make(s); };
    op->finish = [result = std::move(result)](AsyncCore& s, protocol::Algorithm* a, std::exception_ptr e) mutable {
        result(s, static_cast<Algo*>(a), e);
    };
    return op;
}

}  // namespace pgtls::client
