// The Authenticator driven by scripted server messages: every channel_binding x server method
// combination with and without TLS, require_auth lists, each downgrade a hostile server can
// try, and the guarantee that a refused request emits nothing and never asks for a password.
#include <gtest/gtest.h>

#include "auth/authenticator.hpp"
#include "auth/base64.hpp"
#include "auth/channel_binding.hpp"
#include "crypto/builtin_crypto.hpp"
#include "crypto_providers.hpp"
#include "pgtls/error.hpp"
#include "pgtls_gssapi_config.h"

namespace pgtls::test {
namespace {

using auth::Authenticator;
using auth::AuthParams;
using auth::Method;

const crypto::Provider& cp() { return tls::builtin_crypto(); }

std::string be32(std::uint32_t v) {
    return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
}

std::vector<std::uint8_t> request(std::uint32_t code, std::string_view payload = {}) {
    std::string s = be32(code);
    s.append(payload);
    return {s.begin(), s.end()};
}

std::string mechanisms(std::initializer_list<std::string_view> names) {
    std::string s;
    for (auto n : names) {
        s.append(n);
        s += '\0';
    }
    s += '\0';
    return s;
}

const std::string plus_and_plain = mechanisms({"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"});
const std::string plain_only = mechanisms({"SCRAM-SHA-256"});

tls::PeerCertificate server_cert(std::optional<crypto::Hash> sig = crypto::Hash::sha256) {
    tls::PeerCertificate c;
    c.der = {0x30, 0x82, 0x01, 0x0a, 0x02, 0x01, 0x01, 0x05, 0x00};
    c.signature_hash = sig;
    return c;
}

// One frontend message parsed out of the bytes the Authenticator appended.
struct Frontend {
    char type;
    std::string payload;
};

std::vector<Frontend> split(const std::string& out) {
    std::vector<Frontend> v;
    std::size_t pos = 0;
    while (pos < out.size()) {
        EXPECT_GE(out.size() - pos, 5u);
        std::uint32_t len = (std::uint32_t(std::uint8_t(out[pos + 1])) << 24) | (std::uint32_t(std::uint8_t(out[pos + 2])) << 16) |
                            (std::uint32_t(std::uint8_t(out[pos + 3])) << 8) | std::uint8_t(out[pos + 4]);
        v.push_back({out[pos], out.substr(pos + 5, len - 4)});
        pos += 1 + len;
    }
    return v;
}

// A SCRAM-SHA-256 server: checks the client's messages (GS2 flag, channel binding data,
// proof) and answers like PostgreSQL's auth-scram.c.
struct FakeScramServer {
    std::string password = "scram-secret";
    std::vector<std::uint8_t> salt = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};
    std::string iterations = "4096";
    std::string mechanism, gs2_header, client_first_bare, server_first, nonce;
    std::vector<std::uint8_t> expected_cb;  // when PLUS

    std::string on_initial_response(const std::string& payload) {
        auto nul = payload.find('\0');
        mechanism = payload.substr(0, nul);
        std::uint32_t len = (std::uint32_t(std::uint8_t(payload[nul + 1])) << 24) |
                            (std::uint32_t(std::uint8_t(payload[nul + 2])) << 16) |
                            (std::uint32_t(std::uint8_t(payload[nul + 3])) << 8) | std::uint8_t(payload[nul + 4]);
        std::string first = payload.substr(nul + 5);
        EXPECT_EQ(first.size(), len);
        auto bare = first.find("n=");
        gs2_header = first.substr(0, bare);
        client_first_bare = first.substr(bare);
        nonce = client_first_bare.substr(client_first_bare.find("r=") + 2) + "srvNONCE/+1";
        server_first = "r=" + nonce + ",s=" + auth::base64_encode(salt) + ",i=" + iterations;
        return server_first;
    }

