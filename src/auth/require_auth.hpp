// The require_auth connection option with libpq 16 semantics (fe-connect.c,
// pqConnectOptions2): a comma-separated list of password, md5, gss, sspi, scram-sha-256 and
// none, or of the same each prefixed with '!'. Elements are taken verbatim (no whitespace
// trimming); mixing negated and plain elements, unknown names and duplicates are errors.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pgtls::auth {

// AuthenticationRequest codes of the protocol (the Int32 after 'R').
enum AuthRequest : std::uint32_t {
    auth_req_ok = 0,
    auth_req_krb4 = 1,
    auth_req_krb5 = 2,
    auth_req_password = 3,
    auth_req_crypt = 4,
    auth_req_md5 = 5,
    auth_req_scm_creds = 6,
    auth_req_gss = 7,
    auth_req_gss_cont = 8,
    auth_req_sspi = 9,
    auth_req_sasl = 10,
    auth_req_sasl_cont = 11,
    auth_req_sasl_fin = 12,
    auth_req_max = auth_req_sasl_fin,
};

class RequireAuth {
public:
    RequireAuth() = default;  // no requirement: anything goes
    // Throws Error(config) naming the offending element, with libpq's wording.
    static RequireAuth parse(std::string_view text);

    bool active() const noexcept { return active_; }
    const std::string& text() const noexcept { return text_; }
    // False when the list forbids the server's request `code` (only meaningful when active()).
    bool allows(std::uint32_t code) const noexcept;
    // True unless "none" is allowed: the server must then complete an authentication exchange.
    bool auth_required() const noexcept { return auth_required_; }

private:
    bool active_ = false;
    bool auth_required_ = false;
    std::uint32_t allowed_ = 0xffffffffu;  // bit per AuthRequest code
    std::string text_;
};

}  // namespace pgtls::auth
