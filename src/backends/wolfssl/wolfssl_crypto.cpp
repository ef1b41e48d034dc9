#include "backends/wolfssl/wolfssl_crypto.hpp"

#include <algorithm>
#include <mutex>
#include <string>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/hmac.h>
#include <wolfssl/wolfcrypt/pwdbased.h>
#include <wolfssl/wolfcrypt/random.h>

#include "backends/wolfssl/wolfssl_errors.hpp"
#include "pgtls/error.hpp"

namespace pgtls::tls::wolfssl {
namespace {

[[noreturn]] void fail(const char* what, int rc) {
    throw Error(ErrorKind::authentication, std::string("wolfssl: ") + what + " failed: " + error_text(rc));
}

enum wc_HashType hash_type(crypto::Hash hash) {
    switch (hash) {
        case crypto::Hash::md5: return WC_HASH_TYPE_MD5;
        case crypto::Hash::sha1: return WC_HASH_TYPE_SHA;
        case crypto::Hash::sha224: return WC_HASH_TYPE_SHA224;
        case crypto::Hash::sha256: return WC_HASH_TYPE_SHA256;
        case crypto::Hash::sha384: return WC_HASH_TYPE_SHA384;
        case crypto::Hash::sha512: return WC_HASH_TYPE_SHA512;
    }
    return WC_HASH_TYPE_NONE;
}

// The HMAC and PBKDF2 functions take the older WC_SHA256-style constants.
int hmac_type(crypto::Hash hash) {
    switch (hash) {
        case crypto::Hash::md5: return WC_MD5;
        case crypto::Hash::sha1: return WC_SHA;
        case crypto::Hash::sha224: return WC_SHA224;
        case crypto::Hash::sha256: return WC_SHA256;
        case crypto::Hash::sha384: return WC_SHA384;
        case crypto::Hash::sha512: return WC_SHA512;
    }
    return WC_SHA256;
}

// One DRBG for the process, seeded on first use; wolfCrypt's WC_RNG is not thread-safe.
class Random {
public:
    Random() {
        if (const int rc = wc_InitRng(&rng_); rc != 0) fail("random generator initialisation", rc);
    }
    ~Random() { wc_FreeRng(&rng_); }
    Random(const Random&) = delete;
    Random& operator=(const Random&) = delete;

    void fill(std::span<std::uint8_t> out) {
        std::lock_guard lock(mutex_);
        while (!out.empty()) {
            const std::size_t n = std::min<std::size_t>(out.size(), RNG_MAX_BLOCK_LEN);
            if (const int rc = wc_RNG_GenerateBlock(&rng_, out.data(), static_cast<word32>(n)); rc != 0)
                fail("random generation", rc);
            out = out.subspan(n);
        }
    }

private:
    std::mutex mutex_;
    WC_RNG rng_;
};

class WolfsslCrypto final : public crypto::Provider {
public:
    std::string_view name() const noexcept override { return "wolfssl"; }

    crypto::Bytes digest(crypto::Hash hash, crypto::ByteView data) const override {
        crypto::Bytes out(crypto::digest_size(hash));
        const int rc = wc_Hash(hash_type(hash), data.data(), static_cast<word32>(data.size()), out.data(),
                               static_cast<word32>(out.size()));
        if (rc != 0) fail("digest", rc);
        return out;
    }

    crypto::Bytes hmac(crypto::Hash hash, crypto::ByteView key, crypto::ByteView data) const override {
        crypto::Bytes out(crypto::digest_size(hash));
        Hmac h;
        int rc = wc_HmacInit(&h, nullptr, INVALID_DEVID);
        if (rc != 0) fail("HMAC", rc);
        rc = wc_HmacSetKey(&h, hmac_type(hash), key.data(), static_cast<word32>(key.size()));
        if (rc == 0) rc = wc_HmacUpdate(&h, data.data(), static_cast<word32>(data.size()));
        if (rc == 0) rc = wc_HmacFinal(&h, out.data());
        wc_HmacFree(&h);
        crypto::secure_zero(&h, sizeof h);  // holds the key's pads
        if (rc != 0) fail("HMAC", rc);
        return out;
    }

    crypto::Bytes pbkdf2_hmac(crypto::Hash hash, crypto::ByteView password, crypto::ByteView salt,
                              std::uint32_t iterations, std::size_t out_len) const override {
        if (iterations == 0 || iterations > 0x7fffffffu)
            throw Error(ErrorKind::authentication, "wolfssl: PBKDF2 iteration count out of range");
        if (out_len > 0x7fffffffu || password.size() > 0x7fffffffu || salt.size() > 0x7fffffffu)
            throw Error(ErrorKind::authentication, "wolfssl: PBKDF2 input or output too long");
        crypto::Bytes out(out_len);
        const int rc = wc_PBKDF2(out.data(), password.data(), static_cast<int>(password.size()), salt.data(),
                                 static_cast<int>(salt.size()), static_cast<int>(iterations),
                                 static_cast<int>(out_len), hmac_type(hash));
        if (rc != 0) fail("PBKDF2", rc);
        return out;
    }

    void random(std::span<std::uint8_t> out) const override {
        if (out.empty()) return;
        static Random drbg;  // seeded on first use so linking never touches the entropy source
        drbg.fill(out);
    }
};

}  // namespace

const crypto::Provider& crypto_provider() {
    static const WolfsslCrypto provider;
    return provider;
}

}  // namespace pgtls::tls::wolfssl
