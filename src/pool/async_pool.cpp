// The asynchronous front end of the pool (pgtls/async_pool.hpp): every decision is PoolCore's
// (pool_core.hpp); this file carries out its actions as non-blocking operations on pooled
// AsyncConnections, driven from AsyncPool::advance() on the loop's one thread.
//
// Reentrancy: acquire(), cancel(), close() and a lease's release() only feed the core and
// queue work (a connect, a ping, a close are queued operations, which never call back from
// the call that queues them); a slot is destroyed, and a user callback called, only from
// advance() (or the destructor). The callbacks the pool gives its connections only record
// the outcome in the slot; advance() reads it after the connection's advance() returned.
//
// Tracing: the same spans as the blocking pool (pool_trace.hpp). A span lives in what it is
// about (an acquire's in its Pending, a create's, release's or destroy's in its slot) and ends
// when that operation ends, possibly several advance() calls later. A connection's own spans
// are reported from its advance(), which runs with the slot's span (or, for a health check,
// the acquire's) as the thread's parent, so they nest as in the blocking pool; a create span
// started for an acquire, and a destroy span started by a failed check or a release, name
// that operation's span as parent. What differs: a release span ends when the pool decided
// (before the close it caused), and connections dropped by ~AsyncPool report no destroy span.
#include "pgtls/async_pool.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <random>

#include "pool/pool_core.hpp"
#include "pool/pool_detail.hpp"
#include "pool/pool_trace.hpp"
#include "pool/tls_reload.hpp"

namespace pgtls::pool_detail {

namespace {

// A release verdict (transaction left open, mid-query, failed ROLLBACK or reset).
CloseReason unclean(std::string message) { return {PoolCloseReason::unclean_release, std::move(message)}; }

using Clock = AsyncConnection::Clock;
using time_point = Clock::time_point;
constexpr auto kNever = time_point::max();
// How long a connection being closed may take to say goodbye before it is dropped.
constexpr std::chrono::seconds kCloseGrace{2};

std::exception_ptr pool_error(ErrorCause cause, std::string message) {
    return std::make_exception_ptr(Error(ErrorKind::pool, cause, std::move(message)));
}

std::exception_ptr closed_error() { return pool_error(ErrorCause::pool_closed, "pool is closed"); }

}  // namespace

// One pooled connection, from its open to its close. `phase` says who may use it: the pool
// (opening, setting_up, checking, releasing, closing), nobody (idle) or a borrower (lent).
struct AsyncSlot {
    enum class Phase { opening, setting_up, idle, checking, lent, releasing, closing };
    Phase phase = Phase::opening;
    PoolCore::Ticket ticket = 0;    // opening, setting_up: the core's open
    PoolCore::SlotId id = 0;        // the core's id, from opened() on
    PoolCore::WaiterId waiter = 0;  // opening: opened for; checking: lent to (0: cancelled)
    time_point waiter_deadline = kNever;
    std::chrono::nanoseconds waited{0};  // checking: how long its acquire waited
    std::uint64_t uses = 0;
    // The pool's own operation on the connection (connect, ping, ROLLBACK, reset, close):
    // running until `step_done`, bounded by `step_deadline`, after which the connection is
    // dropped and `timed_out` set.
    bool step_running = false, step_done = false, timed_out = false;
    std::exception_ptr step_error;
    time_point step_deadline = kNever;
    enum class Release { rollback, reset } release_stage = Release::rollback;
    CloseReason close_reason;
    bool reset_sent = false;  // releasing: a ROLLBACK or reset_sql was sent
    // The pool span of the slot's current operation (create, release, destroy), or null.
    std::unique_ptr<PoolSpan> span;
    // The span a close decided now would start its destroy span under: the acquire whose
    // check failed, or the release that discarded the connection; 0: the caller's parent.
    std::uint64_t close_parent = 0;
    LeaseDefaults<AsyncConnection> defaults;
    // Declared last: destroyed first, while the fields its callbacks write still exist.
    std::unique_ptr<AsyncConnection> conn;

