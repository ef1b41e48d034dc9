// The trace-context comment (sqlcommenter style) of Config::trace_context: a statement sent
// with the simple protocol, or as execute()'s unnamed statement, is prefixed with
// "/* traceparent='00-<trace id>-<parent id>-<flags>' */ " when the application's callback
// returns a valid W3C traceparent. Both drivers call with_trace_context() just before they
// build the statement's request; with no callback it costs one null check.
#pragma once

#include <string>
#include <string_view>

#include "pgtls/config.hpp"

namespace pgtls::trace {

// True for a W3C Trace Context traceparent of the 55-character form: version (2 lowercase hex
// digits, not "ff"), trace id (32, not all zero), parent id (16, not all zero), flags (2),
// separated by '-'. Nothing else passes, so a value can never close the comment ("*/") or
// carry a quote into the statement.
bool valid_traceparent(std::string_view value) noexcept;

// `sql` prefixed with the comment when settings.trace_context returns a valid traceparent;
// empty otherwise (send `sql` as it is). The callback's exceptions are swallowed.
std::string with_trace_context(const Settings& settings, std::string_view sql);

}  // namespace pgtls::trace
