#include <cstring>

#include "crypto/crypto.hpp"

namespace pgtls::crypto {

bool constant_time_equal(ByteView a, ByteView b) noexcept {
    if (a.size() != b.size()) return false;
    volatile std::uint8_t acc = 0;
    for (std::size_t i = 0; i < a.size(); ++i) acc = acc | static_cast<std::uint8_t>(a[i] ^ b[i]);
    return acc == 0;
}

void secure_zero(void* p, std::size_t n) noexcept {
    volatile unsigned char* v = static_cast<volatile unsigned char*>(p);
    while (n--) *v++ = 0;
}

}  // namespace pgtls::crypto
