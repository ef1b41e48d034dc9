// Small helpers shared by the GnuTLS backend files: owning handles for GnuTLS objects,
// datum views and error text. Nothing here is visible outside backends/gnutls/.
#pragma once

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "pgtls/error.hpp"

namespace pgtls::tls::gnutls {

struct CredentialsDeleter {
    void operator()(gnutls_certificate_credentials_t c) const noexcept { gnutls_certificate_free_credentials(c); }
};
struct PriorityDeleter {
    void operator()(gnutls_priority_t p) const noexcept { gnutls_priority_deinit(p); }
};
struct CrtDeleter {
    void operator()(gnutls_x509_crt_t c) const noexcept { gnutls_x509_crt_deinit(c); }
};
struct CrlDeleter {
    void operator()(gnutls_x509_crl_t c) const noexcept { gnutls_x509_crl_deinit(c); }
};
struct X509KeyDeleter {
    void operator()(gnutls_x509_privkey_t k) const noexcept { gnutls_x509_privkey_deinit(k); }
};
struct PrivKeyDeleter {
    void operator()(gnutls_privkey_t k) const noexcept { gnutls_privkey_deinit(k); }
};

using Credentials = std::unique_ptr<std::remove_pointer_t<gnutls_certificate_credentials_t>, CredentialsDeleter>;
using Priority = std::unique_ptr<std::remove_pointer_t<gnutls_priority_t>, PriorityDeleter>;
using Crt = std::unique_ptr<std::remove_pointer_t<gnutls_x509_crt_t>, CrtDeleter>;
using Crl = std::unique_ptr<std::remove_pointer_t<gnutls_x509_crl_t>, CrlDeleter>;
using X509Key = std::unique_ptr<std::remove_pointer_t<gnutls_x509_privkey_t>, X509KeyDeleter>;
using PrivKey = std::unique_ptr<std::remove_pointer_t<gnutls_privkey_t>, PrivKeyDeleter>;

// A gnutls_datum_t allocated by GnuTLS (gnutls_free on destruction).
class OwnedDatum {
public:
    OwnedDatum() = default;
    OwnedDatum(const OwnedDatum&) = delete;
    OwnedDatum& operator=(const OwnedDatum&) = delete;
    ~OwnedDatum() { gnutls_free(d_.data); }
    gnutls_datum_t* operator&() noexcept { return &d_; }
    std::string str() const { return std::string(reinterpret_cast<const char*>(d_.data), d_.size); }
    const gnutls_datum_t& get() const noexcept { return d_; }

private:
    gnutls_datum_t d_{nullptr, 0};
};

// A non-owning datum over caller bytes. GnuTLS takes `unsigned char*` but does not write.
inline gnutls_datum_t datum_of(std::string_view s) noexcept {
    return {reinterpret_cast<unsigned char*>(const_cast<char*>(s.data())), static_cast<unsigned>(s.size())};
}

inline std::string error_text(int rc) { return gnutls_strerror(rc); }

inline Crt make_crt() {
    gnutls_x509_crt_t c = nullptr;
    if (int rc = gnutls_x509_crt_init(&c); rc < 0)
        throw Error(ErrorKind::tls, "GnuTLS: could not allocate a certificate: " + error_text(rc));
    return Crt(c);
}

inline Crl make_crl() {
    gnutls_x509_crl_t c = nullptr;
    if (int rc = gnutls_x509_crl_init(&c); rc < 0)
        throw Error(ErrorKind::tls, "GnuTLS: could not allocate a CRL: " + error_text(rc));
    return Crl(c);
}

}  // namespace pgtls::tls::gnutls
