// The crypto primitives auth/ needs, behind a backend-neutral interface. Each TLS backend
// implements Provider with its own library, so a GnuTLS-only build links no OpenSSL.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace pgtls::crypto {

enum class Hash { md5, sha1, sha224, sha256, sha384, sha512 };

constexpr std::size_t digest_size(Hash h) noexcept {
    switch (h) {
        case Hash::md5: return 16;
        case Hash::sha1: return 20;
        case Hash::sha224: return 28;
        case Hash::sha256: return 32;
        case Hash::sha384: return 48;
        case Hash::sha512: return 64;
    }
    return 0;
}

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

inline ByteView as_bytes(std::string_view s) noexcept {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Each TLS backend implements it with its own library (src/backends/<b>/<b>_crypto.*); builds
// without a backend get src/crypto/builtin_crypto. Thread-safe: one Provider serves every
// connection. Errors: pgtls::Error(ErrorKind::authentication) when the library fails (it
// should not), with a message naming the library and the operation ("GnuTLS HMAC failed:
// <reason>", "mbedtls: <operation> failed: <reason>", "wolfssl: <operation> failed: <reason>"); nothing
// else is thrown (std::bad_alloc aside). The same inputs give the same bytes on every
// provider (shared vectors in tests/auth/crypto_vectors_test.cpp).
class Provider {
public:
    virtual ~Provider() = default;
    // The backend's name: "openssl", "gnutls", "mbedtls", "wolfssl" ("builtin" without one).
    virtual std::string_view name() const noexcept = 0;

    // The digest of `data`; digest_size(hash) bytes. MD5 and SHA-1 are available whatever
    // the library's FIPS or legacy settings, or the call throws Error(authentication) saying
    // so ("mbedtls: digest algorithm not available in this build").
    virtual Bytes digest(Hash hash, ByteView data) const = 0;
    // HMAC-`hash` of `data` under `key` (any length, empty included); digest_size(hash) bytes.
    virtual Bytes hmac(Hash hash, ByteView key, ByteView data) const = 0;
    // PBKDF2-HMAC (RFC 8018) with the library's own implementation (much faster than a hand
    // loop); `out_len` bytes. `iterations` == 0 throws Error(authentication) (wording per
    // library: "PBKDF2: iteration count must be at least 1", "mbedtls: PBKDF2 iteration count
    // must be positive", ...); so does a length the library cannot take.
    virtual Bytes pbkdf2_hmac(Hash hash, ByteView password, ByteView salt, std::uint32_t iterations,
                              std::size_t out_len) const = 0;
    // Fills `out` with cryptographically secure random bytes (SCRAM nonces), or throws
    // Error(authentication) when the library's generator fails; never returns weak bytes.
    virtual void random(std::span<std::uint8_t> out) const = 0;
};

// Constant-time comparison (length is not secret).
bool constant_time_equal(ByteView a, ByteView b) noexcept;

// Overwrite memory that held a secret; not optimised away.
void secure_zero(void* p, std::size_t n) noexcept;

}  // namespace pgtls::crypto
