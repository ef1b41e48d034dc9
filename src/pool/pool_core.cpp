// The pool's decisions; see pool_core.hpp.
#include "pool/pool_core.hpp"

#include <algorithm>

namespace pgtls::pool_detail {

namespace {
// An idle connection's socket is worth probing for data/EOF only after this long idle: one
// handed straight from one lease to the next was just left at ReadyForQuery.
constexpr std::chrono::milliseconds kProbeIdleAfter{1};

long long to_ms(std::chrono::nanoseconds d) noexcept {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}
}  // namespace

}  // namespace pgtls::pool_detail

namespace pgtls {

const char* to_string(PoolCloseReason reason) noexcept {
    switch (reason) {
        case PoolCloseReason::idle_timeout: return "idle_timeout";
        case PoolCloseReason::max_lifetime: return "max_lifetime";
        case PoolCloseReason::max_uses: return "max_uses";
        case PoolCloseReason::health_check_failed: return "health_check_failed";
        case PoolCloseReason::broken: return "broken";
        case PoolCloseReason::pool_closed: return "pool_closed";
        case PoolCloseReason::unclean_release: return "unclean_release";
        case PoolCloseReason::retired: return "retired";
    }
    return "unknown";
}

}  // namespace pgtls

namespace pgtls::pool_detail {

CloseReason pool_closed_reason() { return {PoolCloseReason::pool_closed, "pool closed"}; }
CloseReason broken_connection_reason() { return {PoolCloseReason::broken, "connection broken"}; }
CloseReason tls_retired_reason() { return {PoolCloseReason::retired, "retired: TLS material reloaded"}; }

std::size_t wait_bucket(std::chrono::nanoseconds waited) noexcept {
    const auto& bounds = PoolStats::acquire_wait_bounds_ms;
    std::size_t i = 0;
    while (i < bounds.size() && waited > std::chrono::milliseconds(bounds[i])) ++i;
    return i;
}

PoolCore::PoolCore(const PoolCoreOptions& options, std::uint64_t seed)
    : opt_(options), rng_(static_cast<std::minstd_rand::result_type>(seed)) {}

std::vector<PoolCore::Action> PoolCore::take_actions() {
    std::vector<Action> out;
    out.swap(actions_);
    return out;
}

bool PoolCore::may_open(time_point now) const {
    return slots_.size() + opening_.size() < opt_.max_size && now >= backoff_until_;
}

PoolCore::WaiterId PoolCore::acquire(time_point now, time_point deadline) {
    const WaiterId id = next_waiter_++;
    if (shut_down_) {
        fail(id, "pool is closed");
        return id;
    }
    waiters_.push_back(Waiter{id, now, deadline});
    serve(now);
    return id;
}

void PoolCore::cancel(WaiterId waiter, time_point now) {
    auto it = std::find_if(waiters_.begin(), waiters_.end(), [&](const Waiter& w) { return w.id == waiter; });
    if (it != waiters_.end()) {
        waiters_.erase(it);
        serve(now);
        return;
    }
    for (auto& [ticket, o] : opening_)
        if (o.waiter.id == waiter) o.wanted = false;
}

void PoolCore::serve(time_point now) {
    if (shut_down_) return;
    while (!waiters_.empty()) {
        if (!idle_.empty()) {
            SlotId id = idle_.back();
            idle_.pop_back();
            if (now >= slots_[id].expires) {
                close_slot(id, {PoolCloseReason::max_lifetime, "max lifetime reached"});
                continue;
            }
            Waiter w = waiters_.front();
            waiters_.pop_front();
            lend(w, id, now, false);
        } else if (may_open(now)) {
            Waiter w = waiters_.front();
            waiters_.pop_front();
            open_for(w);
        } else {
            break;
        }
    }
}

void PoolCore::lend(const Waiter& w, SlotId id, time_point now, bool fresh) {
    Slot& s = slots_[id];
    s.state = State::lent;
    s.lent_to = w.id;
    s.waited = now - w.start;
    ++s.uses;
    ++counters_.acquire_count;
    counters_.acquire_wait_total += s.waited;
    counters_.acquire_wait_max = std::max(counters_.acquire_wait_max, s.waited);
    ++counters_.acquire_wait_histogram[wait_bucket(s.waited)];
    Action a;
    a.kind = Action::Kind::lend;
    a.waiter = w.id;
    a.slot = id;
    a.waited = s.waited;
    if (!fresh) {
        a.check = opt_.health_check_after.count() >= 0 && now - s.last_used >= opt_.health_check_after;
        a.probe = now - s.last_used >= kProbeIdleAfter;
    }
    // The waiter comes back at the head if the check fails.
    lent_waiters_[id] = w;
    actions_.push_back(std::move(a));
}

void PoolCore::open_for(const Waiter& w) {
    const Ticket t = next_ticket_++;
    opening_[t] = Opening{w, true};
    Action a;
    a.kind = Action::Kind::open;
    a.waiter = w.id;
    a.ticket = t;
    actions_.push_back(std::move(a));
}

void PoolCore::fail(WaiterId w, std::string reason, bool connect_error, bool timed_out) {
    Action a;
    a.kind = Action::Kind::fail;
    a.waiter = w;
    a.reason = std::move(reason);
    a.connect_error = connect_error;
    a.timed_out = timed_out;
    actions_.push_back(std::move(a));
}

void PoolCore::close_slot(SlotId id, CloseReason reason) {
    Slot& s = slots_[id];
    if (s.state == State::closing) return;
    s.state = State::closing;
    s.close_reason = reason.kind;
    ++closing_;
    lent_waiters_.erase(id);
    Action a;
    a.kind = Action::Kind::close;
    a.slot = id;
    a.reason = std::move(reason.message);
    a.close_kind = reason.kind;
    actions_.push_back(std::move(a));
}

void PoolCore::hand_over(SlotId id, time_point now) {
    Slot& s = slots_[id];
    s.state = State::idle;
    s.lent_to = 0;
    lent_waiters_.erase(id);
    idle_.push_back(id);
    serve(now);
}

PoolCore::SlotId PoolCore::opened(Ticket ticket, time_point now) {
    auto it = opening_.find(ticket);
    if (it == opening_.end()) return 0;  // not an open in progress: a front end's bug
    Opening o = it->second;
    opening_.erase(it);
    const SlotId id = next_slot_++;
    Slot& s = slots_[id];
    s.state = State::lent;  // until lent, handed over or closed below
    s.created = s.last_used = now;
    if (opt_.max_lifetime.count() > 0) {
        auto extra = std::chrono::milliseconds(0);
        if (opt_.max_lifetime_jitter.count() > 0)
            extra = std::chrono::milliseconds(
                std::uniform_int_distribution<std::int64_t>(0, opt_.max_lifetime_jitter.count())(rng_));
        s.expires = s.created + opt_.max_lifetime + extra;
    } else {
        s.expires = time_point::max();
    }
    ++counters_.created;
    backoff_ = std::chrono::milliseconds(0);
    backoff_until_ = time_point{};
    last_connect_error_.clear();
    if (o.waiter.id == 0) refilling_ = false;
    if (shut_down_) {
        close_slot(id, pool_closed_reason());
        if (o.waiter.id != 0 && o.wanted) fail(o.waiter.id, "pool is closed");
        return id;
    }
    if (o.waiter.id != 0 && o.wanted)
        lend(o.waiter, id, now, true);
    else
        hand_over(id, now);
    if (o.waiter.id == 0) refill(now);  // the next one, still on the maintenance's turn
    return id;
}

void PoolCore::open_failed(Ticket ticket, time_point now, const std::string& message) {
    auto it = opening_.find(ticket);
    if (it == opening_.end()) return;
    Opening o = it->second;
    opening_.erase(it);
    ++counters_.connect_errors;
    backoff_ = backoff_.count() == 0 ? opt_.connect_backoff_initial : std::min(backoff_ * 2, opt_.connect_backoff_max);
    backoff_until_ = now + backoff_;
    last_connect_error_ = message;
    if (o.waiter.id == 0) refilling_ = false;
    if (o.waiter.id != 0 && o.wanted) fail(o.waiter.id, message, true);
    serve(now);
}

void PoolCore::dropped(Ticket ticket) {
    auto it = opening_.find(ticket);
    if (it == opening_.end()) return;
    if (it->second.waiter.id == 0) refilling_ = false;
    opening_.erase(it);
}

void PoolCore::check_failed(WaiterId waiter, SlotId id, time_point now, CloseReason reason) {
    unlend(id);
    auto w = lent_waiters_.find(id);
    if (w != lent_waiters_.end() && w->second.id == waiter && !shut_down_) waiters_.push_front(w->second);
    close_slot(id, std::move(reason));
    serve(now);
}

void PoolCore::withdrawn(SlotId id, time_point now) {
    unlend(id);
    released(id, now);  // closed when the pool is shut down
}

void PoolCore::unlend(SlotId id) {
    Slot& s = slots_[id];
    --s.uses;
    --counters_.acquire_count;
    counters_.acquire_wait_total -= s.waited;
    --counters_.acquire_wait_histogram[wait_bucket(s.waited)];
}

CloseReason PoolCore::expired(SlotId id, time_point now) const {
    auto it = slots_.find(id);
    if (it == slots_.end()) return {};
    if (opt_.max_uses > 0 && it->second.uses >= opt_.max_uses) return {PoolCloseReason::max_uses, "max uses reached"};
    if (now >= it->second.expires) return {PoolCloseReason::max_lifetime, "max lifetime reached"};
    return {};
}

void PoolCore::released(SlotId id, time_point now, CloseReason reason) {
    if (shut_down_) {
        close_slot(id, pool_closed_reason());
        return;
    }
    if (reason.closes()) {
        close_slot(id, std::move(reason));
        return;
    }
    slots_[id].last_used = now;
    hand_over(id, now);
}

void PoolCore::closed(SlotId id, time_point now) {
    auto it = slots_.find(id);
    if (it == slots_.end()) return;  // not a slot: a front end's bug
    ++counters_.destroyed_by_reason[static_cast<std::size_t>(it->second.close_reason)];
    slots_.erase(it);
    --closing_;
    ++counters_.destroyed;
    serve(now);
}

void PoolCore::refill(time_point now) {
    if (shut_down_ || refilling_) return;
    if (slots_.size() + opening_.size() < opt_.min_size && may_open(now)) {
        refilling_ = true;
        open_for(Waiter{0, now, time_point::max()});
    }
}

void PoolCore::tick(time_point now) {
    serve(now);
    for (auto it = waiters_.begin(); it != waiters_.end();) {
        if (now < it->deadline) {
            ++it;
            continue;
        }
        Waiter w = *it;
        it = waiters_.erase(it);
        ++counters_.acquire_timeouts;
        fail(w.id, exhausted_message(w.start, now), false, true);
    }
}

std::string PoolCore::exhausted_message(time_point start, time_point now) const {
    const std::size_t in_use = slots_.size() - idle_.size();
    std::string msg = "pool exhausted: " + std::to_string(in_use) + " of " + std::to_string(opt_.max_size) +
                      " connections in use";
    if (!opening_.empty()) msg += " (" + std::to_string(opening_.size()) + " opening)";
    msg += ", waited " + std::to_string(to_ms(now - start)) + " ms";
    if (!last_connect_error_.empty()) msg += "; last connect error: " + last_connect_error_;
    return msg;
}

void PoolCore::maintain(time_point now) {
    if (shut_down_) return;
    std::size_t remaining = slots_.size() + opening_.size() - closing_;
    for (auto it = idle_.begin(); it != idle_.end();) {  // oldest released first
        const Slot& s = slots_[*it];
        CloseReason why;
        if (now >= s.expires)
            why = {PoolCloseReason::max_lifetime, "max lifetime reached"};
        else if (opt_.idle_timeout.count() > 0 && now - s.last_used >= opt_.idle_timeout && remaining > opt_.min_size)
            why = {PoolCloseReason::idle_timeout, "idle timeout"};
        if (!why.closes()) {
            ++it;
            continue;
        }
        --remaining;
        SlotId id = *it;
        it = idle_.erase(it);
        close_slot(id, std::move(why));
    }
    refill(now);
}

void PoolCore::shutdown(time_point) {
    if (shut_down_) return;
    shut_down_ = true;
    for (const Waiter& w : waiters_) fail(w.id, "pool is closed");
    waiters_.clear();
    while (!idle_.empty()) {
        SlotId id = idle_.front();
        idle_.pop_front();
        close_slot(id, pool_closed_reason());
    }
}

PoolCore::time_point PoolCore::next_deadline() const {
    time_point t = retry_at();
    for (const Waiter& w : waiters_) t = std::min(t, w.deadline);
    return t;
}

PoolCore::time_point PoolCore::retry_at() const {
    if (!waiters_.empty() && slots_.size() + opening_.size() < opt_.max_size) return backoff_until_;
    return time_point::max();
}

PoolCore::time_point PoolCore::refill_due() const {
    if (shut_down_ || refilling_ || slots_.size() + opening_.size() >= opt_.min_size) return time_point::max();
    // Without a backoff (connect_backoff_initial 0) a failed connect leaves no time to wait
    // for: the next try is the regular maintenance pass's, not an immediate one, again and again.
    if (backoff_.count() == 0 && !last_connect_error_.empty()) return time_point::max();
    return backoff_until_;
}

PoolStats PoolCore::stats() const {
    PoolStats s = counters_;
    s.total = slots_.size() + opening_.size();
    s.idle = idle_.size();
    s.in_use = slots_.size() - idle_.size();
    s.opening = opening_.size();
    s.waiting = waiters_.size();
    s.pending_acquires = waiters_.size();
    for (const auto& [ticket, o] : opening_)
        if (o.waiter.id != 0 && o.wanted) ++s.pending_acquires;
    return s;
}

std::uint64_t PoolCore::uses(SlotId id) const {
    auto it = slots_.find(id);
    return it == slots_.end() ? 0 : it->second.uses;
}

}  // namespace pgtls::pool_detail