    std::string on_response(const std::string& client_final) {
        auto p = client_final.rfind(",p=");
        std::string without_proof = client_final.substr(0, p);
        std::string cbind = gs2_header;
        cbind.append(expected_cb.begin(), expected_cb.end());
        EXPECT_EQ(without_proof, "c=" + auth::base64_encode(crypto::as_bytes(cbind)) + ",r=" + nonce);
        auto salted = cp().pbkdf2_hmac(crypto::Hash::sha256, crypto::as_bytes(password), salt, 4096, 32);
        auto client_key = cp().hmac(crypto::Hash::sha256, salted, crypto::as_bytes("Client Key"));
        auto stored = cp().digest(crypto::Hash::sha256, client_key);
        std::string am = client_first_bare + "," + server_first + "," + without_proof;
        auto sig = cp().hmac(crypto::Hash::sha256, stored, crypto::as_bytes(am));
        auto proof = auth::base64_decode(client_final.substr(p + 3));
        EXPECT_TRUE(proof);
        std::vector<std::uint8_t> key(32);
        for (int i = 0; i < 32; ++i) key[i] = (*proof)[i] ^ sig[i];
        EXPECT_EQ(cp().digest(crypto::Hash::sha256, key), stored) << "client proof does not verify";
        auto server_key = cp().hmac(crypto::Hash::sha256, salted, crypto::as_bytes("Server Key"));
        return "v=" + auth::base64_encode(cp().hmac(crypto::Hash::sha256, server_key, crypto::as_bytes(am)));
    }
};

struct Harness {
    AuthParams params;
    int password_calls = 0;
    std::optional<std::string> password = std::string("scram-secret");
    std::unique_ptr<Authenticator> auth;
    std::string out;

    explicit Harness(ChannelBinding cb = ChannelBinding::prefer, bool tls = false, std::string require_auth = {},
                     std::optional<crypto::Hash> sig = crypto::Hash::sha256) {
        params.crypto = &cp();
        params.user = "scramuser";
        params.channel_binding = cb;
        params.require_auth = std::move(require_auth);
        params.tls = tls;
        if (tls) params.peer_certificate = server_cert(sig);
        params.get_password = [this]() -> std::optional<std::string> {
            ++password_calls;
            return password;
        };
    }
    Authenticator& a() {
        if (!auth) auth = std::make_unique<Authenticator>(params);
        return *auth;
    }
    void send(std::uint32_t code, std::string_view payload = {}) {
        auto body = request(code, payload);
        a().on_request(body, out);
    }
    // Expects `code` to be refused with a message containing `needle`, emitting nothing.
    std::string refuse(std::uint32_t code, std::string_view payload, const char* needle,
                       ErrorKind kind = ErrorKind::authentication) {
        const std::string before = out;
        const int calls_before = password_calls;
        try {
            send(code, payload);
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), kind) << e.what();
            EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
            EXPECT_EQ(out, before) << "bytes emitted although the request was refused";
            EXPECT_EQ(password_calls, calls_before) << "password looked up although the request was refused";
            if (password) {
                EXPECT_EQ(std::string(e.what()).find(*password), std::string::npos);
            }
            return e.what();
        }
        ADD_FAILURE() << "request " << code << " accepted; expected: " << needle;
        return {};
    }

    // Runs a full SCRAM exchange against the fake server; returns the GS2 header used.
    std::string scram_exchange(const std::string& offered, FakeScramServer& server) {
        send(10, offered);
        EXPECT_EQ(out.find(params.user), std::string::npos);  // PostgreSQL takes it from the startup packet
        auto msgs = split(out);
        EXPECT_EQ(msgs.size(), 1u);
        EXPECT_EQ(msgs[0].type, 'p');
        std::string server_first = server.on_initial_response(msgs[0].payload);
        out.clear();
        send(11, server_first);
        if (password && !password->empty()) {
            EXPECT_EQ(out.find(*password), std::string::npos) << "password bytes in a SCRAM message";
        }
        msgs = split(out);
        EXPECT_EQ(msgs.size(), 1u);
        std::string server_final = server.on_response(msgs[0].payload);
        out.clear();
        send(12, server_final);
        EXPECT_TRUE(out.empty());
        send(0);
        EXPECT_TRUE(a().done());
        return server.gs2_header;
    }
};

