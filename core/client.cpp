// The blocking client: its public calls, the queries, prepared statements and their cache,
// notifications. Connecting is in client_connect.cpp, COPY/Pipeline/Transaction in
// client_copy.cpp, the executor in client_executor.cpp.
#include "pgtls/client.hpp"

#include <algorithm>
#include <string>

#include "core/client_call.hpp"
#include "core/client_impl.hpp"
#include "core/client_shared.hpp"
#include "core/protocol/backend_messages.hpp"
#include "core/protocol/close_flow.hpp"
#include "core/protocol/frontend.hpp"
#include "core/protocol/query_flow.hpp"

namespace pgtls {

const char* to_string(TransactionStatus s) noexcept {
    switch (s) {
        case TransactionStatus::idle: return "idle";
        case TransactionStatus::in_transaction: return "in transaction";
        case TransactionStatus::failed: return "in failed transaction";
        case TransactionStatus::unknown: return "unknown";
    }
    return "unknown";
}

using transport::Clock;
using transport::Deadline;

namespace {
// After a user callback threw, the rest of the reply is read and dropped within these bounds;
// past them the connection is closed instead.
constexpr std::chrono::seconds kCallbackDrainTime{5};
constexpr std::size_t kCallbackDrainBytes = 16 * 1024 * 1024;
}  // namespace

protocol::BackendMessage Client::Impl::next_message(Deadline d) {
    const bool draining = session.callback_error != nullptr;
    if (draining) {
        if (!drain_until) drain_until = Clock::now() + kCallbackDrainTime;
        if (!d || *drain_until < *d) d = drain_until;
    }
    try {
        while (true) {
            if (auto m = reader.next()) {
                if (draining) {
                    drain_bytes += m->body.size() + 5;
                    if (drain_bytes > kCallbackDrainBytes)
                        throw Error(ErrorKind::connection,
                                    "the rest of the reply after a callback's exception is too large to drain");
                }
                return *m;
            }
            if (reply_pending) {
                reply_pending = false;
                // poll() cannot see bytes the TLS library has already decrypted.
                if (!channel.has_buffered()) transport::wait_fd(channel.fd(), false, d, "waiting for the server");
            }
            channel.read_some(reader, d);
        }
    } catch (const Error& e) {
        if (draining && e.kind() == ErrorKind::timeout && d == drain_until)
            throw Error(ErrorKind::connection, "the rest of the reply after a callback's exception did not arrive in time");
        throw;
    }
}

// ---------------------------------------------------------------------------------------------
// Queries

std::vector<Result> Client::Impl::run(protocol::QueryFlow& flow, Deadline d, bool cancel_on_timeout) {
    try {
        while (true) {
            protocol::BackendMessage m;
            try {
                m = next_message(d);
            } catch (const Error& e) {
                if (e.kind() != ErrorKind::timeout) throw;
                if (!cancel_on_timeout) {
                    fail_connection();
                    throw;
                }
                // Client-side timeout: cancel on the server, then drain to ReadyForQuery so the
                // connection stays usable.
                // If the server does not stop within a grace period, the connection is in an
                // unknown state: close it rather than hand it back mid-query.
                const auto grace_len = std::clamp<std::chrono::milliseconds>(2 * query_timeout, std::chrono::seconds(2),
                                                                           std::chrono::seconds(30));
                try {
                    // The cancel shares the grace period: on an unresponsive network its own
                    // connect would otherwise wait connect_timeout (or 30 s) on top.
                    const Deadline grace = Clock::now() + grace_len;
                    cancel_request(grace);
                    while (true) {
                        auto mm = next_message(grace);
                        if (flow.on_message(mm)) break;
                    }
                } catch (const Error& drain) {
                    fail_connection();
                    throw Error(ErrorKind::timeout, "query timed out after " + std::to_string(query_timeout.count()) +
                                                        " ms and did not stop after a cancel request (" + drain.what() +
                                                        "); the connection was closed");
                }
                throw Error(ErrorKind::timeout, "query cancelled after the client-side timeout of " +
                                                    std::to_string(query_timeout.count()) + " ms");
            }
            const bool done = flow.on_message(m);
            if (flow.needs_copy_fail()) {
                protocol::copy_fail(out, "COPY FROM STDIN is not supported by query(); use the COPY API");
                send(d);
                flow.copy_fail_sent();
            }
            if (done) break;
        }
    } catch (const Error& e) {
        if (e.kind() != ErrorKind::server && e.kind() != ErrorKind::timeout) {
            healthy = false;
            channel.abort();
            // The server said why before it hung up (a FATAL such as 57P01 from
            // pg_terminate_backend or a shutdown): that is the error to report, as libpq does.
            if (e.kind() == ErrorKind::connection && flow.error()) throw *flow.error();
        }
        throw;
    }
    if (flow.error()) throw *flow.error();
    return std::move(flow.results());
}

// ---------------------------------------------------------------------------------------------
// Public API

Client::Client() : impl_(std::make_unique<Impl>()) {}
Client::Client(const Config& config) : Client() { connect(config); }
Client::Client(const std::string& conninfo) : Client() {
    Config c;
    c.conninfo = conninfo;
    connect(c);
}
Client::Client(Settings settings) : Client() { connect(std::move(settings)); }
Client::~Client() {
    if (impl_) close();
}
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

void Client::connect(const Config& config) { connect(resolve(config)); }

Client::Impl& Client::live() const {
    if (!impl_)
        throw Error(ErrorKind::usage,
                    "this Client was moved from: use the Client it was moved to, or connect() this one again");
    return *impl_;
}

void Client::close() noexcept {
    if (!impl_ || !impl_->channel.is_open()) return;
    if (impl_->healthy) {
        try {
            impl_->out.clear();
            protocol::CloseFlow flow(impl_->wire(), std::chrono::seconds(5));
            impl_->drive(flow);
        } catch (...) {
        }
    }
    impl_->channel.close();
    impl_->healthy = false;
    impl_->session.transaction_status = TransactionStatus::unknown;
}

bool Client::is_open() const noexcept { return impl_ && impl_->channel.is_open(); }
bool Client::is_healthy() const noexcept { return impl_ && impl_->channel.is_open() && impl_->healthy; }

Result Client::query(std::string_view sql) {
    auto all = query_all(sql);
    if (all.empty()) return Result();
    return std::move(all.back());
}

std::vector<Result> Client::Impl::simple_query(std::string_view sql, Deadline d, bool cancel_on_timeout) {
    ensure_ready();
    out.clear();
    // A large statement goes out from the caller's string: copying it into `out` would cost
    // its size again in memory and, under a query timeout, time the deadline cannot bound.
    if (sql.size() < large_statement_bytes) {
        protocol::query(out, sql);
        send(d);
    } else {
        protocol::query_header(out, sql);
        send(d, {sql, std::string_view("", 1)});
    }
    protocol::QueryFlow flow(protocol::QueryFlow::Kind::simple, session);
    auto results = run(flow, d, cancel_on_timeout);
    if (cache_capacity > 0)
        for (const auto& r : results)
            if (r.command_tag() == "DISCARD ALL" || r.command_tag() == "DEALLOCATE ALL") {
                cache.clear();
                cache_lru.clear();
            }
    return results;
}

std::vector<Result> Client::query_all(std::string_view sql) {
    auto& impl = live();
    return guarded(impl, [&] { return impl.simple_query(sql, impl.query_deadline()); });
}

void Client::ping(std::chrono::milliseconds timeout, std::string_view sql) {
    auto& impl = live();
    const std::chrono::milliseconds limit = timeout.count() > 0 ? timeout : impl.query_timeout;
    const Deadline d = limit.count() > 0 ? Deadline(Clock::now() + limit) : std::nullopt;
    try {
        guarded(impl, [&] { impl.simple_query(sql, d, false); });
    } catch (const Error& e) {
        // A timed-out write or read has already closed the connection (send(), run()).
        if (e.kind() != ErrorKind::timeout) throw;
        throw Error(ErrorKind::timeout, "no reply to a ping within " + std::to_string(limit.count()) +
                                            " ms; the connection was closed");
    }
}

void Client::Impl::encode_extended(std::string& o, const PreparedStatement* prepared, std::string_view sql,
                                   std::span<const Param> params, ResultFormat format) {
    protocol::ExtendedQuery q;
    if (prepared) {
        q.parse = false;
        q.statement = prepared->name;
    } else {
        q.sql = sql;
    }
    q.params = params;
    const std::int16_t fmt = static_cast<std::int16_t>(format);
    if (format != ResultFormat::text) q.result_formats = std::span<const std::int16_t>(&fmt, 1);
    protocol::extended_query(o, q);
}

Result Client::Impl::extended_round_trip(const PreparedStatement* prepared, std::string_view sql,
                                         std::span<const Param> params, ResultFormat format,
                                         const std::function<void(const Row&)>* on_row, Deadline d) {
    out.clear();
    encode_extended(out, prepared, sql, params, format);
    protocol::sync(out);
    send(d);
    protocol::QueryFlow flow(protocol::QueryFlow::Kind::extended, session);
    if (prepared) flow.set_expected_columns(session.columns_like(prepared->columns, static_cast<std::int16_t>(format)));
    flow.set_row_callback(on_row);
    Result result;
    flow.set_single_target(&result);
    run(flow, d);
    return result;
}

PreparedStatement Client::Impl::prepare_statement(std::string_view name, std::string_view sql,
                                                  const std::vector<std::uint32_t>& types, Deadline d) {
    out.clear();
    protocol::parse(out, name, sql, types);
    protocol::describe(out, 'S', name);
    protocol::sync(out);
    send(d);
    return read_statement_description(std::string(name), true, d);
}

PreparedStatement Client::Impl::read_statement_description(std::string name, bool after_parse, Deadline d) {
    PreparedStatement ps;
    ps.name = std::move(name);
    std::optional<ServerError> err;
    try {
        while (true) {
            auto m = next_message(d);
            switch (m.type) {
                case '1':
                    if (!after_parse) goto unexpected;
                    break;
                case 't': {
                    protocol::ByteReader r(m.body, "ParameterDescription");
                    const int n = r.i16();
                    if (n < 0) r.fail("negative parameter count");
                    for (int i = 0; i < n; ++i) ps.param_types.push_back(static_cast<std::uint32_t>(r.i32()));
                    r.expect_end();
                    break;
                }
                case 'T': ps.columns = protocol::parse_row_description(m.body); break;
                case 'n': break;
                case 'E':
                    if (!err) err.emplace(protocol::parse_error_fields(m.body));
                    break;
                case 'Z':
                    session.transaction_status = protocol::parse_ready_for_query(m.body);
                    if (err) throw *err;
                    return ps;
                default:
                    if (session.handle_async(m)) break;
                unexpected:
                    throw Error(ErrorKind::protocol, std::string("unexpected ") + protocol::backend_message_name(m.type) +
                                                         " message from server while " +
                                                         (after_parse ? "preparing" : "describing") + " a statement");
            }
        }
    } catch (const ServerError&) {
        throw;
    } catch (const Error&) {
        fail_connection();
        throw;
    }
}

const PreparedStatement* Client::Impl::cached_statement(std::string_view sql, std::span<const Param> params, Deadline d) {
    std::string key(sql);
    for (const auto& p : params) key += "\x1f" + std::to_string(p.type_oid);
    if (auto it = cache.find(key); it != cache.end()) {
        cache_lru.splice(cache_lru.begin(), cache_lru, it->second.lru);
        return &it->second.statement;
    }
    if (cache.size() >= cache_capacity) {
        const std::string victim = cache_lru.back();
        const std::string vname = cache[victim].statement.name;
        cache.erase(victim);
        cache_lru.pop_back();
        out.clear();
        protocol::close(out, 'S', vname);
        protocol::sync(out);
        send(d);
        protocol::QueryFlow f(protocol::QueryFlow::Kind::extended, session);
        run(f, d);
    }
    std::vector<std::uint32_t> types;
    for (const auto& p : params) types.push_back(p.type_oid);
    auto ps = prepare_statement(statement_prefix + std::to_string(++statement_counter), sql, types, d);
    cache_lru.push_front(key);
    auto& entry = cache[key];
    entry.statement = std::move(ps);
    entry.lru = cache_lru.begin();
    return &entry.statement;
}

Result Client::Impl::execute_extended(std::string_view sql, std::span<const Param> params, ResultFormat format,
                                      const std::function<void(const Row&)>* on_row) {
    ensure_ready();
    const Deadline d = query_deadline();
    const PreparedStatement* cached = cache_capacity > 0 ? cached_statement(sql, params, d) : nullptr;
    try {
        return extended_round_trip(cached, sql, params, format, on_row, d);
    } catch (const ServerError& e) {
        // A cached statement the server no longer knows (DISCARD ALL, a pooler) or whose
        // result type changed is evicted so the next call prepares it afresh.
        if (cached && e.sqlstate() == "26000") {
            // Statements vanish together (DISCARD/DEALLOCATE ALL, a pooler's server swap).
            cache.clear();
            cache_lru.clear();
        } else if (cached && e.sqlstate() == "0A000") {
            for (auto it = cache.begin(); it != cache.end(); ++it)
                if (&it->second.statement == cached) {
                    cache_lru.erase(it->second.lru);
                    cache.erase(it);
                    break;
                }
        }
        throw;
    }
}

Result Client::execute(std::string_view sql, const Params& params) {
    return execute(sql, params, ResultFormat::text);
}

Result Client::execute(std::string_view sql, const Params& params, ResultFormat format) {
    return execute_params(sql, params, format);
}

Result Client::execute_params(std::string_view sql, std::span<const Param> params, ResultFormat format) {
    auto& impl = live();
    return guarded(impl, [&] {
        try {
            return impl.execute_extended(sql, params, format, nullptr);
        } catch (const ServerError& e) {
            // The cache lost its statement (DISCARD ALL, a pooler): outside a transaction nothing
            // ran, so preparing again is safe. Inside one the error stands.
            if (impl.cache_capacity == 0 || e.sqlstate() != "26000" ||
                impl.session.transaction_status != TransactionStatus::idle)
                throw;
            return impl.execute_extended(sql, params, format, nullptr);
        }
    });
}

PreparedStatement Client::prepare(std::string_view name, std::string_view sql,
                                  const std::vector<std::uint32_t>& param_types) {
    auto& impl = live();
    return guarded(impl, [&] {
        impl.ensure_ready();
        if (name.empty())
            throw Error(ErrorKind::usage, "prepare() needs a statement name (the unnamed statement is execute()'s)");
        return impl.prepare_statement(name, sql, param_types, impl.query_deadline());
    });
}

Result Client::execute(const PreparedStatement& statement, const Params& params, ResultFormat format) {
    auto& impl = live();
    return guarded(impl, [&] {
        impl.ensure_ready();
        if (params.size() != statement.param_types.size())
            throw Error(ErrorKind::usage, "prepared statement \"" + statement.name + "\" takes " +
                                              std::to_string(statement.param_types.size()) + " parameters, " +
                                              std::to_string(params.size()) + " given");
        return impl.extended_round_trip(&statement, {}, params, format, nullptr, impl.query_deadline());
    });
}

PreparedStatement Client::describe_statement(std::string_view name) {
    auto& impl = live();
    return guarded(impl, [&] {
        impl.ensure_ready();
        const Deadline d = impl.query_deadline();
        impl.out.clear();
        protocol::describe(impl.out, 'S', name);
        protocol::sync(impl.out);
        impl.send(d);
        return impl.read_statement_description(std::string(name), false, d);
    });
}

void Client::close_statement(std::string_view name) {
    auto& impl = live();
    guarded(impl, [&] {
        impl.ensure_ready();
        const Deadline d = impl.query_deadline();
        impl.out.clear();
        protocol::close(impl.out, 'S', name);
        protocol::sync(impl.out);
        impl.send(d);
        protocol::QueryFlow flow(protocol::QueryFlow::Kind::extended, impl.session);
        impl.run(flow, d);
    });
}

void Client::set_statement_cache_capacity(std::size_t capacity) {
    auto& im = live();
    im.cache_capacity = capacity;
    if (im.cache.size() <= capacity) return;
    // The statements the cache forgets are closed on the server too (one round trip), so a
    // pool restoring a lease's capacity leaves no prepared statement behind per lease.
    const bool close_on_server = im.channel.is_open() && im.healthy;
    im.out.clear();
    while (im.cache.size() > capacity) {
        if (close_on_server) protocol::close(im.out, 'S', im.cache[im.cache_lru.back()].statement.name);
        im.cache.erase(im.cache_lru.back());
        im.cache_lru.pop_back();
    }
    if (!close_on_server) return;
    const Deadline d = im.query_deadline();
    protocol::sync(im.out);
    im.send(d);
    protocol::QueryFlow flow(protocol::QueryFlow::Kind::extended, im.session);
    im.run(flow, d);
}

std::size_t Client::statement_cache_capacity() const noexcept { return impl_ ? impl_->cache_capacity : 0; }

std::uint64_t Client::stream(std::string_view sql, const Params& params, const std::function<void(const Row&)>& on_row,
                             ResultFormat format) {
    auto& impl = live();
    return guarded(impl, [&] { return impl.execute_extended(sql, params, format, &on_row).affected_rows(); });
}

void Client::set_query_timeout(std::chrono::milliseconds timeout) noexcept {
    if (impl_) impl_->query_timeout = timeout;
}
std::chrono::milliseconds Client::query_timeout() const noexcept {
    return impl_ ? impl_->query_timeout : std::chrono::milliseconds(0);
}

TransactionStatus Client::transaction_status() const noexcept {
    return is_open() ? impl_->session.transaction_status : TransactionStatus::unknown;
}

std::optional<std::string> Client::parameter_status(const std::string& name) const {
    auto& impl = live();
    if (auto it = impl.session.parameters.find(name); it != impl.session.parameters.end()) return it->second;
    return std::nullopt;
}

namespace {
const ConnectionInfo kNoConnectionInfo{};
const Settings kNoSettings{};
}  // namespace

// noexcept accessors: a moved-from client reports what a never-connected one does.
const ConnectionInfo& Client::info() const noexcept { return impl_ ? impl_->info : kNoConnectionInfo; }
const Settings& Client::settings() const noexcept { return impl_ ? impl_->settings : kNoSettings; }
int Client::socket() const noexcept { return impl_ ? impl_->channel.fd() : -1; }

void Client::cancel() { live().cancel_request(); }

void Client::set_notice_handler(std::function<void(const Notice&)> handler) {
    live().session.notice_handler = std::move(handler);
}

const std::function<void(const Notice&)>& Client::notice_handler() const noexcept {
    static const std::function<void(const Notice&)> none;
    return impl_ ? impl_->session.notice_handler : none;
}

bool Client::listening() const noexcept { return impl_ && impl_->session.listen_seen; }

void Client::unlisten_all() {
    auto& impl = live();
    guarded(impl, [&] {
        impl.simple_query("UNLISTEN *", impl.query_deadline());
        impl.session.listen_seen = false;
        impl.session.notifications.clear();
    });
}

std::vector<Notification> Client::take_notifications() {
    auto& impl = live();
    std::vector<Notification> v(impl.session.notifications.begin(), impl.session.notifications.end());
    impl.session.notifications.clear();
    return v;
}

std::optional<Notification> Client::wait_for_notification(std::chrono::milliseconds timeout) {
    auto& impl = live();
    return guarded(impl, [&] { return impl.wait_notification(timeout); });
}

std::optional<Notification> Client::Impl::wait_notification(std::chrono::milliseconds timeout) {
    ensure_ready();
    const Deadline d = Clock::now() + timeout;
    auto& s = session;
    while (s.notifications.empty() && !s.callback_error) {
        while (auto m = reader.next()) {
            if (!s.handle_async(*m)) {
                healthy = false;
                throw Error(ErrorKind::protocol, std::string("unexpected ") + protocol::backend_message_name(m->type) +
                                                     " message from server while idle");
            }
        }
        if (!s.notifications.empty()) break;
        try {
            channel.read_some(reader, d);
        } catch (const Error& e) {
            if (e.kind() == ErrorKind::timeout) return std::nullopt;
            healthy = false;
            throw;
        }
    }
    if (s.notifications.empty()) return std::nullopt;  // the notice handler threw: rethrown by the caller
    Notification n = std::move(s.notifications.front());
    s.notifications.pop_front();
    return n;
}

}  // namespace pgtls
