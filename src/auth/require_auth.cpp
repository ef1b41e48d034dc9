#include "auth/require_auth.hpp"

#include "pgtls/error.hpp"

namespace pgtls::auth {

RequireAuth RequireAuth::parse(std::string_view text) {
    RequireAuth r;
    if (text.empty()) return r;
    r.active_ = true;
    r.text_.assign(text);
    // Start from an empty set and add to it, unless the first element is negated.
    r.auth_required_ = true;
    r.allowed_ = 0;
    bool negated = false;
    bool none_seen = false;
    std::size_t pos = 0;
    for (bool first = true;; first = false) {
        const std::size_t comma = text.find(',', pos);
        const std::string_view part = text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
        std::string_view method = part;
        if (!method.empty() && method[0] == '!') {
            if (first) {
                r.auth_required_ = false;
                r.allowed_ = 0xffffffffu;
            } else if (!negated) {
                throw Error(ErrorKind::config, "negative require_auth method \"" + std::string(method) +
                                                   "\" cannot be mixed with non-negative methods");
            }
            negated = true;
            method.remove_prefix(1);
        } else if (negated) {
            throw Error(ErrorKind::config, "require_auth method \"" + std::string(method) +
                                               "\" cannot be mixed with negative methods");
        }

        std::uint32_t bits = 0;
        if (method == "password") {
            bits = 1u << auth_req_password;
        } else if (method == "md5") {
            bits = 1u << auth_req_md5;
        } else if (method == "gss") {
            bits = (1u << auth_req_gss) | (1u << auth_req_gss_cont);
        } else if (method == "sspi") {
            bits = (1u << auth_req_sspi) | (1u << auth_req_gss_cont);
        } else if (method == "scram-sha-256") {
            bits = (1u << auth_req_sasl) | (1u << auth_req_sasl_cont) | (1u << auth_req_sasl_fin);
        } else if (method == "none") {
            // libpq lets "none" repeat silently; a repeated element is a likely typo in a
            // security setting, so pgtls refuses it like any other duplicate.
            if (none_seen)
                throw Error(ErrorKind::config, "require_auth method \"" + std::string(part) + "\" is specified more than once");
            none_seen = true;
            r.auth_required_ = negated;
        } else {
            throw Error(ErrorKind::config, "invalid require_auth value: \"" + std::string(method) +
                                               "\" (allowed: password, md5, gss, sspi, scram-sha-256, none, each "
                                               "optionally negated with '!')");
        }

        if (bits != 0) {
            const bool duplicate = negated ? (r.allowed_ & bits) == 0 : (r.allowed_ & bits) == bits;
            if (duplicate)
                throw Error(ErrorKind::config, "require_auth method \"" + std::string(part) + "\" is specified more than once");
            if (negated)
                r.allowed_ &= ~bits;
            else
                r.allowed_ |= bits;
        }

        if (comma == std::string_view::npos) break;
        pos = comma + 1;
    }
    return r;
}

bool RequireAuth::allows(std::uint32_t code) const noexcept {
    if (!active_) return true;
    if (code > auth_req_max) return false;
    return (allowed_ & (1u << code)) != 0;
}

}  // namespace pgtls::auth
