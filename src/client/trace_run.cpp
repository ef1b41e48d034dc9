// TraceRun: the spans of one algorithm run, described from the algorithm's results.
#include "client/trace_run.hpp"

#include <atomic>
#include <random>
#include <span>
#include <utility>

#include "protocol/cancel_flow.hpp"
#include "protocol/close_flow.hpp"
#include "protocol/connect_flow.hpp"
#include "protocol/copy.hpp"
#include "protocol/notification_wait.hpp"
#include "protocol/pipeline.hpp"
#include "protocol/query.hpp"
#include "protocol/statement_cache.hpp"
#include "pgtls/error.hpp"

namespace pgtls::trace {

// The algorithm as its concrete type when it is that operation, else null: every concrete
// algorithm is final and names itself (Algorithm::operation()), so no type probe is needed.
template <class T>
const T* as_op(const protocol::Algorithm& a, protocol::Operation op) noexcept {
    return a.operation() == op ? static_cast<const T*>(&a) : nullptr;
}

// The execute an algorithm ran: an ExtendedRequest, or the one a CachedExecute ran through
// the statement cache (one span for the whole call); null for any other algorithm.
static const protocol::ExtendedRequest* executed(const protocol::Algorithm& a) noexcept {
    if (const auto* e = as_op<protocol::ExtendedRequest>(a, protocol::Operation::extended)) return e;
    if (const auto* c = as_op<protocol::CachedExecute>(a, protocol::Operation::cached_execute)) return c->execution();
    return nullptr;
}

namespace {

using SysClock = std::chrono::system_clock;
using Mono = std::chrono::steady_clock;

// Span ids: unique in the process, random start so two processes rarely share them.
std::uint64_t next_span_id() {
    static std::atomic<std::uint64_t> counter{[] {
        std::random_device rd;
        return ((std::uint64_t{rd()} << 32) ^ rd()) | 1;
    }()};
    std::uint64_t id = counter.fetch_add(1, std::memory_order_relaxed);
    return id ? id : counter.fetch_add(1, std::memory_order_relaxed);
}

thread_local std::uint64_t tl_parent = 0;

void set(Span& s, std::string key, TraceValue v) { s.attributes.push_back({std::move(key), std::move(v)}); }

// The operation name of a command tag: its first word ("INSERT 0 1" -> "INSERT").
std::string operation_of(std::string_view tag) { return std::string(tag.substr(0, tag.find(' '))); }

void common(Span& s, const Settings& settings) {
    set(s, "db.system.name", std::string("postgresql"));
    if (!settings.dbname.empty()) set(s, "db.namespace", settings.dbname);
    if (!settings.user.empty()) set(s, "db.user", settings.user);
}

void peer(Span& s, const ConnectionInfo& p) {
    if (!p.host.empty()) set(s, "server.address", p.host);
    if (p.port) set(s, "server.port", std::int64_t{p.port});
    if (!p.address.empty()) set(s, "network.peer.address", p.address);
    if (!p.encryption.empty()) set(s, "pgtls.encryption", p.encryption);
    if (!p.backend.empty() && p.ssl) set(s, "tls.backend", p.backend);
    if (!p.tls_version.empty()) set(s, "tls.protocol.version", p.tls_version);
}

// The outcome of `error` (null: success) on `s`.
void outcome(Span& s, const std::exception_ptr& error) {
    if (!error) return;
    s.ok = false;
    try {
        std::rethrow_exception(error);
    } catch (const ServerError& e) {
        s.error = e.what();
        set(s, "db.response.status_code", e.sqlstate());
        set(s, "error.type", e.sqlstate());
    } catch (const Error& e) {
        s.error = e.what();
        set(s, "error.type", std::string(to_string(e.kind())));
    } catch (const std::exception& e) {
        s.error = e.what();
        set(s, "error.type", std::string("exception"));
    } catch (...) {
        s.error = "unknown exception";
        set(s, "error.type", std::string("exception"));
    }
}

void result_attributes(Span& s, std::span<const Result> results) {
    if (results.empty()) return;
    std::uint64_t rows = 0;
    for (const Result& r : results) rows += r.size();
    const Result& last = results.back();
    if (!last.command_tag().empty()) {
        set(s, "db.operation.name", operation_of(last.command_tag()));
        set(s, "pgtls.command_tag", last.command_tag());
    }
    set(s, "db.response.returned_rows", static_cast<std::int64_t>(rows));
    if (last.affected_rows()) set(s, "pgtls.affected_rows", static_cast<std::int64_t>(last.affected_rows()));
}

Span timed(std::string name, SysClock::time_point start, SysClock::time_point end, Mono::time_point t0,
           Mono::time_point t1) {
    Span s;
    s.name = std::move(name);
    s.id = next_span_id();
    s.parent_id = tl_parent;  // children below overwrite it with their own parent
    s.start = start;
    s.end = end;
    s.duration = std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0);
    return s;
}

}  // namespace

