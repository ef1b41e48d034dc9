// crypto::Provider on wolfCrypt: digests, HMAC, PBKDF2 and random bytes for SCRAM and MD5 auth.
#pragma once

#include "crypto/crypto.hpp"

namespace pgtls::tls::wolfssl {

const crypto::Provider& crypto_provider();

}  // namespace pgtls::tls::wolfssl
