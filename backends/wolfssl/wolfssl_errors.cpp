#include "backends/wolfssl/wolfssl_errors.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "pgtls/error.hpp"

namespace pgtls::tls::wolf {

std::string error_text(int code) {
    char buf[WOLFSSL_MAX_ERROR_SZ] = {};
    wolfSSL_ERR_error_string_n(static_cast<unsigned long>(code), buf, sizeof buf);
    return std::string(buf) + " (" + std::to_string(code) + ")";
}

std::string read_file(const std::string& path, const std::string& what) {
    errno = 0;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        const int err = errno;
        throw Error(ErrorKind::config, "could not read " + what + " \"" + path +
                                           "\": " + (err ? std::strerror(err) : "cannot open file"));
    }
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) throw Error(ErrorKind::config, "could not read " + what + " \"" + path + "\": read error");
    return data;
}

}  // namespace pgtls::tls::wolf
