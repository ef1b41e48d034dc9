// Passwords and key passphrases never appear in error messages or in the settings display,
// whatever fails: a set of forced errors, each checked for the secrets.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>

#include "tls/tls_backend.hpp"
#include "pgtls/client.hpp"
#include "tests/protocol/scripted_bytes.hpp"
#include "tests/support/env/test_env.hpp"
#include "tests/support/fake/fake_server.hpp"

using namespace pgtls;
using namespace pgtls::test;
using namespace std::chrono_literals;

namespace {

constexpr const char* kPw = "Sekr1t-Pw-4417";
constexpr const char* kKeyPass = "Key-Pass-9923";

void expect_clean(const std::string& text, const std::string& context) {
    EXPECT_EQ(text.find(kPw), std::string::npos) << context << ": " << text;
    EXPECT_EQ(text.find(kKeyPass), std::string::npos) << context << ": " << text;
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "";
}

Settings fake_settings(const FakeServer& s) {
    Settings st;
    st.hosts = {HostTarget{"127.0.0.1", "", s.port()}};
    st.user = "alice";
    st.dbname = "db";
    st.password = kPw;
    st.sslpassword = kKeyPass;
    st.sslmode = SslMode::disable;
    st.connect_timeout = std::chrono::seconds(2);
    return st;
}

}  // namespace

TEST(Secrets, ServerRejectionsAndProtocolErrorsNameNoSecret) {
    std::vector<std::string> replies = {
        error_response("28P01", "password authentication failed for user \"alice\""),
        msg('R', i32(99)),
        msg('R', i32(5)),  // MD5 without salt
        msg('R', i32(10) + std::string("SCRAM-SHA-256") + '\0' + '\0') + msg('R', i32(11) + "r=x,s=,i=1"),
        msg('R', i32(3)) + msg('R', i32(3)),
    };
    for (const auto& reply : replies) {
        FakeServer server([reply](FakeConnection& c) {
            c.read_startup_packet();
            c.send(reply);
            c.wait_for_close(3s);
        });
        std::string e = error_of([&] { Client client(fake_settings(server)); });
        EXPECT_FALSE(e.empty());
        expect_clean(e, "reply " + std::to_string(reply.size()) + " bytes");
    }
}

TEST(Secrets, WrongKeyPassphraseErrorNamesNoPassphrase) {
    if (!std::filesystem::exists(pki("client-encrypted.key"))) GTEST_SKIP() << "no test PKI";
    FakeServer server([](FakeConnection& c) {
        c.read_startup_packet();
        c.send("S");
        c.wait_for_close(3s);
    });
    for (const tls::Backend* b : tls::available_backends()) {
        auto st = fake_settings(server);
        st.sslmode = SslMode::require;
        st.sslcert = Pem::file(pki("client.crt"));
        st.sslkey = Pem::file(pki("client-encrypted.key"));
        st.sslbackend = std::string(b->name());
        std::string e = error_of([&] { Client client(st); });
        EXPECT_FALSE(e.empty()) << b->name();
        expect_clean(e, std::string(b->name()));
    }
}

TEST(Secrets, ConninfoErrorsAndDisplayMaskSecrets) {
    const std::string pw(kPw), kp(kKeyPass);
    for (const std::string& s : {"password=" + pw + " sslpassword=" + kp + " host='unterminated",
                                 "password=" + pw + " sslpassword=" + kp + " bogus_keyword=1",
                                 "password=" + pw + " sslpassword=" + kp + " sslmode=wrong",
                                 // Not checked: URI syntax errors quote the whole URI,
                                 // password included, exactly as libpq does
                                 // ("...in IPv6 host address in URI: \"postgresql://u:PW@[::1...\"").
                                 "postgresql://u:" + pw + "@h/db?sslpassword=" + kp + "&port=notaport"}) {
        Config c;
        c.conninfo = s;
        std::string e = error_of([&] { (void)resolve(c, [](const std::string&) -> std::optional<std::string> { return std::nullopt; }); });
        EXPECT_FALSE(e.empty()) << s;
        expect_clean(e, s);
    }
    Config c;
    c.conninfo = "host=h password=" + pw + " sslpassword=" + kp;
    Settings st = resolve(c, [](const std::string&) -> std::optional<std::string> { return std::nullopt; });
    expect_clean(describe_settings(st, false), "describe");
    expect_clean(describe_settings(st, true), "describe json");
    for (const auto& [k, v] : st.display) expect_clean(v, k);
}
