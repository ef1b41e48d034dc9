// Names of the configuration enums (libpq's spellings) and the `pgtls conninfo` report.
#include <algorithm>
#include <cstdio>

#include "config/keywords.hpp"
#include "pgtls/config.hpp"

#include "config/conninfo_parser.hpp"

namespace pgtls {

const char* to_string(SslMode m) noexcept {
    switch (m) {
        case SslMode::disable: return "disable";
        case SslMode::allow: return "allow";
        case SslMode::prefer: return "prefer";
        case SslMode::require: return "require";
        case SslMode::verify_ca: return "verify-ca";
        case SslMode::verify_full: return "verify-full";
        case SslMode::no_verify: return "no-verify";
    }
    return "?";
}

const char* to_string(SslNegotiation n) noexcept {
    switch (n) {
        case SslNegotiation::postgres: return "postgres";
        case SslNegotiation::direct: return "direct";
    }
    return "?";
}

const char* to_string(GssEncMode m) noexcept {
    switch (m) {
        case GssEncMode::disable: return "disable";
        case GssEncMode::prefer: return "prefer";
        case GssEncMode::require: return "require";
    }
    return "?";
}

const char* to_string(SslCertMode m) noexcept {
    switch (m) {
        case SslCertMode::disable: return "disable";
        case SslCertMode::allow: return "allow";
        case SslCertMode::require: return "require";
    }
    return "?";
}

const char* to_string(ChannelBinding c) noexcept {
    switch (c) {
        case ChannelBinding::disable: return "disable";
        case ChannelBinding::prefer: return "prefer";
        case ChannelBinding::require: return "require";
    }
    return "?";
}

const char* to_string(ProtocolVersion v) noexcept {
    switch (v) {
        case ProtocolVersion::v3_0: return "3.0";
        case ProtocolVersion::v3_2: return "3.2";
        case ProtocolVersion::latest: return "latest";
    }
    return "";
}

const char* to_string(TlsVersion v) noexcept {
    switch (v) {
        case TlsVersion::unspecified: return "";
        case TlsVersion::tls1_0: return "TLSv1";
        case TlsVersion::tls1_1: return "TLSv1.1";
        case TlsVersion::tls1_2: return "TLSv1.2";
        case TlsVersion::tls1_3: return "TLSv1.3";
    }
    return "?";
}

const char* to_string(TargetSessionAttrs t) noexcept {
    switch (t) {
        case TargetSessionAttrs::any: return "any";
        case TargetSessionAttrs::read_write: return "read-write";
        case TargetSessionAttrs::read_only: return "read-only";
        case TargetSessionAttrs::primary: return "primary";
        case TargetSessionAttrs::standby: return "standby";
        case TargetSessionAttrs::prefer_standby: return "prefer-standby";
    }
    return "?";
}

const char* to_string(LoadBalanceHosts l) noexcept {
    switch (l) {
        case LoadBalanceHosts::disable: return "disable";
        case LoadBalanceHosts::random: return "random";
    }
    return "?";
}

const char* to_string(NotificationOverflow o) noexcept {
    switch (o) {
        case NotificationOverflow::error: return "error";
        case NotificationOverflow::drop_oldest: return "drop-oldest";
    }
    return "?";
}

const char* to_string(SettingSource s) noexcept {
    switch (s) {
        case SettingSource::default_value: return "default";
        case SettingSource::environment: return "environment";
        case SettingSource::service_file: return "service file";
        case SettingSource::connection_string: return "connection string";
        case SettingSource::code: return "code";
    }
    return "?";
}

namespace {

std::string json_escape(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    return out + "\"";
}

// Keywords in libpq's order, then any display-only entries resolve() added.
std::vector<std::string> ordered_keywords(const Settings& s) {
    std::vector<std::string> names;
    for (const auto& k : config::keywords())
        if (s.display.count(std::string(k.name))) names.emplace_back(k.name);
    for (const auto& [name, value] : s.display)
        if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    return names;
}

std::string source_of(const Settings& s, const std::string& keyword) {
    auto it = s.sources.find(keyword);
    return it == s.sources.end() ? std::string("default") : std::string(to_string(it->second));
}

std::string host_text(const HostTarget& h) {
    std::string out = h.host.empty() ? h.hostaddr : h.host;
    if (!h.hostaddr.empty() && !h.host.empty()) out += " (" + h.hostaddr + ")";
    if (h.is_unix_socket()) out += " (Unix socket)";
    return out + " port " + std::to_string(h.port);
}

}  // namespace

std::string describe_settings(const Settings& s, bool json) {
    const std::vector<std::string> names = ordered_keywords(s);
    std::string out;
    if (json) {
        out += "{\"settings\":[";
        for (std::size_t i = 0; i < names.size(); ++i) {
            if (i) out += ",";
            out += "{\"keyword\":" + json_escape(names[i]) + ",\"value\":" + json_escape(s.display.at(names[i])) +
                   ",\"source\":" + json_escape(source_of(s, names[i])) + "}";
        }
        out += "],\"hosts\":[";
        for (std::size_t i = 0; i < s.hosts.size(); ++i) {
            const HostTarget& h = s.hosts[i];
            if (i) out += ",";
            out += "{\"host\":" + json_escape(h.host) + ",\"hostaddr\":" + json_escape(h.hostaddr) +
                   ",\"port\":" + std::to_string(h.port) + ",\"unix_socket\":" + (h.is_unix_socket() ? "true" : "false") +
                   "}";
        }
        out += "],\"warnings\":[";
        for (std::size_t i = 0; i < s.warnings.size(); ++i) out += (i ? "," : "") + json_escape(s.warnings[i]);
        out += "]}\n";
        return out;
    }

    std::size_t width = 0, value_width = 0;
    for (const auto& n : names) {
        width = std::max(width, n.size());
        value_width = std::max(value_width, std::min<std::size_t>(s.display.at(n).size(), 40));
    }
    for (const auto& n : names) {
        const std::string& v = s.display.at(n);
        out += n + std::string(width - n.size() + 2, ' ') + v;
        out += std::string(v.size() < value_width ? value_width - v.size() + 2 : 2, ' ');
        out += "(" + source_of(s, n) + ")\n";
    }
    for (std::size_t i = 0; i < s.hosts.size(); ++i)
        out += "host #" + std::to_string(i + 1) + ": " + host_text(s.hosts[i]) + "\n";
    for (const auto& w : s.warnings) out += "warning: " + w + "\n";
    return out;
}

std::string masked_connection_string(std::string_view conninfo) { return config::masked_connection_string(conninfo); }

}  // namespace pgtls
