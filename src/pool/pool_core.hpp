// The pool's decisions with no threads, no I/O and no clock: a state machine fed events
// (acquire requested, connection opened or failed, check failed, released, closed, time
// passed) that queues actions (lend this connection to that waiter, open one, close one,
// fail a waiter) for a front end to carry out. The blocking pool (blocking_pool.cpp) and
// the async pool drive the same core. Internal (not installed).
//
// Bookkeeping: every connection counts in total from the moment its open is asked until
// closed() is reported; meanwhile it is opening, idle, lent (to a borrower, or being checked
// or reset) or closing, and stats() reports lent + closing as in_use, so
// total == idle + in_use + opening always holds.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "pgtls/pool.hpp"

namespace pgtls::pool_detail {

// Why the pool closes a connection: the category (PoolStats::destroyed_by_reason, the destroy
// span), chosen where the close is decided, and the message hooks and spans show. Empty
// message: no close (a release that keeps the connection, an age that has not run out).
struct CloseReason {
    PoolCloseReason kind = PoolCloseReason::unclean_release;
    std::string message;
    bool closes() const noexcept { return !message.empty(); }
};
CloseReason pool_closed_reason();       // pool_closed, "pool closed"
CloseReason broken_connection_reason();  // broken, "connection broken"
CloseReason tls_retired_reason();        // retired, "retired: TLS material reloaded"
// The bucket of PoolStats::acquire_wait_histogram that counts a wait of `waited`.
std::size_t wait_bucket(std::chrono::nanoseconds waited) noexcept;

class PoolCore {
public:
    using time_point = std::chrono::steady_clock::time_point;
    using SlotId = std::uint64_t;    // a connection's id: 1, 2, ... in creation order
    using WaiterId = std::uint64_t;  // an acquire request
    using Ticket = std::uint64_t;    // an open in progress

    // What the front end must do next.
    struct Action {
        enum class Kind {
            lend,  // give `slot` to `waiter` (check it first when `check` or `probe`)
            open,  // open a connection for `ticket`: for `waiter`, or 0 for min_size
            close,  // close `slot` for `reason` (of kind `close_kind`), then report closed()
            fail,   // fail `waiter`: `reason` is the error message; `connect_error`: its own
                    // connect failed (the front end reports that connect's own exception)
        };
        Kind kind = Kind::fail;
        WaiterId waiter = 0;
        SlotId slot = 0;
        Ticket ticket = 0;
        bool check = false;  // lend: idle at least health_check_after: ping before lending
        bool probe = false;  // lend: idle at least 1 ms: ping if its socket has input
        bool connect_error = false;
        bool timed_out = false;  // fail: the waiter's deadline passed (`reason`: "pool exhausted: ...")
        std::string reason;
        PoolCloseReason close_kind = PoolCloseReason::unclean_release;  // close: reason's kind
        std::chrono::nanoseconds waited{0};  // lend: how long the waiter waited
    };

    // Validates nothing: the front end validates the options first.
    PoolCore(const PoolCoreOptions& options, std::uint64_t seed);

    // A new acquire request, to be served by `deadline` (time_point::max(): no deadline).
    WaiterId acquire(time_point now, time_point deadline);
    // The waiter no longer wants a connection (cancelled, or its caller gone). A connection
    // being opened for it goes to the next waiter or to idle when it arrives. No-op when the
    // waiter is already served or failed.
    void cancel(WaiterId waiter, time_point now);
    // An open finished: the new connection's id. It is lent to the waiter it was opened for
    // (no check), or handed on. After shutdown() it is closed ("pool closed") instead.
    SlotId opened(Ticket ticket, time_point now);
    // An open of a min_size ticket that will not be attempted (the pool is shutting down).
    void dropped(Ticket ticket);
    // An open failed with `message`: arms the backoff; its waiter (if any) is failed.
    void open_failed(Ticket ticket, time_point now, const std::string& message);
    // The lend's check found the connection unusable: the waiter keeps its place at the
    // head, the acquisition is not counted, and the slot is closed for `reason`.
    void check_failed(WaiterId waiter, SlotId slot, time_point now, CloseReason reason);
    // The waiter of a lend went away before the lend's check ended (cancelled, or the pool shut
    // down) and the check passed: not an acquisition nor a use after all; the slot goes back as
    // by released() (closed after shutdown()).
    void withdrawn(SlotId slot, time_point now);
    // The borrower gave the slot back: kept (`reason` empty: to the oldest waiter or idle)
    // or closed for `reason`.
    void released(SlotId slot, time_point now, CloseReason reason = {});
    // Why a slot being released must be closed by its age or uses ("max uses reached",
    // "max lifetime reached"), or an empty reason.
    CloseReason expired(SlotId slot, time_point now) const;
    // A close asked by a close action is done. Refilling min_size is left to maintain()
    // (see refill_due()), so that only the maintenance pass ever opens for it.
    void closed(SlotId slot, time_point now);
    // Time passed: waiters past their deadline fail, a finished backoff lets the head open.
    void tick(time_point now);
    // The maintenance pass: close idle connections past their lifetime or idle timeout
    // (keeping min_size), and open towards min_size (one at a time).
    void maintain(time_point now);
    // Stop: every waiter fails ("pool is closed"), idle connections close; later acquires
    // fail and returned connections close.
    void shutdown(time_point now);

