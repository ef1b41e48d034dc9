// libpq connection strings: `key=value` lists and `postgresql://` / `postgres://` URIs, parsed
// with exactly the syntax of libpq 18's conninfo_parse / conninfo_uri_parse (PQconninfoParse).
// Only syntax and keyword names are checked here; values are validated by resolve().
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgtls::config {

// Keyword/value pairs, one per keyword, in order of first appearance; a repeated keyword keeps
// its last value (as libpq does). The URI form yields at most one `host` and one `port`, each
// a comma-separated list ("a,b", "5432,"), exactly as libpq stores them.
using KeywordValues = std::vector<std::pair<std::string, std::string>>;

// True when the string starts with a URI designator (case-sensitive, as in libpq).
bool is_conninfo_uri(std::string_view conninfo) noexcept;

// Throws pgtls::Error(ErrorKind::config). The message starts with libpq's own message for the
// same input (without libpq's trailing newline); pgtls may append a hint after it, and shows
// "********" where libpq would quote a password.
// A NUL byte anywhere is an error (libpq would silently stop reading there).
KeywordValues parse_connection_string(std::string_view conninfo);

// `conninfo` as it may be shown in a message: the values of secret keywords (password,
// sslpassword, ...) and of unknown (misspelt) ones, and a URI's user-info password, replaced
// by "********". Never throws: a
// key=value string that stops following libpq's grammar is shown up to that point, then
// "********" for the rest (it may hold a secret the scan could not place).
std::string masked_connection_string(std::string_view conninfo);

// Decodes one percent-encoded URI component as libpq does (%00, malformed escapes and inner
// spaces are errors). With `secret`, error messages show "********" instead of the component.
// Exposed for tests.
std::string uri_decode(std::string_view encoded, bool secret = false);

}  // namespace pgtls::config
