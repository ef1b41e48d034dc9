// Hand-built DER for tests of what pgtls reads from certificates itself (src/tls/der_reader.hpp):
// one element, and the concatenation of several.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <vector>

namespace pgtls::test {

using DerBytes = std::vector<std::uint8_t>;

// Identifier, definite length (short form below 128 bytes, else two length bytes), contents.
inline DerBytes tlv(std::uint8_t tag, const DerBytes& value) {
    DerBytes out{tag};
    if (value.size() < 128) {
        out.push_back(static_cast<std::uint8_t>(value.size()));
    } else {
        out.push_back(0x82);
        out.push_back(static_cast<std::uint8_t>(value.size() >> 8));
        out.push_back(static_cast<std::uint8_t>(value.size()));
    }
    out.insert(out.end(), value.begin(), value.end());
    return out;
}

inline DerBytes cat(std::initializer_list<DerBytes> parts) {
    DerBytes out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

}  // namespace pgtls::test
