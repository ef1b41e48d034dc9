// The pool's spans (pgtls/trace.hpp): "pgtls.pool.acquire", "pgtls.pool.release",
// "pgtls.pool.create" and "pgtls.pool.destroy", for any front end over PoolCore. Internal.
//
// A PoolSpan is inert (every member a no-op, nothing allocated) when the pool has no tracer.
// Its id exists from construction, so spans reported while it runs can name it as their
// parent: enter() makes it the parent of the root spans a connection reports on this thread
// (trace::ParentScope), which is how the connect span lands under create, the ping's under
// acquire, ROLLBACK's and reset_sql's under release and the close's under destroy.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>

#include "client/trace_run.hpp"
#include "pgtls/pool.hpp"

namespace pgtls::pool_detail {

class PoolSpan {
public:
    // Starts span `name` of a pool with `options` (inert without options.tracer); its parent
    // is the span in scope on this thread, if any.
    PoolSpan(const PoolCoreOptions& options, const char* name) noexcept;
    ~PoolSpan() = default;
    PoolSpan(const PoolSpan&) = delete;
    PoolSpan& operator=(const PoolSpan&) = delete;

    bool active() const noexcept { return span_ != nullptr; }
    // The span's id while it runs (for a parent scope entered later); 0 when inert or ended.
    std::uint64_t id() const noexcept { return span_ ? span_->id : 0; }
    // Makes this span the parent of root spans reported on this thread until the returned
    // scope ends (when inert, the scope keeps the parent there was).
    trace::ParentScope enter() const noexcept;

    void set(const char* key, std::string value) noexcept;
    void set(const char* key, std::int64_t value) noexcept;
    void set(const char* key, double value) noexcept;
    void set(const char* key, bool value) noexcept;
    // The operation failed with `error` (error.type: its ErrorKind name, or "exception").
    void fail(const std::exception_ptr& error) noexcept;
    // The operation failed with `message` of type `type`.
    void fail(std::string message, const char* type) noexcept;
    // Ends the span and reports it; exceptions of the tracer are swallowed. Once.
    void finish() noexcept;

private:
    std::shared_ptr<Tracer> tracer_;
    std::unique_ptr<Span> span_;
    std::chrono::steady_clock::time_point t0_;
};

// The attribute that names the pool (OpenTelemetry's database client semantic conventions).
inline constexpr const char* kPoolNameKey = "db.client.connection.pool.name";

}  // namespace pgtls::pool_detail
