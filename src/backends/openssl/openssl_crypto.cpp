#include "backends/openssl/openssl_crypto.hpp"

#include <climits>
#include <string>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "backends/openssl/openssl_common.hpp"
#include "pgtls/error.hpp"

namespace pgtls::tls::openssl {
namespace {

const EVP_MD* message_digest(crypto::Hash hash) {
    switch (hash) {
        case crypto::Hash::md5: return EVP_md5();
        case crypto::Hash::sha1: return EVP_sha1();
        case crypto::Hash::sha224: return EVP_sha224();
        case crypto::Hash::sha256: return EVP_sha256();
        case crypto::Hash::sha384: return EVP_sha384();
        case crypto::Hash::sha512: return EVP_sha512();
    }
    return nullptr;
}

[[noreturn]] void fail(const char* what) {
    std::string detail = drain_errors();
    throw Error(ErrorKind::authentication,
                std::string("OpenSSL ") + what + " failed" + (detail.empty() ? "" : ": " + detail));
}

const EVP_MD* require_digest(crypto::Hash hash) {
    const EVP_MD* md = message_digest(hash);
    if (md == nullptr) fail("digest lookup");
    return md;
}

// Empty inputs may come with a null data(); libcrypto wants a valid pointer.
const unsigned char* data_or_empty(crypto::ByteView v) {
    static const unsigned char empty = 0;
    return v.data() != nullptr ? v.data() : &empty;
}

int int_length(std::size_t n, const char* what) {
    if (n > static_cast<std::size_t>(INT_MAX)) fail(what);
    return static_cast<int>(n);
}

class OpenSslCrypto final : public crypto::Provider {
public:
    std::string_view name() const noexcept override { return "openssl"; }

    crypto::Bytes digest(crypto::Hash hash, crypto::ByteView data) const override {
        ERR_clear_error();
        crypto::Bytes out(crypto::digest_size(hash));
        unsigned int len = 0;
        if (EVP_Digest(data_or_empty(data), data.size(), out.data(), &len, require_digest(hash), nullptr) != 1)
            fail("digest");
        out.resize(len);
        return out;
    }

    crypto::Bytes hmac(crypto::Hash hash, crypto::ByteView key, crypto::ByteView data) const override {
        ERR_clear_error();
        crypto::Bytes out(crypto::digest_size(hash));
        unsigned int len = 0;
        if (HMAC(require_digest(hash), data_or_empty(key), int_length(key.size(), "HMAC (key too long)"),
                 data_or_empty(data), data.size(), out.data(), &len) == nullptr)
            fail("HMAC");
        out.resize(len);
        return out;
    }

    crypto::Bytes pbkdf2_hmac(crypto::Hash hash, crypto::ByteView password, crypto::ByteView salt,
                              std::uint32_t iterations, std::size_t out_len) const override {
        ERR_clear_error();
        if (iterations == 0 || iterations > static_cast<std::uint32_t>(INT_MAX))
            throw Error(ErrorKind::authentication, "PBKDF2 iteration count " + std::to_string(iterations) +
                                                       " is out of range");
        crypto::Bytes out(out_len);
        if (out_len == 0) return out;
        if (PKCS5_PBKDF2_HMAC(reinterpret_cast<const char*>(data_or_empty(password)),
                              int_length(password.size(), "PBKDF2 (password too long)"), data_or_empty(salt),
                              int_length(salt.size(), "PBKDF2 (salt too long)"), static_cast<int>(iterations),
                              require_digest(hash), int_length(out_len, "PBKDF2 (output too long)"),
                              out.data()) != 1)
            fail("PBKDF2");
        return out;
    }

    void random(std::span<std::uint8_t> out) const override {
        ERR_clear_error();
        std::size_t done = 0;
        while (done < out.size()) {
            std::size_t chunk = out.size() - done;
            if (chunk > static_cast<std::size_t>(INT_MAX)) chunk = INT_MAX;
            if (RAND_bytes(out.data() + done, static_cast<int>(chunk)) != 1) fail("RAND_bytes");
            done += chunk;
        }
    }
};

}  // namespace

const crypto::Provider& crypto_provider() {
    static const OpenSslCrypto provider;
    return provider;
}

}  // namespace pgtls::tls::openssl
