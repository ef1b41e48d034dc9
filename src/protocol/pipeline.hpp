// A pipeline, sans I/O: many encoded queries and sync points written at once, the server's
// replies consumed while the write is still going on (so a server that answers instead of
// reading cannot fill the buffer), every sync group's results collected by PipelineFlow.
// A timeout retires the connection (what the server still holds of the pipeline is unknown).
#pragma once

#include <exception>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/pipeline_flow.hpp"
#include "protocol/request.hpp"
#include "protocol/statement_cache.hpp"

namespace pgtls::protocol {

// One query of an explicit pipeline (Pipeline, AsyncConnection::pipeline), appended to `out`
// without a Sync. A query after the pipeline's first Sync (`after_sync`) parses a statement of
// its own, named by `names.next_name()`, and closes it after its Execute: a transaction
// pooler may hand the server connection over once it has the answers to the Syncs before it
// (PgBouncer, pgbouncer#759, even between the Parse and the Bind of one group), and a Bind of
// the unnamed statement would then run whatever another client parsed there — wrong data; a
// name of its own fails with 26000 instead. The pipeline's first group has no Sync unanswered
// before it, and DEALLOCATE or DISCARD would drop their own statement: those parse the
// unnamed one. Returns the statement's name ("" for the unnamed one); `out` is unchanged when
// the query cannot be encoded (the encoding error propagates).
std::string encode_pipeline_query(std::string& out, bool after_sync, std::string_view sql,
                                  std::span<const Param> params, ResultFormat format, StatementCache& names);
// The statements an explicit pipeline's queries left on the server once it ended: those of
// the queries that failed (a failed query skips the rest of its group, its Close included).
// `names[i]`: what encode_pipeline_query() returned for query i.
std::vector<std::string> pipeline_leftovers(std::span<const std::string> names, const std::vector<PipelineResult>& results);

class PipelineRequest final : public Request {
public:
    Operation operation() const noexcept override { return Operation::pipeline; }
    // `messages` (the encoded queries and Syncs), `results` (one per query), `sync_after`
    // (queries before each Sync) and `described` (see PipelineFlow) outlive the request.
    PipelineRequest(Wire wire, std::string_view messages, std::vector<PipelineResult>& results,
                    std::span<const std::size_t> sync_after, RequestOptions options,
                    std::span<const std::int16_t> described = {})
        : Request(wire, closing(options)),
          messages_(messages),
          flow_(results, sync_after, wire.session, described) {}

    // What a user callback threw while query `i` of an implicit pipeline was answered (its
    // outcome in place of its result), taken out; null when none.
    std::exception_ptr take_thrown(std::size_t i) noexcept {
        for (auto& [query, e] : thrown_)
            if (query == i) return std::exchange(e, nullptr);
        return nullptr;
    }

    // See PipelineFlow::reported() and settled().
    std::size_t reported() const noexcept { return flow_.reported(); }
    const std::vector<PipelineResult>& results() const noexcept { return flow_.results(); }
    std::size_t settled() const noexcept { return flow_.settled(); }

    // The SQL of query `i` as the driver gave it for tracing (set_texts; Config::trace_query_text),
    // empty when it gave none.
    std::string_view text(std::size_t i) const noexcept {
        return texts_ && i < texts_->size() ? std::string_view((*texts_)[i]) : std::string_view{};
    }
    // `texts` (one per query, as they are appended) outlives the request.
    void set_texts(const std::vector<std::string>* texts) noexcept { texts_ = texts; }

    // The driver pipelined separate calls (AsyncConnection's implicit pipelining), not one
    // pipeline of the application's: for tracing.
    bool implicit() const noexcept { return implicit_; }
    void set_implicit() noexcept { implicit_ = true; }
    // How many times queries joined after the first write (append()).
    std::size_t appends() const noexcept { return appends_; }

    // More queries can join: the request was written and awaits its reply (no cancel, timeout
    // or callback drain under way), and its last sync group is not answered yet.
    bool appendable() const noexcept { return awaiting_reply() && !flow_.done(); }
    // Only when appendable(): the caller appended more queries, each with its Sync, to
    // Wire::out, one result per query to `results`, and `sync_after` and `described` are the
    // longer lists (their starts unchanged). The driver then resumes the request with
    // Event::more: the new messages are written while the reply is read on.
    void append(std::span<const std::size_t> sync_after, std::span<const std::int16_t> described) noexcept {
        flow_.extend(sync_after, described);
        more_ = true;
        ++appends_;
    }

private:
    friend class Request;  // process_as() calls on_message and take_more directly
    bool take_more() noexcept { return std::exchange(more_, false); }
    Action process() override { return process_as(*this); }

    static RequestOptions closing(RequestOptions o) {
        o.on_timeout = RequestOptions::OnTimeout::close;
        return o;
    }
    Action send() override {
        Action a = Action::write_draining();
        a.tail = {messages_, {}};
        return a;
    }
    // A cancel the application asked for is sent for the query the server runs (the first not
    // answered: reported()); once that query's sync group is answered, the queries after it
    // are read as before the cancel, and one of them can be cancelled in turn (draining them
    // instead would ignore that cancel, and retire the connection when they outlast the
    // cancel's grace period).
    //
    // In an implicit pipeline (each query its own sync group), what a user callback (the notice
    // handler) throws is the outcome of the query whose reply was being read (take_thrown()),
    // as for that query run alone; the queries after it are read as before.
    bool on_message(const BackendMessage& m) override {
        const bool after_cancel = draining_after_cancel();
        if (after_cancel && cancelled_ == none) cancelled_ = flow_.reported();  // what was unanswered when it was sent
        const bool threw_before = wire_.session.callback_error != nullptr;
        const std::size_t answering = flow_.settled();  // implicit: the query of the group under way
        const bool ended = flow_.on_message(m);
        if (after_cancel && !ended && flow_.settled() > cancelled_) {
            cancelled_ = none;
            cancel_spent();
        }
        if (implicit_ && !threw_before && wire_.session.callback_error) thrower_ = answering;
        if (thrower_ != none && flow_.settled() > thrower_) {
            thrown_.emplace_back(thrower_, std::exchange(wire_.session.callback_error, nullptr));
            thrower_ = none;
            if (!ended) callback_drain_spent();
        }
        return ended;
    }
    // Each query's error is its own result; a FATAL ends the flow with that error.
    const ServerError* server_error() const noexcept override { return nullptr; }

    std::string_view messages_;
    const std::vector<std::string>* texts_ = nullptr;
    bool implicit_ = false;
    std::size_t appends_ = 0;
    PipelineFlow flow_;
    bool more_ = false;  // append()ed, not yet written
    static constexpr std::size_t none = static_cast<std::size_t>(-1);
    std::size_t cancelled_ = none;  // draining after a cancel: the query it was sent for
    std::size_t thrower_ = none;    // implicit: the query whose reply a user callback threw in
    std::vector<std::pair<std::size_t, std::exception_ptr>> thrown_;  // per query, what it threw
};

}  // namespace pgtls::protocol
