// libpq's trust rule for an sslrootcert file, for the backends whose library would take any
// certificate in it as a trust anchor (GnuTLS, mbedTLS, wolfSSL). libpq loads the file into an
// OpenSSL X509_STORE without X509_V_FLAG_PARTIAL_CHAIN: a chain is trusted only when it ends at
// a self-issued root of the store. An intermediate CA in the file is used on a path to such a
// root, never as an anchor by itself. Dropping every certificate of the file that does not
// lead to a self-issued root of the same file gives the other libraries that verdict while
// keeping the intermediates that OpenSSL would use.
#pragma once

#include <cstddef>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace pgtls::tls {

struct RootFileAnchors {
    std::string data;         // the file with unanchored certificates removed; else untouched
    std::size_t kept = 0;     // certificates left in `data`
    std::size_t dropped = 0;  // certificates removed
    std::size_t out_of_date = 0;  // certificates outside their validity period at `now` (removed)
    // The file held certificates and none leads to a root: load none, trust nothing.
    bool trusts_nothing() const noexcept { return kept == 0 && dropped > 0; }
};

// `data`: PEM (CERTIFICATE blocks are judged; every other block and all text between blocks
// is kept as it is, except that a dropped block which started mid-line leaves a line break in
// its place, so that no cut splices a new marker) or one DER certificate. Input that holds no
// certificate this reader can parse comes back unchanged with kept == dropped == 0, so the
// backend's own loader reports it as before. Certificates are linked by their raw issuer and subject names.
// With `now`, a certificate outside its validity period at that time is removed too, and so is
// whatever leads to a root only through it: for a library that never checks the dates of its
// trust anchors (wolfSSL), where OpenSSL refuses a path through an expired or not yet valid one.
RootFileAnchors keep_anchored_certificates(std::string_view data, std::optional<std::time_t> now = std::nullopt);

}  // namespace pgtls::tls
