// Host-name verification: libpq's rules (src/tls/hostname.hpp) applied to the names each
// backend extracts from real certificates, and a table of synthetic certificates that pins
// every rule and message to libpq's behaviour.
#include <arpa/inet.h>

#include "tls/hostname.hpp"
#include "tests/backends/conformance_fixture.hpp"

namespace pgtls::conformance {
namespace {

using tls::PeerCertificate;

// ---- per backend: names extracted from real certificates --------------------------------------

PeerCertificate peer_of(const tls::Backend& b, std::string_view base) {
    test::TlsTestServer server(server_options(base));
    tls::ContextConfig c;
    c.verify_chain = true;
    c.ca = pki_file("ca.crt");
    Handshake h = run_handshake(b, c, server, {});
    if (!h.ok()) {
        ADD_FAILURE() << base << ": handshake failed: " << describe(h.result);
        return {};
    }
    auto peer = h.session->peer_certificate();
    if (!peer) {
        ADD_FAILURE() << base << ": no peer certificate after a verified handshake";
        return {};
    }
    return *peer;
}

struct HostExpectation {
    const char* host;
    bool match;
    const char* reason;  // exact libpq message when !match; nullptr: not checked
};

void expect_hosts(const PeerCertificate& peer, std::initializer_list<HostExpectation> cases) {
    for (const auto& c : cases) {
        std::string reason;
        bool got = tls::verify_host_name(peer, c.host, &reason);
        EXPECT_EQ(got, c.match) << "host \"" << c.host << "\" vs " << tls::describe_cert_names(peer)
                                << (got ? "" : " (" + reason + ")");
        if (!c.match && c.reason) {
            EXPECT_EQ(reason, c.reason) << "host " << c.host;
        }
    }
}

TEST_P(BackendConformance, HostNameSanDnsAndIp) {
    PeerCertificate peer = peer_of(backend(), "server");
    EXPECT_EQ(peer.san_order, "dii");  // DNS:localhost, IP:127.0.0.1, IP:::1, as in the certificate
    expect_hosts(peer, {
        {"localhost", true, nullptr},
        {"LOCALHOST", true, nullptr},
        {"127.0.0.1", true, nullptr},
        {"::1", true, nullptr},
        {"0:0:0:0:0:0:0:1", true, nullptr},
        {"127.0.0.2", false, nullptr},
        {"other.example", false,
         "server certificate for \"localhost\" (and 2 other names) does not match host name \"other.example\""},
    });
}

TEST_P(BackendConformance, HostNameCnOnly) {
    PeerCertificate peer = peer_of(backend(), "server-cn-only");
    EXPECT_TRUE(peer.san_dns.empty());
    EXPECT_TRUE(peer.san_ip.empty());
    EXPECT_EQ(peer.common_names, std::vector<std::string>{"localhost"});
    expect_hosts(peer, {
        {"localhost", true, nullptr},
        {"LocalHost", true, nullptr},
        {"example.com", false, "server certificate for \"localhost\" does not match host name \"example.com\""},
        {"127.0.0.1", false, nullptr},
    });
}

TEST_P(BackendConformance, HostNameIpInCommonName) {
    PeerCertificate peer = peer_of(backend(), "server-ip-cn");
    expect_hosts(peer, {
        {"127.0.0.1", true, nullptr},
        {"localhost", false, "server certificate for \"127.0.0.1\" does not match host name \"localhost\""},
    });
}

TEST_P(BackendConformance, HostNameIpHostFallsBackToCnWhenOnlyDnsSans) {
    PeerCertificate peer = peer_of(backend(), "server-ip-cn-dns-san");
    expect_hosts(peer, {
        {"127.0.0.1", true, nullptr},
        {"localhost", true, nullptr},
        {"127.0.0.2", false,
         "server certificate for \"localhost\" (and 1 other name) does not match host name \"127.0.0.2\""},
    });
}

TEST_P(BackendConformance, HostNameWildcard) {
    PeerCertificate peer = peer_of(backend(), "server-wildcard");
    EXPECT_EQ(peer.san_dns, std::vector<std::string>{"*.pgtls.test"});
    expect_hosts(peer, {
        {"a.pgtls.test", true, nullptr},
        {"DB1.PGTLS.TEST", true, nullptr},
        {"wildcard.pgtls.test", true, nullptr},
        {"a.b.pgtls.test", false,
         "server certificate for \"*.pgtls.test\" does not match host name \"a.b.pgtls.test\""},
        {"pgtls.test", false, nullptr},
        {"a.pgtls.testx", false, nullptr},
        // IP host and only a dNSName SAN: the CN is examined too.
        {"127.0.0.1", false,
         "server certificate for \"*.pgtls.test\" (and 1 other name) does not match host name \"127.0.0.1\""},
    });
}

TEST_P(BackendConformance, HostNameMismatch) {
    PeerCertificate peer = peer_of(backend(), "server-wrongname");
    expect_hosts(peer, {
        {"localhost", false, "server certificate for \"wrong.example\" does not match host name \"localhost\""},
        {"wrong.example", true, nullptr},
    });
}

TEST_P(BackendConformance, HostNameCnIgnoredWhenDnsSanPresent) {
    PeerCertificate peer = peer_of(backend(), "server-cn-hidden");
    EXPECT_EQ(peer.common_names, std::vector<std::string>{"cn.pgtls.test"});
    expect_hosts(peer, {
        {"san.pgtls.test", true, nullptr},
        {"cn.pgtls.test", false,
         "server certificate for \"san.pgtls.test\" does not match host name \"cn.pgtls.test\""},
    });
}

// ---- verify_host_name with synthetic certificates -----------------------------------------

std::vector<std::uint8_t> ip(const char* text) {
    in6_addr a6{};
    if (inet_pton(AF_INET6, text, &a6) == 1) return {a6.s6_addr, a6.s6_addr + 16};
    in_addr a4{};
    if (inet_pton(AF_INET, text, &a4) == 1) {
        auto* p = reinterpret_cast<const std::uint8_t*>(&a4.s_addr);
        return {p, p + 4};
    }
    ADD_FAILURE() << "bad test address " << text;
    return {};
}

PeerCertificate cert(std::vector<std::string> dns, std::vector<std::vector<std::uint8_t>> ips = {},
                     std::vector<std::string> cns = {}) {
    PeerCertificate c;
    c.san_dns = std::move(dns);
    c.san_ip = std::move(ips);
    c.common_names = std::move(cns);
    return c;
}

using namespace std::string_literals;

PeerCertificate in_order(PeerCertificate c, std::string order) {
    c.san_order = std::move(order);
    return c;
}

struct HostCase {
    const char* what;
    PeerCertificate cert;
    std::string host;
    bool match;
    std::string reason;  // exact message when !match ("" = not checked)
};

std::string mismatch(const std::string& first, int others, const std::string& host) {
    if (others == 0) return "server certificate for \"" + first + "\" does not match host name \"" + host + "\"";
    return "server certificate for \"" + first + "\" (and " + std::to_string(others) +
           (others == 1 ? " other name" : " other names") + ") does not match host name \"" + host + "\"";
}

const std::vector<HostCase>& host_cases() {
    static const std::vector<HostCase> cases = {
        {"exact dNSName", cert({"localhost"}), "localhost", true, ""},
        {"case-insensitive dNSName", cert({"LocalHost"}), "localHOST", true, ""},
        {"single-name mismatch", cert({"wrong.example"}), "localhost", false,
         mismatch("wrong.example", 0, "localhost")},
        {"three-name mismatch", cert({"a.example", "b.example", "c.example"}), "x", false, mismatch("a.example", 2, "x")},
        {"two-name mismatch singular", cert({"a.example", "b.example"}), "x", false, mismatch("a.example", 1, "x")},
        {"second name matches", cert({"a.example", "localhost"}), "localhost", true, ""},
        {"wildcard one label", cert({"*.pgtls.test"}), "a.pgtls.test", true, ""},
        {"wildcard case-insensitive", cert({"*.PGTLS.test"}), "A.pgtls.TEST", true, ""},
        {"wildcard long label", cert({"*.pgtls.test"}), "a-very-long-label.pgtls.test", true, ""},
        {"wildcard two labels", cert({"*.pgtls.test"}), "a.b.pgtls.test", false,
         mismatch("*.pgtls.test", 0, "a.b.pgtls.test")},
        {"wildcard bare domain", cert({"*.pgtls.test"}), "pgtls.test", false, ""},
        {"wildcard empty label", cert({"*.pgtls.test"}), ".pgtls.test", false, ""},
        {"wildcard not leftmost", cert({"a.*.pgtls.test"}), "a.b.pgtls.test", false, ""},
        {"partial-label wildcard", cert({"db*.pgtls.test"}), "db1.pgtls.test", false, ""},
        {"second wildcard literal", cert({"*.*.test"}), "a.b.test", false, ""},
        {"lone star", cert({"*"}), "localhost", false, ""},
        {"star dot", cert({"*."}), "a.", false, ""},
        {"wildcard over a TLD", cert({"*.com"}), "example.com", true, ""},
        {"wildcard suffix differs", cert({"*.pgtls.test"}), "a.pgtls.testx", false, ""},
        {"host trailing dot not folded", cert({"localhost"}), "localhost.", false, mismatch("localhost", 0, "localhost.")},
        {"cert trailing dot not folded", cert({"localhost."}), "localhost", false, ""},
        {"wildcard with host trailing dot", cert({"*.pgtls.test"}), "a.pgtls.test.", false, ""},
        {"embedded NUL in dNSName", cert({"localhost\0.evil.example"s}), "localhost", false,
         "SSL certificate's name contains embedded null"},
        {"embedded NUL in CN", cert({}, {}, {"localhost\0x"s}), "localhost", false,
         "SSL certificate's name contains embedded null"},
        {"match before a NUL name stops the scan", cert({"localhost", "bad\0name"s}), "localhost", true, ""},
        {"CN only", cert({}, {}, {"localhost"}), "localhost", true, ""},
        {"CN only mismatch", cert({}, {}, {"localhost"}), "other", false, mismatch("localhost", 0, "other")},
        {"CN wildcard", cert({}, {}, {"*.pgtls.test"}), "a.pgtls.test", true, ""},
        {"CN ignored when dNSName SAN present", cert({"san.example"}, {}, {"cn.example"}), "cn.example", false,
         mismatch("san.example", 0, "cn.example")},
        {"only the first CN counts", cert({}, {}, {"other", "localhost"}), "localhost", false,
         mismatch("other", 0, "localhost")},
        {"no names at all", cert({}), "localhost", false, "could not get server's host name from server certificate"},
        {"DNS host, only IP SANs: CN used", cert({}, {ip("127.0.0.1")}, {"localhost"}), "localhost", true, ""},
        {"DNS host, only IP SANs: CN mismatch", cert({}, {ip("127.0.0.1")}, {"foo"}), "bar", false,
         mismatch("127.0.0.1", 1, "bar")},
        {"IPv4 SAN", cert({}, {ip("127.0.0.1")}), "127.0.0.1", true, ""},
        {"IPv4 SAN mismatch", cert({}, {ip("127.0.0.1")}), "127.0.0.2", false, mismatch("127.0.0.1", 0, "127.0.0.2")},
        {"IPv4 inet_aton shorthand", cert({}, {ip("127.0.0.1")}), "127.1", true, ""},
        {"IPv4 as one number", cert({}, {ip("127.0.0.1")}), "2130706433", true, ""},
        {"IPv6 SAN", cert({}, {ip("::1")}), "::1", true, ""},
        {"IPv6 SAN long form", cert({}, {ip("::1")}), "0:0:0:0:0:0:0:1", true, ""},
        {"IPv6 SAN upper-case hex", cert({}, {ip("fe80::1")}), "FE80::1", true, ""},
        {"IPv6 SAN mismatch", cert({}, {ip("::1")}), "::2", false, mismatch("::1", 0, "::2")},
        {"IPv4 SAN vs mapped IPv6 host", cert({}, {ip("127.0.0.1")}), "::ffff:127.0.0.1", false, ""},
        {"IP host: CN ignored when IP SAN present", cert({}, {ip("10.0.0.1")}, {"127.0.0.1"}), "127.0.0.1", false,
         mismatch("10.0.0.1", 0, "127.0.0.1")},
        {"IP host: CN used when only dNSName SANs", cert({"localhost"}, {}, {"127.0.0.1"}), "127.0.0.1", true, ""},
        {"IP host: CN mismatch with dNSName SANs", cert({"localhost"}, {}, {"10.0.0.1"}), "127.0.0.1", false,
         mismatch("localhost", 1, "127.0.0.1")},
        {"IP host equal to a dNSName string", cert({"127.0.0.1"}), "127.0.0.1", true, ""},
        {"mixed SANs counted together", cert({"a.example"}, {ip("127.0.0.1"), ip("::1")}, {"cn.example"}),
         "b.example", false, mismatch("a.example", 2, "b.example")},
        {"IP SAN with invalid length", cert({}, {{1, 2, 3, 4, 5}}), "127.0.0.1", false,
         "certificate contains IP address with invalid length 5"},
        {"invalid IP length also for DNS hosts", cert({}, {{1, 2, 3}}), "localhost", false,
         "certificate contains IP address with invalid length 3"},
        // libpq scans the SAN entries in certificate order and stops at the first match or error.
        {"invalid IP before a matching dNSName", in_order(cert({"localhost"}, {{1, 2, 3, 4, 5}}), "id"), "localhost",
         false, "certificate contains IP address with invalid length 5"},
        {"invalid IP after a matching dNSName", in_order(cert({"localhost"}, {{1, 2, 3, 4, 5}}), "di"), "localhost",
         true, ""},
        {"matching IP before a NUL dNSName", in_order(cert({"bad\0name"s}, {ip("127.0.0.1")}), "id"), "127.0.0.1",
         true, ""},
        {"NUL dNSName before a matching IP", in_order(cert({"bad\0name"s}, {ip("127.0.0.1")}), "di"), "127.0.0.1",
         false, "SSL certificate's name contains embedded null"},
        {"first name in certificate order", in_order(cert({"a.example"}, {ip("10.0.0.1")}), "id"), "b.example", false,
         mismatch("10.0.0.1", 1, "b.example")},
        {"order not matching the entries is ignored", in_order(cert({"localhost"}, {{1, 2, 3, 4, 5}}), "ii"),
         "localhost", true, ""},
        {"empty host", cert({"localhost"}), "", false, "host name must be specified for a verified SSL connection"},
        {"NUL in host", cert({"localhost"}), "localhost\0.evil"s, false, ""},
    };
    return cases;
}

TEST(VerifyHostName, LibpqRulesTable) {
    ASSERT_GE(host_cases().size(), 30u);
    for (const HostCase& c : host_cases()) {
        std::string reason = "untouched";
        bool got = tls::verify_host_name(c.cert, c.host, &reason);
        EXPECT_EQ(got, c.match) << c.what << ": " << reason;
        if (!c.match) {
            EXPECT_NE(reason, "untouched") << c.what << ": no reason given";
            if (!c.reason.empty()) {
                EXPECT_EQ(reason, c.reason) << c.what;
            }
        }
    }
}

TEST(VerifyHostName, NullReasonIsAllowed) {
    EXPECT_FALSE(tls::verify_host_name(cert({"a"}), "b", nullptr));
    EXPECT_TRUE(tls::verify_host_name(cert({"a"}), "a", nullptr));
    EXPECT_FALSE(tls::verify_host_name(cert({}), "", nullptr));
}

TEST(VerifyHostName, HostIsIpAddressFollowsInetAton) {
    EXPECT_TRUE(tls::host_is_ip_address("127.0.0.1"));
    EXPECT_TRUE(tls::host_is_ip_address("127.1"));
    EXPECT_TRUE(tls::host_is_ip_address("0x7f.1"));
    EXPECT_TRUE(tls::host_is_ip_address("::1"));
    EXPECT_TRUE(tls::host_is_ip_address("2001:db8::17"));
    EXPECT_FALSE(tls::host_is_ip_address("localhost"));
    EXPECT_FALSE(tls::host_is_ip_address("1.2.3.4.example"));
    EXPECT_FALSE(tls::host_is_ip_address(""));
    EXPECT_FALSE(tls::host_is_ip_address("256.1.1.1"));
}

TEST(VerifyHostName, DescribeCertNamesListsEverything) {
    PeerCertificate c = cert({"a.example", "b\0c"s}, {ip("127.0.0.1"), ip("::1"), {9, 9}}, {"cn.example"});
    EXPECT_EQ(tls::describe_cert_names(c),
              "DNS:a.example, DNS:b\\0c, IP:127.0.0.1, IP:::1, IP:<2 bytes>, CN:cn.example");
    EXPECT_EQ(tls::describe_cert_names(cert({})), "(no names)");
}

}  // namespace
}  // namespace pgtls::conformance