// ---- trust / password / md5 -------------------------------------------------------------

TEST(Authenticator, TrustSendsNothingAndNeverAsksForAPassword) {
    Harness h;
    h.send(0);
    EXPECT_TRUE(h.a().done());
    EXPECT_EQ(h.a().method(), Method::none);
    EXPECT_TRUE(h.out.empty());
    EXPECT_EQ(h.password_calls, 0);
    EXPECT_FALSE(h.a().channel_binding_used());
}

TEST(Authenticator, CleartextPassword) {
    Harness h;
    h.password = "pw-secret";
    h.send(3);
    auto m = split(h.out);
    ASSERT_EQ(m.size(), 1u);
    EXPECT_EQ(m[0].type, 'p');
    EXPECT_EQ(m[0].payload, std::string("pw-secret\0", 10));
    EXPECT_EQ(h.out.size(), 1 + 4 + 10u);
    EXPECT_EQ(h.a().method(), Method::password);
    h.out.clear();
    h.send(0);
    EXPECT_TRUE(h.a().done());
    EXPECT_EQ(h.password_calls, 1);
}

TEST(Authenticator, Md5Password) {
    Harness h;
    h.params.user = "md5user";
    h.password = "md5-secret";
    h.send(5, std::string("\x01\x02\x03\x04", 4));
    auto m = split(h.out);
    ASSERT_EQ(m.size(), 1u);
    EXPECT_EQ(m[0].payload, std::string("md5683becbfbf4cc297e2fcbcf72c90c0ff\0", 36));  // Python hashlib
    EXPECT_EQ(h.a().method(), Method::md5);
    EXPECT_EQ(h.out.find("md5-secret"), std::string::npos);
}

TEST(Authenticator, Md5SaltMustBeFourBytes) {
    Harness h;
    h.refuse(5, "\x01\x02\x03", "salt must be 4 bytes", ErrorKind::protocol);
}

TEST(Authenticator, MissingPassword) {
    for (std::optional<std::string> pw : {std::optional<std::string>{}, std::optional<std::string>{""}}) {
        Harness h;
        h.password = pw;
        try {
            h.send(3);
            FAIL();
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::authentication);
            EXPECT_NE(std::string(e.what()).find("password is required but none was supplied"), std::string::npos);
            EXPECT_NE(std::string(e.what()).find("scramuser"), std::string::npos);
        }
        EXPECT_TRUE(h.out.empty());
    }
}

// ---- SCRAM through the Authenticator ----------------------------------------------------

TEST(Authenticator, ScramWithoutTlsUsesN) {
    Harness h(ChannelBinding::prefer, false);
    FakeScramServer s;
    EXPECT_EQ(h.scram_exchange(plain_only, s), "n,,");
    EXPECT_EQ(s.mechanism, "SCRAM-SHA-256");
    EXPECT_EQ(h.a().method(), Method::scram_sha_256);
    EXPECT_FALSE(h.a().channel_binding_used());
    EXPECT_EQ(h.password_calls, 1);
}

TEST(Authenticator, ScramOverTlsWithoutPlusOfferUsesY) {
    Harness h(ChannelBinding::prefer, true);
    FakeScramServer s;
    EXPECT_EQ(h.scram_exchange(plain_only, s), "y,,");
    EXPECT_EQ(h.a().method(), Method::scram_sha_256);
    EXPECT_FALSE(h.a().channel_binding_used());
}

