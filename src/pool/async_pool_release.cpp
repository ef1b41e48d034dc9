// The release sequence of the asynchronous pool (see async_pool_state.hpp), as the blocking
// pool's: the lease defaults put back, broken or retired connections closed, ROLLBACK of an
// open transaction, the age and uses, reset_sql, the statement cache capacity, then the
// core's verdict (kept or closed).
#include "pool/async_pool_state.hpp"

namespace pgtls::pool_detail {

using Clock = AsyncClock;
using time_point = async_time_point;

namespace {
// A release verdict (transaction left open, mid-query, failed ROLLBACK or reset).
CloseReason unclean(std::string message) { return {PoolCloseReason::unclean_release, std::move(message)}; }
}  // namespace

void AsyncPoolState::take_returns(time_point now, bool from_advance) {
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

void AsyncPoolState::start_release(PoolCore::SlotId id, time_point now) {
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
        reason = unclean("released mid-query, mid-COPY or not connected");
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

time_point AsyncPoolState::release_deadline(time_point now) const {
    return opt.health_check_timeout.count() > 0 ? now + opt.health_check_timeout : kNever;
}

void AsyncPoolState::continue_release(AsyncSlot& s, time_point now) {
    if (auto why = core.expired(s.id, now); why.closes()) return finish_release(s, std::move(why), now);
    if (!opt.reset_sql.empty()) {
        s.release_stage = AsyncSlot::Release::reset;
        s.reset_sent = true;
        s.run_step(release_deadline(now),
                   [&](AsyncConnection& c, auto done) { c.query(opt.reset_sql, std::move(done)); });
        return;
    }
    restore_cache(s, now);
}

void AsyncPoolState::restore_cache(AsyncSlot& s, time_point now) {
    if (s.conn->statement_cache_capacity() == s.cache_capacity) return finish_release(s, {}, now);
    s.release_stage = AsyncSlot::Release::cache;
    const std::size_t capacity = s.cache_capacity;
    s.run_step(release_deadline(now), [capacity](AsyncConnection& c, auto done) {
        c.set_statement_cache_capacity(capacity, std::move(done));
    });
}

void AsyncPoolState::finish_release(AsyncSlot& s, CloseReason reason, time_point now) {
    if (!reason.closes() && s.conn) (void)s.conn->take_notifications();
    const bool kept = !reason.closes() && !core.is_shut_down();
    s.phase = AsyncSlot::Phase::lent;  // the core's view until it decides
    core.released(s.id, now, reason);
    if (kept) {
        s.phase = AsyncSlot::Phase::idle;  // or lent again: dispatch() sets it
        notify(opt.on_release, s.id, {});
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

void AsyncPoolState::settle_release(AsyncSlot& s, time_point now) {
    if (!s.step_done) return;
    const bool timed_out = s.timed_out;
    std::exception_ptr e = s.take_step();
    if (s.release_stage == AsyncSlot::Release::rollback) {
        if (timed_out || e)
            return finish_release(s, unclean("rollback on release failed: " + (e ? describe_exception(e) : "no answer")), now);
        if (!s.usable()) return finish_release(s, unclean("still in a transaction after ROLLBACK"), now);
        return continue_release(s, now);
    }
    if (s.release_stage == AsyncSlot::Release::cache) {
        if (timed_out || e)
            return finish_release(s, unclean("lease reset failed: " + (e ? describe_exception(e) : "no answer")), now);
        if (!s.usable()) return finish_release(s, unclean("lease reset left the connection busy"), now);
        return finish_release(s, {}, now);
    }
    if (timed_out || e) return finish_release(s, unclean("reset failed: " + (e ? describe_exception(e) : "no answer")), now);
    if (!s.usable()) return finish_release(s, unclean("reset left the connection busy"), now);
    restore_cache(s, now);
}

}  // namespace pgtls::pool_detail
