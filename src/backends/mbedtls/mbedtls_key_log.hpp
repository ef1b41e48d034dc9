// mbedTLS's hook into the shared key-log writer (src/tls/key_log_file.hpp): one
// "CLIENT_RANDOM <client random> <master secret>" line per handshake. mbedTLS 2.28 exports keys through a callback registered on the
// ssl_config, which carries no session pointer; the session that is running a handshake on
// this thread installs a KeyLogScope so an open failure becomes that session's warning.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <mbedtls/ssl.h>

namespace pgtls::tls::mbedtls {

// While alive, warnings from export_keys_to_file on this thread go to `sink`.
class KeyLogScope {
public:
    explicit KeyLogScope(std::vector<std::string>& sink) noexcept;
    ~KeyLogScope();
    KeyLogScope(const KeyLogScope&) = delete;
    KeyLogScope& operator=(const KeyLogScope&) = delete;

private:
    std::vector<std::string>* previous_;
};

// mbedtls_ssl_export_keys_ext_t; p_expkey is a const std::string* naming the file. Appends
// one line to the file (created with mode 0600), as libpq does per secret. Failure to open or
// write is a warning, never a handshake failure, so the callback always returns 0.
int export_keys_to_file(void* p_expkey, const unsigned char* ms, const unsigned char* kb, std::size_t maclen,
                        std::size_t keylen, std::size_t ivlen, const unsigned char client_random[32],
                        const unsigned char server_random[32], mbedtls_tls_prf_types tls_prf_type);

}  // namespace pgtls::tls::mbedtls
