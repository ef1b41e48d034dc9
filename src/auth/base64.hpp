// Base64 (RFC 4648, standard alphabet, '=' padding) for SCRAM attributes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "crypto/crypto.hpp"

namespace pgtls::auth {

std::string base64_encode(crypto::ByteView data);

// Strict: length a multiple of 4, only alphabet characters, padding only at the end (at most
// two '='), no whitespace, unused trailing bits zero. nullopt when `text` breaks any rule.
std::optional<crypto::Bytes> base64_decode(std::string_view text);

}  // namespace pgtls::auth
