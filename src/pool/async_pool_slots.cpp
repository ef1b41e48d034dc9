// The slots' phases of the asynchronous pool (see async_pool_state.hpp): a connection opened
// (connect, after_connect), lent (with its health check), closed; and the loop's part that
// advances the connections and settles each slot whose step ended.
#include "pool/async_pool_state.hpp"

#include <algorithm>

namespace pgtls::pool_detail {

using Clock = AsyncClock;
using time_point = async_time_point;

namespace {
// How long a connection being closed may take to say goodbye before it is dropped.
constexpr std::chrono::seconds kCloseGrace{2};
}  // namespace

time_point AsyncPoolState::connect_deadline(time_point waiter_deadline, time_point now) const {
    time_point d = waiter_deadline;
    if (opt.connect_timeout.count() > 0) d = std::min(d, now + opt.connect_timeout);
    return d;
}

void AsyncPoolState::start_open(PoolCore::Ticket ticket, PoolCore::WaiterId waiter, time_point now) {
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

time_point AsyncPoolState::ping_deadline(time_point deadline, time_point now) const {
    time_point d = opt.health_check_timeout.count() > 0 ? now + opt.health_check_timeout : kNever;
    if (deadline != kNever) d = std::min(d, now + std::max<Clock::duration>((deadline - now) / 5, std::chrono::milliseconds(1)));
    return d;
}

void AsyncPoolState::start_lend(const PoolCore::Action& a, time_point now) {
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

void AsyncPoolState::hand_out(AsyncSlot& s, PoolCore::WaiterId waiter, std::chrono::nanoseconds waited) {
    s.phase = AsyncSlot::Phase::lent;
    s.waiter = 0;
    complete(waiter, nullptr, "acquired", &s, waited);
    notify(opt.on_acquire, s.id, {}, waited);
}

void AsyncPoolState::start_close(PoolCore::SlotId id, CloseReason reason, time_point now) {
    AsyncSlot& s = *slots.at(id);
    s.phase = AsyncSlot::Phase::closing;
    s.close_reason = std::move(reason);
    s.step_running = s.step_done = false;
    {
        trace::ParentScope scope(s.close_parent != 0 ? s.close_parent : trace::current_parent());
        s.span = std::make_unique<PoolSpan>(opt, "pgtls.pool.destroy");
        s.close_parent = 0;
    }
    // Mid-COPY (an abandoned AsyncCopyIn) a close would wait behind the COPY for the grace.
    if (s.conn && s.conn->is_open() && s.conn->is_healthy() && !s.conn->busy() &&
        s.conn->transaction_status() != TransactionStatus::unknown)
        s.run_step(now + kCloseGrace, [](AsyncConnection& c, auto done) { c.close(std::move(done)); });
    // Otherwise settle() drops it at once.
}

bool AsyncPoolState::advance_connections(time_point now) {
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

void AsyncPoolState::settle_all(time_point now) {
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

void AsyncPoolState::expire_step(AsyncSlot& s, time_point now) {
    if (s.step_running && !s.step_done && now >= s.step_deadline) {
        s.timed_out = true;
        s.conn.reset();  // its callback records the error
        s.step_done = true;
    }
}

void AsyncPoolState::settle_opening(PoolCore::Ticket ticket, AsyncSlot& s, time_point now) {
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
    s.cache_capacity = s.conn->statement_cache_capacity();
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
    notify(opt.on_connect, id, {});
    dispatch(now);
}

void AsyncPoolState::open_failed(PoolCore::Ticket ticket, AsyncSlot& s, std::exception_ptr e, time_point now) {
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
    notify(opt.on_error, 0, message);
    dispatch(now);
    if (waiter != 0) connect_errors.erase(waiter);  // cancelled meanwhile: not used
}

void AsyncPoolState::settle(AsyncSlot& s, time_point now) {
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
                core.withdrawn(s.id, now);  // its acquire failed: "pool is closed"
            } else if (reason.closes()) {
                count_failed_check(waiter);
                core.check_failed(waiter, s.id, now, std::move(reason));  // waiter 0: cancelled, not requeued
            } else if (waiter == 0) {
                core.withdrawn(s.id, now);  // its acquire was cancelled meanwhile: not counted
                s.phase = AsyncSlot::Phase::idle;
            } else {
                hand_out(s, waiter, s.waited);
            }
            dispatch(now);
            s.close_parent = 0;
            return;
        }
        case AsyncSlot::Phase::releasing:
            return settle_release(s, now);
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
            notify(opt.on_remove, id, reason.message);
            dispatch(now);
            return;
        }
        default:
            return;
    }
}

}  // namespace pgtls::pool_detail
