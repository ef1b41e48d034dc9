// AsyncTransaction: BEGIN, COMMIT, ROLLBACK and savepoints queued on the AsyncConnection that
// began it (client/transaction_sql.hpp words them as the blocking Transaction does).
#include "pgtls/async.hpp"

#include "client/async/core.hpp"
#include "client/transaction_sql.hpp"

namespace pgtls {

using client::make_op;
using client::TransactionState;
using State = client::AsyncCore;

// ---- transactions

// A transaction's hold on its connection (while `alive`), and its state.
struct client::AsyncTransactionLink {
    client::AsyncCore* core = nullptr;
    std::shared_ptr<bool> alive;
    std::shared_ptr<TransactionState> state;
};

AsyncTransaction client::AsyncCore::transaction() {
    return AsyncTransaction(
        std::make_unique<AsyncTransactionLink>(AsyncTransactionLink{this, alive, std::make_shared<TransactionState>()}));
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
AsyncTransaction::OpId transaction_op(client::AsyncTransactionLink* link, std::string sql, bool finishes,
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
                    client::AsyncTransactionLink orphan{core, core->alive, tx};
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
AsyncTransaction::AsyncTransaction(std::unique_ptr<client::AsyncTransactionLink> link) noexcept
    : link_(std::move(link)) {}
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

}  // namespace pgtls
