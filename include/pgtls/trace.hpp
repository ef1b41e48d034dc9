/// \file
/// pgtls — tracing: span-shaped events for every operation a connection runs, with attributes
/// named after the OpenTelemetry database semantic conventions. No dependency: an application
/// forwards the spans to OpenTelemetry, a log, or anything else (examples/otlp_json_tracer.cpp).
#pragma once

#include "pgtls/version.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

PGTLS_API_BEGIN
namespace pgtls {

/// One attribute value: text, integer, floating point or boolean (OpenTelemetry's scalars).
using TraceValue = std::variant<std::string, std::int64_t, double, bool>;

/// A named attribute of a span.
struct TraceAttribute {
    std::string key;   ///< OpenTelemetry attribute name, e.g. "db.response.status_code"
    TraceValue value;  ///< its value
};

/// One finished operation, or one phase of it.
///
/// Names: "pgtls.connect" (the whole connect), its children "pgtls.connect.attempt" (one per
/// socket opened: host x address x sslmode attempt) and the attempt's phases
/// "pgtls.connect.tcp", "pgtls.connect.tls" and "pgtls.connect.startup" (authentication up to
/// the first ReadyForQuery); "pgtls.query" (simple protocol), "pgtls.execute" (extended:
/// execute and stream), "pgtls.prepare", "pgtls.close_statement", "pgtls.pipeline" with one
/// child "pgtls.pipeline.query" per query, "pgtls.copy_out", "pgtls.copy_in" (the request that
/// starts a COPY FROM STDIN and the one that ends it; data chunks are not spans),
/// "pgtls.cancel", "pgtls.close", "pgtls.notification_wait".
///
/// Pipelines: the execute() calls an AsyncConnection sends together (implicit pipelining)
/// are reported as one "pgtls.pipeline" too, with pgtls.pipeline.implicit (true) and
/// pgtls.pipeline.appends (how many times queued calls joined it while it ran), a
/// "pgtls.pipeline.query" child per call. Every "pgtls.pipeline.query" (explicit or implicit)
/// starts when its query was written (with the pipeline, or when it joined) and ends when its
/// outcome was final (its sync group answered); it carries pgtls.pipeline.index, its own
/// outcome and result attributes, and db.query.text under the rule below. A query the server
/// had not answered when the connection failed carries that failure.
///
/// Attributes (present when known): db.system.name ("postgresql"), db.namespace (database),
/// db.user, db.operation.name (first word of the command tag, e.g. "SELECT"),
/// db.query.text (only with Config::trace_query_text; never parameter values),
/// db.response.status_code (SQLSTATE of a server error), db.response.returned_rows,
/// server.address, server.port, network.peer.address, tls.backend, tls.protocol.version,
/// pgtls.encryption ("tls", "gss", "plaintext"), pgtls.command_tag, pgtls.bytes_sent,
/// pgtls.bytes_received, pgtls.connection_kept (false: the connection was closed by this
/// operation's failure), error.type (ErrorKind name, or SQLSTATE for server errors).
///
/// Pool spans (PoolOptions::tracer, or the pool's Config tracer): "pgtls.pool.acquire"
/// (pgtls.pool.acquire.outcome: acquired, timeout, connect_failed, closed, failed;
/// db.client.connection.wait_time in seconds; pgtls.pool.connection.created: it opened a new
/// connection; pgtls.pool.acquire.checks_failed), "pgtls.pool.release"
/// (pgtls.pool.release.outcome: kept, reset (after ROLLBACK or reset_sql), discarded;
/// pgtls.pool.release.reason), "pgtls.pool.create" (pgtls.pool.create.trigger: acquire or
/// min_size) and "pgtls.pool.destroy" (pgtls.pool.destroy.reason: a PoolCloseReason name;
/// pgtls.pool.destroy.detail: the message). All carry db.client.connection.pool.name and
/// pgtls.pool.connection.id (and .uses) when known. A connection's spans that run inside one
/// of them are its children: the connect inside create, the health check inside acquire,
/// ROLLBACK and reset_sql inside release, the close inside destroy, and create and destroy
/// inside the acquire or release that caused them.
///
/// Children are reported before their parent; `parent_id` links them (0: a root span).
struct Span {
    std::string name;             ///< "pgtls.query", "pgtls.connect.attempt", ... (above)
    std::uint64_t id = 0;         ///< unique in the process, never 0
    std::uint64_t parent_id = 0;  ///< the parent span's id; 0: a root span
    std::chrono::system_clock::time_point start;  ///< wall-clock start (for exporters)
    std::chrono::system_clock::time_point end;    ///< wall-clock end
    std::chrono::nanoseconds duration{0};  ///< measured on a monotonic clock
    bool ok = true;                        ///< false when the operation failed
    std::string error;                     ///< the error's message when !ok
    std::vector<TraceAttribute> attributes;  ///< the attributes listed above that are known

    /// The value of attribute `key`, or null when the span has none.
    const TraceValue* find(std::string_view key) const noexcept {
        for (const TraceAttribute& a : attributes)
            if (a.key == key) return &a.value;
        return nullptr;
    }
};

/// Receives the spans of the connections it is set on (Config::tracer).
///
/// on_span() runs on the thread that drives the connection, synchronously, after the
/// operation's outcome is decided and before its result is returned (blocking Client) or its
/// callback runs (AsyncConnection). An exception it throws is swallowed: it never changes the
/// operation's outcome or the connection's state. It must not use the connection it is
/// called for. One tracer may be shared by many connections and threads: it synchronises
/// itself.
class Tracer {
public:
    virtual ~Tracer() = default;
    /// One finished span (valid only during the call).
    virtual void on_span(const Span& span) = 0;
};

}  // namespace pgtls
PGTLS_API_END