    // Queues `start(conn, done)` as the pool's step; `done` records the outcome.
    template <class Start>
    void run_step(time_point deadline, Start start) {
        step_running = true;
        step_done = timed_out = false;
        step_error = nullptr;
        step_deadline = deadline;
        start(*conn, [this](std::exception_ptr e, auto&&...) {
            step_done = true;
            step_error = e;
        });
    }
    // Marks the step finished; the slot is then handled by AsyncPoolState::settle().
    std::exception_ptr take_step() {
        step_running = step_done = false;
        step_deadline = kNever;
        return std::exchange(step_error, nullptr);
    }
    bool usable() const { return conn && conn->is_healthy() && conn->transaction_status() == TransactionStatus::idle; }
};

struct AsyncPoolState {
    AsyncPoolState(Settings s, AsyncPoolOptions o)
        : options(with_trace_defaults(s, std::move(o))),
          opt((validate(core_options(options)), core_options(options))),
          core(opt, std::random_device{}()),
          tls(std::make_shared<const Settings>(std::move(s)), options.tls_check_interval,
              options.retire_on_tls_reload, [this](const PoolEvent& e) { tls_events.push_back(e); }),
          next_maintenance(Clock::now()) {}

    const AsyncPoolOptions options;
    const PoolCoreOptions opt;
    PoolCore core;
    // The connections' settings and shared TLS context, and certificate rotation; what it
    // reports waits in `tls_events` for advance() to tell on_tls_reload.
    PoolTls tls;
    std::deque<PoolEvent> tls_events;

    // The blocking pgtls::Pool's defaults: the Config's tracer and "user@host:port/dbname".
    static AsyncPoolOptions with_trace_defaults(const Settings& s, AsyncPoolOptions o) {
        if (!o.tracer) o.tracer = s.tracer;
        if (o.name.empty()) o.name = default_pool_name(s);
        return o;
    }

    struct Pending {
        AsyncPool::AcquireCallback done;
        time_point deadline = kNever;
        std::unique_ptr<PoolSpan> span;  // pgtls.pool.acquire
        bool created = false;            // its connection was opened for it
        std::int64_t checks_failed = 0;  // connections lent to it whose check failed
    };
    struct Completion {
        AsyncPool::AcquireCallback done;
        std::exception_ptr error;  // null: lend `slot`
        PoolCore::SlotId slot = 0;
    };
    std::map<PoolCore::WaiterId, Pending> pending;                      // acquires not completed
    std::map<PoolCore::WaiterId, std::exception_ptr> connect_errors;    // for the core's fail actions
    std::map<PoolCore::Ticket, std::unique_ptr<AsyncSlot>> opening;     // opening, setting_up
    std::map<PoolCore::SlotId, std::unique_ptr<AsyncSlot>> slots;       // every other phase
    std::deque<Completion> completions;                                 // for advance() to call
    std::deque<PoolCore::SlotId> returned;                              // released leases
    time_point next_maintenance;  // the first pass (filling min_size) is due at once
    bool destroyed = false;

    // ---- entry points (never call back, never destroy a slot)

    PoolCore::WaiterId acquire(std::chrono::milliseconds timeout, AsyncPool::AcquireCallback done) {
        const auto now = Clock::now();
        const auto deadline = timeout.count() > 0 ? now + timeout : kNever;
        if (destroyed) {  // from a callback run by the destructor: fails at once
            if (done) done(closed_error(), AsyncPool::Lease());
            return 0;
        }
        take_returns(now, false);  // a lease given back just before is reused, not a new one opened
        auto span = std::make_unique<PoolSpan>(opt, "pgtls.pool.acquire");
        const auto id = core.acquire(now, deadline);
        pending[id] = Pending{std::move(done), deadline, std::move(span)};
        dispatch(now);
        return id;
    }

    void cancel(PoolCore::WaiterId id) {
        auto it = pending.find(id);
        if (it == pending.end() || destroyed) return;
        const auto now = Clock::now();
        complete(id, pool_error(ErrorCause::usage, "acquire cancelled"), "cancelled");
        core.cancel(id, now);  // queued: leaves the queue; opening: its connection goes on
        for (auto& [t, s] : opening)
            if (s->waiter == id) s->waiter = 0;
        for (auto& [sid, s] : slots)
            if (s->phase == AsyncSlot::Phase::checking && s->waiter == id) s->waiter = 0;
        dispatch(now);
    }

    void close() {
        if (destroyed || core.is_shut_down()) return;
        const auto now = Clock::now();
        core.shutdown(now);
        // Acquires whose connection is being opened or checked end now too; the connection
        // is closed when its step ends (the core knows the pool is shut down).
        for (auto& [t, s] : opening) s->waiter = 0;
        for (auto& [sid, s] : slots)
            if (s->phase == AsyncSlot::Phase::checking) s->waiter = 0;
        while (!pending.empty()) complete(pending.begin()->first, closed_error(), "closed");
        dispatch(now);
    }

