// Texts for wolfSSL error codes, as the library spells them.
#pragma once

#include <string>

namespace pgtls::tls::wolf {

// "ASN no signer error to confirm failure (-188)".
std::string error_text(int code);

// Reads a whole file; throws Error(config) "could not read <what> \"path\": reason".
std::string read_file(const std::string& path, const std::string& what);

}  // namespace pgtls::tls::wolf
