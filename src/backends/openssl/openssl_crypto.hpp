#pragma once

#include "crypto/crypto.hpp"

namespace pgtls::tls::openssl {

// crypto::Provider over libcrypto's one-shot functions; stateless, so safe from any thread.
const crypto::Provider& crypto_provider();

}  // namespace pgtls::tls::openssl
