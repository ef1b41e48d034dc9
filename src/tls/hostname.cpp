#include "tls/hostname.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace pgtls::tls {
namespace {

enum class Match { no, yes, error };

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool equal_ignoring_ascii_case(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

// "*.rest" matches "label.rest" where label is non-empty and has no '.'.
bool wildcard_matches(std::string_view pattern, std::string_view host) {
    if (pattern.size() < 3 || pattern[0] != '*' || pattern[1] != '.') return false;
    if (pattern.size() > host.size()) return false;
    std::size_t suffix_at = host.size() - pattern.size() + 1;  // where ".rest" starts in host
    if (!equal_ignoring_ascii_case(pattern.substr(1), host.substr(suffix_at))) return false;
    return host.find('.') >= suffix_at;
}

constexpr const char* kEmbeddedNull = "SSL certificate's name contains embedded null";

Match match_dns_name(const std::string& name, std::string_view host, std::string* error) {
    if (name.find('\0') != std::string::npos) {
        *error = kEmbeddedNull;
        return Match::error;
    }
    if (equal_ignoring_ascii_case(name, host) || wildcard_matches(name, host)) return Match::yes;
    return Match::no;
}

std::string ip_to_string(const std::vector<std::uint8_t>& ip) {
    char buf[INET6_ADDRSTRLEN] = {};
    int family = ip.size() == 4 ? AF_INET : AF_INET6;
    if (!inet_ntop(family, ip.data(), buf, sizeof buf)) return "?";
    return buf;
}

Match match_ip(const std::vector<std::uint8_t>& ip, const std::string& host, std::string* error) {
    if (ip.size() == 4) {
        in_addr addr{};
        // inet_aton, as libpq: accepts "127.1" and other legacy IPv4 spellings.
        if (inet_aton(host.c_str(), &addr) && std::memcmp(ip.data(), &addr.s_addr, 4) == 0) return Match::yes;
        return Match::no;
    }
    if (ip.size() == 16) {
        in6_addr addr{};
        if (inet_pton(AF_INET6, host.c_str(), &addr) == 1 && std::memcmp(ip.data(), addr.s6_addr, 16) == 0)
            return Match::yes;
        return Match::no;
    }
    *error = "certificate contains IP address with invalid length " + std::to_string(ip.size());
    return Match::error;
}

}  // namespace

bool host_is_ip_address(std::string_view host_view) {
    std::string host(host_view);
    in_addr v4{};
    in6_addr v6{};
    return inet_aton(host.c_str(), &v4) != 0 || inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}

bool host_wants_sni(std::string_view host) {
    if (host.empty()) return false;
    if (host.find_first_not_of("0123456789.") == std::string_view::npos) return false;
    return host.find(':') == std::string_view::npos;
}

bool verify_host_name(const PeerCertificate& cert, std::string_view host_view, std::string* reason) {
    std::string scratch;
    std::string& out = reason ? *reason : scratch;
    // The host is a C string in libpq; a NUL inside ours could make names compare equal on a
    // prefix, so it is refused rather than truncated.
    if (host_view.empty() || host_view.find('\0') != std::string_view::npos) {
        out = "host name must be specified for a verified SSL connection";
        return false;
    }
    const std::string host(host_view);
    const bool host_is_ip = host_is_ip_address(host);

    int examined = 0;
    std::string first_name;
    auto note = [&](const std::string& name) {
        if (examined++ == 0) first_name = name;
    };

    bool check_cn = true;
    Match rc = Match::no;
    std::string error;
    if (!cert.san_dns.empty() && !host_is_ip) check_cn = false;
    if (!cert.san_ip.empty() && host_is_ip) check_cn = false;

    // The SAN entries in certificate order when the backend gave it, as libpq meets them.
    std::string order = cert.san_order;
    if (order.size() != cert.san_dns.size() + cert.san_ip.size() ||
        static_cast<std::size_t>(std::count(order.begin(), order.end(), 'd')) != cert.san_dns.size())
        order = std::string(cert.san_dns.size(), 'd') + std::string(cert.san_ip.size(), 'i');
    std::size_t next_dns = 0, next_ip = 0;
    for (char kind : order) {
        if (kind == 'd') {
            const std::string& name = cert.san_dns[next_dns++];
            rc = match_dns_name(name, host, &error);
            if (rc == Match::error) break;
            note(name);
        } else {
            const auto& ip = cert.san_ip[next_ip++];
            rc = match_ip(ip, host, &error);
            if (rc == Match::error) break;
            note(ip_to_string(ip));
        }
        if (rc == Match::yes) break;
    }
    if (rc == Match::no && check_cn && !cert.common_names.empty()) {
        const std::string& cn = cert.common_names.front();
        rc = match_dns_name(cn, host, &error);
        if (rc != Match::error) note(cn);
    }

    switch (rc) {
        case Match::yes:
            return true;
        case Match::error:
            out = error;
            return false;
        case Match::no:
            break;
    }
    if (examined > 1) {
        int others = examined - 1;
        out = "server certificate for \"" + first_name + "\" (and " + std::to_string(others) +
              (others == 1 ? " other name" : " other names") + ") does not match host name \"" + host + "\"";
    } else if (examined == 1) {
        out = "server certificate for \"" + first_name + "\" does not match host name \"" + host + "\"";
    } else {
        out = "could not get server's host name from server certificate";
    }
    return false;
}

std::string describe_cert_names(const PeerCertificate& cert) {
    std::string out;
    auto add = [&](std::string_view kind, const std::string& name) {
        if (!out.empty()) out += ", ";
        out += kind;
        out += ':';
        for (char c : name) out += (c == '\0') ? std::string("\\0") : std::string(1, c);
    };
    for (const auto& n : cert.san_dns) add("DNS", n);
    for (const auto& ip : cert.san_ip)
        add("IP", (ip.size() == 4 || ip.size() == 16) ? ip_to_string(ip) : "<" + std::to_string(ip.size()) + " bytes>");
    for (const auto& cn : cert.common_names) add("CN", cn);
    return out.empty() ? "(no names)" : out;
}

}  // namespace pgtls::tls
