// Client private keys for mbedTLS: PKCS#1, SEC1 and PKCS#8, PEM or DER, plain or encrypted
// (legacy DEK-Info PEM and PKCS#8 PBES2). mbedTLS 2.28 decrypts PBES2 only with DES/3DES,
// while OpenSSL 3 encrypts PKCS#8 with AES-256-CBC by default, so PBES2 + AES-CBC (any PBKDF2
// PRF from SHA-1 to SHA-512) is decrypted here with mbedTLS primitives and the result handed
// back to mbedTLS.
#pragma once

#include <string>
#include <string_view>

#include <mbedtls/pk.h>

namespace pgtls::tls::mbedtls {

// Parses `key` (PEM text or DER bytes) into `pk`, which must be initialised and empty.
// `label` names the key in messages (`private key file "/path"`). Throws pgtls::Error(config):
// encrypted key without a password, wrong password, unsupported encryption, malformed key.
// The password never appears in a message.
void load_private_key(mbedtls_pk_context& pk, std::string_view key, const std::string& password,
                      const std::string& label);

}  // namespace pgtls::tls::mbedtls
