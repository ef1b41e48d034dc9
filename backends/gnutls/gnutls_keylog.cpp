#include "backends/gnutls/gnutls_keylog.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/crypto/crypto.hpp"

namespace pgtls::tls::gnutls_detail {
namespace {

void append_hex(std::string& out, const gnutls_datum_t& d) {
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < d.size; ++i) {
        out += digits[d.data[i] >> 4];
        out += digits[d.data[i] & 0xf];
    }
}

}  // namespace

std::string keylog_line(std::string_view label, const gnutls_datum_t& client_random, const gnutls_datum_t& secret) {
    std::string line(label);
    line += ' ';
    append_hex(line, client_random);
    line += ' ';
    append_hex(line, secret);
    return line;
}

std::optional<std::string> append_keylog_line(const std::string& path, const std::string& line) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return "could not open SSL key logging file \"" + path + "\": " + std::strerror(errno);
    std::string buf = line + '\n';
    std::optional<std::string> warning;
    std::size_t done = 0;
    while (done < buf.size()) {
        const ssize_t n = ::write(fd, buf.data() + done, buf.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            warning = "could not write to SSL key logging file \"" + path + "\": " + std::strerror(errno);
            break;
        }
        done += static_cast<std::size_t>(n);
    }
    crypto::secure_zero(buf.data(), buf.size());
    ::close(fd);
    return warning;
}

}  // namespace pgtls::tls::gnutls_detail
