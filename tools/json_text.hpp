// JSON text for `pgtls --format json`, safe whatever a server sends: every string strict
// UTF-8, nothing embedded bare that is not the JSON it claims to be, and no raw newline (one
// line per statement).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pgtls::cli {

// JSON string literal of `s` (quotes included); control characters escaped; each byte that is
// not part of well-formed UTF-8 (overlong forms and surrogates included) becomes U+FFFD.
std::string json_quote(std::string_view s);

// True when `s` is exactly one JSON number (RFC 8259: no NaN, Infinity, leading zeros or '+').
bool is_json_number(std::string_view s) noexcept;

// `text` re-emitted without insignificant whitespace when it is exactly one JSON value (RFC
// 8259), strings made strict UTF-8 as json_quote does; nullopt when it is not JSON. Iterative:
// nesting depth costs heap, not stack.
std::optional<std::string> compact_json(std::string_view text);

}  // namespace pgtls::cli