std::uint64_t new_span_id() { return next_span_id(); }
std::uint64_t current_parent() noexcept { return tl_parent; }
ParentScope::ParentScope(std::uint64_t parent) noexcept : previous_(std::exchange(tl_parent, parent)) {}
ParentScope::~ParentScope() { tl_parent = previous_; }

TraceRun::TraceRun(const Settings& settings, const ConnectionInfo& peer, const protocol::Algorithm& algo,
                   const protocol::MessageReader& in, const std::string& out)
    : settings_(settings), peer_(peer), algo_(algo), in_(in), out_(out), start_(SysClock::now()), t0_(Mono::now()) {}

TraceRun::~TraceRun() = default;

void TraceRun::before(const protocol::Event& event) noexcept {
    using K = protocol::Event::Kind;
    if (reading_ && (event.kind == K::read)) bytes_received_ += in_.buffered() - buffered_after_read_;
    reading_ = false;
    if (attempts_.empty()) return;
    Attempt& a = attempts_.back();
    switch (event.kind) {
        case K::socket_open:
            a.address = std::string(event.address);
            end_phase();
            begin_phase("pgtls.connect.startup");
            break;
        case K::tls_up:
            if (event.tls) a.tls_version = event.tls->info.protocol;
            end_phase();
            begin_phase("pgtls.connect.startup");
            break;
        case K::io_error:
        case K::timeout: end_phase(); break;
        default: break;
    }
}

void TraceRun::begin_phase(const char* name) {
    if (attempts_.empty()) return;
    Phase p;
    p.name = name;
    p.start = SysClock::now();
    p.t0 = Mono::now();
    attempts_.back().phases.push_back(std::move(p));
}

void TraceRun::end_phase() {
    if (attempts_.empty() || attempts_.back().phases.empty()) return;
    Phase& p = attempts_.back().phases.back();
    if (p.ended) return;
    p.end = SysClock::now();
    p.t1 = Mono::now();
    p.ended = true;
}

void TraceRun::end_attempt() {
    if (attempts_.empty()) return;
    end_phase();
    Attempt& a = attempts_.back();
    a.end = SysClock::now();
    a.t1 = Mono::now();
}

void TraceRun::after(const protocol::Action& action, std::string_view tls_backend) noexcept {
    if (done_) return;
    try {
        if (algo_.operation() == protocol::Operation::pipeline) watch_pipeline();
        using K = protocol::Action::Kind;
        switch (action.kind) {
            case K::write:
            case K::write_draining:
                bytes_sent_ += out_.size();
                for (std::string_view part : action.tail) bytes_sent_ += part.size();
                break;
            case K::read:
                reading_ = true;
                buffered_after_read_ = in_.buffered();
                break;
            case K::open_socket:
                if (as_op<protocol::ConnectFlow>(algo_, protocol::Operation::connect)) {
                    end_attempt();
                    Attempt a;
                    if (action.target) {
                        a.host = action.target->host.empty() ? action.target->hostaddr : action.target->host;
                        a.port = action.target->port;
                    }
                    a.start = SysClock::now();
                    a.t0 = Mono::now();
                    attempts_.push_back(std::move(a));
                    begin_phase("pgtls.connect.tcp");
                }
                break;
            case K::start_tls:
                if (!attempts_.empty()) {
                    Attempt& a = attempts_.back();
                    const bool gss = action.tls.how == protocol::TlsStart::gss;
                    (gss ? a.gss : a.tls) = true;
                    // The SSLRequest (GSSENCRequest) exchange since the socket opened belongs
                    // to the encryption phase, not to the startup.
                    if (!a.phases.empty() && !a.phases.back().ended && a.phases.back().name == "pgtls.connect.startup")
                        a.phases.back().name = gss ? "pgtls.connect.gss" : "pgtls.connect.tls";
                    else
                        begin_phase(gss ? "pgtls.connect.gss" : "pgtls.connect.tls");
                }
                break;
            case K::done:
                done_ = true;
                end_attempt();
                report(action, tls_backend);
                break;
            default: break;
        }
    } catch (...) {
        // Tracing never disturbs the operation (an allocation failure loses spans only).
    }
}

