// Where settings come from besides the connection string: the process environment, the
// user's home directory, service files. Internal to src/config.
#pragma once

#include <optional>
#include <string>

#include "config/conninfo_parser.hpp"
#include "pgtls/config.hpp"

namespace pgtls::config {

// libpq's DEFAULT_PGSOCKET_DIR as Debian builds it (pg_config_manual.h): the default host, and
// the socket directory .pgpass calls "localhost".
inline constexpr const char* kDefaultSocketDir = "/var/run/postgresql";
// libpq's SYSCONFDIR on Debian (`pg_config --sysconfdir`), where pg_service.conf lives when
// PGSYSCONFDIR is unset.
inline constexpr const char* kDefaultSysconfDir = "/etc/postgresql-common";
inline constexpr int kDefaultPort = 5432;

// $HOME, else the password database entry of the effective user; nullopt when neither exists.
std::optional<std::string> home_directory(const Environment& env);

// The effective user's login name, as libpq's pg_fe_getauthname. Throws Error(config).
std::string current_os_user();

struct ServiceDefinition {
    std::string file;        // the file the section was found in
    KeywordValues values;    // first occurrence of each keyword in the section
};

// Finds `service` in PGSERVICEFILE or ~/.pg_service.conf, then in
// $PGSYSCONFDIR/pg_service.conf, with libpq's search order and error messages.
// Throws Error(config) when no section has that name, a named file is missing, or a line is
// malformed.
ServiceDefinition lookup_service(const std::string& service, const Environment& env);

// True when `host` names a Unix-domain socket directory (absolute path, or '@' abstract).
inline bool is_unix_socket_path(const std::string& host) {
    return !host.empty() && (host[0] == '/' || host[0] == '@');
}

}  // namespace pgtls::config
