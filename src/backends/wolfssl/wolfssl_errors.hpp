// Texts for wolfSSL error codes, as the library spells them.
#pragma once

#include <string>

#include "tls/tls_files.hpp"

namespace pgtls::tls::wolfssl {

// "ASN no signer error to confirm failure (-188)".
std::string error_text(int code);

// Files are read with the shared pgtls::tls::read_file (src/tls/tls_files.hpp).
using tls::read_file;

}  // namespace pgtls::tls::wolfssl