TEST(Authenticator, ScramPlusOverTls) {
    for (auto cb : {ChannelBinding::prefer, ChannelBinding::require}) {
        for (auto sig : {crypto::Hash::sha1, crypto::Hash::sha256, crypto::Hash::sha384, crypto::Hash::sha512}) {
            Harness h(cb, true, {}, sig);
            FakeScramServer s;
            s.expected_cb = auth::tls_server_end_point(cp(), server_cert(sig));
            EXPECT_EQ(h.scram_exchange(plus_and_plain, s), "p=tls-server-end-point,,");
            EXPECT_EQ(s.mechanism, "SCRAM-SHA-256-PLUS");
            EXPECT_EQ(h.a().method(), Method::scram_sha_256_plus);
            EXPECT_TRUE(h.a().channel_binding_used());
        }
    }
}

TEST(Authenticator, ScramPlusOfferedButDisabledUsesPlainWithN) {
    Harness h(ChannelBinding::disable, true);
    FakeScramServer s;
    EXPECT_EQ(h.scram_exchange(plus_and_plain, s), "n,,");
    EXPECT_EQ(s.mechanism, "SCRAM-SHA-256");
    EXPECT_FALSE(h.a().channel_binding_used());
}

TEST(Authenticator, MechanismOrderDoesNotMatter) {
    Harness h(ChannelBinding::prefer, true);
    FakeScramServer s;
    s.expected_cb = auth::tls_server_end_point(cp(), server_cert());
    h.scram_exchange(mechanisms({"SCRAM-SHA-256", "SCRAM-SHA-256-PLUS", "OTHER-MECH"}), s);
    EXPECT_EQ(s.mechanism, "SCRAM-SHA-256-PLUS");
}

TEST(Authenticator, NonAsciiPasswordIsSaslPrepped) {
    Harness h;
    h.password = "\xe2\x85\xa8";  // U+2168, SASLprep -> "IX"
    FakeScramServer s;
    s.password = "IX";
    h.scram_exchange(plain_only, s);
    EXPECT_TRUE(h.a().done());
}

TEST(Authenticator, PlusWithoutTlsIsRefused) {
    for (auto cb : {ChannelBinding::disable, ChannelBinding::prefer}) {
        Harness h(cb, false);
        h.refuse(10, plus_and_plain, "server offered SCRAM-SHA-256-PLUS authentication over a non-SSL connection");
    }
}

TEST(Authenticator, Ed25519CertificateCannotBind) {
    // libpq picks PLUS and then fails ("could not find digest for NID UNDEF"); so do we, before
    // asking for the password.
    for (auto cb : {ChannelBinding::prefer, ChannelBinding::require}) {
        Harness h(cb, true, {}, std::nullopt);
        h.refuse(10, plus_and_plain, "channel binding not possible");
    }
    Harness d(ChannelBinding::disable, true, {}, std::nullopt);
    FakeScramServer s;
    EXPECT_EQ(d.scram_exchange(plus_and_plain, s), "n,,");
    // Without a PLUS offer no binding data is needed: 'y' as libpq.
    Harness y(ChannelBinding::prefer, true, {}, std::nullopt);
    FakeScramServer s2;
    EXPECT_EQ(y.scram_exchange(plain_only, s2), "y,,");
}

TEST(Authenticator, UnknownMechanisms) {
    Harness h(ChannelBinding::prefer, true);
    std::string e = h.refuse(10, mechanisms({"SCRAM-SHA-1", "OAUTHBEARER"}), "none of the server's SASL authentication mechanisms are supported");
    EXPECT_NE(e.find("SCRAM-SHA-1, OAUTHBEARER"), std::string::npos);
    Harness empty;
    empty.refuse(10, mechanisms({}), "server offered: nothing");
}

TEST(Authenticator, MalformedMechanismList) {
    Harness h;
    h.refuse(10, std::string("SCRAM-SHA-256", 13), "invalid list of authentication mechanisms", ErrorKind::protocol);
    Harness g;
    g.refuse(10, plain_only + "junk", "data after the list", ErrorKind::protocol);
}

// ---- hostile server-first / server-final through the Authenticator ------------------------

