// The backend kit in core/tls: pieces every backend shares, tested once without a TLS stack.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>

#include "core/tls/key_log_file.hpp"

namespace pgtls::conformance {
namespace {

TEST(KitKeyLogLine, NssFormatInLowercaseHex) {
    const std::array<std::uint8_t, 3> random = {0x00, 0xab, 0x0f};
    const std::array<std::uint8_t, 2> secret = {0xff, 0x10};
    EXPECT_EQ(tls::key_log_line("CLIENT_RANDOM", random, secret), "CLIENT_RANDOM 00ab0f ff10");
}

TEST(KitKeyLogLine, EmptySecretKeepsBothSeparators) {
    const std::array<std::uint8_t, 1> random = {0x01};
    EXPECT_EQ(tls::key_log_line("SERVER_TRAFFIC_SECRET_0", random, {}), "SERVER_TRAFFIC_SECRET_0 01 ");
}

}  // namespace
}  // namespace pgtls::conformance
