// File reading every backend that loads PEM itself shares (mbedTLS, wolfSSL), with one set of
// error texts: what a user sees for an unreadable file or CRL directory does not depend on the
// TLS stack.
#pragma once

#include <functional>
#include <string>

#include "pgtls/config.hpp"

namespace pgtls::tls {

// A whole file; throws Error(config) "could not read <what> \"path\": reason".
std::string read_file(const std::string& path, const std::string& what);

// Calls `on_file(path, data)` for every readable regular file of a CRL directory (hashed links
// as `openssl rehash` makes, or any names), skipping dot files and files that cannot be read.
// Throws Error(config) naming the directory when it cannot be opened: OpenSSL's by_dir would
// accept it and find no CRL, which must never pass silently.
void for_each_crl_dir_file(const std::string& dir,
                           const std::function<void(const std::string& path, const std::string& data)>& on_file);

}  // namespace pgtls::tls
