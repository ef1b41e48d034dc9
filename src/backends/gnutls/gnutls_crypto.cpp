#include "backends/gnutls/gnutls_crypto.hpp"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include <string>

#include "pgtls/error.hpp"

namespace pgtls::tls::gnutls {
namespace {

gnutls_digest_algorithm_t digest_algorithm(crypto::Hash h) {
    switch (h) {
        case crypto::Hash::md5: return GNUTLS_DIG_MD5;
        case crypto::Hash::sha1: return GNUTLS_DIG_SHA1;
        case crypto::Hash::sha224: return GNUTLS_DIG_SHA224;
        case crypto::Hash::sha256: return GNUTLS_DIG_SHA256;
        case crypto::Hash::sha384: return GNUTLS_DIG_SHA384;
        case crypto::Hash::sha512: return GNUTLS_DIG_SHA512;
    }
    return GNUTLS_DIG_UNKNOWN;
}

gnutls_mac_algorithm_t mac_algorithm(crypto::Hash h) {
    switch (h) {
        case crypto::Hash::md5: return GNUTLS_MAC_MD5;
        case crypto::Hash::sha1: return GNUTLS_MAC_SHA1;
        case crypto::Hash::sha224: return GNUTLS_MAC_SHA224;
        case crypto::Hash::sha256: return GNUTLS_MAC_SHA256;
        case crypto::Hash::sha384: return GNUTLS_MAC_SHA384;
        case crypto::Hash::sha512: return GNUTLS_MAC_SHA512;
    }
    return GNUTLS_MAC_UNKNOWN;
}

[[noreturn]] void fail(const char* what, int rc) {
    throw Error(ErrorKind::authentication, std::string("GnuTLS ") + what + " failed: " + gnutls_strerror(rc));
}

// GnuTLS dereferences the pointer of a zero-length buffer in some paths; give it a real one.
const void* nonnull(crypto::ByteView v) noexcept {
    static const std::uint8_t empty = 0;
    return v.empty() ? static_cast<const void*>(&empty) : static_cast<const void*>(v.data());
}

class GnutlsCrypto final : public crypto::Provider {
public:
    std::string_view name() const noexcept override { return "gnutls"; }

    crypto::Bytes digest(crypto::Hash hash, crypto::ByteView data) const override {
        crypto::Bytes out(crypto::digest_size(hash));
        if (int rc = gnutls_hash_fast(digest_algorithm(hash), nonnull(data), data.size(), out.data()); rc < 0)
            fail("hash", rc);
        return out;
    }

    crypto::Bytes hmac(crypto::Hash hash, crypto::ByteView key, crypto::ByteView data) const override {
        crypto::Bytes out(crypto::digest_size(hash));
        if (int rc = gnutls_hmac_fast(mac_algorithm(hash), nonnull(key), key.size(), nonnull(data), data.size(),
                                      out.data());
            rc < 0)
            fail("HMAC", rc);
        return out;
    }

    crypto::Bytes pbkdf2_hmac(crypto::Hash hash, crypto::ByteView password, crypto::ByteView salt,
                              std::uint32_t iterations, std::size_t out_len) const override {
        if (iterations == 0)
            throw Error(ErrorKind::authentication, "PBKDF2: iteration count must be at least 1");
        crypto::Bytes out(out_len);
        if (out_len == 0) return out;
        gnutls_datum_t key{static_cast<unsigned char*>(const_cast<void*>(nonnull(password))),
                           static_cast<unsigned>(password.size())};
        gnutls_datum_t salt_d{static_cast<unsigned char*>(const_cast<void*>(nonnull(salt))),
                              static_cast<unsigned>(salt.size())};
        if (int rc = gnutls_pbkdf2(mac_algorithm(hash), &key, &salt_d, iterations, out.data(), out.size()); rc < 0)
            fail("PBKDF2", rc);
        return out;
    }

    void random(std::span<std::uint8_t> out) const override {
        if (out.empty()) return;
        if (int rc = gnutls_rnd(GNUTLS_RND_KEY, out.data(), out.size()); rc < 0) fail("random generator", rc);
    }
};

}  // namespace

const crypto::Provider& gnutls_crypto() {
    static const GnutlsCrypto provider;
    return provider;
}

}  // namespace pgtls::tls::gnutls
