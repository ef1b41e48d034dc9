// Loading TLS material into a ContextState: trust anchors, CRLs, client certificate + key.
// Error messages follow libpq's wording, name the file (or "PEM data") and never include
// a password or key bytes.
#pragma once

#include "backends/gnutls/gnutls_context.hpp"

namespace pgtls::tls::gnutls {

// Trust anchors from config.ca (file, PEM or the system store; PEM or one DER certificate).
// CRLs inside a PEM root file are loaded too, as libpq's X509_STORE_load_locations does.
// Throws Error(config).
void load_trust(ContextState& state, const ContextConfig& config);

// CRLs from config.crl (file or PEM; PEM or DER) and config.crl_dir. An unreadable CRL file or
// one without a CRL, or a crl_dir that is not a readable directory, is Error(config), as in the
// OpenSSL backend. The directory is read file by file, taking the entries named like OpenSSL's
// hashed links (8 hex digits, ".r", a number) — the set OpenSSL's lookup by issuer can find;
// an unreadable entry becomes a warning. Once a file or directory is named, every certificate
// in the verified chain needs a CRL from its issuer (OpenSSL's X509_V_FLAG_CRL_CHECK_ALL, set by
// libpq), enforced in gnutls_chain_verify.cpp.
void load_crls(ContextState& state, const ContextConfig& config);

// Client certificate chain + private key (PKCS#1, SEC1, PKCS#8; encrypted PKCS#8 or legacy
// DEK-Info PEM with config.key_password; DER accepted). Skipped when send_client_cert is false
// or no certificate is given (a key alone is ignored, as in the OpenSSL backend).
// Throws Error(config) naming the file for unreadable files, a wrong or missing password,
// or a key that does not match the certificate.
void load_client_certificate(ContextState& state, const ContextConfig& config);

}  // namespace pgtls::tls::gnutls
