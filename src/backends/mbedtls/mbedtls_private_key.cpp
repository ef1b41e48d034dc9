#include "backends/mbedtls/mbedtls_private_key.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include <mbedtls/cipher.h>
#include <mbedtls/md.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/pkcs5.h>

#include "tls/der_reader.hpp"
#include "backends/mbedtls/mbedtls_errors.hpp"
#include "crypto/crypto.hpp"
#include "pgtls/error.hpp"

namespace pgtls::tls::mbedtls {
namespace {

using Oid = std::span<const std::uint8_t>;

constexpr std::array<std::uint8_t, 9> oid_pbes2{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d};
constexpr std::array<std::uint8_t, 9> oid_pbkdf2{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0c};
constexpr std::array<std::uint8_t, 8> oid_hmac_prefix{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x00};
constexpr std::array<std::uint8_t, 8> oid_aes_prefix{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01};

// Zeroes its bytes on destruction: decrypted key material must not linger in freed memory.
struct SecretBuffer {
    std::vector<unsigned char> bytes;
    ~SecretBuffer() { crypto::secure_zero(bytes.data(), bytes.size()); }
};

std::optional<mbedtls_md_type_t> prf_from_oid(Oid oid) {
    if (oid.size() != oid_hmac_prefix.size() ||
        !std::equal(oid_hmac_prefix.begin(), oid_hmac_prefix.end() - 1, oid.begin()))
        return std::nullopt;
    switch (oid.back()) {
        case 0x07: return MBEDTLS_MD_SHA1;
        case 0x08: return MBEDTLS_MD_SHA224;
        case 0x09: return MBEDTLS_MD_SHA256;
        case 0x0a: return MBEDTLS_MD_SHA384;
        case 0x0b: return MBEDTLS_MD_SHA512;
        default: return std::nullopt;
    }
}

std::optional<mbedtls_cipher_type_t> aes_cbc_from_oid(Oid oid) {
    if (oid.size() != oid_aes_prefix.size() + 1 || !std::equal(oid_aes_prefix.begin(), oid_aes_prefix.end(), oid.begin()))
        return std::nullopt;
    switch (oid.back()) {
        case 0x02: return MBEDTLS_CIPHER_AES_128_CBC;
        case 0x16: return MBEDTLS_CIPHER_AES_192_CBC;
        case 0x2a: return MBEDTLS_CIPHER_AES_256_CBC;
        default: return std::nullopt;
    }
}

bool read_small_uint(std::span<const std::uint8_t> value, std::uint32_t& out) {
    if (value.empty() || (value[0] & 0x80)) return false;
    while (value.size() > 1 && value[0] == 0) value = value.subspan(1);
    if (value.size() > 4) return false;
    out = 0;
    for (std::uint8_t b : value) out = (out << 8) | b;
    return true;
}

struct Pbes2Aes {
    std::span<const std::uint8_t> salt;
    std::uint32_t iterations = 0;
    mbedtls_md_type_t prf = MBEDTLS_MD_SHA1;
    mbedtls_cipher_type_t cipher = MBEDTLS_CIPHER_NONE;
    std::span<const std::uint8_t> iv;
    std::span<const std::uint8_t> ciphertext;
};

// Recognises EncryptedPrivateKeyInfo with PBES2(PBKDF2, AES-CBC) (RFC 8018). nullopt for
// anything else, which is then left to mbedTLS.
std::optional<Pbes2Aes> parse_pbes2_aes(std::span<const std::uint8_t> der) {
    DerReader top(der);
    DerElement epki, alg, alg_oid, params, kdf, kdf_oid, kdf_params, enc, enc_oid, iv, data, salt, iter;
    if (!top.expect(der::sequence, epki)) return std::nullopt;
    DerReader e(epki.value);
    if (!e.expect(der::sequence, alg) || !e.expect(der::octet_string, data)) return std::nullopt;
    DerReader a(alg.value);
    if (!a.expect(der::oid, alg_oid) || !std::ranges::equal(alg_oid.value, oid_pbes2)) return std::nullopt;
    if (!a.expect(der::sequence, params)) return std::nullopt;
    DerReader p(params.value);
    if (!p.expect(der::sequence, kdf) || !p.expect(der::sequence, enc)) return std::nullopt;

    DerReader k(kdf.value);
    if (!k.expect(der::oid, kdf_oid) || !std::ranges::equal(kdf_oid.value, oid_pbkdf2)) return std::nullopt;
    if (!k.expect(der::sequence, kdf_params)) return std::nullopt;
    Pbes2Aes out;
    DerReader kp(kdf_params.value);
    if (!kp.expect(der::octet_string, salt) || !kp.expect(der::integer, iter)) return std::nullopt;
    if (!read_small_uint(iter.value, out.iterations) || out.iterations == 0) return std::nullopt;
    out.salt = salt.value;
    std::uint32_t key_length = 0;
    if (kp.peek_tag() == der::integer) {
        DerElement kl;
        if (!kp.next(kl) || !read_small_uint(kl.value, key_length)) return std::nullopt;
    }
    if (kp.peek_tag() == der::sequence) {
        DerElement prf, prf_oid;
        if (!kp.next(prf)) return std::nullopt;
        DerReader pr(prf.value);
        if (!pr.expect(der::oid, prf_oid)) return std::nullopt;
        auto md = prf_from_oid(prf_oid.value);
        if (!md) return std::nullopt;
        out.prf = *md;
    }

    DerReader en(enc.value);
    if (!en.expect(der::oid, enc_oid) || !en.expect(der::octet_string, iv)) return std::nullopt;
    auto cipher = aes_cbc_from_oid(enc_oid.value);
    if (!cipher || iv.value.size() != 16) return std::nullopt;
    out.cipher = *cipher;
    const mbedtls_cipher_info_t* info = mbedtls_cipher_info_from_type(out.cipher);
    if (info == nullptr || (key_length != 0 && key_length != info->key_bitlen / 8)) return std::nullopt;
    out.iv = iv.value;
    out.ciphertext = data.value;
    if (out.ciphertext.empty() || out.ciphertext.size() % 16 != 0) return std::nullopt;
    return out;
}

enum class DecryptResult { ok, wrong_password, failed };

DecryptResult decrypt_pbes2_aes(const Pbes2Aes& enc, const std::string& password, SecretBuffer& plain) {
    const mbedtls_cipher_info_t* cinfo = mbedtls_cipher_info_from_type(enc.cipher);
    const mbedtls_md_info_t* mdinfo = mbedtls_md_info_from_type(enc.prf);
    if (cinfo == nullptr || mdinfo == nullptr) return DecryptResult::failed;
    const std::size_t key_len = cinfo->key_bitlen / 8;

    SecretBuffer key;
    key.bytes.resize(key_len);
    mbedtls_md_context_t md;
    mbedtls_md_init(&md);
    int rc = mbedtls_md_setup(&md, mdinfo, 1);
    if (rc == 0)
        rc = mbedtls_pkcs5_pbkdf2_hmac(&md, reinterpret_cast<const unsigned char*>(password.data()), password.size(),
                                       enc.salt.data(), enc.salt.size(), enc.iterations,
                                       static_cast<std::uint32_t>(key_len), key.bytes.data());
    mbedtls_md_free(&md);
    if (rc != 0) return DecryptResult::failed;

    mbedtls_cipher_context_t cipher;
    mbedtls_cipher_init(&cipher);
    plain.bytes.resize(enc.ciphertext.size() + 16);
    std::size_t out_len = 0;
    rc = mbedtls_cipher_setup(&cipher, cinfo);
    if (rc == 0) rc = mbedtls_cipher_setkey(&cipher, key.bytes.data(), static_cast<int>(key_len * 8), MBEDTLS_DECRYPT);
    if (rc == 0) rc = mbedtls_cipher_set_padding_mode(&cipher, MBEDTLS_PADDING_PKCS7);
    if (rc == 0)
        rc = mbedtls_cipher_crypt(&cipher, enc.iv.data(), enc.iv.size(), enc.ciphertext.data(), enc.ciphertext.size(),
                                  plain.bytes.data(), &out_len);
    mbedtls_cipher_free(&cipher);
    if (rc == MBEDTLS_ERR_CIPHER_INVALID_PADDING) return DecryptResult::wrong_password;
    if (rc != 0) return DecryptResult::failed;
    plain.bytes.resize(out_len);
    return DecryptResult::ok;
}

// DER of an "ENCRYPTED PRIVATE KEY" PEM block, or the input itself when it is DER.
std::optional<std::vector<unsigned char>> encrypted_pkcs8_der(std::string_view key) {
    const bool pem = key.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string_view::npos;
    if (!pem) {
        if (key.empty() || static_cast<unsigned char>(key[0]) != 0x30) return std::nullopt;
        return std::vector<unsigned char>(key.begin(), key.end());
    }
    std::string text(key);  // NUL-terminated copy for mbedtls_pem_read_buffer
    mbedtls_pem_context ctx;
    mbedtls_pem_init(&ctx);
    std::size_t used = 0;
    const int rc = mbedtls_pem_read_buffer(&ctx, "-----BEGIN ENCRYPTED PRIVATE KEY-----",
                                           "-----END ENCRYPTED PRIVATE KEY-----",
                                           reinterpret_cast<const unsigned char*>(text.c_str()), nullptr, 0, &used);
    std::optional<std::vector<unsigned char>> out;
    if (rc == 0) out.emplace(ctx.buf, ctx.buf + ctx.buflen);
    mbedtls_pem_free(&ctx);
    return out;
}

bool is_password_error(int rc) {
    return rc == MBEDTLS_ERR_PK_PASSWORD_MISMATCH || rc == MBEDTLS_ERR_PK_PASSWORD_REQUIRED;
}

// MBEDTLS_ERR_PK_KEY_INVALID_FORMAT, alone or with the ASN.1 error beneath it added.
bool is_key_format_error(int rc) {
    return rc < 0 && ((-rc) & ~0x7F) == -MBEDTLS_ERR_PK_KEY_INVALID_FORMAT;
}

}  // namespace

void load_private_key(mbedtls_pk_context& pk, std::string_view key, const std::string& password,
                      const std::string& label) {
    const bool pem = key.find("-----BEGIN ") != std::string_view::npos;
    // mbedTLS recognises PEM only when the terminating NUL is part of the buffer length.
    std::string buffer(key);
    const std::size_t len = pem ? buffer.size() + 1 : buffer.size();
    const auto* data = reinterpret_cast<const unsigned char*>(buffer.c_str());
    const auto* pwd = reinterpret_cast<const unsigned char*>(password.data());

    int rc = mbedtls_pk_parse_key(&pk, data, len, password.empty() ? nullptr : pwd, password.size());
    crypto::secure_zero(buffer.data(), buffer.size());
    if (rc == 0) return;

    if (rc == MBEDTLS_ERR_PK_PASSWORD_REQUIRED)
        throw Error(ErrorKind::config, "could not load " + label +
                                           ": the key is encrypted and no password (sslpassword) was given");
    // A traditional encrypted PEM ("Proc-Type: 4,ENCRYPTED") has no integrity check: mbedTLS
    // judges the password by the first two decrypted bytes only (pem.c), so about one wrong
    // password in 500 passes and fails later as a malformed key. With a password given, any
    // failure to parse such a key is the password's.
    const bool legacy_encrypted = pem && key.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos;
    if (rc == MBEDTLS_ERR_PK_PASSWORD_MISMATCH || (legacy_encrypted && !password.empty()))
        throw Error(ErrorKind::config, "could not load " + label + ": wrong password (sslpassword) for the encrypted key");

    // PBES2 with AES: decrypt here, then let mbedTLS parse the plain PKCS#8.
    if (auto der = encrypted_pkcs8_der(key)) {
        SecretBuffer encrypted{std::move(*der)};
        if (auto enc = parse_pbes2_aes(encrypted.bytes)) {
            SecretBuffer plain;
            switch (decrypt_pbes2_aes(*enc, password, plain)) {
                case DecryptResult::ok: {
                    mbedtls_pk_free(&pk);
                    mbedtls_pk_init(&pk);
                    const int prc = mbedtls_pk_parse_key(&pk, plain.bytes.data(), plain.bytes.size(), nullptr, 0);
                    if (prc == 0) return;
                    // Padding happened to look valid but the plaintext is not a key: wrong password.
                    rc = MBEDTLS_ERR_PK_PASSWORD_MISMATCH;
                    break;
                }
                case DecryptResult::wrong_password: rc = MBEDTLS_ERR_PK_PASSWORD_MISMATCH; break;
                case DecryptResult::failed: break;
            }
            if (password.empty())
                throw Error(ErrorKind::config, "could not load " + label +
                                                   ": the key is encrypted and no password (sslpassword) was given");
            if (is_password_error(rc))
                throw Error(ErrorKind::config,
                            "could not load " + label + ": wrong password (sslpassword) for the encrypted key");
        }
    }
    // An encrypted PKCS#8 key that mbedTLS decrypts itself (PBES2 with DES or 3DES): the CBC
    // padding is the only check of the password, so about one wrong password in 256 decrypts
    // to garbage whose padding looks valid, and mbedTLS reports a malformed key. With a
    // password given, that is the password's (or a damaged file's).
    const bool pkcs8_encrypted = pem && key.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string_view::npos;
    if (pkcs8_encrypted && !password.empty() && is_key_format_error(rc))
        throw Error(ErrorKind::config, "could not load " + label +
                                           ": wrong password (sslpassword) for the encrypted key, or a damaged key");
    throw Error(ErrorKind::config, "could not load " + label + ": " + error_text(rc));
}

}  // namespace pgtls::tls::mbedtls
