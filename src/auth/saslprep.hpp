// SASLprep (RFC 4013, a profile of stringprep, RFC 3454) with libpq's semantics
// (src/common/saslprep.c, pg_saslprep), so non-ASCII SCRAM passwords hash to the same bytes.
#pragma once

#include <string>
#include <string_view>

namespace pgtls::auth {

enum class SaslprepStatus { success, invalid_utf8, prohibited };

// pg_saslprep: pure ASCII passes unchanged. Otherwise the input must be strict UTF-8 (no
// overlongs, surrogates or code points above U+10FFFF); non-ASCII spaces map to U+0020, the
// "commonly mapped to nothing" characters are dropped, the result is NFKC-normalized, and the
// mapped string is checked for prohibited output, code points unassigned in Unicode 3.2 and
// the bidi rules. Like libpq, these checks look at the mapped (not yet normalized) string,
// and a string that maps to nothing is prohibited. `out` is written only on success.
SaslprepStatus saslprep(std::string_view input, std::string& out);

// The password libpq's scram_init hashes: the SASLprep result, or the raw bytes when SASLprep
// fails (invalid UTF-8 or prohibited characters), as RFC 5802's PostgreSQL usage allows.
std::string scram_password(std::string_view password);

// Unicode NFKC normalization (UAX #15) of a sequence of code points.
std::u32string nfkc(std::u32string_view input);

// Strict UTF-8 decoding; false when `input` is not valid UTF-8.
bool utf8_decode(std::string_view input, std::u32string& out);
std::string utf8_encode(std::u32string_view input);

}  // namespace pgtls::auth
