// libpq's safety check on a client private key FILE before it is loaded (fe-secure-openssl.c,
// identical in libpq 14-18), shared by every backend so a world-readable key is refused the
// same way whatever the TLS stack.
//
// The file must exist, be a regular file (after following symlinks), and have no group or
// other permission bits — except that a root-owned file may be group-readable (0640), so a
// system-wide key can be shared through a group. Ownership is not compared with the current
// user: if such a restrictive file is readable, the ownership is right.
#pragma once

#include <optional>
#include <string>

namespace pgtls::tls {

// nullopt when the file may be used; otherwise libpq's message naming the file:
//   certificate present, but not private key file "PATH"
//   could not stat private key file "PATH": <strerror>
//   private key file "PATH" is not a regular file
//   private key file "PATH" has group or world access; file must have permissions u=rw (0600)
//   or less if owned by the current user, or permissions u=rw,g=r (0640) or less if owned by root
std::optional<std::string> private_key_file_problem(const std::string& path);

// Throws pgtls::Error(ErrorKind::config) with the message above.
void check_private_key_file(const std::string& path);

}  // namespace pgtls::tls
