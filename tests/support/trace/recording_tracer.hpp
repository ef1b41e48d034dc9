// A Tracer that keeps every span it is given, for tests of what pgtls reports (the pool's
// spans, the connection's), and readers of span attributes. Header-only; thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "pgtls/trace.hpp"

namespace pgtls::test {

class RecordingTracer : public Tracer {
public:
    void on_span(const Span& span) override {
        std::lock_guard<std::mutex> lock(mutex_);
        spans_.push_back(span);
        if (throws) throw std::runtime_error("tracer failure");
    }
    // The spans called `name`, in the order they were reported.
    std::vector<Span> named(std::string_view name) const {
        std::lock_guard<std::mutex> lock(mutex_);
        std::vector<Span> v;
        for (const Span& s : spans_)
            if (s.name == name) v.push_back(s);
        return v;
    }
    // The spans whose parent is span `parent`.
    std::vector<Span> children(std::uint64_t parent) const {
        std::lock_guard<std::mutex> lock(mutex_);
        std::vector<Span> v;
        for (const Span& s : spans_)
            if (s.parent_id == parent) v.push_back(s);
        return v;
    }
    std::vector<Span> all() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return spans_;
    }
    void clear() {
        std::lock_guard<std::mutex> lock(mutex_);
        spans_.clear();
    }
    // When set, on_span throws (after recording): the traced code must not notice.
    std::atomic<bool> throws{false};

private:
    mutable std::mutex mutex_;
    std::vector<Span> spans_;
};

// The string attribute `key` of `s`, or "<absent>".
inline std::string text_of(const Span& s, std::string_view key) {
    const TraceValue* v = s.find(key);
    return v && std::holds_alternative<std::string>(*v) ? std::get<std::string>(*v) : std::string("<absent>");
}
// The integer attribute `key` of `s`, or -1.
inline std::int64_t number_of(const Span& s, std::string_view key) {
    const TraceValue* v = s.find(key);
    return v && std::holds_alternative<std::int64_t>(*v) ? std::get<std::int64_t>(*v) : -1;
}
// The boolean attribute `key` of `s`, if there is one.
inline std::optional<bool> flag_of(const Span& s, std::string_view key) {
    const TraceValue* v = s.find(key);
    if (v && std::holds_alternative<bool>(*v)) return std::get<bool>(*v);
    return std::nullopt;
}
// True when `parent` has a child span called `name` among what `r` recorded.
inline bool has_child(const RecordingTracer& r, const Span& parent, std::string_view name) {
    for (const Span& c : r.children(parent.id))
        if (c.name == name) return true;
    return false;
}

}  // namespace pgtls::test
