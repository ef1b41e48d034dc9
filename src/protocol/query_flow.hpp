// Collects the results of a simple or extended query from backend messages, up to
// ReadyForQuery. Pure message handling: the driver reads and feeds.
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "protocol/message_reader.hpp"
#include "protocol/session_state.hpp"
#include "pgtls/error.hpp"
#include "pgtls/result.hpp"

namespace pgtls::protocol {

class QueryFlow {
public:
    enum class Kind { simple, extended };
    // A flow is one request: what the session holds for it (SessionState::held) starts at 0.
    QueryFlow(Kind kind, SessionState& state) : kind_(kind), session_(state) { session_.held = {}; }
    QueryFlow(const QueryFlow&) = delete;  // current_ may point into the flow itself
    QueryFlow& operator=(const QueryFlow&) = delete;

    // Returns true once ReadyForQuery has been consumed. Throws Error(protocol) on a message
    // that does not belong in this state. Server errors are stored (see error()) because the
    // server still sends ReadyForQuery after them.
    bool on_message(const BackendMessage& m) {
        // Inline: ParseComplete and BindComplete open every extended query's reply and need
        // nothing but the check that they belong here.
        if ((m.type == '1' || m.type == '2') && kind_ == Kind::extended && !in_copy_out_) return false;
        return on_any_message(m);
    }

    std::vector<Result>& results() noexcept { return results_; }
    // Keep only the last result, in *target (no vector): one-statement extended queries. The
    // first result is built in *target itself (no move per query); a later one, if any, is
    // built apart and replaces it. Before the first message and before set_expected_columns.
    void set_single_target(Result* target) noexcept {
        single_ = target;
        current_ = target;
        target->reset();
    }
    std::size_t single_count() const noexcept { return single_count_; }
    // Rows go to `on_row` one at a time instead of being kept (streaming).
    void set_row_callback(const std::function<void(const Row&)>* on_row) noexcept { on_row_ = on_row; }
    // Statement already described: no RowDescription will come (Bind+Execute only).
    void set_expected_columns(std::shared_ptr<const std::vector<Column>> columns) {
        have_columns_ = !columns->empty();
        current_->set_columns(std::move(columns));
    }
    const std::optional<ServerError>& error() const noexcept { return error_; }
    // Set when the server asked for COPY data we could not give (COPY FROM STDIN in a plain
    // query): the driver must send the output buffer content.
    bool needs_copy_fail() const noexcept { return copy_in_requested_; }
    void copy_fail_sent() noexcept { copy_in_requested_ = false; }

private:
    bool on_any_message(const BackendMessage& m);
    [[noreturn]] void unexpected(char type) const;
    void finish_result();
    Result* single_ = nullptr;
    std::size_t single_count_ = 0;
    Kind kind_;
    SessionState& session_;
    std::vector<Result> results_;
    Result own_;
    Result* current_ = &own_;  // the result being built: own_, or *single_ until it has one
    bool have_columns_ = false;
    bool in_copy_out_ = false;
    bool copy_in_requested_ = false;
    const std::function<void(const Row&)>* on_row_ = nullptr;
    std::optional<ServerError> error_;
};

}  // namespace pgtls::protocol
