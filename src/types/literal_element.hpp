// One element of a record or range literal in PostgreSQL's text output (record_in and
// range_parse_bound quote alike): double-quoted stretches, a doubled quote inside them for one
// quote, a backslash for the next byte taken literally, up to the first unquoted byte `stop`
// accepts. Shared by the composite and the range decoders.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace pgtls::detail {

// Reads from b[i], which must be inside `b`; leaves i on the stop byte. `fail` is called (and
// must throw) when the literal ends before a stop byte.
template <class Stop, class Fail>
std::string read_literal_element(std::string_view b, std::size_t& i, Stop stop, Fail fail) {
    const std::size_t n = b.size();
    std::string s;
    bool in_quotes = false;
    while (in_quotes || !stop(b[i])) {
        const char c = b[i++];
        if (c == '\\') {
            if (i >= n) fail();
            s.push_back(b[i++]);
        } else if (c == '"') {
            if (!in_quotes) in_quotes = true;
            else if (i < n && b[i] == '"') s.push_back(b[i++]);
            else in_quotes = false;
        } else {
            s.push_back(c);
        }
        if (i >= n) fail();
    }
    return s;
}

}  // namespace pgtls::detail
