// A seeded CTR_DRBG usable from many threads. One per TLS context (shared by its sessions)
// plus one for the crypto provider. Calls are serialised by our own mutex, so correctness
// does not depend on mbedTLS having been built with MBEDTLS_THREADING_C.
#pragma once

#include <cstddef>
#include <mutex>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>

namespace pgtls::tls::mbedtls {

class Random {
public:
    // Throws pgtls::Error(tls) when the entropy source cannot seed the DRBG.
    Random();
    ~Random();
    Random(const Random&) = delete;
    Random& operator=(const Random&) = delete;

    // Fills out[0..len); returns 0 or an mbedTLS error code.
    int fill(unsigned char* out, std::size_t len);

    // Signature of mbedTLS's f_rng callbacks; p_rng must be a Random*.
    static int callback(void* p_rng, unsigned char* out, std::size_t len);

private:
    std::mutex mutex_;
    mbedtls_entropy_context entropy_;
    mbedtls_ctr_drbg_context drbg_;
};

}  // namespace pgtls::tls::mbedtls