    void release(PoolCore::SlotId id) noexcept {
        if (destroyed) return;
        returned.push_back(id);
    }

    AsyncSlot* lent(PoolCore::SlotId id) const noexcept {
        if (destroyed) return nullptr;
        auto it = slots.find(id);
        if (it == slots.end() || it->second->phase != AsyncSlot::Phase::lent || !it->second->conn) return nullptr;
        return it->second.get();
    }

    // ---- the loop

    std::vector<AsyncWatch> watches() const {
        std::vector<AsyncWatch> out;
        auto add = [&](const AsyncSlot& s) {
            if (!s.conn || s.phase == AsyncSlot::Phase::idle) return;
            for (const AsyncWatch& w : s.conn->watches())
                if (w.fd >= 0 && (w.read || w.write)) out.push_back(w);
        };
        for (auto& [t, s] : opening) add(*s);
        for (auto& [id, s] : slots) add(*s);
        return out;
    }

    std::optional<time_point> deadline() const {
        if (!completions.empty() || !returned.empty() || !tls_events.empty()) return time_point{};
        time_point t = std::min({next_maintenance, core.next_deadline(), core.refill_due()});
        auto add = [&](const AsyncSlot& s) {
            if (s.step_done || (s.phase == AsyncSlot::Phase::setting_up && !s.conn->busy()) ||
                (s.phase == AsyncSlot::Phase::closing && !s.step_running))
                t = time_point{};
            t = std::min(t, s.step_deadline);
            if (s.conn && s.phase != AsyncSlot::Phase::idle)
                if (auto d = s.conn->deadline()) t = std::min(t, *d);
        };
        for (auto& [k, s] : opening) add(*s);
        for (auto& [k, s] : slots) add(*s);
        if (t == kNever) return std::nullopt;
        return t;
    }

    // Returns false when a callback destroyed the pool.
    bool advance(time_point now) {
        for (int round = 0;; ++round) {
            if (!advance_connections(now)) return false;
            settle_all(now);
            take_returns(now, true);
            if (now >= next_maintenance || core.refill_due() <= now) {
                core.maintain(now);
                next_maintenance = now + opt.maintenance_interval;
            }
            if (core.next_deadline() <= now) core.tick(now);
            dispatch(now);
            settle_all(now);  // what dispatch() finished at once (a close without I/O)
            if (!report_tls_events()) return false;
            if (completions.empty()) return true;
            if (!deliver()) return false;
            now = Clock::now();
        }
    }

    // Fails every acquire, then drops every connection (their operations in flight complete
    // with an error, from the connections' destructors). Called by ~AsyncPool.
    void destroy() {
        close();
        for (int guard = 0; guard < 1000 && !completions.empty(); ++guard) {
            Completion c = std::move(completions.front());
            completions.pop_front();
            if (!c.error) {  // a lend not delivered yet: it goes back, the caller is told
                core.released(c.slot, Clock::now(), pool_closed_reason());
                c.error = closed_error();
            }
            if (c.done) try {
                    c.done(c.error, AsyncPool::Lease());
                } catch (...) {
                }
        }
        destroyed = true;
        completions.clear();
        returned.clear();
        for (auto& [t, s] : opening) s->conn.reset();
        for (auto& [id, s] : slots) s->conn.reset();
        opening.clear();
        slots.clear();
    }

private:
    // Starts the release of the leases given back. From acquire(), one whose connection is
    // still busy (given back from inside one of its operations' callbacks) waits for advance(),
    // which judges it after the connection's own advance() returned.
    void take_returns(time_point now, bool from_advance) {
        std::deque<PoolCore::SlotId> later;
        while (!returned.empty()) {
            const auto id = returned.front();
            returned.pop_front();
            auto it = slots.find(id);
            if (it != slots.end() && it->second->conn && it->second->conn->busy() && !from_advance)
                later.push_back(id);
            else
                start_release(id, now);
        }
        returned = std::move(later);
    }

    // ---- carrying out the core's actions

    // Carries out the core's actions, and those they lead to, until none is left.
    void dispatch(time_point now) {
        for (auto actions = core.take_actions(); !actions.empty(); actions = core.take_actions())
            for (auto& a : actions) carry_out(a, now);
    }

