// A crypto::Provider that remembers PBKDF2 results, so connections that repeat SCRAM with the
// same (password, salt, iterations) — a pool reconnecting as the same user to the same server —
// skip the 4096 (or more) HMAC rounds that make up ~90 % of a connection's client CPU.
//
// Everything but pbkdf2_hmac is forwarded to the wrapped provider. The cache holds at most
// `capacity` entries (least recently used dropped first); keys and derived keys are wiped on
// eviction and destruction. Thread-safe (the derivation itself runs unlocked).
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>

#include "crypto/crypto.hpp"

namespace pgtls::crypto {

class Pbkdf2CachingProvider final : public Provider {
public:
    explicit Pbkdf2CachingProvider(const Provider& base, std::size_t capacity = 8);
    ~Pbkdf2CachingProvider() override;
    Pbkdf2CachingProvider(const Pbkdf2CachingProvider&) = delete;
    Pbkdf2CachingProvider& operator=(const Pbkdf2CachingProvider&) = delete;

    const Provider& base() const noexcept { return base_; }
    std::string_view name() const noexcept override { return base_.name(); }
    Bytes digest(Hash hash, ByteView data) const override { return base_.digest(hash, data); }
    Bytes hmac(Hash hash, ByteView key, ByteView data) const override { return base_.hmac(hash, key, data); }
    Bytes pbkdf2_hmac(Hash hash, ByteView password, ByteView salt, std::uint32_t iterations,
                      std::size_t out_len) const override;
    void random(std::span<std::uint8_t> out) const override { base_.random(out); }

    // Derivations served from the cache / computed, since construction.
    std::uint64_t hits() const;
    std::uint64_t misses() const;

private:
    struct Entry {
        Hash hash;
        Bytes password, salt;
        std::uint32_t iterations;
        std::size_t out_len;
        Bytes derived;
    };
    static void wipe(Entry& e) noexcept;

    const Provider& base_;
    const std::size_t capacity_;
    mutable std::mutex m_;
    mutable std::list<Entry> entries_;  // front = most recently used
    mutable std::uint64_t hits_ = 0, misses_ = 0;
};

}  // namespace pgtls::crypto
