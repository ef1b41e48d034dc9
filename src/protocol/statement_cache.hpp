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
//    FETCH, EXECUTE and CALL are never cached: the server does not check their result type
//    (a cursor declared again with other columns), so each execute describes its own;
//  - executes through the cache inside a pipeline (StatementCache::encode_pipelined/settle_pipelined):
//    every message is encoded at once, so a miss sends the Parse of a new named statement
//    ahead of its Bind/Describe/Execute, and the statement is pending until the query's
//    outcome says it exists. A query queued while its statement is pending uses the unnamed
//    statement. A lost statement (26000) empties the cache but the query is not started over,
//    as the queries sent after it have already run.
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
    // An explicit pipeline's results (the queries that ran), as after_simple_query.
    void after_pipeline(const std::vector<PipelineResult>& results);
    // One statement's result, as after_simple_query (an execute's, a pipelined query's: the
    // extended protocol runs DEALLOCATE ALL too, inside a transaction where a lost statement's
    // 26000 cannot be retried).
    void after_result(const Result& result);
    void clear() noexcept;

    // How one query in a pipeline uses the cache (see the file comment).
    struct PipelinedUse {
        enum class Kind : std::uint8_t { unnamed, hit, miss } kind = Kind::unnamed;
        std::string key;   // miss: the cache key
        std::string name;  // hit, miss: the statement's name; unnamed: its own, if named
        // hit: the statement's columns (its Bind/Execute have no Describe); valid until the
        // cache next changes.
        const std::vector<Column>* columns = nullptr;
    };
    // Appends the query's messages, without its Sync, to `out` — with a cached statement, or
    // the Close of an evicted one and the Parse of a new pending one, or (while the statement
    // is pending, or for a statement never cached) a statement of its own (kind unnamed): the
    // unnamed one, or with `own_statement` one named next_name() (in `name`), closed after its
    // Execute — and returns how it used the cache. The cache changes only when the messages
    // could be encoded (the encoding error propagates).
    PipelinedUse encode_pipelined(std::string& out, std::string_view sql, std::span<const Param> params,
                                  ResultFormat format, bool own_statement = false);
    // The query of `use` ended: with `result` when it succeeded, else with `error` (null: the
    // connection failed). Returns the statements to close on the server: a pending one whose
    // query failed (its Parse may have succeeded) or that the cache no longer holds, a cached
    // one whose result type changed.
    std::vector<std::string> settle_pipelined(const PipelinedUse& use, const Result* result, const ServerError* error);

private:
    static std::string key(std::string_view sql, std::span<const Param> params);
    struct Entry {
        PreparedStatement statement;
        std::list<std::string>::iterator lru;
        bool pending = false;  // prepared in a pipeline whose answer has not come yet
    };
    void erase(std::unordered_map<std::string, Entry>::iterator it);
    bool erase_named(std::string_view name);  // false when no entry has that name
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