    void carry_out(PoolCore::Action& a, time_point now) {
        switch (a.kind) {
            case PoolCore::Action::Kind::open:
                return start_open(a.ticket, a.waiter, now);
            case PoolCore::Action::Kind::lend:
                return start_lend(a, now);
            case PoolCore::Action::Kind::close:
                return start_close(a.slot, CloseReason{a.close_kind, std::move(a.reason)}, now);
            case PoolCore::Action::Kind::fail: {
                std::exception_ptr e;
                if (auto it = connect_errors.find(a.waiter); it != connect_errors.end()) {
                    if (a.connect_error) e = it->second;  // the acquirer gets its connect's own error
                    connect_errors.erase(it);
                }
                const char* outcome = e                                      ? "connect_failed"
                                      : core.is_shut_down()                    ? "closed"
                                      : a.timed_out                            ? "timeout"
                                                                                 : "failed";
                if (!e)
                    e = pool_error(core.is_shut_down() ? ErrorCause::pool_closed : ErrorCause::pool_exhausted, a.reason);
                return complete(a.waiter, e, outcome);
            }
        }
    }

    // Ends acquire `id` with `error` (its span's outcome) or with `lent`, which waited `waited`.
    void complete(PoolCore::WaiterId id, std::exception_ptr error, const char* outcome, const AsyncSlot* lent = nullptr,
                  std::chrono::nanoseconds waited = {}) {
        auto it = pending.find(id);
        if (it == pending.end()) return;
        Pending& p = it->second;
        if (p.span && p.span->active()) {
            PoolSpan& span = *p.span;
            if (lent) {
                span.set("pgtls.pool.connection.id", static_cast<std::int64_t>(lent->id));
                span.set("pgtls.pool.connection.uses", static_cast<std::int64_t>(lent->uses));
                span.set("db.client.connection.wait_time", std::chrono::duration<double>(waited).count());
            } else {
                span.fail(error);
            }
            span.set("pgtls.pool.acquire.outcome", std::string(outcome));
            span.set("pgtls.pool.connection.created", p.created);
            if (p.checks_failed) span.set("pgtls.pool.acquire.checks_failed", p.checks_failed);
            span.finish();
        }
        completions.push_back(Completion{std::move(p.done), error, lent ? lent->id : 0});
        pending.erase(it);
    }

    // The acquire span of waiter `id`, for a parent scope; 0 when none.
    std::uint64_t acquire_span(PoolCore::WaiterId id) const {
        auto it = pending.find(id);
        return it != pending.end() && it->second.span ? it->second.span->id() : 0;
    }
    void count_failed_check(PoolCore::WaiterId id) {
        if (auto it = pending.find(id); it != pending.end()) ++it->second.checks_failed;
    }

    // What a connect made for an acquire may take: what is left until its deadline, and at
    // most connect_timeout; kNever when neither bounds it.
    time_point connect_deadline(time_point waiter_deadline, time_point now) const {
        time_point d = waiter_deadline;
        if (opt.connect_timeout.count() > 0) d = std::min(d, now + opt.connect_timeout);
        return d;
    }

    void start_open(PoolCore::Ticket ticket, PoolCore::WaiterId waiter, time_point now) {
        auto s = std::make_unique<AsyncSlot>();
        s->ticket = ticket;
        s->waiter = waiter;
        if (auto p = pending.find(waiter); p != pending.end()) s->waiter_deadline = p->second.deadline;
        {
            trace::ParentScope scope(waiter != 0 ? acquire_span(waiter) : trace::current_parent());
            s->span = std::make_unique<PoolSpan>(opt, "pgtls.pool.create");
            s->span->set("pgtls.pool.create.trigger", std::string(waiter != 0 ? "acquire" : "min_size"));
        }
        s->conn = std::make_unique<AsyncConnection>();
        tls.check();  // changed TLS files: a new context for this connection and the next ones
        Settings st = *tls.settings();
        const auto deadline = connect_deadline(s->waiter_deadline, now);
        if (deadline != kNever)
            st.connect_timeout = std::chrono::ceil<std::chrono::seconds>(std::max(deadline - now, Clock::duration(1)));
        s->run_step(deadline, [&](AsyncConnection& c, auto done) {
            connect_shared(c, std::move(st), tls.shared(), std::move(done));
        });
        opening[ticket] = std::move(s);
    }

    // health_check_timeout, and at most a fifth of what is left until `deadline`.
    time_point ping_deadline(time_point deadline, time_point now) const {
        time_point d = opt.health_check_timeout.count() > 0 ? now + opt.health_check_timeout : kNever;
        if (deadline != kNever) d = std::min(d, now + std::max<Clock::duration>((deadline - now) / 5, std::chrono::milliseconds(1)));
        return d;
    }

