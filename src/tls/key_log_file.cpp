#include "tls/key_log_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "crypto/crypto.hpp"

namespace pgtls::tls {
namespace {

void append_hex(std::string& out, std::span<const std::uint8_t> bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    for (const std::uint8_t b : bytes) {
        out += digits[b >> 4];
        out += digits[b & 0x0f];
    }
}

}  // namespace

std::string key_log_line(std::string_view label, std::span<const std::uint8_t> client_random,
                         std::span<const std::uint8_t> secret) {
    std::string line;
    line.reserve(label.size() + 2 + 2 * (client_random.size() + secret.size()));
    line += label;
    line += ' ';
    append_hex(line, client_random);
    line += ' ';
    append_hex(line, secret);
    return line;
}

std::optional<std::string> append_key_log_line(const std::string& path, std::string_view line) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return "could not open SSL key logging file \"" + path + "\": " + std::strerror(errno);
    // Checked on the descriptor written to, so a file swapped after a path check cannot slip by.
    struct stat st {};
    if (::fstat(fd, &st) != 0 || (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        ::close(fd);
        return "SSL key logging file \"" + path +
               "\" has group or world access; no secrets written (permissions must be u=rw (0600) or less)";
    }
    std::string buf(line);
    buf += '\n';
    std::optional<std::string> warning;
    std::size_t done = 0;
    while (done < buf.size()) {
        const ssize_t n = ::write(fd, buf.data() + done, buf.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            warning = "could not write to SSL key logging file \"" + path + "\": " +
                      (n < 0 ? std::strerror(errno) : "short write");
            break;
        }
        done += static_cast<std::size_t>(n);
    }
    crypto::secure_zero(buf.data(), buf.size());
    ::close(fd);
    return warning;
}

}  // namespace pgtls::tls
