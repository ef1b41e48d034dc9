// The query requests, sans I/O (see request.hpp for what they share): a simple query (one or
// more statements, results kept), an extended query (one statement with parameters, unnamed or
// prepared, rows kept or streamed), and closing prepared statements.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/query_flow.hpp"
#include "protocol/request.hpp"
#include "pgtls/session.hpp"

namespace pgtls::protocol {

class SimpleQuery final : public Request {
public:
    Operation operation() const noexcept override { return Operation::simple_query; }
    // From this size on the SQL is sent from the caller's memory (Action::tail) instead of being
    // copied into Wire::out: a copy would cost its size again, and time no deadline bounds.
    static constexpr std::size_t large_statement_bytes = 64 * 1024;

    // `sql` outlives the request. A COPY FROM STDIN among the statements is refused with a
    // CopyFail (this request has no data to give).
    SimpleQuery(Wire wire, std::string_view sql, RequestOptions options)
        : Request(wire, options), sql_(sql), flow_(QueryFlow::Kind::simple, wire.session) {}
    std::vector<Result>& results() noexcept { return flow_.results(); }
    const std::vector<Result>& results() const noexcept { return const_cast<QueryFlow&>(flow_).results(); }
    std::string_view sql() const noexcept { return sql_; }

private:
    friend class Request;  // process_as() calls on_message directly
    Action send() override;
    bool on_message(const BackendMessage& m) override;
    Action process() override;
    const ServerError* server_error() const noexcept override { return flow_.error() ? &*flow_.error() : nullptr; }

    std::string_view sql_;
    QueryFlow flow_;
};

// Appends Parse (unless `prepared`) + Bind + Describe portal (unless `prepared`) + Execute for
// one statement to `out`, straight from the parameters (no copies of their values). The Parse
// makes the unnamed statement, or the one named `parse_as`.
void encode_extended(std::string& out, const PreparedStatement* prepared, std::string_view sql,
                     std::span<const Param> params, ResultFormat format, std::string_view parse_as = {});
// encode_extended(), then the Close of the statement `parse_as` names (none when it is empty:
// the unnamed statement): a statement of the query's own, gone once the query ran. A query
// that fails skips the Close with the rest of its sync group.
void encode_extended_closing(std::string& out, const PreparedStatement* prepared, std::string_view sql,
                             std::span<const Param> params, ResultFormat format, std::string_view parse_as);
// Whether `sql`'s command is DEALLOCATE or DISCARD (after white space and comments, nested
// block comments included): a statement that may drop prepared statements, its own included.
bool drops_prepared_statements(std::string_view sql) noexcept;
// Whether `sql`'s command is FETCH, EXECUTE or CALL (as above): its result columns are those of
// the cursor, prepared statement or procedure of that name when it runs, which the server does
// not check against a prepared statement's description (no 0A000, as for a SELECT whose table
// changed). Such a statement is described on every execute, not cached.
bool result_columns_vary(std::string_view sql) noexcept;
// Whether `sql`'s command is COPY (as above): its CopyInResponse waits for an answer of the
// client's (ExtendedRequest's CopyFail and Sync), which a query inside a pipeline cannot give.
bool runs_copy(std::string_view sql) noexcept;

// A statement parsed once for several queries (an implicit pipeline's run): the first query
// appends Parse of `statement` + Describe of the statement + Bind + Execute, the others Bind +
// Execute of it (encode_bound). Each query's columns are the statement's description with
// its own result format (PipelineFlow's `described`): a portal Describe per query would cost
// the server a RowDescription each, and the statement's description comes even when the first
// query's Bind fails.
void encode_parsed_and_described(std::string& out, std::string_view statement, std::string_view sql,
                                 std::span<const Param> params, ResultFormat format);
void encode_bound(std::string& out, std::string_view statement, std::span<const Param> params, ResultFormat format);

struct ExtendedCall {
    const PreparedStatement* prepared = nullptr;  // null: the unnamed statement from `sql`
    std::string_view sql;
    std::span<const Param> params;
    ResultFormat format = ResultFormat::text;
    const std::function<void(const Row&)>* on_row = nullptr;  // set: rows are streamed to it
    Result* target = nullptr;  // where the result is built (required; what it held is dropped)
};

// One statement with parameters and a Sync; everything in `call` outlives the request, and
// its result goes to *call.target.
class ExtendedRequest final : public Request {
public:
    Operation operation() const noexcept override { return Operation::extended; }
    ExtendedRequest(Wire wire, const ExtendedCall& call, RequestOptions options);
    const ExtendedCall& call() const noexcept { return call_; }

private:
    friend class Request;  // process_as() calls on_message directly
    Action send() override;
    bool on_message(const BackendMessage& m) override;
    Action process() override;
    const ServerError* server_error() const noexcept override { return flow_.error() ? &*flow_.error() : nullptr; }

    ExtendedCall call_;
    QueryFlow flow_;
};

// Close of each named prepared statement, then Sync.
class CloseStatements final : public Request {
public:
    Operation operation() const noexcept override { return Operation::close_statements; }
    CloseStatements(Wire wire, std::vector<std::string> names, RequestOptions options)
        : Request(wire, options), names_(std::move(names)), flow_(QueryFlow::Kind::extended, wire.session) {}

private:
    Action send() override;
    bool on_message(const BackendMessage& m) override { return flow_.on_message(m); }
    const ServerError* server_error() const noexcept override { return flow_.error() ? &*flow_.error() : nullptr; }

    std::vector<std::string> names_;
    QueryFlow flow_;
};

// Parse (when preparing) + Describe of a named statement + Sync: its parameter types and
// result columns.
class DescribeStatement final : public Request {
public:
    Operation operation() const noexcept override { return Operation::describe; }
    // `param_types` null: describe an existing statement; otherwise prepare `sql` first.
    DescribeStatement(Wire wire, std::string name, std::string_view sql, const std::vector<std::uint32_t>* param_types,
                      RequestOptions options)
        : Request(wire, options), sql_(sql), param_types_(param_types) {
        statement_.name = std::move(name);
    }
    PreparedStatement& statement() noexcept { return statement_; }

private:
    Action send() override;
    bool on_message(const BackendMessage& m) override;
    const ServerError* server_error() const noexcept override { return error_ ? &*error_ : nullptr; }

    std::string_view sql_;
    const std::vector<std::uint32_t>* param_types_;
    PreparedStatement statement_;
    std::optional<ServerError> error_;
};

}  // namespace pgtls::protocol
