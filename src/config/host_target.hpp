// What a resolved host names on the file system: the Unix-domain socket path of a HostTarget.
// Used by the connect algorithm (for libpq's "connection to server on socket ..." texts) and by
// the transport that opens it, so both name the same path.
#pragma once

#include <string>

#include "pgtls/config.hpp"

namespace pgtls::config {

// libpq's socket file: "<dir>/.s.PGSQL.<port>"; a leading '@' names Linux's abstract namespace.
inline std::string unix_socket_path(const HostTarget& target) {
    return target.host + "/.s.PGSQL." + std::to_string(target.port);
}

}  // namespace pgtls::config
