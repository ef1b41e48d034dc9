#include "tls/material.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sys/stat.h>

#include "tls/tls_files.hpp"

namespace pgtls::tls {

std::optional<std::string> read_whole_file(const std::string& path, FileReadFailure& failure) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
        failure = {true, std::strerror(EISDIR)};
        return std::nullopt;
    }
    errno = 0;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        failure = {true, errno ? std::strerror(errno) : ""};
        return std::nullopt;
    }
    try {
        std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (!in.bad()) return data;
    } catch (const std::ios_base::failure&) {
        // libstdc++ throws from underflow on a read error; errno still says which.
    }
    failure = {false, errno ? std::strerror(errno) : ""};
    return std::nullopt;
}

std::string material_label(const Material& m, const MaterialLabel& label) {
    if (m.kind == Material::Kind::file) return label.file + " \"" + m.value + "\"";
    return label.other;
}

std::string material_bytes(const Material& m, const std::string& what) {
    switch (m.kind) {
        case Material::Kind::file: return read_file(m.value, what);
        case Material::Kind::pem: return m.value;
        case Material::Kind::none:
        case Material::Kind::system: break;
    }
    return {};
}

}  // namespace pgtls::tls
