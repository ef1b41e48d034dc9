// Portable crypto::Provider used when no TLS backend is compiled in (and as a reference the
// backends' providers are tested against). MD5, SHA-1, SHA-224/256/384/512 (FIPS 180-4,
// RFC 1321), HMAC (RFC 2104), PBKDF2 (RFC 8018) and the kernel CSPRNG (getrandom(2)).
//
// Written for correctness first; PBKDF2 precomputes the HMAC inner and outer states so each
// iteration costs two compression calls, like the libraries' own implementations.
#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "crypto/builtin_crypto.hpp"
#include "crypto/crypto.hpp"
#include "pgtls/error.hpp"

namespace pgtls::tls {
namespace {

using crypto::Bytes;
using crypto::ByteView;
using crypto::Hash;

constexpr std::uint32_t rotl32(std::uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }
constexpr std::uint32_t rotr32(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
constexpr std::uint64_t rotr64(std::uint64_t x, int n) { return (x >> n) | (x << (64 - n)); }

inline std::uint32_t load_be32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
inline std::uint32_t load_le32(const std::uint8_t* p) {
    return (std::uint32_t{p[3]} << 24) | (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[1]} << 8) | p[0];
}
inline std::uint64_t load_be64(const std::uint8_t* p) {
    return (std::uint64_t{load_be32(p)} << 32) | load_be32(p + 4);
}
inline void store_be32(std::uint8_t* p, std::uint32_t v) {
    p[0] = std::uint8_t(v >> 24); p[1] = std::uint8_t(v >> 16); p[2] = std::uint8_t(v >> 8); p[3] = std::uint8_t(v);
}
inline void store_le32(std::uint8_t* p, std::uint32_t v) {
    p[0] = std::uint8_t(v); p[1] = std::uint8_t(v >> 8); p[2] = std::uint8_t(v >> 16); p[3] = std::uint8_t(v >> 24);
}
inline void store_be64(std::uint8_t* p, std::uint64_t v) {
    store_be32(p, std::uint32_t(v >> 32));
    store_be32(p + 4, std::uint32_t(v));
}

// ---- compression functions -------------------------------------------------------------

void md5_compress(std::uint32_t s[4], const std::uint8_t* blk) {
    static constexpr std::uint32_t K[64] = {
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
        0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
        0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
        0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
        0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
        0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
        0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
        0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};
    static constexpr int R[64] = {7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                                  5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
                                  4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                                  6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};
    std::uint32_t m[16];
    for (int i = 0; i < 16; ++i) m[i] = load_le32(blk + 4 * i);
    std::uint32_t a = s[0], b = s[1], c = s[2], d = s[3];
    for (int i = 0; i < 64; ++i) {
        std::uint32_t f;
        int g;
        if (i < 16) { f = (b & c) | (~b & d); g = i; }
        else if (i < 32) { f = (d & b) | (~d & c); g = (5 * i + 1) & 15; }
        else if (i < 48) { f = b ^ c ^ d; g = (3 * i + 5) & 15; }
        else { f = c ^ (b | ~d); g = (7 * i) & 15; }
        std::uint32_t t = d;
        d = c;
        c = b;
        b = b + rotl32(a + f + K[i] + m[g], R[i]);
        a = t;
    }
    s[0] += a; s[1] += b; s[2] += c; s[3] += d;
}

void sha1_compress(std::uint32_t s[5], const std::uint8_t* blk) {
    std::uint32_t w[80];
    for (int i = 0; i < 16; ++i) w[i] = load_be32(blk + 4 * i);
    for (int i = 16; i < 80; ++i) w[i] = rotl32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    std::uint32_t a = s[0], b = s[1], c = s[2], d = s[3], e = s[4];
    for (int i = 0; i < 80; ++i) {
        std::uint32_t f, k;
        if (i < 20) { f = (b & c) | (~b & d); k = 0x5a827999; }
        else if (i < 40) { f = b ^ c ^ d; k = 0x6ed9eba1; }
        else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8f1bbcdc; }
        else { f = b ^ c ^ d; k = 0xca62c1d6; }
        std::uint32_t t = rotl32(a, 5) + f + e + k + w[i];
        e = d; d = c; c = rotl32(b, 30); b = a; a = t;
    }
    s[0] += a; s[1] += b; s[2] += c; s[3] += d; s[4] += e;
}

void sha256_compress(std::uint32_t s[8], const std::uint8_t* blk) {
    static constexpr std::uint32_t K[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
    std::uint32_t w[64];
    for (int i = 0; i < 16; ++i) w[i] = load_be32(blk + 4 * i);
    for (int i = 16; i < 64; ++i) {
        std::uint32_t s0 = rotr32(w[i - 15], 7) ^ rotr32(w[i - 15], 18) ^ (w[i - 15] >> 3);
        std::uint32_t s1 = rotr32(w[i - 2], 17) ^ rotr32(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    std::uint32_t a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
    for (int i = 0; i < 64; ++i) {
        std::uint32_t S1 = rotr32(e, 6) ^ rotr32(e, 11) ^ rotr32(e, 25);
        std::uint32_t ch = (e & f) ^ (~e & g);
        std::uint32_t t1 = h + S1 + ch + K[i] + w[i];
        std::uint32_t S0 = rotr32(a, 2) ^ rotr32(a, 13) ^ rotr32(a, 22);
        std::uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
        std::uint32_t t2 = S0 + maj;
        h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    s[0] += a; s[1] += b; s[2] += c; s[3] += d; s[4] += e; s[5] += f; s[6] += g; s[7] += h;
}

void sha512_compress(std::uint64_t s[8], const std::uint8_t* blk) {
    static constexpr std::uint64_t K[80] = {
        0x428a2f98d728ae22, 0x7137449123ef65cd, 0xb5c0fbcfec4d3b2f, 0xe9b5dba58189dbbc, 0x3956c25bf348b538,
        0x59f111f1b605d019, 0x923f82a4af194f9b, 0xab1c5ed5da6d8118, 0xd807aa98a3030242, 0x12835b0145706fbe,
        0x243185be4ee4b28c, 0x550c7dc3d5ffb4e2, 0x72be5d74f27b896f, 0x80deb1fe3b1696b1, 0x9bdc06a725c71235,
        0xc19bf174cf692694, 0xe49b69c19ef14ad2, 0xefbe4786384f25e3, 0x0fc19dc68b8cd5b5, 0x240ca1cc77ac9c65,
        0x2de92c6f592b0275, 0x4a7484aa6ea6e483, 0x5cb0a9dcbd41fbd4, 0x76f988da831153b5, 0x983e5152ee66dfab,
        0xa831c66d2db43210, 0xb00327c898fb213f, 0xbf597fc7beef0ee4, 0xc6e00bf33da88fc2, 0xd5a79147930aa725,
        0x06ca6351e003826f, 0x142929670a0e6e70, 0x27b70a8546d22ffc, 0x2e1b21385c26c926, 0x4d2c6dfc5ac42aed,
        0x53380d139d95b3df, 0x650a73548baf63de, 0x766a0abb3c77b2a8, 0x81c2c92e47edaee6, 0x92722c851482353b,
        0xa2bfe8a14cf10364, 0xa81a664bbc423001, 0xc24b8b70d0f89791, 0xc76c51a30654be30, 0xd192e819d6ef5218,
        0xd69906245565a910, 0xf40e35855771202a, 0x106aa07032bbd1b8, 0x19a4c116b8d2d0c8, 0x1e376c085141ab53,
        0x2748774cdf8eeb99, 0x34b0bcb5e19b48a8, 0x391c0cb3c5c95a63, 0x4ed8aa4ae3418acb, 0x5b9cca4f7763e373,
        0x682e6ff3d6b2b8a3, 0x748f82ee5defb2fc, 0x78a5636f43172f60, 0x84c87814a1f0ab72, 0x8cc702081a6439ec,
        0x90befffa23631e28, 0xa4506cebde82bde9, 0xbef9a3f7b2c67915, 0xc67178f2e372532b, 0xca273eceea26619c,
        0xd186b8c721c0c207, 0xeada7dd6cde0eb1e, 0xf57d4f7fee6ed178, 0x06f067aa72176fba, 0x0a637dc5a2c898a6,
        0x113f9804bef90dae, 0x1b710b35131c471b, 0x28db77f523047d84, 0x32caab7b40c72493, 0x3c9ebe0a15c9bebc,
        0x431d67c49c100d4c, 0x4cc5d4becb3e42b6, 0x597f299cfc657e2a, 0x5fcb6fab3ad6faec, 0x6c44198c4a475817};
    std::uint64_t w[80];
    for (int i = 0; i < 16; ++i) w[i] = load_be64(blk + 8 * i);
    for (int i = 16; i < 80; ++i) {
        std::uint64_t s0 = rotr64(w[i - 15], 1) ^ rotr64(w[i - 15], 8) ^ (w[i - 15] >> 7);
        std::uint64_t s1 = rotr64(w[i - 2], 19) ^ rotr64(w[i - 2], 61) ^ (w[i - 2] >> 6);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    std::uint64_t a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
    for (int i = 0; i < 80; ++i) {
        std::uint64_t S1 = rotr64(e, 14) ^ rotr64(e, 18) ^ rotr64(e, 41);
        std::uint64_t ch = (e & f) ^ (~e & g);
        std::uint64_t t1 = h + S1 + ch + K[i] + w[i];
        std::uint64_t S0 = rotr64(a, 28) ^ rotr64(a, 34) ^ rotr64(a, 39);
        std::uint64_t maj = (a & b) ^ (a & c) ^ (b & c);
        std::uint64_t t2 = S0 + maj;
        h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    s[0] += a; s[1] += b; s[2] += c; s[3] += d; s[4] += e; s[5] += f; s[6] += g; s[7] += h;
}

// ---- one incremental hash over any of the algorithms ------------------------------------

class Hasher {
public:
    explicit Hasher(Hash alg) : alg_(alg) { reset(); }
    ~Hasher() { crypto::secure_zero(this, sizeof(*this)); }
    Hasher(const Hasher&) = default;
    Hasher& operator=(const Hasher&) = default;

    std::size_t block_size() const { return alg_ == Hash::sha384 || alg_ == Hash::sha512 ? 128 : 64; }
    std::size_t out_size() const { return crypto::digest_size(alg_); }

    void reset() {
        buf_len_ = 0;
        total_ = 0;
        switch (alg_) {
            case Hash::md5: {
                static constexpr std::uint32_t iv[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
                std::memcpy(s32_, iv, sizeof iv);
                break;
            }
            case Hash::sha1: {
                static constexpr std::uint32_t iv[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
                std::memcpy(s32_, iv, sizeof iv);
                break;
            }
            case Hash::sha224: {
                static constexpr std::uint32_t iv[8] = {0xc1059ed8, 0x367cd507, 0x3070dd17, 0xf70e5939,
                                                        0xffc00b31, 0x68581511, 0x64f98fa7, 0xbefa4fa4};
                std::memcpy(s32_, iv, sizeof iv);
                break;
            }
            case Hash::sha256: {
                static constexpr std::uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                                        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
                std::memcpy(s32_, iv, sizeof iv);
                break;
            }
            case Hash::sha384: {
                static constexpr std::uint64_t iv[8] = {0xcbbb9d5dc1059ed8, 0x629a292a367cd507, 0x9159015a3070dd17,
                                                        0x152fecd8f70e5939, 0x67332667ffc00b31, 0x8eb44a8768581511,
                                                        0xdb0c2e0d64f98fa7, 0x47b5481dbefa4fa4};
                std::memcpy(s64_, iv, sizeof iv);
                break;
            }
            case Hash::sha512: {
                static constexpr std::uint64_t iv[8] = {0x6a09e667f3bcc908, 0xbb67ae8584caa73b, 0x3c6ef372fe94f82b,
                                                        0xa54ff53a5f1d36f1, 0x510e527fade682d1, 0x9b05688c2b3e6c1f,
                                                        0x1f83d9abfb41bd6b, 0x5be0cd19137e2179};
                std::memcpy(s64_, iv, sizeof iv);
                break;
            }
        }
    }

    void update(const std::uint8_t* p, std::size_t n) {
        const std::size_t bs = block_size();
        total_ += n;
        if (buf_len_ > 0) {
            std::size_t take = std::min(n, bs - buf_len_);
            std::memcpy(buf_ + buf_len_, p, take);
            buf_len_ += take;
            p += take;
            n -= take;
            if (buf_len_ < bs) return;
            compress(buf_);
            buf_len_ = 0;
        }
        while (n >= bs) {
            compress(p);
            p += bs;
            n -= bs;
        }
        if (n > 0) {
            std::memcpy(buf_, p, n);
            buf_len_ = n;
        }
    }
    void update(ByteView v) { update(v.data(), v.size()); }

    // Writes out_size() bytes. The hasher must be reset() before reuse.
    void finish(std::uint8_t* out) {
        const std::size_t bs = block_size();
        const std::size_t len_field = bs == 128 ? 16 : 8;
        const std::uint64_t bits = total_ * 8;
        buf_[buf_len_++] = 0x80;
        if (buf_len_ > bs - len_field) {
            std::memset(buf_ + buf_len_, 0, bs - buf_len_);
            compress(buf_);
            buf_len_ = 0;
        }
        std::memset(buf_ + buf_len_, 0, bs - buf_len_);
        if (alg_ == Hash::md5) {
            store_le32(buf_ + bs - 8, std::uint32_t(bits));
            store_le32(buf_ + bs - 4, std::uint32_t(bits >> 32));
        } else {
            store_be64(buf_ + bs - 8, bits);
            if (len_field == 16) store_be64(buf_ + bs - 16, total_ >> 61);
        }
        compress(buf_);
        write_state(out, out_size());
    }

    // Serializes the chaining value's first `n` bytes in the algorithm's byte order.
    void write_state(std::uint8_t* out, std::size_t n) const {
        std::uint8_t tmp[64];
        switch (alg_) {
            case Hash::md5:
                for (int i = 0; i < 4; ++i) store_le32(tmp + 4 * i, s32_[i]);
                break;
            case Hash::sha1:
            case Hash::sha224:
            case Hash::sha256:
                for (int i = 0; i < 8; ++i) store_be32(tmp + 4 * i, s32_[i]);
                break;
            case Hash::sha384:
            case Hash::sha512:
                for (int i = 0; i < 8; ++i) store_be64(tmp + 8 * i, s64_[i]);
                break;
        }
        std::memcpy(out, tmp, n);
        crypto::secure_zero(tmp, sizeof tmp);
    }

private:
    friend class Hmac;
    void compress(const std::uint8_t* blk) {
        switch (alg_) {
            case Hash::md5: md5_compress(s32_, blk); break;
            case Hash::sha1: sha1_compress(s32_, blk); break;
            case Hash::sha224:
            case Hash::sha256: sha256_compress(s32_, blk); break;
            case Hash::sha384:
            case Hash::sha512: sha512_compress(s64_, blk); break;
        }
    }

    Hash alg_;
    std::uint32_t s32_[8] = {};
    std::uint64_t s64_[8] = {};
    std::uint8_t buf_[128] = {};
    std::size_t buf_len_ = 0;
    std::uint64_t total_ = 0;  // bytes hashed so far
};

// HMAC with the keyed inner/outer states kept, so a message costs only the message's blocks.
class Hmac {
public:
    Hmac(Hash alg, ByteView key) : inner_(alg), outer_(alg) {
        const std::size_t bs = inner_.block_size();
        std::uint8_t k[128] = {};
        if (key.size() > bs) {
            Hasher h(alg);
            h.update(key);
            h.finish(k);
        } else if (!key.empty()) {
            std::memcpy(k, key.data(), key.size());
        }
        std::uint8_t pad[128];
        for (std::size_t i = 0; i < bs; ++i) pad[i] = k[i] ^ 0x36;
        inner_.update(pad, bs);
        for (std::size_t i = 0; i < bs; ++i) pad[i] = k[i] ^ 0x5c;
        outer_.update(pad, bs);
        crypto::secure_zero(k, sizeof k);
        crypto::secure_zero(pad, sizeof pad);
    }

    std::size_t out_size() const { return inner_.out_size(); }

    // out = HMAC(key, data); `out` may alias nothing in `data`'s buffer only after the call.
    void mac(const std::uint8_t* data, std::size_t n, std::uint8_t* out) const {
        std::uint8_t tmp[64];
        Hasher in = inner_;
        in.update(data, n);
        in.finish(tmp);
        Hasher o = outer_;
        o.update(tmp, out_size());
        o.finish(out);
        crypto::secure_zero(tmp, sizeof tmp);
    }

    // PBKDF2's inner loop: `count` times u = HMAC(key, u); t ^= u. Both HMAC halves hash one
    // block after the keyed pad (hlen + padding always fits one block), so each step is two
    // compression calls on a pre-padded block, with no buffering.
    void iterate(std::uint8_t* u, std::uint8_t* t, std::uint32_t count) const {
        const std::size_t bs = inner_.block_size();
        const std::size_t hlen = out_size();
        const Hash alg = inner_.alg_;
        std::uint8_t blk[128] = {};
        blk[hlen] = 0x80;
        const std::uint64_t bits = std::uint64_t(bs + hlen) * 8;
        if (alg == Hash::md5) {
            store_le32(blk + bs - 8, std::uint32_t(bits));
        } else {
            store_be64(blk + bs - 8, bits);
        }
        Hasher h = inner_;  // scratch whose chaining state is overwritten each step
        for (std::uint32_t n = 0; n < count; ++n) {
            std::memcpy(blk, u, hlen);
            for (const Hasher* half : {&inner_, &outer_}) {
                std::memcpy(h.s32_, half->s32_, sizeof h.s32_);
                std::memcpy(h.s64_, half->s64_, sizeof h.s64_);
                h.compress(blk);
                h.write_state(blk, hlen);
            }
            std::memcpy(u, blk, hlen);
            for (std::size_t j = 0; j < hlen; ++j) t[j] ^= u[j];
        }
        crypto::secure_zero(blk, sizeof blk);
    }

private:
    Hasher inner_;
    Hasher outer_;
};

class Builtin final : public crypto::Provider {
public:
    std::string_view name() const noexcept override { return "builtin"; }

    Bytes digest(Hash hash, ByteView data) const override {
        Hasher h(hash);
        h.update(data);
        Bytes out(h.out_size());
        h.finish(out.data());
        return out;
    }

    Bytes hmac(Hash hash, ByteView key, ByteView data) const override {
        Hmac m(hash, key);
        Bytes out(m.out_size());
        m.mac(data.data(), data.size(), out.data());
        return out;
    }

    Bytes pbkdf2_hmac(Hash hash, ByteView password, ByteView salt, std::uint32_t iterations,
                      std::size_t out_len) const override {
        if (iterations == 0) throw Error(ErrorKind::usage, "PBKDF2: iteration count must be positive");
        const Hmac prf(hash, password);
        const std::size_t hlen = prf.out_size();
        Bytes out(out_len);
        Bytes block_input(salt.begin(), salt.end());
        block_input.resize(salt.size() + 4);
        std::uint8_t u[64], t[64];
        std::size_t done = 0;
        for (std::uint32_t index = 1; done < out_len; ++index) {
            store_be32(block_input.data() + salt.size(), index);
            prf.mac(block_input.data(), block_input.size(), u);
            std::memcpy(t, u, hlen);
            prf.iterate(u, t, iterations - 1);
            std::size_t take = std::min(hlen, out_len - done);
            std::memcpy(out.data() + done, t, take);
            done += take;
        }
        crypto::secure_zero(u, sizeof u);
        crypto::secure_zero(t, sizeof t);
        return out;
    }

    void random(std::span<std::uint8_t> out) const override {
        std::size_t done = 0;
        while (done < out.size()) {
            ssize_t n = ::getrandom(out.data() + done, out.size() - done, 0);
            if (n < 0) {
                if (errno == EINTR) continue;
                throw Error(ErrorKind::authentication,
                            std::string("could not generate random bytes: getrandom: ") + std::strerror(errno));
            }
            done += static_cast<std::size_t>(n);
        }
    }
};

}  // namespace

const crypto::Provider& builtin_crypto() {
    static const Builtin b;
    return b;
}

}  // namespace pgtls::tls