    void start_lend(const PoolCore::Action& a, time_point now) {
        AsyncSlot& s = *slots.at(a.slot);
        s.uses = core.uses(a.slot);
        auto p = pending.find(a.waiter);
        if (p == pending.end()) {  // cannot happen: a waiter leaves the core before `pending`
            s.phase = AsyncSlot::Phase::lent;
            core.released(a.slot, now);
            return;
        }
        if (!s.conn || !s.conn->is_healthy()) {
            s.phase = AsyncSlot::Phase::checking;
            count_failed_check(a.waiter);
            s.close_parent = acquire_span(a.waiter);
            core.check_failed(a.waiter, a.slot, now, broken_connection_reason());
            return;  // the close and the next lend come with the next dispatch round
        }
        // Data or EOF on an idle connection: the server probably said goodbye.
        if (a.check || (a.probe && socket_has_input(s.conn->socket()))) {
            s.phase = AsyncSlot::Phase::checking;
            s.waiter = a.waiter;
            s.waiter_deadline = p->second.deadline;
            s.waited = a.waited;
            s.run_step(ping_deadline(p->second.deadline, now), [&](AsyncConnection& c, auto done) {
                c.query(opt.ping_sql, std::move(done));
            });
            return;
        }
        hand_out(s, a.waiter, a.waited);
    }

    void hand_out(AsyncSlot& s, PoolCore::WaiterId waiter, std::chrono::nanoseconds waited) {
        s.phase = AsyncSlot::Phase::lent;
        s.waiter = 0;
        complete(waiter, nullptr, "acquired", &s, waited);
        emit(opt.on_acquire, s.id, {}, waited);
    }

    void start_close(PoolCore::SlotId id, CloseReason reason, time_point now) {
        AsyncSlot& s = *slots.at(id);
        s.phase = AsyncSlot::Phase::closing;
        s.close_reason = std::move(reason);
        s.step_running = s.step_done = false;
        {
            trace::ParentScope scope(s.close_parent != 0 ? s.close_parent : trace::current_parent());
            s.span = std::make_unique<PoolSpan>(opt, "pgtls.pool.destroy");
            s.close_parent = 0;
        }
        if (s.conn && s.conn->is_open() && s.conn->is_healthy() && !s.conn->busy())
            s.run_step(now + kCloseGrace, [](AsyncConnection& c, auto done) { c.close(std::move(done)); });
        // Otherwise settle() drops it at once.
    }

    void start_release(PoolCore::SlotId id, time_point now) {
        auto it = slots.find(id);
        if (it == slots.end() || it->second->phase != AsyncSlot::Phase::lent) return;
        AsyncSlot& s = *it->second;
        s.phase = AsyncSlot::Phase::releasing;
        s.reset_sent = false;
        s.span = std::make_unique<PoolSpan>(opt, "pgtls.pool.release");
        if (s.conn) s.defaults.restore_local(*s.conn);
        CloseReason reason;
        if (core.is_shut_down())
            reason = pool_closed_reason();
        else if (!s.conn || !s.conn->is_healthy())
            reason = broken_connection_reason();
        else if (auto why = tls.retire_reason(*s.conn); why.closes())
            reason = std::move(why);
        else if (s.conn->busy())
            reason = {PoolCloseReason::unclean_release, "released mid-query, mid-COPY or not connected"};
        if (reason.closes()) return finish_release(s, std::move(reason), now);
        switch (s.conn->transaction_status()) {
            case TransactionStatus::idle:
                return continue_release(s, now);
            case TransactionStatus::in_transaction:
            case TransactionStatus::failed:
                if (!opt.rollback_on_release) return finish_release(s, unclean("released inside a transaction"), now);
                s.release_stage = AsyncSlot::Release::rollback;
                s.reset_sent = true;
                s.run_step(release_deadline(now),
                           [](AsyncConnection& c, auto done) { c.query("ROLLBACK", std::move(done)); });
                return;
            case TransactionStatus::unknown:
                return finish_release(s, unclean("released mid-query, mid-COPY or not connected"), now);
        }
    }

    time_point release_deadline(time_point now) const {
        return opt.health_check_timeout.count() > 0 ? now + opt.health_check_timeout : kNever;
    }

    // After the ROLLBACK (if any): the age and uses, then reset_sql.
    void continue_release(AsyncSlot& s, time_point now) {
        if (auto why = core.expired(s.id, now); why.closes()) return finish_release(s, std::move(why), now);
        if (!opt.reset_sql.empty()) {
            s.release_stage = AsyncSlot::Release::reset;
            s.reset_sent = true;
            s.run_step(release_deadline(now),
                       [&](AsyncConnection& c, auto done) { c.query(opt.reset_sql, std::move(done)); });
            return;
        }
        finish_release(s, {}, now);
    }

