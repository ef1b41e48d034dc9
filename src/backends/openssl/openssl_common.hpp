// Helpers shared by the OpenSSL backend's files: owning pointers for OpenSSL objects, the
// error-queue reader and file loading. Nothing here is visible outside backends/openssl/.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "pgtls/config.hpp"

namespace pgtls::tls::openssl {

template <auto Free>
struct Deleter {
    template <class T>
    void operator()(T* p) const noexcept { Free(p); }
};

using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using X509CrlPtr = std::unique_ptr<X509_CRL, Deleter<X509_CRL_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, Deleter<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, Deleter<SSL_free>>;

// Reason strings of every error queued on this thread, oldest first, joined with "; ";
// empties the queue. Returns "" when nothing was queued. `codes`, if given, receives the
// packed error codes.
std::string drain_errors(std::vector<unsigned long>* codes = nullptr);

// Reason text of one packed error code ("certificate verify failed"), never empty.
std::string reason_string(unsigned long code);

// "TLSv1.2" etc., "any" for unspecified (libpq's ssl_*_protocol_version spelling).
const char* version_name(TlsVersion v) noexcept;

// Whole file as bytes. Throws Error(config) "could not open <what> \"path\": <strerror>".
std::string read_file(const std::string& path, std::string_view what);

// Read-only memory BIO over `bytes` (which must outlive it).
BioPtr memory_bio(const std::string& bytes);

}  // namespace pgtls::tls::openssl