struct ScramFailure {
    const char* name;
    std::function<std::string(const FakeScramServer&)> server_first;
    const char* needle;
};

TEST(Authenticator, HostileServerFirstEmitsNoProof) {
    const ScramFailure cases[] = {
        {"nonce not extending", [](const FakeScramServer&) { return std::string("r=someoneelse1234567890abcdefgh,s=AQID,i=4096"); },
         "does not extend"},
        {"bad salt", [](const FakeScramServer& s) { return "r=" + s.nonce + ",s=@@@@,i=4096"; }, "invalid salt"},
        {"iterations 0", [](const FakeScramServer& s) { return "r=" + s.nonce + ",s=AQID,i=0"; }, "must be positive"},
        {"iterations 1e9", [](const FakeScramServer& s) { return "r=" + s.nonce + ",s=AQID,i=1000000000"; }, "more than the limit"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        Harness h;
        FakeScramServer s;
        h.send(10, plain_only);
        s.on_initial_response(split(h.out)[0].payload);
        h.out.clear();
        h.refuse(11, c.server_first(s), c.needle);
        EXPECT_TRUE(h.out.empty());
    }
}

TEST(Authenticator, WrongServerSignature) {
    Harness h;
    FakeScramServer s;
    h.send(10, plain_only);
    h.send(11, s.on_initial_response(split(h.out)[0].payload));
    std::string good = s.on_response(split(h.out)[1].payload);
    good[5] = good[5] == 'A' ? 'B' : 'A';
    h.out.clear();
    h.refuse(12, good, "incorrect server signature");
    EXPECT_FALSE(h.a().channel_binding_used());
}

TEST(Authenticator, ServerErrorInServerFinal) {
    Harness h;
    FakeScramServer s;
    h.send(10, plain_only);
    h.send(11, s.on_initial_response(split(h.out)[0].payload));
    h.out.clear();
    h.refuse(12, "e=invalid-proof", "error received from server in SCRAM exchange: invalid-proof");
}

TEST(Authenticator, IterationLimitIsConfigurable) {
    Harness h;
    h.params.scram_max_iterations = 2048;
    FakeScramServer s;
    h.send(10, plain_only);
    s.on_initial_response(split(h.out)[0].payload);
    h.refuse(11, s.server_first, "more than the limit of 2048");
}

TEST(Authenticator, SaslMessagesOutOfOrder) {
    Harness a;
    a.refuse(11, "r=x,s=AQID,i=1", "AuthenticationSASLContinue without AuthenticationSASL", ErrorKind::protocol);
    Harness b;
    b.refuse(12, "v=AQID", "AuthenticationSASLFinal without AuthenticationSASL", ErrorKind::protocol);
    Harness c;
    c.send(10, plain_only);
    c.refuse(12, "v=AQID", "AuthenticationSASLFinal received from server, but SASL authentication was not completed");
    Harness d;
    d.send(10, plain_only);
    d.refuse(10, plain_only, "duplicate SASL authentication request", ErrorKind::protocol);
    Harness e;
    FakeScramServer s;
    e.send(10, plain_only);
    e.send(11, s.on_initial_response(split(e.out)[0].payload));
    e.refuse(11, s.server_first, "unexpected AuthenticationSASLContinue", ErrorKind::protocol);
}

TEST(Authenticator, OkBeforeScramCompletedIsAcceptedWithoutRequirements) {
    // libpq accepts this when neither channel_binding=require nor require_auth is set.
    Harness h;
    h.send(10, plain_only);
    h.send(0);
    EXPECT_TRUE(h.a().done());
    EXPECT_FALSE(h.a().channel_binding_used());
}

// ---- channel_binding=require downgrades ----------------------------------------------------

TEST(Authenticator, RequireRefusesEveryDowngrade) {
    for (bool tls : {false, true}) {
        SCOPED_TRACE(tls ? "tls" : "plaintext");
        Harness trust(ChannelBinding::require, tls);
        trust.refuse(0, {}, "channel binding required, but server authenticated client without channel binding");
        Harness clear(ChannelBinding::require, tls);
        clear.refuse(3, {}, "channel binding required but not supported by server's authentication request: server requested a cleartext password");
        Harness md5(ChannelBinding::require, tls);
        md5.refuse(5, "\x01\x02\x03\x04", "server requested a hashed password");
        Harness gss(ChannelBinding::require, tls);
        gss.refuse(7, {}, "channel binding required but not supported");
    }
    Harness nossl(ChannelBinding::require, false);
    nossl.refuse(10, plus_and_plain, "channel binding required, but SSL not in use");
    Harness noplus(ChannelBinding::require, true);
    noplus.refuse(10, plain_only, "server did not offer an authentication method that supports channel binding");
}

TEST(Authenticator, RequireRefusesOkBeforeServerFinal) {
    // After SASLInitialResponse.
    Harness a(ChannelBinding::require, true);
    a.send(10, plus_and_plain);
    a.refuse(0, {}, "before the SCRAM-SHA-256-PLUS exchange completed");
    // After the client proof, before the server signature.
    Harness b(ChannelBinding::require, true);
    FakeScramServer s;
    s.expected_cb = auth::tls_server_end_point(cp(), server_cert());
    b.send(10, plus_and_plain);
    b.send(11, s.on_initial_response(split(b.out)[0].payload));
    b.refuse(0, {}, "before the SCRAM-SHA-256-PLUS exchange completed");
    EXPECT_FALSE(b.a().done());
}

// ---- the whole channel_binding x method x TLS matrix --------------------------------------

enum class Server { trust, password, md5, scram, scram_plus };

TEST(Authenticator, ChannelBindingMethodMatrix) {
    for (auto cb : {ChannelBinding::disable, ChannelBinding::prefer, ChannelBinding::require}) {
        for (bool tls : {false, true}) {
            for (auto srv : {Server::trust, Server::password, Server::md5, Server::scram, Server::scram_plus}) {
                SCOPED_TRACE(std::to_string(int(cb)) + (tls ? " tls " : " plain ") + std::to_string(int(srv)));
                Harness h(cb, tls);
                FakeScramServer s;
                if (tls && srv == Server::scram_plus && cb != ChannelBinding::disable)
                    s.expected_cb = auth::tls_server_end_point(cp(), server_cert());
                const bool require = cb == ChannelBinding::require;
                switch (srv) {
                    case Server::trust:
                        if (require) h.refuse(0, {}, "without channel binding");
                        else { h.send(0); EXPECT_EQ(h.a().method(), Method::none); }
                        break;
                    case Server::password:
                        if (require) h.refuse(3, {}, "cleartext password");
                        else { h.send(3); h.send(0); EXPECT_EQ(h.a().method(), Method::password); }
                        break;
                    case Server::md5:
                        if (require) h.refuse(5, "salt", "hashed password");
                        else { h.send(5, "salt"); h.send(0); EXPECT_EQ(h.a().method(), Method::md5); }
                        break;
                    case Server::scram:
                        if (require) {
                            h.refuse(10, plain_only, tls ? "did not offer" : "SSL not in use");
                        } else {
                            const char* expected = (tls && cb == ChannelBinding::prefer) ? "y,," : "n,,";
                            EXPECT_EQ(h.scram_exchange(plain_only, s), expected);
                            EXPECT_EQ(h.a().method(), Method::scram_sha_256);
                        }
                        break;
                    case Server::scram_plus:
                        if (!tls) {
                            h.refuse(10, plus_and_plain, require ? "SSL not in use" : "over a non-SSL connection");
                        } else if (cb == ChannelBinding::disable) {
                            EXPECT_EQ(h.scram_exchange(plus_and_plain, s), "n,,");
                            EXPECT_EQ(h.a().method(), Method::scram_sha_256);
                        } else {
                            EXPECT_EQ(h.scram_exchange(plus_and_plain, s), "p=tls-server-end-point,,");
                            EXPECT_EQ(h.a().method(), Method::scram_sha_256_plus);
                            EXPECT_TRUE(h.a().channel_binding_used());
                        }
                        break;
                }
            }
        }
    }
}

// ---- require_auth -------------------------------------------------------------------------

TEST(Authenticator, RequireAuthRefusesBeforeSendingAnything) {
    struct Case { const char* list; std::uint32_t code; std::string payload; const char* reason; };
    const Case cases[] = {
        {"password", 5, "salt", "server requested a hashed password"},
        {"md5", 3, "", "server requested a cleartext password"},
        {"md5", 10, plain_only, "server requested SASL authentication"},
        {"scram-sha-256", 3, "", "server requested a cleartext password"},
        {"!password", 3, "", "server requested a cleartext password"},
        {"!md5,!password", 5, "salt", "server requested a hashed password"},
        {"!scram-sha-256", 10, plain_only, "server requested SASL authentication"},
        {"scram-sha-256", 0, "", "server did not complete authentication"},
        {"password,md5", 0, "", "server did not complete authentication"},
        {"!none", 0, "", "server did not complete authentication"},
        {"password", 7, "", "server requested GSSAPI authentication"},
        {"password", 9, "", "server requested SSPI authentication"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.list);
        Harness h(ChannelBinding::prefer, false, c.list);
        std::string e = h.refuse(c.code, c.payload, "authentication method requirement");
        EXPECT_NE(e.find(std::string("\"") + c.list + "\""), std::string::npos) << e;
        EXPECT_NE(e.find(c.reason), std::string::npos) << e;
    }
}

TEST(Authenticator, RequireAuthAllows) {
    Harness none(ChannelBinding::prefer, false, "none");
    none.send(0);
    EXPECT_TRUE(none.a().done());
    Harness pw_or_none(ChannelBinding::prefer, false, "password,none");
    pw_or_none.send(0);
    Harness notpw(ChannelBinding::prefer, false, "!password");
    notpw.send(0);  // a negated list allows authentication-less connections
    Harness pw(ChannelBinding::prefer, false, "password");
    pw.send(3);
    pw.send(0);
    EXPECT_TRUE(pw.a().done());
    Harness scram(ChannelBinding::prefer, false, "scram-sha-256");
    FakeScramServer s;
    scram.scram_exchange(plain_only, s);
    Harness md5(ChannelBinding::prefer, false, "md5,scram-sha-256");
    md5.send(5, "salt");
    md5.send(0);
}

TEST(Authenticator, RequireAuthScramRefusesOkMidExchange) {
    Harness h(ChannelBinding::prefer, false, "scram-sha-256");
    h.send(10, plain_only);
    h.refuse(0, {}, "server did not complete authentication");
}

#if !PGTLS_HAVE_GSSAPI
TEST(Authenticator, RequireAuthGssIsAllowedButUnsupported) {
    Harness h(ChannelBinding::prefer, false, "gss");
    h.refuse(7, {}, "GSSAPI authentication not supported");
}
#endif

TEST(Authenticator, InvalidRequireAuthIsAConfigError) {
    AuthParams p;
    p.require_auth = "password,!md5";
    try {
        Authenticator a(p);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::config);
    }
}

