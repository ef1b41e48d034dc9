// NSS key-log lines ("LABEL <client random hex> <secret hex>"), appended to a file as
// libpq 18 does for sslkeylogfile: the file is opened for each line with O_APPEND, created
// 0600, and a failure to open or write is a warning, never a connection failure.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <gnutls/gnutls.h>

namespace pgtls::tls::gnutls_detail {

std::string keylog_line(std::string_view label, const gnutls_datum_t& client_random, const gnutls_datum_t& secret);

// Appends `line` and a newline to `path`; returns a warning message on failure.
std::optional<std::string> append_keylog_line(const std::string& path, const std::string& line);

}  // namespace pgtls::tls::gnutls_detail
