// The pool's spans; see pool_trace.hpp.
#include "pool/pool_trace.hpp"

#include <utility>

#include "pgtls/error.hpp"

namespace pgtls::pool_detail {

PoolSpan::PoolSpan(const PoolCoreOptions& options, const char* name) noexcept {
    if (!options.tracer) return;
    try {
        auto span = std::make_unique<Span>();
        span->name = name;
        span->id = trace::new_span_id();
        span->parent_id = trace::current_parent();
        span->start = std::chrono::system_clock::now();
        span->attributes.push_back({"db.system.name", std::string("postgresql")});
        if (!options.name.empty()) span->attributes.push_back({kPoolNameKey, options.name});
        t0_ = std::chrono::steady_clock::now();
        tracer_ = options.tracer;
        span_ = std::move(span);
    } catch (...) {
        // Tracing never disturbs the pool: an allocation failure loses this span only.
    }
}

trace::ParentScope PoolSpan::enter() const noexcept {
    return trace::ParentScope(span_ ? span_->id : trace::current_parent());
}

namespace {
void add(Span* span, const char* key, TraceValue value) noexcept {
    if (!span) return;
    try {
        span->attributes.push_back({key, std::move(value)});
    } catch (...) {
    }
}
}  // namespace

void PoolSpan::set(const char* key, std::string value) noexcept { add(span_.get(), key, std::move(value)); }
void PoolSpan::set(const char* key, std::int64_t value) noexcept { add(span_.get(), key, value); }
void PoolSpan::set(const char* key, double value) noexcept { add(span_.get(), key, value); }
void PoolSpan::set(const char* key, bool value) noexcept { add(span_.get(), key, value); }

void PoolSpan::fail(std::string message, const char* type) noexcept {
    if (!span_) return;
    span_->ok = false;
    try {
        span_->error = std::move(message);
        set("error.type", std::string(type));
    } catch (...) {
    }
}

void PoolSpan::fail(const std::exception_ptr& error) noexcept {
    if (!span_ || !error) return;
    try {
        std::rethrow_exception(error);
    } catch (const Error& e) {
        fail(e.what(), to_string(e.kind()));
    } catch (const std::exception& e) {
        fail(e.what(), "exception");
    } catch (...) {
        fail("unknown exception", "exception");
    }
}

void PoolSpan::finish() noexcept {
    if (!span_) return;
    std::unique_ptr<Span> span = std::move(span_);
    span->end = std::chrono::system_clock::now();
    span->duration = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0_);
    try {
        tracer_->on_span(*span);
    } catch (...) {
        // The tracer's exception is the application's: it never changes what the pool does.
    }
}

}  // namespace pgtls::pool_detail
