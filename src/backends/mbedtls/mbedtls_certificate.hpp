// Peer-certificate facts for the tls layer: the names libpq's host-name check needs and the
// signature hash for channel binding, extracted from a parsed mbedTLS certificate.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <mbedtls/x509_crt.h>

#include "tls/subject_alt_names.hpp"
#include "tls/tls_backend.hpp"

namespace pgtls::tls::mbedtls {

PeerCertificate describe_certificate(const mbedtls_x509_crt& crt);

}  // namespace pgtls::tls::mbedtls
