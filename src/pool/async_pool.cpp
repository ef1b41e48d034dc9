// The asynchronous front end of the pool (pgtls/async_pool.hpp): every decision is PoolCore's
// (pool_core.hpp); these files carry out its actions as non-blocking operations on pooled
// AsyncConnections, driven from AsyncPool::advance() on the loop's one thread (see
// async_pool_state.hpp). This one: the entry points, the loop, the core's actions, the
// completions, and the public AsyncPool and Lease.
#include "pool/async_pool_state.hpp"

#include <algorithm>

namespace pgtls::pool_detail {

using Clock = AsyncClock;
using time_point = async_time_point;

namespace {

std::exception_ptr pool_error(ErrorCause cause, std::string message) {
    return std::make_exception_ptr(Error(ErrorKind::pool, cause, std::move(message)));
}

std::exception_ptr closed_error() { return pool_error(ErrorCause::pool_closed, "pool is closed"); }

}  // namespace

PoolCore::WaiterId AsyncPoolState::acquire(std::chrono::milliseconds timeout, AsyncPool::AcquireCallback done) {
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

void AsyncPoolState::cancel(PoolCore::WaiterId id) {
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

void AsyncPoolState::close() {
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

void AsyncPoolState::release(PoolCore::SlotId id) noexcept {
    if (destroyed) return;
    returned.push_back(id);
}

AsyncSlot* AsyncPoolState::lent(PoolCore::SlotId id) const noexcept {
    if (destroyed) return nullptr;
    auto it = slots.find(id);
    if (it == slots.end() || it->second->phase != AsyncSlot::Phase::lent || !it->second->conn) return nullptr;
    return it->second.get();
}

std::vector<AsyncWatch> AsyncPoolState::watches() const {
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

std::optional<time_point> AsyncPoolState::deadline() const {
    if (!completions.empty() || !returned.empty() || !hook_calls.empty()) return time_point{};
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

bool AsyncPoolState::advance(time_point now) {
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
        if (!call_hooks()) return false;
        if (completions.empty()) return true;
        if (!deliver()) return false;
        now = Clock::now();
    }
}

void AsyncPoolState::destroy() {
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

void AsyncPoolState::dispatch(time_point now) {
    for (auto actions = core.take_actions(); !actions.empty(); actions = core.take_actions())
        for (auto& a : actions) carry_out(a, now);
}

void AsyncPoolState::carry_out(PoolCore::Action& a, time_point now) {
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

void AsyncPoolState::complete(PoolCore::WaiterId id, std::exception_ptr error, const char* outcome,
                              const AsyncSlot* lent, std::chrono::nanoseconds waited) {
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

std::uint64_t AsyncPoolState::acquire_span(PoolCore::WaiterId id) const {
    auto it = pending.find(id);
    return it != pending.end() && it->second.span ? it->second.span->id() : 0;
}

void AsyncPoolState::count_failed_check(PoolCore::WaiterId id) {
    if (auto it = pending.find(id); it != pending.end()) ++it->second.checks_failed;
}

void AsyncPoolState::notify(const std::function<void(const PoolEvent&)>& hook, std::uint64_t id, std::string reason,
                            std::chrono::nanoseconds wait) {
    if (hook) hook_calls.push_back(HookCall{&hook, PoolEvent{id, std::move(reason), wait}});
}

bool AsyncPoolState::call_hooks() {
    while (!hook_calls.empty()) {
        HookCall call = std::move(hook_calls.front());
        hook_calls.pop_front();
        const std::weak_ptr<AsyncPoolState> alive = weak_self;
        emit(*call.hook, call.event.connection_id, std::move(call.event.reason), call.event.wait);
        if (alive.expired() || destroyed) return false;
    }
    return true;
}

bool AsyncPoolState::deliver() {
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
