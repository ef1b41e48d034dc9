#include "backends/mbedtls/mbedtls_random.hpp"

#include "backends/mbedtls/mbedtls_errors.hpp"
#include "pgtls/error.hpp"

namespace pgtls::tls::mbedtls {

namespace {
constexpr unsigned char personalization[] = "pgtls mbedtls backend";
// CTR_DRBG accepts at most MBEDTLS_CTR_DRBG_MAX_REQUEST bytes per call.
constexpr std::size_t max_request = MBEDTLS_CTR_DRBG_MAX_REQUEST;
}  // namespace

Random::Random() {
    mbedtls_entropy_init(&entropy_);
    mbedtls_ctr_drbg_init(&drbg_);
    const int rc = mbedtls_ctr_drbg_seed(&drbg_, mbedtls_entropy_func, &entropy_, personalization,
                                         sizeof personalization - 1);
    if (rc != 0) {
        mbedtls_ctr_drbg_free(&drbg_);
        mbedtls_entropy_free(&entropy_);
        throw Error(ErrorKind::tls, "mbedtls: could not seed the random number generator: " + error_text(rc));
    }
}

Random::~Random() {
    mbedtls_ctr_drbg_free(&drbg_);
    mbedtls_entropy_free(&entropy_);
}

int Random::fill(unsigned char* out, std::size_t len) {
    std::lock_guard lock(mutex_);
    while (len > 0) {
        const std::size_t chunk = len < max_request ? len : max_request;
        if (const int rc = mbedtls_ctr_drbg_random(&drbg_, out, chunk); rc != 0) return rc;
        out += chunk;
        len -= chunk;
    }
    return 0;
}

int Random::callback(void* p_rng, unsigned char* out, std::size_t len) {
    return static_cast<Random*>(p_rng)->fill(out, len);
}

}  // namespace pgtls::tls::mbedtls
