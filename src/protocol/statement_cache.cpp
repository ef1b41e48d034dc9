#include "protocol/statement_cache.hpp"

#include <cstdio>
#include <random>
#include <type_traits>

#include "protocol/frontend.hpp"

namespace pgtls::protocol {

StatementCache::StatementCache() {
    std::random_device rd;
    const std::uint64_t r = (std::uint64_t{rd()} << 32) ^ rd();
    char buf[40];
    std::snprintf(buf, sizeof buf, "pgtls_%016llx_", static_cast<unsigned long long>(r));
    prefix_ = buf;
}

std::string StatementCache::key(std::string_view sql, std::span<const Param> params) {
    std::string k(sql);
    for (const auto& p : params) k += "\x1f" + std::to_string(p.type_oid);
    return k;
}

std::vector<std::string> StatementCache::set_capacity(std::size_t capacity) {
    capacity_ = capacity;
    std::vector<std::string> forgotten;
    while (entries_.size() > capacity_) {
        forgotten.push_back(std::move(entries_.at(lru_.back()).statement.name));
        entries_.erase(lru_.back());
        lru_.pop_back();
    }
    return forgotten;
}

void StatementCache::erase(std::unordered_map<std::string, Entry>::iterator it) {
    lru_.erase(it->second.lru);
    entries_.erase(it);
}

bool StatementCache::erase_named(std::string_view name) {
    for (auto it = entries_.begin(); it != entries_.end(); ++it)
        if (it->second.statement.name == name) {
            erase(it);
            return true;
        }
    return false;
}

const PreparedStatement* StatementCache::find(std::string_view sql, std::span<const Param> params) {
    const auto it = entries_.find(key(sql, params));
    if (it == entries_.end() || it->second.pending) return nullptr;
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return &it->second.statement;
}

std::optional<std::string> StatementCache::make_room() {
    if (entries_.empty() || entries_.size() < capacity_) return std::nullopt;
    std::string name = std::move(entries_.at(lru_.back()).statement.name);
    entries_.erase(lru_.back());
    lru_.pop_back();
    return name;
}

std::string StatementCache::next_name() { return prefix_ + std::to_string(++counter_); }

const PreparedStatement& StatementCache::add(std::string_view sql, std::span<const Param> params,
                                             PreparedStatement statement) {
    std::string k = key(sql, params);
    lru_.push_front(k);
    Entry& e = entries_[std::move(k)];
    e.statement = std::move(statement);
    e.lru = lru_.begin();
    return e.statement;
}

bool StatementCache::forget_after(const PreparedStatement& cached, const ServerError& e, TransactionStatus status) {
    if (e.sqlstate() == "26000") {
        clear();  // statements vanish together (DISCARD/DEALLOCATE ALL, a pooler's server swap)
        return status == TransactionStatus::idle;
    }
    if (e.sqlstate() == "0A000") erase_named(cached.name);  // cached plan must not change result type
    return false;
}

void StatementCache::after_simple_query(const std::vector<Result>& results) {
    for (const auto& r : results) after_result(r);
}

void StatementCache::after_pipeline(const std::vector<PipelineResult>& results) {
    for (const auto& r : results)
        if (r.status == PipelineResult::Status::ok) after_result(r.result);
}

void StatementCache::after_result(const Result& result) {
    if (!entries_.empty() && (result.command_tag() == "DISCARD ALL" || result.command_tag() == "DEALLOCATE ALL")) clear();
}

StatementCache::PipelinedUse StatementCache::encode_pipelined(std::string& out, std::string_view sql,
                                                              std::span<const Param> params, ResultFormat format,
                                                              bool own_statement) {
    PipelinedUse use;
    std::string k = key(sql, params);
    const auto it = entries_.find(k);
    if (it != entries_.end() && !it->second.pending) {
        lru_.splice(lru_.begin(), lru_, it->second.lru);
        encode_extended(out, &it->second.statement, sql, params, format);
        use.kind = PipelinedUse::Kind::hit;
        use.name = it->second.statement.name;
        use.columns = &it->second.statement.columns;
        return use;
    }
    // Pending (its Parse is not answered yet), or never cached (see result_columns_vary).
    if (it != entries_.end() || result_columns_vary(sql)) {
        if (own_statement) use.name = next_name();
        encode_extended_closing(out, nullptr, sql, params, format, use.name);
        return use;
    }
    // A miss: Parse of a named statement, then the query's Bind/Describe/Execute. Encoded
    // apart first, so a query that cannot be encoded changes nothing.
    PreparedStatement statement;
    statement.name = prefix_ + std::to_string(counter_ + 1);
    for (const auto& p : params) statement.param_types.push_back(p.type_oid);
    std::string messages;
    encode_extended(messages, nullptr, sql, params, format, statement.name);
    ++counter_;
    if (auto victim = make_room()) close(out, 'S', *victim);  // before the Parse: an error would skip it
    out += messages;
    use.kind = PipelinedUse::Kind::miss;
    use.name = statement.name;
    use.key = k;
    lru_.push_front(k);
    Entry& e = entries_[std::move(k)];
    e.statement = std::move(statement);
    e.lru = lru_.begin();
    e.pending = true;
    return use;
}

std::vector<std::string> StatementCache::settle_pipelined(const PipelinedUse& use, const Result* result,
                                                          const ServerError* error) {
    std::vector<std::string> to_close;
    if (result) after_result(*result);
    switch (use.kind) {
        case PipelinedUse::Kind::unnamed: break;
        case PipelinedUse::Kind::hit:
            if (!error) break;
            if (error->sqlstate() == "26000") {
                clear();
            } else if (error->sqlstate() == "0A000" && erase_named(use.name)) {  // result type changed
                to_close.push_back(use.name);
            }
            break;
        case PipelinedUse::Kind::miss: {
            const auto it = entries_.find(use.key);
            const bool ours = it != entries_.end() && it->second.pending && it->second.statement.name == use.name;
            if (result && ours) {
                it->second.statement.columns = result->column_info();
                it->second.pending = false;
                break;
            }
            if (ours) erase(it);
            // Failed (its Parse may have succeeded), or the cache let it go meanwhile (evicted,
            // emptied): the server may hold it, the cache does not. Closing a statement that
            // does not exist is no error.
            if (result || error) to_close.push_back(use.name);
            break;
        }
    }
    return to_close;
}

void StatementCache::clear() noexcept {
    entries_.clear();
    lru_.clear();
}

// ---- CachedExecute

CachedExecute::CachedExecute(Wire wire, StatementCache& cache, const ExtendedCall& call, RequestOptions options,
                             bool may_retry)
    : wire_(wire), cache_(cache), call_(call), options_(options), may_retry_(may_retry) {}

Algorithm& CachedExecute::running() {
    return std::visit([](auto& s) -> Algorithm& {
        if constexpr (std::is_same_v<std::decay_t<decltype(s)>, std::monostate>) {
            throw Error(ErrorKind::usage, ErrorCause::usage, "CachedExecute resumed before it started");
        } else {
            return s;
        }
    }, step_);
}

Action CachedExecute::start(Algorithm& a) { return next(a.resume(Event::start())); }

Action CachedExecute::begin() {
    // Not cached: the unnamed statement, described by this execute (see result_columns_vary).
    if (result_columns_vary(call_.sql)) return start(step_.emplace<ExtendedRequest>(wire_, call_, options_));
    cached_ = cache_.find(call_.sql, call_.params);
    if (!cached_) {
        if (auto victim = cache_.make_room()) {
            victim_.assign(1, std::move(*victim));
            return start(step_.emplace<CloseStatements>(wire_, victim_, options_));
        }
        name_ = cache_.next_name();
        types_.clear();
        for (const auto& p : call_.params) types_.push_back(p.type_oid);
        return start(step_.emplace<DescribeStatement>(wire_, name_, call_.sql, &types_, options_));
    }
    ExtendedCall call = call_;
    call.prepared = cached_;
    return start(step_.emplace<ExtendedRequest>(wire_, call, options_));
}

Action CachedExecute::next(Action a) {
    if (a.kind != Action::Kind::done) return a;
    if (a.error) {
        if (failure_ && a.connection == Action::Connection::kept) return std::move(*failure_);  // the Close failed
        if (!cached_ || !std::holds_alternative<ExtendedRequest>(step_) || a.connection != Action::Connection::kept)
            return a;
        try {
            std::rethrow_exception(a.error);
        } catch (const ServerError& e) {
            std::string name = cached_->name;
            const bool again = cache_.forget_after(*cached_, e, wire_.session.transaction_status) && may_retry_;
            cached_ = nullptr;
            if (e.sqlstate() == "0A000") {  // forgotten, but still on the server: close it, then fail
                failure_ = std::move(a);
                victim_.assign(1, std::move(name));
                return start(step_.emplace<CloseStatements>(wire_, victim_, options_));
            }
            if (!again) return a;
        } catch (...) {
            return a;
        }
        may_retry_ = false;
        return begin();
    }
    if (std::holds_alternative<CloseStatements>(step_)) {
        victim_.clear();
        // After a changed result type: the execute's error (unless the Close lost the connection).
        if (failure_) return a.connection == Action::Connection::retired ? a : std::move(*failure_);
        return begin();  // room made: prepare
    }
    if (auto* d = std::get_if<DescribeStatement>(&step_)) {
        cached_ = &cache_.add(call_.sql, call_.params, std::move(d->statement()));
        ExtendedCall call = call_;
        call.prepared = cached_;
        return start(step_.emplace<ExtendedRequest>(wire_, call, options_));
    }
    cached_ = nullptr;
    cache_.after_result(*call_.target);  // the execute succeeded: DEALLOCATE ALL empties the cache
    return a;
}

Action CachedExecute::resume(const Event& event) {
    if (event.kind == Event::Kind::start) return begin();
    return next(running().resume(event));
}

std::optional<Action> CachedExecute::consume_input() {
    if (std::holds_alternative<std::monostate>(step_)) return std::nullopt;
    if (auto a = running().consume_input()) return next(std::move(*a));
    return std::nullopt;
}

}  // namespace pgtls::protocol
