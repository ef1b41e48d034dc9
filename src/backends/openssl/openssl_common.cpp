#include "backends/openssl/openssl_common.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>

#include <openssl/err.h>

#include "tls/material.hpp"
#include "tls/tls_names.hpp"
#include "pgtls/error.hpp"

namespace pgtls::tls::openssl {

std::string reason_string(unsigned long code) {
    if (const char* reason = ERR_reason_error_string(code)) return reason;
    // No reason text (e.g. a system error pushed by a provider): fall back to the long form,
    // which always names the library and code.
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    return buf;
}

std::string drain_errors(std::vector<unsigned long>* codes) {
    std::string out;
    while (unsigned long code = ERR_get_error()) {
        if (codes != nullptr) codes->push_back(code);
        std::string reason = reason_string(code);
        // OpenSSL often queues the same reason twice from nested layers.
        if (out.find(reason) != std::string::npos) continue;
        if (!out.empty()) out += "; ";
        out += reason;
    }
    return out;
}

const char* version_name(TlsVersion v) noexcept { return tls::version_name(v, "any"); }

std::string read_file(const std::string& path, std::string_view what) {
    FileReadFailure failure;
    if (auto bytes = read_whole_file(path, failure)) return std::move(*bytes);
    if (failure.at_open)
        throw Error(ErrorKind::config, "could not open " + std::string(what) + " \"" + path + "\": " +
                                           (failure.reason.empty() ? "unreadable" : failure.reason));
    throw Error(ErrorKind::config, "could not read " + std::string(what) + " \"" + path + "\"");
}

BioPtr memory_bio(const std::string& bytes) {
    if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
        throw Error(ErrorKind::config, "TLS material larger than 2 GiB");
    BioPtr bio(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
    if (!bio) throw Error(ErrorKind::tls, "out of memory creating an OpenSSL BIO");
    return bio;
}

}  // namespace pgtls::tls::openssl
