#include "backends/wolfssl/wolfssl_errors.hpp"


#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "pgtls/error.hpp"

namespace pgtls::tls::wolfssl {

std::string error_text(int code) {
    char buf[WOLFSSL_MAX_ERROR_SZ] = {};
    wolfSSL_ERR_error_string_n(static_cast<unsigned long>(code), buf, sizeof buf);
    return std::string(buf) + " (" + std::to_string(code) + ")";
}

}  // namespace pgtls::tls::wolfssl
