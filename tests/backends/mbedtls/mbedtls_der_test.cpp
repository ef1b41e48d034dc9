// subjectAltName decoding from DER, including hostile (truncated, random) input.
#include <random>

#include <gtest/gtest.h>

#include "tls/subject_alt_names.hpp"
#include "mbedtls_test_env.hpp"

namespace pgtls::test {
namespace {

using tls::subject_alt_names_from_der;

std::vector<std::uint8_t> server_der() {
    const std::string s = read_text_file(pki("server.der"));
    return {s.begin(), s.end()};
}

TEST(MbedtlsSanParser, ReadsDnsAndIpEntries) {
    const auto san = subject_alt_names_from_der(server_der());
    EXPECT_EQ(san.dns, std::vector<std::string>{"localhost"});
    ASSERT_EQ(san.ip.size(), 2u);
    EXPECT_EQ(san.ip[0], (std::vector<std::uint8_t>{127, 0, 0, 1}));
    EXPECT_EQ(san.ip[1].size(), 16u);
}

TEST(MbedtlsSanParser, TruncatedCertificatesNeverCrashOrInvent) {
    const auto der = server_der();
    for (std::size_t n = 0; n < der.size(); ++n) {
        const auto san = subject_alt_names_from_der(std::span(der.data(), n));
        // The outer SEQUENCE length no longer fits, so nothing may be reported.
        EXPECT_TRUE(san.dns.empty() && san.ip.empty()) << n;
    }
}

TEST(MbedtlsSanParser, CorruptedBytesNeverCrash) {
    const auto der = server_der();
    std::mt19937 rng(42);
    for (int i = 0; i < 2000; ++i) {
        auto copy = der;
        for (int k = 0; k < 4; ++k) copy[rng() % copy.size()] = static_cast<std::uint8_t>(rng());
        const auto san = subject_alt_names_from_der(copy);
        EXPECT_LE(san.dns.size() + san.ip.size(), 3u);
    }
}

}  // namespace
}  // namespace pgtls::test
