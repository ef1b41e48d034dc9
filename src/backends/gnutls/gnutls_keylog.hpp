// NSS key-log lines ("LABEL <client random hex> <secret hex>"), appended to sslkeylogfile by
// the shared src/tls/key_log_file.hpp (created 0600, a group/world-readable file refused,
// failures only warn).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <gnutls/gnutls.h>

namespace pgtls::tls::gnutls_detail {

std::string keylog_line(std::string_view label, const gnutls_datum_t& client_random, const gnutls_datum_t& secret);

// tls::append_key_log_line: appends `line` and a newline; returns a warning on failure.
std::optional<std::string> append_keylog_line(const std::string& path, const std::string& line);

}  // namespace pgtls::tls::gnutls_detail
