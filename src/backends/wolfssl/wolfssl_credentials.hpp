// Loading a ContextConfig's certificates, CRLs and client key into a WOLFSSL_CTX.
#pragma once

#include <cstddef>

#include "tls/tls_backend.hpp"

struct WOLFSSL_CTX;

namespace pgtls::tls::wolfssl {

// Root certificates (file, PEM or the system store) and CRLs (file, PEM, directory, or CRLs
// inside the root file, as libpq's X509_STORE_load_locations takes them). Once any CRL source
// is given, every certificate of the chain needs a CRL from its issuer (OpenSSL's
// X509_V_FLAG_CRL_CHECK_ALL, which libpq sets). Throws Error(config) naming the file.
// Returns how many certificates of the root file were left out as expired or not yet valid.
std::size_t load_trust(WOLFSSL_CTX* ctx, const ContextConfig& config);

// Client certificate chain and private key (PKCS#1, SEC1, PKCS#8, maybe encrypted with
// key_password). False when no certificate is configured. Throws Error(config) naming the key
// on a wrong password or a key that does not match the certificate.
bool load_client_identity(WOLFSSL_CTX* ctx, const ContextConfig& config);

}  // namespace pgtls::tls::wolfssl
