#include "tls/tls_files.hpp"

#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <iterator>
#include <memory>
#include <sys/stat.h>

#include "tls/material.hpp"
#include "pgtls/error.hpp"

namespace pgtls::tls {

std::string read_file(const std::string& path, const std::string& what) {
    FileReadFailure failure;
    if (auto data = read_whole_file(path, failure)) return std::move(*data);
    const std::string reason =
        !failure.reason.empty() ? failure.reason : failure.at_open ? "cannot open file" : "read error";
    throw Error(ErrorKind::config, "could not read " + what + " \"" + path + "\": " + reason);
}

void for_each_crl_dir_file(const std::string& dir,
                           const std::function<void(const std::string& path, const std::string& data)>& on_file) {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr)
        throw Error(ErrorKind::config, "could not open SSL certificate revocation list directory \"" + dir +
                                           "\": " + std::strerror(errno));
    const std::unique_ptr<DIR, int (*)(DIR*)> closer(d, &::closedir);
    while (const dirent* entry = ::readdir(d)) {
        if (entry->d_name[0] == '.') continue;
        const std::string path = dir + "/" + entry->d_name;
        struct stat st;
        if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        std::string data;
        try {
            data = read_file(path, "CRL");
        } catch (const Error&) {
            continue;
        }
        on_file(path, data);
    }
}

}  // namespace pgtls::tls