    void finish_release(AsyncSlot& s, CloseReason reason, time_point now) {
        if (!reason.closes() && s.conn) (void)s.conn->take_notifications();
        const bool kept = !reason.closes() && !core.is_shut_down();
        s.phase = AsyncSlot::Phase::lent;  // the core's view until it decides
        core.released(s.id, now, reason);
        if (kept) {
            s.phase = AsyncSlot::Phase::idle;  // or lent again: dispatch() sets it
            emit(opt.on_release, s.id, {});
        }
        const std::unique_ptr<PoolSpan> span = std::move(s.span);
        if (span && span->active()) {
            span->set("pgtls.pool.connection.id", static_cast<std::int64_t>(s.id));
            span->set("pgtls.pool.connection.uses", static_cast<std::int64_t>(s.uses));
            span->set("pgtls.pool.release.outcome", std::string(kept ? (s.reset_sent ? "reset" : "kept") : "discarded"));
            if (!kept) {
                const CloseReason why = reason.closes() ? reason : pool_closed_reason();
                span->set("pgtls.pool.destroy.reason", std::string(to_string(why.kind)));
                span->set("pgtls.pool.release.reason", why.message);
            }
        }
        s.close_parent = span ? span->id() : 0;  // a close it causes starts under the release
        dispatch(now);
        s.close_parent = 0;  // kept: a later close is no part of this release
        if (span) span->finish();
    }

    // ---- the slots' steps

    bool advance_connections(time_point now) {
        // Each with the span its operation's spans nest under (0: the caller's).
        std::vector<std::pair<AsyncConnection*, std::uint64_t>> conns;
        auto parent = [&](const AsyncSlot& s) -> std::uint64_t {
            if (s.span) return s.span->id();
            if (s.phase == AsyncSlot::Phase::checking && s.waiter != 0) return acquire_span(s.waiter);
            return 0;
        };
        for (auto& [t, s] : opening)
            if (s->conn) conns.emplace_back(s->conn.get(), parent(*s));
        for (auto& [id, s] : slots)
            if (s->conn && s->phase != AsyncSlot::Phase::idle) conns.emplace_back(s->conn.get(), parent(*s));
        for (auto [c, span] : conns) {
            // A callback run by an earlier connection may have dropped this one (a release
            // mid-query is only queued, so only the destructor drops connections here).
            if (destroyed) return false;
            trace::ParentScope scope(span != 0 ? span : trace::current_parent());
            c->advance(now);
            if (destroyed) return false;
        }
        return true;
    }

    // Drop the connection of any step past its deadline, then settle every slot whose step
    // ended (or that waits for nothing).
    void settle_all(time_point now) {
        std::vector<PoolCore::Ticket> tickets;
        for (auto& [t, s] : opening) tickets.push_back(t);
        for (auto t : tickets) {
            auto it = opening.find(t);
            if (it != opening.end()) settle_opening(t, *it->second, now);
        }
        std::vector<PoolCore::SlotId> ids;
        for (auto& [id, s] : slots) ids.push_back(id);
        for (auto id : ids) {
            auto it = slots.find(id);
            if (it != slots.end()) settle(*it->second, now);
        }
    }

    void expire_step(AsyncSlot& s, time_point now) {
        if (s.step_running && !s.step_done && now >= s.step_deadline) {
            s.timed_out = true;
            s.conn.reset();  // its callback records the error
            s.step_done = true;
        }
    }

    void settle_opening(PoolCore::Ticket ticket, AsyncSlot& s, time_point now) {
        expire_step(s, now);
        if (s.phase == AsyncSlot::Phase::opening) {
            if (!s.step_done) return;
            std::exception_ptr e = s.take_step();
            if (s.timed_out)
                e = std::make_exception_ptr(Error(ErrorKind::timeout, ErrorCause::connect_timeout,
                                                  "pool: connect did not finish in time"));
            if (!e && options.after_connect) {
                try {
                    options.after_connect(*s.conn);
                } catch (...) {
                    e = std::current_exception();
                }
            }
            if (e) return open_failed(ticket, s, e, now);
            s.phase = AsyncSlot::Phase::setting_up;
        }
        if (s.conn && s.conn->busy() && now < s.step_deadline) return;  // after_connect's work
        if (!s.usable())
            return open_failed(ticket, s,
                               std::make_exception_ptr(Error(ErrorKind::connection,
                                                             "pool: after_connect left the connection unusable")),
                               now);
        s.defaults.capture(*s.conn);
        auto owned = std::move(opening.at(ticket));
        opening.erase(ticket);
        const auto id = core.opened(ticket, now);
        owned->id = id;
        if (owned->waiter != 0)
            if (auto p = pending.find(owned->waiter); p != pending.end()) p->second.created = true;
        if (const auto span = std::move(owned->span)) {
            span->set("pgtls.pool.connection.id", static_cast<std::int64_t>(id));
            span->finish();
        }
        owned->phase = AsyncSlot::Phase::lent;  // the core lends it, hands it on or closes it
        owned->waiter = 0;
        slots[id] = std::move(owned);
        emit(opt.on_connect, id, {});
        dispatch(now);
    }

