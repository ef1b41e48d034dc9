// The portable crypto::Provider (src/crypto/builtin_crypto.cpp): used when no TLS backend is
// compiled in, and by tests as the reference the backends' providers are compared with.
#pragma once

#include "crypto/crypto.hpp"

namespace pgtls::tls {
const crypto::Provider& builtin_crypto();
}  // namespace pgtls::tls
