// AsyncCopyIn: a COPY FROM STDIN opened by AsyncConnection::open_copy_in and written chunk by
// chunk; its operations run on the connection while the COPY is open (client/async/core.hpp).
#include "pgtls/async.hpp"

#include "client/async/core.hpp"

namespace pgtls {

using client::copy_chunk;
using client::CopyState;
using client::make_op;
using client::usage_error;
using Op = client::AsyncCore::Op;
using State = client::AsyncCore;

// ---- streamed COPY FROM STDIN

// A writer's hold on its COPY: the connection (while `alive`), the COPY's shared state, and
// whether the writer queued its end (finish or abort) already.
struct client::AsyncCopyInLink {
    client::AsyncCore* core = nullptr;
    std::shared_ptr<bool> alive;
    std::shared_ptr<CopyState> copy;
};

AsyncCopyIn client::AsyncCore::writer(std::shared_ptr<CopyState> state) {
    return AsyncCopyIn(std::make_unique<AsyncCopyInLink>(AsyncCopyInLink{this, alive, std::move(state)}));
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
AsyncCopyIn::OpId copy_op(client::AsyncCopyInLink* link, bool ends, Make make, Done done) {
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
AsyncCopyIn::AsyncCopyIn(std::unique_ptr<client::AsyncCopyInLink> link) noexcept : link_(std::move(link)) {}
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

}  // namespace pgtls