// ---- unsupported and malformed requests ---------------------------------------------------

TEST(Authenticator, UnsupportedMethods) {
#if !PGTLS_HAVE_GSSAPI  // with it: tests/auth/gss_authenticator_test.cpp
    Harness g;
    g.refuse(7, {}, "GSSAPI authentication not supported");
    Harness gc;
    gc.refuse(8, {}, "GSSAPI authentication not supported");
#endif
    Harness s;
    s.refuse(9, {}, "SSPI authentication not supported");
    Harness k;
    k.refuse(2, {}, "Kerberos 5 authentication not supported");
    Harness c;
    c.refuse(4, {}, "Crypt authentication not supported");
    Harness m;
    m.refuse(6, {}, "SCM_CRED authentication method not supported");
}

TEST(Authenticator, ProtocolViolations) {
    Harness unknown;
    unknown.refuse(99, {}, "unknown authentication request (code 99)", ErrorKind::protocol);
    Harness unknown_with_policy(ChannelBinding::require, true, "scram-sha-256");
    unknown_with_policy.refuse(13, {}, "code 13", ErrorKind::protocol);
    Harness shortmsg;
    std::vector<std::uint8_t> three = {0, 0, 0};
    EXPECT_THROW(shortmsg.a().on_request(three, shortmsg.out), Error);
    Harness after;
    after.send(0);
    after.refuse(3, {}, "after AuthenticationOk", ErrorKind::protocol);
    Harness second;
    second.send(3);
    std::string sent = second.out;
    second.refuse(5, "salt", "second authentication request", ErrorKind::protocol);
    EXPECT_EQ(second.out, sent);
    Harness okpayload;
    okpayload.refuse(0, "x", "unexpected payload", ErrorKind::protocol);
    Harness clearpayload;
    clearpayload.refuse(3, "x", "unexpected payload", ErrorKind::protocol);
}