    void open_failed(PoolCore::Ticket ticket, AsyncSlot& s, std::exception_ptr e, time_point now) {
        s.conn.reset();
        if (s.span) {
            s.span->fail(e);
            s.span->finish();
        }
        const PoolCore::WaiterId waiter = s.waiter;
        opening.erase(ticket);
        const std::string message = describe_exception(e);
        if (waiter != 0) connect_errors[waiter] = e;
        core.open_failed(ticket, now, message);
        emit(opt.on_error, 0, message);
        dispatch(now);
        if (waiter != 0) connect_errors.erase(waiter);  // cancelled meanwhile: not used
    }

    void settle(AsyncSlot& s, time_point now) {
        expire_step(s, now);
        switch (s.phase) {
            case AsyncSlot::Phase::checking: {
                if (!s.step_done) return;
                const bool timed_out = s.timed_out;
                std::exception_ptr e = s.take_step();
                const PoolCore::WaiterId waiter = s.waiter;
                CloseReason reason;
                if (timed_out)
                    reason = {PoolCloseReason::health_check_failed, "health check failed: no answer in time"};
                else if (e)
                    reason = {PoolCloseReason::health_check_failed, "health check failed: " + describe_exception(e)};
                else if (!s.usable())
                    reason = {PoolCloseReason::health_check_failed, "health check failed: connection not idle after ping"};
                s.close_parent = acquire_span(waiter);  // a close it causes starts under the acquire
                if (core.is_shut_down()) {
                    core.released(s.id, now, pool_closed_reason());
                } else if (reason.closes()) {
                    count_failed_check(waiter);
                    core.check_failed(waiter, s.id, now, std::move(reason));  // waiter 0: cancelled, not requeued
                } else if (waiter == 0) {
                    core.released(s.id, now);  // its acquire was cancelled meanwhile
                    s.phase = AsyncSlot::Phase::idle;
                } else {
                    hand_out(s, waiter, s.waited);
                }
                dispatch(now);
                s.close_parent = 0;
                return;
            }
            case AsyncSlot::Phase::releasing: {
                if (!s.step_done) return;
                const bool timed_out = s.timed_out;
                std::exception_ptr e = s.take_step();
                if (s.release_stage == AsyncSlot::Release::rollback) {
                    if (timed_out || e)
                        return finish_release(s, unclean("rollback on release failed: " + (e ? describe_exception(e) : "no answer")), now);
                    if (!s.usable()) return finish_release(s, unclean("still in a transaction after ROLLBACK"), now);
                    return continue_release(s, now);
                }
                if (timed_out || e) return finish_release(s, unclean("reset failed: " + (e ? describe_exception(e) : "no answer")), now);
                if (!s.usable()) return finish_release(s, unclean("reset left the connection busy"), now);
                return finish_release(s, {}, now);
            }
            case AsyncSlot::Phase::closing: {
                if (s.step_running && !s.step_done) return;
                const PoolCore::SlotId id = s.id;
                CloseReason reason = std::move(s.close_reason);
                if (const auto span = std::move(s.span); span && span->active()) {
                    span->set("pgtls.pool.connection.id", static_cast<std::int64_t>(id));
                    span->set("pgtls.pool.connection.uses", static_cast<std::int64_t>(s.uses));
                    span->set("pgtls.pool.destroy.reason", std::string(to_string(reason.kind)));
                    span->set("pgtls.pool.destroy.detail", reason.message);
                    span->finish();
                }
                s.conn.reset();
                slots.erase(id);
                core.closed(id, now);
                emit(opt.on_remove, id, reason.message);
                dispatch(now);
                return;
            }
            default:
                return;
        }
    }

