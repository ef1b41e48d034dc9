#include "config/keywords.hpp"

#include "pgtls_gssapi_config.h"

#include <algorithm>
#include <array>
#include <string>
#include <vector>

namespace pgtls::config {

namespace {

constexpr KeywordInfo kw(std::string_view name, std::string_view env, KeywordUse use = KeywordUse::used) {
    return KeywordInfo{name, env, {}, false, false, use};
}
constexpr KeywordInfo kw_default(std::string_view name, std::string_view env, std::string_view def,
                                 KeywordUse use = KeywordUse::used) {
    return KeywordInfo{name, env, def, true, false, use};
}
constexpr KeywordInfo kw_secret(std::string_view name, std::string_view env, KeywordUse use = KeywordUse::used) {
    return KeywordInfo{name, env, {}, false, true, use};
}

// libpq 18's PQconninfoOptions (same names, environment variables and compiled defaults as a
// libpq built with SSL and without GSSAPI, which is what pgtls is), then pgtls's additions.
// sslkeylogfile has no environment variable in libpq; PGSSLKEYLOGFILE is pgtls's.
constexpr std::array kKeywords = {
    kw("service", "PGSERVICE"),
    kw("user", "PGUSER"),
    kw_secret("password", "PGPASSWORD"),
    kw("passfile", "PGPASSFILE"),
    kw_default("channel_binding", "PGCHANNELBINDING", "prefer"),
    kw("connect_timeout", "PGCONNECT_TIMEOUT"),
    kw("dbname", "PGDATABASE"),
    kw("host", "PGHOST"),
    kw("hostaddr", "PGHOSTADDR"),
    kw_default("port", "PGPORT", "5432"),
    kw("client_encoding", "PGCLIENTENCODING"),
    kw_default("options", "PGOPTIONS", ""),
    kw("application_name", "PGAPPNAME"),
    kw("fallback_application_name", ""),
    kw("keepalives", ""),
    kw("keepalives_idle", ""),
    kw("keepalives_interval", ""),
    kw("keepalives_count", ""),
    kw("tcp_user_timeout", ""),
    kw_default("sslmode", "PGSSLMODE", "prefer"),
    kw_default("sslnegotiation", "PGSSLNEGOTIATION", "postgres"),
    kw_default("sslcompression", "PGSSLCOMPRESSION", "0", KeywordUse::ignored),
    kw("sslcert", "PGSSLCERT"),
    kw("sslkey", "PGSSLKEY"),
    kw("sslcertmode", "PGSSLCERTMODE"),
    kw_secret("sslpassword", ""),
    kw("sslrootcert", "PGSSLROOTCERT"),
    kw("sslcrl", "PGSSLCRL"),
    kw("sslcrldir", "PGSSLCRLDIR"),
    kw_default("sslsni", "PGSSLSNI", "1"),
    kw("requirepeer", "PGREQUIREPEER", KeywordUse::restricted),
    kw("require_auth", "PGREQUIREAUTH"),
    kw("min_protocol_version", "PGMINPROTOCOLVERSION"),
    kw("max_protocol_version", "PGMAXPROTOCOLVERSION"),
    kw_default("ssl_min_protocol_version", "PGSSLMINPROTOCOLVERSION", "TLSv1.2"),
    kw("ssl_max_protocol_version", "PGSSLMAXPROTOCOLVERSION"),
    // libpq's default depends on its build, as pgtls's does (gssapi feature: prefer).
    kw_default("gssencmode", "PGGSSENCMODE", PGTLS_HAVE_GSSAPI ? "prefer" : "disable", KeywordUse::restricted),
    // Used by GSSAPI authentication (builds with the gssapi feature); parsed by every build.
    kw_default("krbsrvname", "PGKRBSRVNAME", "postgres"),
    kw("gsslib", "PGGSSLIB", KeywordUse::restricted),
    kw_default("gssdelegation", "PGGSSDELEGATION", "0", KeywordUse::restricted),
    kw("replication", "", KeywordUse::restricted),
    kw_default("target_session_attrs", "PGTARGETSESSIONATTRS", "any"),
    kw_default("load_balance_hosts", "PGLOADBALANCEHOSTS", "disable"),
    kw_secret("scram_client_key", "", KeywordUse::restricted),
    kw_secret("scram_server_key", "", KeywordUse::restricted),
    kw("oauth_issuer", "", KeywordUse::restricted),
    kw("oauth_client_id", "", KeywordUse::restricted),
    kw_secret("oauth_client_secret", "", KeywordUse::restricted),
    kw("oauth_scope", "", KeywordUse::restricted),
    kw("sslkeylogfile", "PGSSLKEYLOGFILE"),
    // pgtls: which TLS stack to use (openssl | gnutls | mbedtls | wolfssl); empty = the build's default.
    kw("sslbackend", "PGSSLBACKEND"),
    // pgtls: caps on what a server's replies can make a connection hold (Settings).
    kw_default("max_result_bytes", "", "1073741824"),
    kw_default("max_result_rows", "", "100000000"),
    kw_default("max_result_sets", "", "100000"),
    kw_default("max_notifications", "", "100000"),
    kw_default("notification_overflow", "", "error"),
    kw_default("max_parameter_status", "", "1000"),
};

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
        }
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

}  // namespace

std::span<const KeywordInfo> keywords() noexcept { return kKeywords; }

const KeywordInfo* find_keyword(std::string_view name) noexcept {
    for (const auto& k : kKeywords)
        if (k.name == name) return &k;
    return nullptr;
}

std::string_view suggest_keyword(std::string_view name) {
    if (name.empty() || name.size() > 64) return {};
    std::string lower(name);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); });
    std::string_view best;
    std::size_t best_distance = 3;  // farther than 2 edits is not a typo
    for (const auto& k : kKeywords) {
        std::size_t d = edit_distance(lower, k.name);
        if (d < best_distance) {
            best_distance = d;
            best = k.name;
        }
    }
    return best;
}

}  // namespace pgtls::config
