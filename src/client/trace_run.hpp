// Tracing, shared by both drivers of the engine (the blocking executor and the async driver):
// a TraceRun watches one algorithm run — the events it is resumed with and the actions it
// returns — and, when it is done, reports its spans (pgtls/trace.hpp) to the tracer. What a
// span says comes from the algorithm's own results (its type tells the operation), so the
// drivers only call the three hooks below and never describe an operation themselves.
// Drivers create a TraceRun only when a tracer is set: otherwise tracing costs a null check.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "protocol/algorithm.hpp"
#include "pgtls/config.hpp"
#include "pgtls/session.hpp"
#include "pgtls/trace.hpp"

namespace pgtls::trace {

class TraceRun {
public:
    // `algo` runs over a connection with `settings` that reached `peer` (empty before it
    // connected), reading into `in` and sending from `out`; all outlive the run.
    TraceRun(const Settings& settings, const ConnectionInfo& peer, const protocol::Algorithm& algo,
             const protocol::MessageReader& in, const std::string& out);
    ~TraceRun();
    TraceRun(const TraceRun&) = delete;
    TraceRun& operator=(const TraceRun&) = delete;

    // Before algo.resume(event).
    void before(const protocol::Event& event) noexcept;
    // After resume() returned `action` (the first one answers Event::start). A done action
    // reports the spans: exceptions of the tracer are swallowed. `tls_backend` names the TLS
    // backend that ran a connect's handshakes.
    void after(const protocol::Action& action, std::string_view tls_backend = {}) noexcept;

private:
    struct Phase {
        std::string name;
        std::chrono::system_clock::time_point start, end;
        std::chrono::steady_clock::time_point t0, t1;
        bool ended = false;
    };
    struct Attempt {
        std::string host, address;
        int port = 0;
        std::string tls_version;
        bool tls = false, gss = false;
        std::vector<Phase> phases;  // tcp, tls, startup (in order, as they happened)
        std::chrono::system_clock::time_point start, end;
        std::chrono::steady_clock::time_point t0, t1;
    };
    // A pipeline's queries (explicit pipelines of both drivers, the async connection's implicit
    // ones): each query's span starts when it was written (with the pipeline, or when it joined
    // the running one) and is described as soon as its outcome is final (its sync group
    // answered): an implicit pipeline hands each result to its caller then, moving it out.
    struct Query {
        std::chrono::system_clock::time_point start;
        std::chrono::steady_clock::time_point t0;
        Span span;  // once settled
    };
    void watch_pipeline();
    Span query_span(std::size_t i, std::chrono::system_clock::time_point end, std::chrono::steady_clock::time_point t1,
                    const std::exception_ptr& failed) const;
    void begin_phase(const char* name);
    void end_phase();
    void end_attempt();
    void report(const protocol::Action& done, std::string_view tls_backend);
    void emit(Span& span) noexcept;

    const Settings& settings_;
    const ConnectionInfo& peer_;
    const protocol::Algorithm& algo_;
    const protocol::MessageReader& in_;
    const std::string& out_;
    std::chrono::system_clock::time_point start_;
    std::chrono::steady_clock::time_point t0_;
    std::uint64_t bytes_sent_ = 0, bytes_received_ = 0;
    std::size_t buffered_after_read_ = 0;  // Wire::in's size when a read action was returned
    bool reading_ = false;
    bool done_ = false;
    std::vector<Attempt> attempts_;  // connect only
    std::vector<Query> queries_;     // pipeline only, one per query written so far
    std::size_t settled_ = 0;        // queries_ described
};

// A fresh span id: unique in the process, never 0 (for spans made outside a TraceRun, e.g.
// the pool's, that must be known before their children are reported).
std::uint64_t new_span_id();

// The span that root spans reported on this thread name as their parent (0: none). A
// ParentScope sets it for its lifetime, so an operation that runs connection calls on its own
// thread (the blocking pool's acquire, release, create) becomes their parent; the async
// driver's spans, reported on the event loop's thread, are not affected.
std::uint64_t current_parent() noexcept;
class ParentScope {
public:
    explicit ParentScope(std::uint64_t parent) noexcept;
    ~ParentScope();
    ParentScope(const ParentScope&) = delete;
    ParentScope& operator=(const ParentScope&) = delete;

private:
    std::uint64_t previous_;
};

// Whether runs with `settings` report db.query.text: the drivers keep each pipelined query's
// SQL for its span (protocol::PipelineRequest::set_texts) only then.
inline bool reports_query_text(const Settings& settings) noexcept {
    return settings.tracer && settings.trace_query_text;
}

// A TraceRun for `algo` when `settings` has a tracer; null otherwise.
inline std::unique_ptr<TraceRun> begin(const Settings& settings, const ConnectionInfo& peer,
                                       const protocol::Algorithm& algo, const protocol::MessageReader& in,
                                       const std::string& out) {
    if (!settings.tracer) return nullptr;
    return std::make_unique<TraceRun>(settings, peer, algo, in, out);
}

}  // namespace pgtls::trace
