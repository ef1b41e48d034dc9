// The trace-context comment; see trace_comment.hpp.
#include "client/trace_comment.hpp"

namespace pgtls::trace {

namespace {
bool lower_hex(std::string_view s) noexcept {
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}
bool all_zero(std::string_view s) noexcept { return s.find_first_not_of('0') == std::string_view::npos; }
}  // namespace

bool valid_traceparent(std::string_view v) noexcept {
    if (v.size() != 55 || v[2] != '-' || v[35] != '-' || v[52] != '-') return false;
    const std::string_view version = v.substr(0, 2), trace_id = v.substr(3, 32), parent_id = v.substr(36, 16),
                           flags = v.substr(53, 2);
    return lower_hex(version) && version != "ff" && lower_hex(trace_id) && !all_zero(trace_id) &&
           lower_hex(parent_id) && !all_zero(parent_id) && lower_hex(flags);
}

std::string with_trace_context(const Settings& settings, std::string_view sql) {
    if (!settings.trace_context) return {};
    std::string context;
    try {
        context = settings.trace_context();
    } catch (...) {
        return {};  // the application's exception never disturbs the statement
    }
    if (!valid_traceparent(context)) return {};
    std::string out;
    out.reserve(sql.size() + 74);
    out += "/* traceparent='";
    out += context;
    out += "' */ ";
    out += sql;
    return out;
}

}  // namespace pgtls::trace