void TraceRun::watch_pipeline() {
    const auto& pl = static_cast<const protocol::PipelineRequest&>(algo_);
    const std::size_t written = pl.results().size(), settled = pl.settled();
    if (queries_.size() == written && settled_ == settled) return;
    // The first queries went out with the pipeline; later ones when they joined it.
    const bool first = queries_.empty();
    const SysClock::time_point now = SysClock::now();
    const Mono::time_point mono = Mono::now();
    while (queries_.size() < written) queries_.push_back(Query{first ? start_ : now, first ? t0_ : mono, Span{}});
    for (; settled_ < settled && settled_ < written; ++settled_) queries_[settled_].span = query_span(settled_, now, mono, nullptr);
}

// Query `i`'s span, ending at `end`; `failed`: the pipeline's error when the query was not
// answered before it (its outcome then).
Span TraceRun::query_span(std::size_t i, SysClock::time_point end, Mono::time_point t1,
                          const std::exception_ptr& failed) const {
    const auto& pl = static_cast<const protocol::PipelineRequest&>(algo_);
    const PipelineResult& r = pl.results()[i];
    Span qs = i < queries_.size() ? timed("pgtls.pipeline.query", queries_[i].start, end, queries_[i].t0, t1)
                                  : timed("pgtls.pipeline.query", start_, end, t0_, t1);
    common(qs, settings_);
    set(qs, "pgtls.pipeline.index", static_cast<std::int64_t>(i));
    if (settings_.trace_query_text)
        if (const std::string_view text = pl.text(i); !text.empty()) set(qs, "db.query.text", std::string(text));
    if (failed) {
        outcome(qs, failed);
    } else if (r.status == PipelineResult::Status::ok) {
        result_attributes(qs, std::span<const Result>(&r.result, 1));
    } else if (r.status == PipelineResult::Status::error && r.error) {
        qs.ok = false;
        qs.error = r.error->what();
        set(qs, "db.response.status_code", r.error->sqlstate());
        set(qs, "error.type", r.error->sqlstate());
    } else {
        qs.ok = false;
        qs.error = "skipped";
        set(qs, "error.type", std::string("skipped"));
    }
    return qs;
}

void TraceRun::emit(Span& span) noexcept {
    try {
        settings_.tracer->on_span(span);
    } catch (...) {
        // The tracer's exception is the application's: it never changes the operation.
    }
}