    // Tells on_tls_reload what the TLS checks and reloads found; false when it destroyed the pool.
    bool report_tls_events() {
        while (!tls_events.empty()) {
            PoolEvent e = std::move(tls_events.front());
            tls_events.pop_front();
            const std::weak_ptr<AsyncPoolState> alive = weak_self;
            emit(options.on_tls_reload, e.connection_id, e.reason);
            if (alive.expired() || destroyed) return false;
        }
        return true;
    }

    // Calls the completions due; false when one destroyed the pool.
    bool deliver() {
        while (!completions.empty()) {
            Completion c = std::move(completions.front());
            completions.pop_front();
            AsyncPool::Lease lease;
            if (!c.error) lease = AsyncPool::Lease(self(), c.slot);
            if (!c.done) continue;  // the lease goes back as it is destroyed
            const std::weak_ptr<AsyncPoolState> alive = weak_self;
            c.done(c.error, std::move(lease));
            if (alive.expired() || destroyed) return false;
        }
        return true;
    }

public:
    std::shared_ptr<AsyncPoolState> self() { return weak_self.lock(); }
    std::weak_ptr<AsyncPoolState> weak_self;
};

}  // namespace pgtls::pool_detail

namespace pgtls {

using pool_detail::AsyncPoolState;

AsyncPool::AsyncPool(Settings settings, AsyncPoolOptions options)
    : state_(std::make_shared<AsyncPoolState>(std::move(settings), std::move(options))) {
    state_->weak_self = state_;
}

AsyncPool::AsyncPool(const Config& config, AsyncPoolOptions options) : AsyncPool(resolve(config), std::move(options)) {}

AsyncPool::~AsyncPool() {
    if (state_) state_->destroy();
}

std::vector<AsyncWatch> AsyncPool::watches() const { return state_->watches(); }
std::optional<AsyncPool::Clock::time_point> AsyncPool::deadline() const { return state_->deadline(); }

void AsyncPool::advance(Clock::time_point now) {
    // A callback may destroy this AsyncPool: the state lives on until the call returns.
    const std::shared_ptr<AsyncPoolState> keep = state_;
    (void)keep->advance(now);
}

AsyncPool::OpId AsyncPool::acquire(AcquireCallback done) {
    return state_->acquire(state_->opt.acquire_timeout, std::move(done));
}
AsyncPool::OpId AsyncPool::acquire(std::chrono::milliseconds timeout, AcquireCallback done) {
    return state_->acquire(timeout, std::move(done));
}
void AsyncPool::cancel(OpId id) { state_->cancel(id); }
void AsyncPool::reload_tls() { state_->tls.reload(); }
void AsyncPool::close() { state_->close(); }
bool AsyncPool::is_closed() const noexcept { return state_->core.is_shut_down(); }
PoolStats AsyncPool::stats() const { return state_->core.stats(); }
const AsyncPoolOptions& AsyncPool::options() const noexcept { return state_->options; }

// ---- Lease

AsyncPool::Lease::Lease(std::shared_ptr<AsyncPoolState> pool, std::uint64_t slot) noexcept
    : pool_(std::move(pool)), slot_(slot) {}
AsyncPool::Lease::Lease(Lease&& other) noexcept
    : pool_(std::move(other.pool_)), slot_(std::exchange(other.slot_, 0)) {}
AsyncPool::Lease& AsyncPool::Lease::operator=(Lease&& other) noexcept {
    if (this != &other) {
        release();
        pool_ = std::move(other.pool_);
        slot_ = std::exchange(other.slot_, 0);
    }
    return *this;
}
AsyncPool::Lease::~Lease() { release(); }

void AsyncPool::Lease::release() noexcept {
    if (pool_ && slot_ != 0) pool_->release(slot_);
    pool_.reset();
    slot_ = 0;
}

AsyncPool::Lease::operator bool() const noexcept { return pool_ && pool_->lent(slot_) != nullptr; }

AsyncConnection& AsyncPool::Lease::get() const {
    pool_detail::AsyncSlot* s = pool_ ? pool_->lent(slot_) : nullptr;
    if (!s) throw Error(ErrorKind::usage, "pool lease is empty (released, moved from, or its pool destroyed)");
    return *s->conn;
}

std::uint64_t AsyncPool::Lease::connection_id() const noexcept { return *this ? slot_ : 0; }

std::uint64_t AsyncPool::Lease::uses() const noexcept {
    pool_detail::AsyncSlot* s = pool_ ? pool_->lent(slot_) : nullptr;
    return s ? s->uses : 0;
}

}  // namespace pgtls
