// Writing TLS secrets to `sslkeylogfile` (NSS key log format): the one key-log writer every
// backend that can export secrets uses, so lines and file handling are the same whatever the
// TLS stack. As libpq 18: opened for each line with
// O_APPEND, created 0600, and any failure is a warning for the connection, never an error.
// Unlike libpq 18 (which appends to any file it can open), an existing file with group or
// other permission bits gets no secrets: anyone who can read it could decrypt the session.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace pgtls::tls {

// One NSS key-log line, without the newline: "LABEL <client random hex> <secret hex>" in
// lowercase hex, e.g. "CLIENT_RANDOM ..." (TLS 1.2) or "CLIENT_HANDSHAKE_TRAFFIC_SECRET ..."
// (TLS 1.3). The caller wipes the returned string once written.
std::string key_log_line(std::string_view label, std::span<const std::uint8_t> client_random,
                         std::span<const std::uint8_t> secret);

// Appends `line` plus a newline to `path`; the copy it writes from is wiped. nullopt on
// success, otherwise the warning naming the file:
//   could not open SSL key logging file "PATH": <strerror>
//   SSL key logging file "PATH" has group or world access; no secrets written (permissions
//   must be u=rw (0600) or less)
//   could not write to SSL key logging file "PATH": <strerror>
std::optional<std::string> append_key_log_line(const std::string& path, std::string_view line);

}  // namespace pgtls::tls
