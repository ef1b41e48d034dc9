#include "tls/crl_coverage.hpp"

#include <algorithm>

namespace pgtls::tls {

void CrlIssuers::add(std::span<const std::uint8_t> raw_issuer_name) {
    names_.emplace_back(raw_issuer_name.begin(), raw_issuer_name.end());
}

bool CrlIssuers::covers(std::span<const std::uint8_t> raw_issuer_name) const noexcept {
    return std::any_of(names_.begin(), names_.end(), [&](const std::vector<std::uint8_t>& name) {
        return std::equal(name.begin(), name.end(), raw_issuer_name.begin(), raw_issuer_name.end());
    });
}

std::string missing_crl_reason(std::string_view issuer_text) {
    return "unable to get certificate CRL (no CRL from issuer \"" + std::string(issuer_text) + "\")";
}

}  // namespace pgtls::tls
