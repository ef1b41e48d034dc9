// The statement cache behind execute(sql, params) — one logic for both drivers, sans I/O:
//  - StatementCache: an LRU of server-side statements keyed by the SQL and the parameters'
//    type OIDs, named "pgtls_<random>_<n>" (unique per connection: behind a pooler a server
//    connection carrying another client's statements never runs one of them in place of
//    ours; a missing one is a clear 26000), and what the server's answers say it lost;
//  - CachedExecute: one execute through the cache, as an algorithm (see algorithm.hpp): Close
//    of the statement the cache evicts to make room, Parse/Describe of a new one, then
//    Bind/Execute of the cached statement. When the server no longer knows a cached statement
//    (26000: DISCARD ALL, DEALLOCATE, a pooler's server swap) every cached one is forgotten,
//    and outside a transaction (nothing ran) the execute starts over once; a cached plan whose
//    result type changed (0A000) is forgotten and closed on the server, the error stands.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "protocol/query.hpp"
#include "pgtls/session.hpp"

namespace pgtls::protocol {

class StatementCache {
public:
    StatementCache();  // the name prefix is random
    // 0 (the default): off, so PgBouncer transaction pooling keeps working.
    std::size_t capacity() const noexcept { return capacity_; }
    // The names of the statements the cache forgets to fit `capacity`: the caller closes them
    // on the server.
    std::vector<std::string> set_capacity(std::size_t capacity);
    std::size_t size() const noexcept { return entries_.size(); }

    // The statement cached for `sql` with parameters of these types, made the most recent;
    // null when none.
    const PreparedStatement* find(std::string_view sql, std::span<const Param> params);
    // Room for one more: the name of the least recently used statement, forgotten (to close on
    // the server), when the cache is full; nullopt otherwise.
    std::optional<std::string> make_room();
    // A name for the next statement to prepare.
    std::string next_name();
    // Caches `statement` (prepared for `sql` with these parameters) as the most recent.
    const PreparedStatement& add(std::string_view sql, std::span<const Param> params, PreparedStatement statement);
    // Executing `cached` failed with `e`: forgets what `e` says the server lost (see the file
    // comment). True when the execute may start over (26000 outside a transaction).
    bool forget_after(const PreparedStatement& cached, const ServerError& e, TransactionStatus status);
    // A simple query's results: DISCARD ALL and DEALLOCATE ALL drop every prepared statement.
    void after_simple_query(const std::vector<Result>& results);
    void clear() noexcept;

private:
    static std::string key(std::string_view sql, std::span<const Param> params);
    struct Entry {
        PreparedStatement statement;
        std::list<std::string>::iterator lru;
    };
    std::size_t capacity_ = 0;
    std::unordered_map<std::string, Entry> entries_;
    std::list<std::string> lru_;  // front = most recent
    std::uint64_t counter_ = 0;
    std::string prefix_;
};

class CachedExecute final : public Algorithm {
public:
    // `call` (call.prepared null) and `cache` outlive the algorithm; the result goes to
    // *call.target. `may_retry`: start over once after a lost statement (see the file comment).
    CachedExecute(Wire wire, StatementCache& cache, const ExtendedCall& call, RequestOptions options, bool may_retry);
    Operation operation() const noexcept override { return Operation::cached_execute; }
    Action resume(const Event& event) override;
    std::optional<Action> consume_input() override;
    bool cancellable() const noexcept override { return true; }
    // The execute itself once it started (for observers), else null.
    const ExtendedRequest* execution() const noexcept { return std::get_if<ExtendedRequest>(&step_); }

private:
    Action begin();               // the first request of an attempt
    Action start(Algorithm& a);   // resumes `a` with start, then as next() says
    Action next(Action a);        // what follows a request's action
    Algorithm& running();

    Wire wire_;
    StatementCache& cache_;
    ExtendedCall call_;
    RequestOptions options_;
    bool may_retry_;
    std::vector<std::string> victim_;            // the statement a Close removes
    std::vector<std::uint32_t> types_;           // of the statement being prepared
    std::string name_;                           // of the statement being prepared
    const PreparedStatement* cached_ = nullptr;  // the statement executed
    std::optional<Action> failure_;              // the execute's, while its statement is closed
    std::variant<std::monostate, CloseStatements, DescribeStatement, ExtendedRequest> step_;
};

}  // namespace pgtls::protocol