TEST(Authenticator, PasswordWithNulIsRefused) {
    Harness h;
    h.password = std::string("ab\0cd", 5);
    EXPECT_THROW(h.send(3), Error);
    EXPECT_TRUE(h.out.empty());
}

// The same PLUS exchange on every crypto provider (the fake server uses the builtin one).
class AuthenticatorOnProvider : public testing::TestWithParam<NamedProvider> {};

TEST_P(AuthenticatorOnProvider, ScramPlusExchange) {
    Harness h(ChannelBinding::require, true, "scram-sha-256", crypto::Hash::sha384);
    h.params.crypto = GetParam().provider;
    FakeScramServer s;
    s.expected_cb = auth::tls_server_end_point(cp(), server_cert(crypto::Hash::sha384));
    EXPECT_EQ(h.scram_exchange(plus_and_plain, s), "p=tls-server-end-point,,");
    EXPECT_TRUE(h.a().channel_binding_used());
}

INSTANTIATE_TEST_SUITE_P(AllProviders, AuthenticatorOnProvider, testing::ValuesIn(all_crypto_providers()),
                         provider_test_name);

// Arbitrary bytes after every request code: only pgtls::Error comes out, never a crash or
// another exception type.
TEST(Authenticator, GarbageRequestsOnlyThrowPgtlsErrors) {
    std::uint32_t seed = 12345;
    auto next = [&seed] {
        seed = seed * 1103515245u + 12345u;
        return std::uint8_t(seed >> 16);
    };
    for (int round = 0; round < 3000; ++round) {
        Harness h(static_cast<ChannelBinding>(round % 3), round % 2 == 0, round % 5 == 0 ? "scram-sha-256" : "");
        for (int step = 0; step < 4; ++step) {
            std::string payload;
            const int len = next() % 40;
            for (int i = 0; i < len; ++i) payload += char(next());
            if (step == 0 && round % 4 == 0) payload = plain_only;
            const std::uint32_t code = step == 0 ? (round % 4 == 0 ? 10u : next() % 14u) : 10u + next() % 3u;
            try {
                h.send(code, payload);
            } catch (const Error&) {
                break;
            } catch (...) {
                ADD_FAILURE() << "non-pgtls exception for code " << code;
                break;
            }
        }
    }
}

TEST(Authenticator, ToString) {
    EXPECT_STREQ(auth::to_string(Method::scram_sha_256_plus), "SCRAM-SHA-256-PLUS");
    EXPECT_STREQ(auth::to_string(Method::none), "none");
    EXPECT_STREQ(auth::to_string(Method::md5), "md5");
}

}  // namespace
}  // namespace pgtls::test
