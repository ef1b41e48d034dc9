// crypto::Provider over mbedTLS's message digests, HMAC, PBKDF2 and CTR_DRBG.
#pragma once

#include "crypto/crypto.hpp"

namespace pgtls::tls::mbedtls {

// Process-wide provider; thread-safe (stateless digests, a mutex-guarded DRBG seeded lazily).
const crypto::Provider& crypto_provider();

}  // namespace pgtls::tls::mbedtls
