// The blocking client: its public calls, the queries, prepared statements and their cache,
// notifications. Connecting is in client_connect.cpp, COPY/Pipeline/Transaction in
// client_copy.cpp, the executor in client_executor.cpp.
#include "pgtls/client.hpp"

#include <algorithm>
#include <string>

#include "client/client_call.hpp"
#include "client/client_impl.hpp"
#include "client/client_shared.hpp"
#include "client/trace_comment.hpp"
#include "protocol/backend_messages.hpp"
#include "protocol/close_flow.hpp"
#include "protocol/frontend.hpp"
#include "protocol/notification_wait.hpp"
#include "protocol/query.hpp"

namespace pgtls {


using transport::Clock;
using transport::Deadline;

// ---------------------------------------------------------------------------------------------
// Queries

// ---------------------------------------------------------------------------------------------
// Public API

Client::Client() : impl_(std::make_unique<client::ClientCore>()) {}
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

client::ClientCore& Client::live() const {
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

std::vector<Result> client::ClientCore::simple_query(std::string_view sql, Deadline d, bool cancel_on_timeout) {
    ensure_ready();
    protocol::SimpleQuery q(wire(), sql,
                            request_options(d, cancel_on_timeout ? protocol::RequestOptions::OnTimeout::cancel
                                                                 : protocol::RequestOptions::OnTimeout::close));
    drive(q);
    auto results = std::move(q.results());
    cache.after_simple_query(results);
    return results;
}

std::vector<Result> Client::query_all(std::string_view sql) {
    auto& impl = live();
    return guarded(impl, [&] {
        if (!impl.settings.trace_context) return impl.simple_query(sql, impl.query_deadline());
        const std::string commented = trace::with_trace_context(impl.settings, sql);
        return impl.simple_query(commented.empty() ? sql : commented, impl.query_deadline());
    });
}

void Client::ping(std::chrono::milliseconds timeout, std::string_view sql) {
    auto& impl = live();
    const std::chrono::milliseconds limit = timeout.count() > 0 ? timeout : impl.query_timeout;
    const Deadline d = limit.count() > 0 ? Deadline(Clock::now() + limit) : std::nullopt;
    try {
        guarded(impl, [&] { impl.simple_query(sql, d, false); });
    } catch (const Error& e) {
        // A timed-out ping has already closed the connection (OnTimeout::close).
        if (e.kind() != ErrorKind::timeout) throw;
        throw Error(ErrorKind::timeout, "no reply to a ping within " + std::to_string(limit.count()) +
                                            " ms; the connection was closed");
    }
}

// Inline into its two callers below (the only ones): a call frame less on every query.
[[gnu::always_inline]] inline Result client::ClientCore::extended_round_trip(protocol::ExtendedCall call, Deadline d) {
    Result result;
    call.target = &result;
    protocol::ExtendedRequest q(wire(), call, request_options(d));
    drive(q);
    return result;
}

PreparedStatement client::ClientCore::prepare_statement(std::string_view name, std::string_view sql,
                                                  const std::vector<std::uint32_t>& types, Deadline d) {
    protocol::DescribeStatement q(wire(), std::string(name), sql, &types, request_options(d));
    drive(q);
    return std::move(q.statement());
}

Result client::ClientCore::execute_extended(std::string_view sql, std::span<const Param> params, ResultFormat format,
                                            const std::function<void(const Row&)>* on_row, bool may_retry) {
    ensure_ready();
    const Deadline d = query_deadline();
    if (cache.capacity() > 0) {
        // A cached statement is Parsed once: it never carries the trace comment.
        Result result;
        protocol::CachedExecute q(wire(), cache, {nullptr, sql, params, format, on_row, &result}, request_options(d),
                                  may_retry);
        drive(q, d);
        return result;
    }
    std::string commented;
    if (settings.trace_context) commented = trace::with_trace_context(settings, sql);
    return extended_round_trip({nullptr, commented.empty() ? sql : commented, params, format, on_row, nullptr}, d);
}

Result Client::execute(std::string_view sql, const Params& params) {
    return execute(sql, params, ResultFormat::text);
}

Result Client::execute(std::string_view sql, const Params& params, ResultFormat format) {
    return execute_params(sql, params, format);
}

Result Client::execute_params(std::string_view sql, std::span<const Param> params, ResultFormat format) {
    auto& impl = live();
    return guarded(impl, [&] { return impl.execute_extended(sql, params, format, nullptr, true); });
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
        return impl.extended_round_trip({&statement, {}, params, format, nullptr, nullptr}, impl.query_deadline());
    });
}

PreparedStatement Client::describe_statement(std::string_view name) {
    auto& impl = live();
    return guarded(impl, [&] {
        impl.ensure_ready();
        protocol::DescribeStatement q(impl.wire(), std::string(name), {}, nullptr,
                                      impl.request_options(impl.query_deadline()));
        impl.drive(q);
        return std::move(q.statement());
    });
}

void Client::close_statement(std::string_view name) {
    auto& impl = live();
    guarded(impl, [&] {
        impl.ensure_ready();
        protocol::CloseStatements q(impl.wire(), {std::string(name)}, impl.request_options(impl.query_deadline()));
        impl.drive(q);
    });
}

void Client::set_statement_cache_capacity(std::size_t capacity) {
    auto& im = live();
    // The statements the cache forgets are closed on the server too (one round trip), so a
    // pool restoring a lease's capacity leaves no prepared statement behind per lease.
    std::vector<std::string> names = im.cache.set_capacity(capacity);
    if (names.empty() || !im.channel.is_open() || !im.healthy) return;
    protocol::CloseStatements q(im.wire(), std::move(names), im.request_options(im.query_deadline()));
    im.drive(q);
}

std::size_t Client::statement_cache_capacity() const noexcept { return impl_ ? impl_->cache.capacity() : 0; }

std::uint64_t Client::stream(std::string_view sql, const Params& params, const std::function<void(const Row&)>& on_row,
                             ResultFormat format) {
    auto& impl = live();
    return guarded(impl, [&] { return impl.execute_extended(sql, params, format, &on_row, false).affected_rows(); });
}

void Client::set_query_timeout(std::chrono::milliseconds timeout) noexcept {
    if (impl_) impl_->query_timeout = timeout;
}
std::chrono::milliseconds Client::query_timeout() const noexcept {
    return impl_ ? impl_->query_timeout : std::chrono::milliseconds(0);
}

TransactionStatus Client::transaction_status() const noexcept {
    // Mid-COPY FROM STDIN the last ReadyForQuery no longer describes the session (libpq says
    // PQTRANS_ACTIVE): a pool must not take such a connection for idle.
    return is_open() && !impl_->copy_in_open ? impl_->session.transaction_status : TransactionStatus::unknown;
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

std::optional<Notification> client::ClientCore::wait_notification(std::chrono::milliseconds timeout) {
    ensure_ready();
    protocol::NotificationWait w(wire(), timeout);
    drive(w);
    if (session.notifications.empty()) return std::nullopt;  // timed out, or the notice handler threw
    Notification n = std::move(session.notifications.front());
    session.notifications.pop_front();
    return n;
}

}  // namespace pgtls
