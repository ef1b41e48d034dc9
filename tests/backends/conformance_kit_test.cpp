// The backend kit in src/tls: pieces every backend shares, tested once without a TLS stack.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <utility>

#include "auth/base64.hpp"
#include "tls/crl_coverage.hpp"
#include "tls/key_log_file.hpp"
#include "tls/material.hpp"
#include "tls/root_file_anchors.hpp"
#include "tls/tls_names.hpp"
#include "tests/support/tls/der_writer.hpp"
#include "pgtls/error.hpp"

namespace pgtls::conformance {
namespace {

TEST(KitKeyLogLine, NssFormatInLowercaseHex) {
    const std::array<std::uint8_t, 3> random = {0x00, 0xab, 0x0f};
    const std::array<std::uint8_t, 2> secret = {0xff, 0x10};
    EXPECT_EQ(tls::key_log_line("CLIENT_RANDOM", random, secret), "CLIENT_RANDOM 00ab0f ff10");
}

TEST(KitKeyLogLine, EmptySecretKeepsBothSeparators) {
    const std::array<std::uint8_t, 1> random = {0x01};
    EXPECT_EQ(tls::key_log_line("SERVER_TRAFFIC_SECRET_0", random, {}), "SERVER_TRAFFIC_SECRET_0 01 ");
}

TEST(KitCrlCoverage, CoversExactlyTheLoadedIssuers) {
    const std::array<std::uint8_t, 3> ca = {0x30, 0x01, 0x00};
    const std::array<std::uint8_t, 3> other = {0x30, 0x01, 0x01};
    tls::CrlIssuers issuers;
    EXPECT_FALSE(issuers.covers(ca));
    issuers.add(ca);
    EXPECT_TRUE(issuers.covers(ca));
    EXPECT_FALSE(issuers.covers(other));
    EXPECT_FALSE(issuers.covers(std::span<const std::uint8_t>(ca).first(2)));
}

TEST(KitCrlCoverage, ReasonNamesTheIssuer) {
    EXPECT_EQ(tls::missing_crl_reason("CN=Intermediate"),
              "unable to get certificate CRL (no CRL from issuer \"CN=Intermediate\")");
}

// The smallest certificate keep_anchored_certificates reads: its issuer and subject names, and
// its validity when given as two DER times (tag + text).
struct DerTime {
    std::uint8_t tag;
    std::string text;
};
std::string pem_certificate(const std::string& issuer, const std::string& subject,
                            std::optional<std::pair<DerTime, DerTime>> validity = std::nullopt) {
    using test::tlv;
    auto name = [](const std::string& cn) { return tlv(0x30, test::DerBytes(cn.begin(), cn.end())); };
    auto time = [](const DerTime& t) { return tlv(t.tag, test::DerBytes(t.text.begin(), t.text.end())); };
    const auto dates = validity ? tlv(0x30, test::cat({time(validity->first), time(validity->second)})) : tlv(0x30, {});
    const auto tbs = tlv(0x30, test::cat({tlv(0x02, {0x01}), tlv(0x30, {}), name(issuer), dates, name(subject)}));
    return "-----BEGIN CERTIFICATE-----\n" + auth::base64_encode(tlv(0x30, tbs)) + "\n-----END CERTIFICATE-----\n";
}

TEST(KitRootFileAnchors, KeepsRootsAndWhatLeadsToThemDropsTheRest) {
    const std::string root = pem_certificate("Root", "Root"), inter = pem_certificate("Root", "Inter");
    const std::string leaf = pem_certificate("Inter", "Leaf"), stray = pem_certificate("Elsewhere", "Stray");
    const auto r = tls::keep_anchored_certificates("# roots\n" + stray + root + inter + "text\n" + leaf);
    EXPECT_EQ(r.kept, 3u);
    EXPECT_EQ(r.dropped, 1u);
    EXPECT_EQ(r.data, "# roots\n" + root + inter + "text\n" + leaf);
    const auto none = tls::keep_anchored_certificates(stray + leaf);
    EXPECT_TRUE(none.trusts_nothing());
}

TEST(KitRootFileAnchors, WithATimeDropsWhatIsOutOfDateAndWhatLeadsOnlyThroughIt) {
    constexpr std::uint8_t utc = 0x17, generalized = 0x18;
    const std::string root = pem_certificate("Root", "Root", {{{utc, "200101000000Z"}, {generalized, "20400101000000Z"}}});
    const std::string leaf = pem_certificate("Root", "Leaf", {{{utc, "240101000000Z"}, {utc, "260101000000Z"}}});
    const std::string old_root = pem_certificate("Old", "Old", {{{utc, "100101000000Z"}, {utc, "241231235959Z"}}});
    const std::string via_old = pem_certificate("Old", "ViaOld", {{{utc, "200101000000Z"}, {utc, "300101000000Z"}}});
    const std::string future = pem_certificate("Fut", "Fut", {{{generalized, "20250102000000Z"}, {utc, "300101000000Z"}}});
    const std::string expired_inter = pem_certificate("Root", "Inter", {{{utc, "200101000000Z"}, {utc, "210101000000Z"}}});
    const std::string undated = pem_certificate("Root", "Undated");
    std::tm tm{};
    tm.tm_year = 2025 - 1900;
    tm.tm_mday = 1;  // 2025-01-01 00:00:00 UTC
    const std::time_t now = ::timegm(&tm);
    const std::string file = root + leaf + old_root + via_old + future + expired_inter + undated;
    const auto r = tls::keep_anchored_certificates(file, now);
    EXPECT_EQ(r.data, root + leaf + undated);
    EXPECT_EQ(r.kept, 3u);
    EXPECT_EQ(r.dropped, 4u);
    EXPECT_EQ(r.out_of_date, 3u);
    // Without a time, dates do not matter (the libraries that check them themselves).
    const auto all = tls::keep_anchored_certificates(file);
    EXPECT_EQ(all.kept, 7u);
    EXPECT_EQ(all.out_of_date, 0u);
    EXPECT_TRUE(tls::keep_anchored_certificates(old_root + via_old, now).trusts_nothing());
}

TEST(KitRootFileAnchors, ACutNeverJoinsTwoLinesIntoACertificateNobodyJudged) {
    // The stray certificate's block starts mid-line after "-----BEG", and the text after it
    // reads "IN CERTIFICATE-----" and a body: cutting the block out must not splice them into
    // a block the scan never saw (the backend would load it as an anchor).
    const std::string root = pem_certificate("Root", "Root");
    std::string evil = pem_certificate("Evil", "Evil");
    evil.erase(0, std::string("-----BEG").size());
    const std::string file = root + "-----BEG" + pem_certificate("Elsewhere", "Stray") + evil;
    const auto r = tls::keep_anchored_certificates(file);
    EXPECT_EQ(r.kept, 1u);
    EXPECT_EQ(r.dropped, 1u);
    EXPECT_EQ(r.data.find("-----BEGIN CERTIFICATE-----", root.size()), std::string::npos) << r.data;
    const auto again = tls::keep_anchored_certificates(r.data);
    EXPECT_EQ(again.kept, 1u);
    EXPECT_EQ(again.dropped, 0u);
}

TEST(KitNames, VersionsInOpenSslSpelling) {
    EXPECT_STREQ(tls::version_name(TlsVersion::tls1_0), "TLSv1");
    EXPECT_STREQ(tls::version_name(TlsVersion::tls1_3), "TLSv1.3");
    EXPECT_STREQ(tls::version_name(TlsVersion::unspecified), "(unspecified)");
    EXPECT_STREQ(tls::version_name(TlsVersion::unspecified, "any"), "any");
    EXPECT_EQ(tls::openssl_protocol_name("TLSv1.0"), "TLSv1");
    EXPECT_EQ(tls::openssl_protocol_name("TLSv1.2"), "TLSv1.2");
}

TEST(KitNames, CipherSuitesInOpenSslSpelling) {
    EXPECT_EQ(tls::openssl_cipher_name("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"), "ECDHE-RSA-AES256-GCM-SHA384");
    EXPECT_EQ(tls::openssl_cipher_name("TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384"), "ECDHE-RSA-AES256-GCM-SHA384");
    EXPECT_EQ(tls::openssl_cipher_name("TLS_AES_256_GCM_SHA384"), "TLS_AES_256_GCM_SHA384");
    EXPECT_EQ(tls::openssl_cipher_name("TLS-SOMETHING-NEW"), "TLS_SOMETHING_NEW");
}

TEST(KitMaterial, LabelNamesTheFileOrTheOption) {
    const tls::MaterialLabel label{"root certificate file", "sslrootcert (PEM data)"};
    EXPECT_EQ(tls::material_label({tls::Material::Kind::file, "/p/root.crt"}, label),
              "root certificate file \"/p/root.crt\"");
    EXPECT_EQ(tls::material_label({tls::Material::Kind::pem, "-----BEGIN"}, label), "sslrootcert (PEM data)");
}

TEST(KitMaterial, BytesOfPemAndOfAFile) {
    EXPECT_EQ(tls::material_bytes({tls::Material::Kind::pem, "pem bytes"}, "root certificate file"), "pem bytes");
    EXPECT_EQ(tls::material_bytes({tls::Material::Kind::system, ""}, "root certificate file"), "");
    try {
        tls::material_bytes({tls::Material::Kind::file, "/nonexistent-pgtls/root.crt"}, "root certificate file");
        ADD_FAILURE() << "no error for a missing file";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::config);
        EXPECT_STREQ(e.what(), "could not read root certificate file \"/nonexistent-pgtls/root.crt\": "
                               "No such file or directory");
    }
}

TEST(KitMaterial, ADirectoryIsAFailureAtOpenNotAnException) {
    tls::FileReadFailure failure;
    EXPECT_FALSE(tls::read_whole_file("/tmp", failure).has_value());
    EXPECT_TRUE(failure.at_open);
    EXPECT_EQ(failure.reason, "Is a directory");
}

}  // namespace
}  // namespace pgtls::conformance
