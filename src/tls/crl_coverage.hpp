// The CRL-coverage rule every backend applies once CRL checking is on. libpq sets OpenSSL's
// X509_V_FLAG_CRL_CHECK_ALL when sslcrl or sslcrldir is given: each certificate on the
// verified path from the server's leaf to the trust anchor (the anchor included) needs a CRL
// from its issuer, or verification fails. Stacks that only check the CRLs they happen to have
// (GnuTLS, mbedTLS) enforce it with these pieces, so the verdict and its text are the same on
// every backend.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pgtls::tls {

// The issuers of the CRLs a context loaded, as the DER bytes of their issuer Name (compared
// byte for byte, as OpenSSL's lookup by issuer hash then Name does for well-formed CRLs).
class CrlIssuers {
public:
    void add(std::span<const std::uint8_t> raw_issuer_name);
    // True when a loaded CRL was issued by `raw_issuer_name`, i.e. the certificate whose
    // issuer this is is covered.
    bool covers(std::span<const std::uint8_t> raw_issuer_name) const noexcept;
    bool empty() const noexcept { return names_.empty(); }

private:
    std::vector<std::vector<std::uint8_t>> names_;
};

// The verification failure reason for a certificate of the path that has no CRL from its
// issuer; `issuer_text` is the issuer's DN as the backend prints it:
//   unable to get certificate CRL (no CRL from issuer "ISSUER")
std::string missing_crl_reason(std::string_view issuer_text);

}  // namespace pgtls::tls
