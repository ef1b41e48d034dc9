#include "crypto/pbkdf2_cache.hpp"

#include <algorithm>

namespace pgtls::crypto {

namespace {
bool same(const Bytes& a, ByteView b) noexcept { return a.size() == b.size() && constant_time_equal(a, b); }
}  // namespace

Pbkdf2CachingProvider::Pbkdf2CachingProvider(const Provider& base, std::size_t capacity)
    : base_(base), capacity_(std::max<std::size_t>(capacity, 1)) {}

Pbkdf2CachingProvider::~Pbkdf2CachingProvider() {
    for (auto& e : entries_) wipe(e);
}

void Pbkdf2CachingProvider::wipe(Entry& e) noexcept {
    secure_zero(e.password.data(), e.password.size());
    secure_zero(e.derived.data(), e.derived.size());
}

Bytes Pbkdf2CachingProvider::pbkdf2_hmac(Hash hash, ByteView password, ByteView salt, std::uint32_t iterations,
                                         std::size_t out_len) const {
    {
        std::lock_guard lk(m_);
        for (auto it = entries_.begin(); it != entries_.end(); ++it) {
            if (it->hash == hash && it->iterations == iterations && it->out_len == out_len && same(it->salt, salt) &&
                same(it->password, password)) {
                entries_.splice(entries_.begin(), entries_, it);
                ++hits_;
                return it->derived;
            }
        }
        ++misses_;
    }
    Bytes derived = base_.pbkdf2_hmac(hash, password, salt, iterations, out_len);
    Entry e{hash, Bytes(password.begin(), password.end()), Bytes(salt.begin(), salt.end()), iterations, out_len, derived};
    std::lock_guard lk(m_);
    entries_.push_front(std::move(e));
    while (entries_.size() > capacity_) {
        wipe(entries_.back());
        entries_.pop_back();
    }
    return derived;
}

std::uint64_t Pbkdf2CachingProvider::hits() const {
    std::lock_guard lk(m_);
    return hits_;
}

std::uint64_t Pbkdf2CachingProvider::misses() const {
    std::lock_guard lk(m_);
    return misses_;
}

}  // namespace pgtls::crypto
