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

// All functions throw pgtls::Error(ErrorKind::authentication) only if the underlying library
// fails (it should not). Output sizes are digest_size(hash) unless stated.
class Provider {
public:
    virtual ~Provider() = default;
    virtual std::string_view name() const noexcept = 0;  // "openssl", "gnutls", "mbedtls"

    virtual Bytes digest(Hash hash, ByteView data) const = 0;
    virtual Bytes hmac(Hash hash, ByteView key, ByteView data) const = 0;
    // PBKDF2-HMAC with the library's own implementation (much faster than a hand loop).
    virtual Bytes pbkdf2_hmac(Hash hash, ByteView password, ByteView salt, std::uint32_t iterations,
                              std::size_t out_len) const = 0;
    // Cryptographically secure random bytes.
    virtual void random(std::span<std::uint8_t> out) const = 0;
};

// Constant-time comparison (length is not secret).
bool constant_time_equal(ByteView a, ByteView b) noexcept;

// Overwrite memory that held a secret; not optimised away.
void secure_zero(void* p, std::size_t n) noexcept;

}  // namespace pgtls::crypto
