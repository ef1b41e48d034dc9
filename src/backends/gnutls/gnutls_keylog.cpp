#include "backends/gnutls/gnutls_keylog.hpp"

#include "tls/key_log_file.hpp"

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
    return append_key_log_line(path, line);
}

}  // namespace pgtls::tls::gnutls_detail
