// libFuzzer target: what pgtls reads from certificates itself, with its own DER reader, and its
// libpq host-name rules (src/tls/hostname.hpp). A server's certificate is read before anything
// trusts it: under sslmode=require nothing verifies it, and channel binding still takes its
// signature algorithm (tls-server-end-point's hash).
// Input: mode byte, host length byte, host, then the rest:
//   mode 0  the rest is a certificate's DER: certificate_signature, subject_alt_names_from_der,
//           then verify_host_name of the host against the names found, describe_cert_names;
//   mode 1  the rest is an sslrootcert file (PEM or DER): keep_anchored_certificates, which may
//           only drop whole certificates, leaves input it cannot judge unchanged, and keeps
//           a set that a second pass leaves as it is;
//   mode 2  the host alone against certificates built from it, with the rules' consequences
//           as oracles: a dNSName equal to the host (in any ASCII case) matches; "*." + all
//           but the first label matches, "*." + fewer labels does not; the host's own address
//           as an iPAddress matches; no names, or a name with a NUL, never match.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "fuzz_common.hpp"
#include "tls/certificate_signature.hpp"
#include "tls/hostname.hpp"
#include "tls/root_file_anchors.hpp"
#include "tls/subject_alt_names.hpp"
#include "tls/tls_backend.hpp"

namespace {

using pgtls::fuzz::require;
using pgtls::tls::PeerCertificate;

bool verifies(const PeerCertificate& cert, std::string_view host) {
    std::string reason;
    const bool ok = pgtls::tls::verify_host_name(cert, host, &reason);
    require(ok == reason.empty(), "a refusal that says no reason, or a reason beside a match");
    return ok;
}

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    return out;
}

void certificate(std::span<const std::uint8_t> der, std::string_view host) {
    (void)pgtls::auth::certificate_signature(der);
    const auto names = pgtls::tls::subject_alt_names_from_der(der);
    PeerCertificate cert;
    cert.der.assign(der.begin(), der.end());
    cert.san_dns = names.dns;
    cert.san_ip = names.ip;
    (void)verifies(cert, host);
    (void)pgtls::tls::describe_cert_names(cert);
}

std::size_t count(std::string_view text, std::string_view what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string_view::npos; at = text.find(what, at + what.size())) ++n;
    return n;
}

void root_file(std::string_view data) {
    const auto r = pgtls::tls::keep_anchored_certificates(data);
    if (r.dropped == 0) {
        require(r.data == data, "a root file with nothing dropped came back changed");
        return;
    }
    if (data.find("-----BEGIN") == std::string_view::npos) {
        require(r.dropped == 1 && r.kept == 0 && r.data.empty(), "a dropped DER certificate was kept");
        return;
    }
    // Each dropped certificate takes its own block; a cut may break a marker that overlapped
    // the block's END (never a block), but never makes one.
    constexpr std::string_view begin = "-----BEGIN CERTIFICATE-----";
    require(r.data.size() < data.size(), "a dropped block left the file no shorter");
    require(count(r.data, begin) + r.dropped <= count(data, begin), "a cut made a BEGIN marker");
    // What is kept is exactly the anchored set: filtering it again changes nothing.
    if (r.kept > 0) {
        const auto again = pgtls::tls::keep_anchored_certificates(r.data);
        require(again.dropped == 0 && again.kept == r.kept && again.data == r.data,
                "filtering the kept set again changed it");
    }
}

void host_rules(std::string_view host) {
    require(!verifies(PeerCertificate{}, host), "a certificate without names matched");
    if (host.empty() || host.find('\0') != std::string_view::npos) {
        PeerCertificate named;
        named.san_dns = {std::string(host)};
        require(!verifies(named, host), "an empty host or one with a NUL matched");
        return;
    }
    PeerCertificate same;
    same.san_dns = {std::string(host)};
    require(verifies(same, host), "a dNSName equal to the host did not match");
    same.san_dns = {upper(host)};
    require(verifies(same, host), "a dNSName equal to the host but for ASCII case did not match");
    PeerCertificate with_nul;
    with_nul.san_dns = {std::string(host) + '\0'};
    with_nul.common_names = {std::string(host)};
    require(!verifies(with_nul, host), "a dNSName with a NUL matched");

    // Wildcards stand for exactly the first label, and only when the host has no '*' itself.
    const std::size_t dot = host.find('.');
    if (host.find('*') == std::string_view::npos && dot != std::string_view::npos && dot > 0 &&
        dot + 1 < host.size()) {
        PeerCertificate wild;
        wild.san_dns = {"*" + std::string(host.substr(dot))};
        require(verifies(wild, host), "a wildcard for the first label did not match");
        const std::size_t next = host.find('.', dot + 1);
        if (next != std::string_view::npos && next + 1 < host.size()) {
            wild.san_dns = {"*" + std::string(host.substr(next))};
            require(!verifies(wild, host), "a wildcard matched two labels");
        }
    }

    const std::string h(host);
    in_addr v4{};
    in6_addr v6{};
    if (inet_aton(h.c_str(), &v4)) {
        require(pgtls::tls::host_is_ip_address(host), "an inet_aton address is not an IP host");
        PeerCertificate ip;
        ip.san_ip = {std::vector<std::uint8_t>(4)};
        std::memcpy(ip.san_ip[0].data(), &v4.s_addr, 4);
        require(verifies(ip, host), "the host's own IPv4 address did not match");
    } else if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) {
        require(pgtls::tls::host_is_ip_address(host), "an IPv6 address is not an IP host");
        PeerCertificate ip;
        ip.san_ip = {std::vector<std::uint8_t>(v6.s6_addr, v6.s6_addr + 16)};
        require(verifies(ip, host), "the host's own IPv6 address did not match");
    } else {
        require(!pgtls::tls::host_is_ip_address(host), "a host that is no address counts as an IP host");
    }
    (void)pgtls::tls::host_wants_sni(host);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const unsigned mode = data[0] % 3;
    const std::size_t host_len = std::min<std::size_t>(data[1], size - 2);
    const std::string_view host(reinterpret_cast<const char*>(data + 2), host_len);
    const std::span<const std::uint8_t> rest(data + 2 + host_len, size - 2 - host_len);
    switch (mode) {
        case 0:
            certificate(rest, host);
            break;
        case 1:
            root_file({reinterpret_cast<const char*>(rest.data()), rest.size()});
            break;
        default:
            host_rules(host);
            break;
    }
    return 0;
}
