#include "backends/mbedtls/mbedtls_crypto.hpp"

#include <memory>

#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>

#include "backends/mbedtls/mbedtls_errors.hpp"
#include "backends/mbedtls/mbedtls_random.hpp"
#include "pgtls/error.hpp"

namespace pgtls::tls::mbed {
namespace {

const mbedtls_md_info_t* md_info(crypto::Hash hash) {
    mbedtls_md_type_t type = MBEDTLS_MD_NONE;
    switch (hash) {
        case crypto::Hash::md5: type = MBEDTLS_MD_MD5; break;
        case crypto::Hash::sha1: type = MBEDTLS_MD_SHA1; break;
        case crypto::Hash::sha224: type = MBEDTLS_MD_SHA224; break;
        case crypto::Hash::sha256: type = MBEDTLS_MD_SHA256; break;
        case crypto::Hash::sha384: type = MBEDTLS_MD_SHA384; break;
        case crypto::Hash::sha512: type = MBEDTLS_MD_SHA512; break;
    }
    const mbedtls_md_info_t* info = mbedtls_md_info_from_type(type);
    if (info == nullptr) throw Error(ErrorKind::authentication, "mbedtls: digest algorithm not available in this build");
    return info;
}

[[noreturn]] void fail(const char* what, int rc) {
    throw Error(ErrorKind::authentication, std::string("mbedtls: ") + what + " failed: " + error_text(rc));
}

class MdContext {
public:
    MdContext() { mbedtls_md_init(&ctx_); }
    ~MdContext() { mbedtls_md_free(&ctx_); }
    MdContext(const MdContext&) = delete;
    MdContext& operator=(const MdContext&) = delete;
    mbedtls_md_context_t* get() { return &ctx_; }

private:
    mbedtls_md_context_t ctx_;
};

class MbedtlsCrypto final : public crypto::Provider {
public:
    std::string_view name() const noexcept override { return "mbedtls"; }

    crypto::Bytes digest(crypto::Hash hash, crypto::ByteView data) const override {
        crypto::Bytes out(crypto::digest_size(hash));
        if (const int rc = mbedtls_md(md_info(hash), data.data(), data.size(), out.data()); rc != 0) fail("digest", rc);
        return out;
    }

    crypto::Bytes hmac(crypto::Hash hash, crypto::ByteView key, crypto::ByteView data) const override {
        crypto::Bytes out(crypto::digest_size(hash));
        if (const int rc = mbedtls_md_hmac(md_info(hash), key.data(), key.size(), data.data(), data.size(), out.data());
            rc != 0)
            fail("HMAC", rc);
        return out;
    }

    crypto::Bytes pbkdf2_hmac(crypto::Hash hash, crypto::ByteView password, crypto::ByteView salt,
                              std::uint32_t iterations, std::size_t out_len) const override {
        if (iterations == 0) throw Error(ErrorKind::authentication, "mbedtls: PBKDF2 iteration count must be positive");
        if (out_len > 0xffffffffu) throw Error(ErrorKind::authentication, "mbedtls: PBKDF2 output too long");
        MdContext ctx;
        if (const int rc = mbedtls_md_setup(ctx.get(), md_info(hash), 1); rc != 0) fail("PBKDF2 setup", rc);
        crypto::Bytes out(out_len);
        const int rc = mbedtls_pkcs5_pbkdf2_hmac(ctx.get(), password.data(), password.size(), salt.data(), salt.size(),
                                                 iterations, static_cast<std::uint32_t>(out_len), out.data());
        if (rc != 0) fail("PBKDF2", rc);
        return out;
    }

    void random(std::span<std::uint8_t> out) const override {
        if (out.empty()) return;
        if (const int rc = drbg().fill(out.data(), out.size()); rc != 0) fail("random generation", rc);
    }

private:
    // Seeded on first use so merely linking the backend never touches the entropy source.
    static Random& drbg() {
        static Random instance;
        return instance;
    }
};

}  // namespace

const crypto::Provider& crypto_provider() {
    static const MbedtlsCrypto provider;
    return provider;
}

}  // namespace pgtls::tls::mbed