    // The actions queued since the last call, oldest first.
    std::vector<Action> take_actions();
    // When tick() next has something to do (a waiter's deadline, a backoff's end while
    // someone needs a connection); time_point::max() when nothing.
    time_point next_deadline() const;
    // When a connect backoff ends while a waiter needs a connection opened (the only wait
    // that is not a waiter's own deadline); time_point::max() when none.
    time_point retry_at() const;
    // When a maintenance pass is useful before its regular interval: below min_size with no
    // refill in flight, at once or when the connect backoff ends (after a failed connect with
    // no backoff configured, only the regular pass); time_point::max() otherwise.
    time_point refill_due() const;

    bool is_shut_down() const noexcept { return shut_down_; }
    PoolStats stats() const;
    // How many times `slot` has been lent (this lend included); 0 when unknown.
    std::uint64_t uses(SlotId slot) const;
    // Where the acquire of a waiter stands: the message of an exhausted pool at `now`.
    std::string exhausted_message(time_point start, time_point now) const;

private:
    enum class State { idle, lent, closing };
    struct Slot {
        State state = State::idle;
        time_point created{}, expires{}, last_used{};
        std::uint64_t uses = 0;
        WaiterId lent_to = 0;
        std::chrono::nanoseconds waited{0};  // of the current lend, taken back on check_failed
        PoolCloseReason close_reason = PoolCloseReason::pool_closed;  // set when closing starts
    };
    struct Waiter {
        WaiterId id = 0;
        time_point start{}, deadline{};
    };
    struct Opening {
        Waiter waiter;  // id 0: opened for min_size
        bool wanted = true;
    };

    void serve(time_point now);  // hand idle connections to waiters, open what is needed
    // `fresh`: just opened for this waiter, no check.
    void lend(const Waiter& w, SlotId slot, time_point now, bool fresh);
    void hand_over(SlotId slot, time_point now);
    void unlend(SlotId slot);  // takes back the counts of slot's lend (uses, acquisitions, wait)
    void close_slot(SlotId slot, CloseReason reason);
    void open_for(const Waiter& w);
    void fail(WaiterId w, std::string reason, bool connect_error = false, bool timed_out = false);
    void refill(time_point now);  // open towards min_size, one at a time
    bool may_open(time_point now) const;

    PoolCoreOptions opt_;
    std::minstd_rand rng_;
    std::map<SlotId, Slot> slots_;
    std::deque<SlotId> idle_;      // back = most recently released
    std::deque<Waiter> waiters_;   // FIFO: the front is served first
    std::map<Ticket, Opening> opening_;
    std::map<SlotId, Waiter> lent_waiters_;  // whom a lent slot went to, until its check passes
    std::vector<Action> actions_;
    std::size_t closing_ = 0;
    std::uint64_t next_slot_ = 1, next_waiter_ = 1, next_ticket_ = 1;
    bool refilling_ = false;  // a min_size open is in flight
    bool shut_down_ = false;
    time_point backoff_until_{};
    std::chrono::milliseconds backoff_{0};
    std::string last_connect_error_;
    PoolStats counters_;
};

}  // namespace pgtls::pool_detail
