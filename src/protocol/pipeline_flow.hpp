// Collects a pipeline's results from backend messages: per sync group, each query's result or
// error, the rest of a group after an error skipped, then its ReadyForQuery. Pure message
// handling, fed as messages arrive — also while the driver is still writing the pipeline, so
// what the server sends meanwhile is parsed (within SessionState's caps), not buffered.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "protocol/message_reader.hpp"
#include "protocol/session_state.hpp"
#include "pgtls/session.hpp"

namespace pgtls::protocol {

class PipelineFlow {
public:
    // `results` has one entry per query, empty, or for an execute of a prepared statement
    // (which sends no Describe) holding the statement's columns; `sync_after[i]` is the number
    // of queries before the i-th Sync. `described`, empty or one entry per query: a query with
    // an entry other than `own_description` sends no Describe of its portal, its columns are
    // those of the statement described last (a Describe of a statement earlier in the
    // pipeline, see encode_parsed_and_described), each in that result format. All three
    // outlive the flow.
    static constexpr std::int16_t own_description = -1;
    PipelineFlow(std::vector<PipelineResult>& results, std::span<const std::size_t> sync_after, SessionState& session,
                 std::span<const std::int16_t> described = {})
        : results_(results), sync_after_(sync_after), described_(described), session_(session) {
        session_.held = {};
    }

    // True once the last sync group's ReadyForQuery has been consumed. Throws Error(protocol)
    // on a message out of place, ServerError on a FATAL/PANIC (the session is over).
    bool on_message(const BackendMessage& m);
    bool done() const noexcept { return group_ == sync_after_.size(); }
    // More queries were added (before done()): `sync_after` and `described` are the longer
    // lists (their starts unchanged), and `results` has an entry for each new query.
    void extend(std::span<const std::size_t> sync_after, std::span<const std::int16_t> described) noexcept {
        sync_after_ = sync_after;
        described_ = described;
    }
    // How many queries have their result or error (the server is at the next one, or past
    // the end).
    std::size_t reported() const noexcept { return q_; }
    const std::vector<PipelineResult>& results() const noexcept { return results_; }
    // How many queries have their final outcome: those of the sync groups that ended (until
    // its ReadyForQuery, a group's implicit COMMIT can still fail and turn its results into
    // errors).
    std::size_t settled() const noexcept { return group_ == 0 ? 0 : sync_after_[group_ - 1]; }

private:
    // Query q_ takes the described statement's columns (it has none of its own): false if it
    // has its own.
    bool take_described_columns();

    std::vector<PipelineResult>& results_;
    std::span<const std::size_t> sync_after_;
    std::span<const std::int16_t> described_;
    SessionState& session_;
    // The columns of the statement described last (text format; empty: it returns no rows),
    // null before the first; `statement_described_`: its ParameterDescription came, its
    // RowDescription or NoData is next.
    std::shared_ptr<const std::vector<Column>> statement_columns_;
    bool statement_described_ = false;
    std::size_t group_ = 0;  // current sync group
    std::size_t q_ = 0;      // next query to report
    bool aborted_ = false;   // an error in the current group: the rest is skipped
    bool have_columns_ = false;  // results_[q_] has its RowDescription
};

}  // namespace pgtls::protocol
