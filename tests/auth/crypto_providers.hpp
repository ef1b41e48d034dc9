// Every crypto::Provider in this build: the builtin one plus each compiled backend's, so the
// same vectors run on all of them.
#pragma once

#include <string>
#include <vector>

#include "crypto/builtin_crypto.hpp"
#include "tls/tls_backend.hpp"

namespace pgtls::test {

struct NamedProvider {
    std::string name;
    const crypto::Provider* provider;
};

inline std::vector<NamedProvider> all_crypto_providers() {
    std::vector<NamedProvider> v{{"builtin", &tls::builtin_crypto()}};
    for (const tls::Backend* b : tls::available_backends()) v.push_back({std::string(b->name()), &b->crypto()});
    return v;
}

inline std::string provider_test_name(const testing::TestParamInfo<NamedProvider>& info) { return info.param.name; }

inline std::string to_hex(const std::vector<std::uint8_t>& b) {
    static constexpr char d[] = "0123456789abcdef";
    std::string s;
    for (auto v : b) {
        s += d[v >> 4];
        s += d[v & 15];
    }
    return s;
}

inline std::vector<std::uint8_t> bytes_of(std::string_view s) { return {s.begin(), s.end()}; }

}  // namespace pgtls::test
