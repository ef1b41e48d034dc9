#include "tls/key_file_check.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "pgtls/error.hpp"

namespace pgtls::tls {

std::optional<std::string> private_key_file_problem(const std::string& path) {
    const std::string quoted = "\"" + path + "\"";
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        int err = errno;
        if (err == ENOENT) return "certificate present, but not private key file " + quoted;
        return "could not stat private key file " + quoted + ": " + std::strerror(err);
    }
    if (!S_ISREG(st.st_mode)) return "private key file " + quoted + " is not a regular file";
    const mode_t forbidden = st.st_uid == 0 ? (S_IWGRP | S_IXGRP | S_IRWXO) : (S_IRWXG | S_IRWXO);
    if (st.st_mode & forbidden)
        return "private key file " + quoted +
               " has group or world access; file must have permissions u=rw (0600) or less if owned by the "
               "current user, or permissions u=rw,g=r (0640) or less if owned by root";
    return std::nullopt;
}

void check_private_key_file(const std::string& path) {
    if (auto problem = private_key_file_problem(path)) throw Error(ErrorKind::config, *problem);
}

}  // namespace pgtls::tls
