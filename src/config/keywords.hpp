// The connection keywords pgtls accepts: libpq 18's full set plus pgtls's own `sslbackend`
// and its memory caps (max_result_bytes, ..., max_parameter_status).
// One table drives the parser (which names are valid), the environment fallback (which PG*
// variable feeds which keyword), the compiled-in defaults and the display (which values are
// secrets).
#pragma once

#include <span>
#include <string_view>

namespace pgtls::config {

// What pgtls does with a keyword once it has a value.
enum class KeywordUse {
    used,        // drives the connection
    ignored,     // accepted for compatibility, has no effect (e.g. sslcompression)
    restricted,  // accepted, but values that need a feature pgtls lacks are errors (gssencmode=require)
};

struct KeywordInfo {
    std::string_view name;
    std::string_view envvar;        // empty: no environment fallback
    std::string_view default_value; // libpq's compiled-in default; meaningful when has_default
    bool has_default;
    bool secret;                    // value is masked in every display
    KeywordUse use;
};

// Every keyword, in libpq's PQconninfoOptions order, then pgtls's own.
std::span<const KeywordInfo> keywords() noexcept;

// nullptr when `name` is not a keyword.
const KeywordInfo* find_keyword(std::string_view name) noexcept;

// The closest keyword by edit distance, for "did you mean" hints; empty when none is close.
std::string_view suggest_keyword(std::string_view name);

}  // namespace pgtls::config