void TraceRun::report(const protocol::Action& done, std::string_view tls_backend) {
    const SysClock::time_point end = SysClock::now();
    const Mono::time_point t1 = Mono::now();
    Span s = timed("", start_, end, t0_, t1);
    common(s, settings_);
    const bool kept = done.connection == protocol::Action::Connection::kept;

    if (const auto* c = as_op<protocol::ConnectFlow>(algo_, protocol::Operation::connect)) {
        s.name = "pgtls.connect";
        // The failed attempts' messages: the flow's own list, or the error's when it failed.
        std::vector<ConnectAttempt> failed = c->failed_attempts();
        if (done.error) {
            try {
                std::rethrow_exception(done.error);
            } catch (const Error& e) {
                failed = e.attempts();
            } catch (...) {
            }
        }
        const bool match = failed.size() == attempts_.size() - (done.error ? 0 : 1);
        for (std::size_t i = 0; i < attempts_.size(); ++i) {
            Attempt& a = attempts_[i];
            Span as = timed("pgtls.connect.attempt", a.start, a.end, a.t0, a.t1);
            as.parent_id = s.id;
            common(as, settings_);
            if (!a.host.empty()) set(as, "server.address", a.host);
            if (a.port) set(as, "server.port", std::int64_t{a.port});
            if (!a.address.empty()) set(as, "network.peer.address", a.address);
            set(as, "pgtls.encryption", std::string(a.gss ? "gss" : a.tls ? "tls" : "plaintext"));
            if (a.tls && !tls_backend.empty()) set(as, "tls.backend", std::string(tls_backend));
            if (!a.tls_version.empty()) set(as, "tls.protocol.version", a.tls_version);
            const bool last_ok = !done.error && i + 1 == attempts_.size();
            if (!last_ok) {
                as.ok = false;
                if (match && i < failed.size()) {
                    as.error = failed[i].message;
                    if (failed[i].server) set(as, "db.response.status_code", failed[i].server->sqlstate);
                    set(as, "error.type", std::string(to_string(failed[i].kind)));
                } else {
                    as.error = "attempt failed";
                }
            }
            for (const Phase& p : a.phases) {
                Span ps = timed(p.name, p.start, p.ended ? p.end : a.end, p.t0, p.ended ? p.t1 : a.t1);
                ps.parent_id = as.id;
                emit(ps);
            }
            emit(as);
        }
        if (!done.error) {
            const ConnectionInfo& p = peer_;  // the driver filled it before the done action
            if (!p.host.empty()) {
                peer(s, p);
            } else {
                set(s, "server.address", c->target().host.empty() ? c->target().hostaddr : c->target().host);
                set(s, "server.port", std::int64_t{c->target().port});
                set(s, "network.peer.address", c->address());
            }
        }
        set(s, "pgtls.attempts", static_cast<std::int64_t>(attempts_.size()));
    } else {
        peer(s, peer_);
        if (const auto* q = as_op<protocol::SimpleQuery>(algo_, protocol::Operation::simple_query)) {
            s.name = "pgtls.query";
            if (settings_.trace_query_text) set(s, "db.query.text", std::string(q->sql()));
            result_attributes(s, q->results());
        } else if (const auto* e = executed(algo_); e || algo_.operation() == protocol::Operation::cached_execute) {
            s.name = "pgtls.execute";  // a cached execute that failed before its Execute has no `e`
            if (e && settings_.trace_query_text && !e->call().prepared) set(s, "db.query.text", std::string(e->call().sql));
            if (e && e->call().prepared) set(s, "db.query.summary", e->call().prepared->name);
            if (e && e->call().target && !done.error) result_attributes(s, std::span<const Result>(e->call().target, 1));
        } else if (as_op<protocol::DescribeStatement>(algo_, protocol::Operation::describe)) {
            s.name = "pgtls.prepare";
        } else if (as_op<protocol::CloseStatements>(algo_, protocol::Operation::close_statements)) {
            s.name = "pgtls.close_statement";
        } else if (const auto* pl = as_op<protocol::PipelineRequest>(algo_, protocol::Operation::pipeline)) {
            s.name = "pgtls.pipeline";
            const std::size_t n = pl->results().size();
            set(s, "db.operation.batch.size", static_cast<std::int64_t>(n));
            if (pl->implicit()) {
                set(s, "pgtls.pipeline.implicit", true);
                set(s, "pgtls.pipeline.appends", static_cast<std::int64_t>(pl->appends()));
            }
            for (std::size_t i = 0; i < n; ++i) {
                Span qs = i < settled_ ? std::move(queries_[i].span) : query_span(i, end, t1, done.error);
                qs.parent_id = s.id;
                emit(qs);
            }
        } else if (const auto* co = as_op<protocol::CopyOut>(algo_, protocol::Operation::copy_out)) {
            s.name = "pgtls.copy_out";
            set(s, "db.operation.name", std::string("COPY"));
            set(s, "db.response.returned_rows", static_cast<std::int64_t>(co->rows()));
        } else if (as_op<protocol::CopyInStart>(algo_, protocol::Operation::copy_in_start)) {
            s.name = "pgtls.copy_in";
            set(s, "db.operation.name", std::string("COPY"));
            set(s, "pgtls.copy.phase", std::string("start"));
        } else if (as_op<protocol::CopyInData>(algo_, protocol::Operation::copy_in_data)) {
            return;  // a chunk of data: not a span (thousands per COPY)
        } else if (auto* ce = as_op<protocol::CopyInEnd>(algo_, protocol::Operation::copy_in_end)) {
            s.name = "pgtls.copy_in";
            set(s, "db.operation.name", std::string("COPY"));
            set(s, "pgtls.copy.phase", std::string("end"));
            if (!done.error) set(s, "pgtls.affected_rows", static_cast<std::int64_t>(const_cast<protocol::CopyInEnd*>(ce)->rows()));
        } else if (as_op<protocol::CancelFlow>(algo_, protocol::Operation::cancel)) {
            s.name = "pgtls.cancel";
        } else if (as_op<protocol::CloseFlow>(algo_, protocol::Operation::close)) {
            s.name = "pgtls.close";
        } else if (as_op<protocol::NotificationWait>(algo_, protocol::Operation::notification_wait)) {
            s.name = "pgtls.notification_wait";
        } else if (algo_.operation() == protocol::Operation::copy_in) {
            s.name = "pgtls.copy_in";
            set(s, "db.operation.name", std::string("COPY"));
            if (algo_.affected_rows() >= 0 && !done.error) set(s, "pgtls.affected_rows", algo_.affected_rows());
        } else {
            s.name = "pgtls.operation";
        }
    }
    set(s, "pgtls.bytes_sent", static_cast<std::int64_t>(bytes_sent_));
    set(s, "pgtls.bytes_received", static_cast<std::int64_t>(bytes_received_));
    set(s, "pgtls.connection_kept", kept);
    outcome(s, done.error);
    emit(s);
}

}  // namespace pgtls::trace
