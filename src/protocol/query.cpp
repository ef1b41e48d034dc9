#include "protocol/query.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "protocol/backend_messages.hpp"
#include "protocol/frontend.hpp"

namespace pgtls::protocol {

Action SimpleQuery::send() {
    if (sql_.size() < large_statement_bytes) {
        query(wire_.out, sql_);
        return Action::write();
    }
    query_header(wire_.out, sql_);
    Action a = Action::write();
    a.tail = {sql_, std::string_view("", 1)};
    return a;
}

bool SimpleQuery::on_message(const BackendMessage& m) {
    const bool ended = flow_.on_message(m);
    if (flow_.needs_copy_fail()) {
        copy_fail(wire_.out, "COPY FROM STDIN is not supported by query(); use the COPY API");
        flow_.copy_fail_sent();
    }
    return ended;
}

Action SimpleQuery::process() { return process_as(*this); }

namespace {
// `q` with the parameters and the result format, appended to `out`.
void write_extended(std::string& out, ExtendedQuery q, std::span<const Param> params, ResultFormat format) {
    q.params = params;
    const std::int16_t fmt = static_cast<std::int16_t>(format);
    if (format != ResultFormat::text) q.result_formats = std::span<const std::int16_t>(&fmt, 1);
    extended_query(out, q);
}
}  // namespace

void encode_extended(std::string& out, const PreparedStatement* prepared, std::string_view sql,
                     std::span<const Param> params, ResultFormat format, std::string_view parse_as) {
    ExtendedQuery q;
    if (prepared) {
        q.parse = false;
        q.describe = ExtendedQuery::Describe::none;
        q.statement = prepared->name;
    } else {
        q.sql = sql;
        q.statement = parse_as;
    }
    write_extended(out, q, params, format);
}

void encode_extended_closing(std::string& out, const PreparedStatement* prepared, std::string_view sql,
                             std::span<const Param> params, ResultFormat format, std::string_view parse_as) {
    encode_extended(out, prepared, sql, params, format, parse_as);
    if (!parse_as.empty()) close(out, 'S', parse_as);
}

namespace {
// The first word of `sql` (its letters), after white space and comments (nested block
// comments included); empty when there is none.
std::string_view command_word(std::string_view sql) noexcept {
    std::size_t i = 0;
    while (i < sql.size()) {
        if (std::strchr(" \t\n\r\f\v", sql[i]) != nullptr && sql[i] != '\0') {
            ++i;
        } else if (sql.substr(i, 2) == "--") {
            i = sql.find('\n', i);
            if (i == std::string_view::npos) return {};
        } else if (sql.substr(i, 2) == "/*") {
            int depth = 0;
            while (i < sql.size()) {
                if (sql.substr(i, 2) == "/*") {
                    ++depth;
                    i += 2;
                } else if (sql.substr(i, 2) == "*/") {
                    i += 2;
                    if (--depth == 0) break;
                } else {
                    ++i;
                }
            }
            if (depth != 0) return {};
        } else {
            break;
        }
    }
    const std::size_t start = i;
    while (i < sql.size() && std::isalpha(static_cast<unsigned char>(sql[i]))) ++i;
    return sql.substr(start, i - start);
}

bool is_word(std::string_view word, std::string_view lower) noexcept {
    return word.size() == lower.size() &&
           std::equal(word.begin(), word.end(), lower.begin(),
                      [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; });
}
}  // namespace

bool drops_prepared_statements(std::string_view sql) noexcept {
    const std::string_view word = command_word(sql);
    return is_word(word, "deallocate") || is_word(word, "discard");
}

bool result_columns_vary(std::string_view sql) noexcept {
    const std::string_view word = command_word(sql);
    return is_word(word, "fetch") || is_word(word, "execute") || is_word(word, "call");
}

bool runs_copy(std::string_view sql) noexcept { return is_word(command_word(sql), "copy"); }

void encode_parsed_and_described(std::string& out, std::string_view statement, std::string_view sql,
                                 std::span<const Param> params, ResultFormat format) {
    ExtendedQuery q;
    q.describe = ExtendedQuery::Describe::statement;
    q.statement = statement;
    q.sql = sql;
    write_extended(out, q, params, format);
}

void encode_bound(std::string& out, std::string_view statement, std::span<const Param> params, ResultFormat format) {
    ExtendedQuery q;
    q.parse = false;
    q.describe = ExtendedQuery::Describe::none;
    q.statement = statement;
    write_extended(out, q, params, format);
}

ExtendedRequest::ExtendedRequest(Wire wire, const ExtendedCall& call, RequestOptions options)
    : Request(wire, options), call_(call), flow_(QueryFlow::Kind::extended, wire.session) {
    if (!call_.target) throw Error(ErrorKind::usage, ErrorCause::usage, "an extended query needs a result target");
    flow_.set_single_target(call_.target);
    if (call_.prepared)
        flow_.set_expected_columns(
            wire.session.columns_like(call_.prepared->columns, static_cast<std::int16_t>(call_.format)));
    flow_.set_row_callback(call_.on_row);
}

Action ExtendedRequest::send() {
    encode_extended(wire_.out, call_.prepared, call_.sql, call_.params, call_.format);
    sync(wire_.out);
    return Action::write();
}

bool ExtendedRequest::on_message(const BackendMessage& m) {
    const bool ended = flow_.on_message(m);
    if (flow_.needs_copy_fail()) [[unlikely]] {
        // The server ignores Sync during COPY FROM STDIN: after the CopyFail it discards
        // messages up to the next Sync, so one more follows (the first one was swallowed).
        copy_fail(wire_.out, "COPY FROM STDIN is not supported by execute() or stream(); use the COPY API");
        sync(wire_.out);
        flow_.copy_fail_sent();
    }
    return ended;
}

Action ExtendedRequest::process() { return process_as(*this); }

Action CloseStatements::send() {
    for (const auto& name : names_) close(wire_.out, 'S', name);
    sync(wire_.out);
    return Action::write();
}

Action DescribeStatement::send() {
    if (param_types_) parse(wire_.out, statement_.name, sql_, *param_types_);
    describe(wire_.out, 'S', statement_.name);
    sync(wire_.out);
    return Action::write();
}

bool DescribeStatement::on_message(const BackendMessage& m) {
    switch (m.type) {
        case '1':
            if (!param_types_) break;
            return false;
        case 't': {
            ByteReader r(m.body, "ParameterDescription");
            const int n = r.i16();
            if (n < 0) r.fail("negative parameter count");
            for (int i = 0; i < n; ++i) statement_.param_types.push_back(static_cast<std::uint32_t>(r.i32()));
            r.expect_end();
            return false;
        }
        case 'T': statement_.columns = parse_row_description(m.body); return false;
        case 'n': return false;
        case 'E':
            if (!error_) error_.emplace(parse_error_fields(m.body));
            return false;
        case 'Z': wire_.session.transaction_status = parse_ready_for_query(m.body); return true;
        default:
            if (wire_.session.handle_async(m)) return false;
            break;
    }
    throw Error(ErrorKind::protocol, std::string("unexpected ") + backend_message_name(m.type) +
                                         " message from server while " + (param_types_ ? "preparing" : "describing") +
                                         " a statement");
}

}  // namespace pgtls::protocol
