// crypto::Pbkdf2CachingProvider (the pool's SCRAM key cache): a repeated (hash, password,
// salt, iterations, length) is served from the cache, anything different is derived anew,
// the least recently used entry goes first, and the rest is forwarded untouched.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "crypto/pbkdf2_cache.hpp"

namespace pgtls::test {
namespace {

using crypto::Bytes;
using crypto::ByteView;
using crypto::Hash;

// Derives a fake key from its inputs and counts the calls.
class CountingProvider final : public crypto::Provider {
public:
    mutable std::atomic<int> pbkdf2_calls{0}, other_calls{0};
    std::string_view name() const noexcept override { return "counting"; }
    Bytes digest(Hash, ByteView data) const override {
        ++other_calls;
        return Bytes(data.begin(), data.end());
    }
    Bytes hmac(Hash, ByteView, ByteView data) const override {
        ++other_calls;
        return Bytes(data.begin(), data.end());
    }
    Bytes pbkdf2_hmac(Hash, ByteView password, ByteView salt, std::uint32_t iterations, std::size_t out_len) const override {
        ++pbkdf2_calls;
        Bytes out(out_len, std::uint8_t(iterations));
        for (std::size_t i = 0; i < out_len; ++i) {
            if (!password.empty()) out[i] ^= password[i % password.size()];
            if (!salt.empty()) out[i] += salt[i % salt.size()];
        }
        return out;
    }
    void random(std::span<std::uint8_t> out) const override {
        ++other_calls;
        for (auto& b : out) b = 7;
    }
};

Bytes derive(const crypto::Provider& p, std::string_view pw, std::string_view salt, std::uint32_t it = 4096,
             std::size_t len = 32) {
    return p.pbkdf2_hmac(Hash::sha256, crypto::as_bytes(pw), crypto::as_bytes(salt), it, len);
}

TEST(Pbkdf2Cache, RepeatedDerivationIsServedFromTheCache) {
    CountingProvider base;
    crypto::Pbkdf2CachingProvider cache(base);
    const Bytes first = derive(cache, "secret", "salt");
    EXPECT_EQ(derive(cache, "secret", "salt"), first);
    EXPECT_EQ(derive(cache, "secret", "salt"), derive(base, "secret", "salt"));
    EXPECT_EQ(base.pbkdf2_calls, 2);  // one through the cache, one direct
    EXPECT_EQ(cache.hits(), 2u);
    EXPECT_EQ(cache.misses(), 1u);
}

TEST(Pbkdf2Cache, AnyDifferentInputIsDerivedAnew) {
    CountingProvider base;
    crypto::Pbkdf2CachingProvider cache(base);
    derive(cache, "secret", "salt");
    derive(cache, "secret2", "salt");
    derive(cache, "secret", "salt2");
    derive(cache, "secret", "salt", 4097);
    derive(cache, "secret", "salt", 4096, 64);
    EXPECT_EQ(base.pbkdf2_calls, 5);
    EXPECT_EQ(cache.hits(), 0u);
}

TEST(Pbkdf2Cache, LeastRecentlyUsedEntryIsDroppedFirst) {
    CountingProvider base;
    crypto::Pbkdf2CachingProvider cache(base, 2);
    derive(cache, "a", "s");
    derive(cache, "b", "s");
    derive(cache, "a", "s");  // hit; "b" is now the oldest
    derive(cache, "c", "s");  // evicts "b"
    EXPECT_EQ(base.pbkdf2_calls, 3);
    derive(cache, "a", "s");
    EXPECT_EQ(base.pbkdf2_calls, 3);
    derive(cache, "b", "s");
    EXPECT_EQ(base.pbkdf2_calls, 4);
}

TEST(Pbkdf2Cache, EverythingElseIsForwarded) {
    CountingProvider base;
    crypto::Pbkdf2CachingProvider cache(base);
    EXPECT_EQ(cache.name(), "counting");
    cache.digest(Hash::sha256, crypto::as_bytes("x"));
    cache.hmac(Hash::sha256, crypto::as_bytes("k"), crypto::as_bytes("x"));
    std::uint8_t r[4];
    cache.random(r);
    EXPECT_EQ(base.other_calls, 3);
    EXPECT_EQ(r[0], 7);
}

TEST(Pbkdf2Cache, ConcurrentCallersGetTheSameKey) {
    CountingProvider base;
    crypto::Pbkdf2CachingProvider cache(base);
    const Bytes want = derive(base, "secret", "salt");
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 200; ++i)
                if (derive(cache, "secret", "salt") != want) ++wrong;
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(wrong, 0);
    EXPECT_EQ(cache.hits() + cache.misses(), 1600u);
    EXPECT_LE(cache.misses(), 8u);
}

}  // namespace
}  // namespace pgtls::test
