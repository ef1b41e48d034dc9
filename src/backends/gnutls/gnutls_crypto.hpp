// crypto::Provider over GnuTLS (gnutls_hash_fast, gnutls_hmac_fast, gnutls_pbkdf2, gnutls_rnd).
// Stateless, so one instance is shared by every thread.
#pragma once

#include "crypto/crypto.hpp"

namespace pgtls::tls::gnutls {

const crypto::Provider& gnutls_crypto();

}  // namespace pgtls::tls::gnutls
