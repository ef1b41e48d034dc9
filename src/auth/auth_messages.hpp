// Frontend messages of the authentication exchange (protocol "Message Formats"), all of type
// 'p': PasswordMessage, SASLInitialResponse, SASLResponse. Each appends the whole message
// (type byte, Int32 length including itself, payload) to `out`.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/crypto.hpp"

namespace pgtls::auth {

// PasswordMessage: the (cleartext or MD5-hashed) password as a NUL-terminated string.
void append_password_message(std::string& out, std::string_view password);
// SASLInitialResponse: mechanism name (NUL-terminated), Int32 length of the data, the data.
void append_sasl_initial_response(std::string& out, std::string_view mechanism, std::string_view data);
// SASLResponse: the data, nothing else.
void append_sasl_response(std::string& out, std::string_view data);

// libpq's pg_md5_encrypt twice: "md5" + hex(md5(hex(md5(password + user)) + salt)).
std::string md5_password(const crypto::Provider& crypto, std::string_view password, std::string_view user,
                         const std::array<std::uint8_t, 4>& salt);

}  // namespace pgtls::auth
