// SCRAM-SHA-256 on every crypto provider: the RFC 7677 example, libpq-shaped exchanges (empty
// user name, n/y/p GS2 flags, non-ASCII passwords) computed independently with Python
// (scripts/gen-auth-test-vectors.py), and each malformed or hostile server message.
#include <gtest/gtest.h>

#include <set>

#include "auth/scram_client.hpp"
#include "crypto_providers.hpp"
#include "pgtls/error.hpp"

namespace pgtls::test {
namespace {

using auth::Gs2Flag;
using auth::ScramClient;
using auth::ScramOptions;

constexpr const char* libpq_nonce = "fyko+d2lbbFgONRv9qkxdawL";
constexpr const char* server_first_4096 =
    "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=AQIDBAUGBwgJCgsMDQ4PEA==,i=4096";

std::vector<std::uint8_t> cb_data() {
    // sha256("certificate-der")
    const char* hex = "03f48c90a8e6886eab083a748a07cdbbae80c034c57ae76a11635ad852d913e3";
    std::vector<std::uint8_t> v;
    for (int i = 0; i < 64; i += 2) v.push_back(std::uint8_t(std::stoi(std::string(hex + i, 2), nullptr, 16)));
    return v;
}

class Scram : public testing::TestWithParam<NamedProvider> {
protected:
    const crypto::Provider& p() const { return *GetParam().provider; }

    std::unique_ptr<ScramClient> client(std::string_view password, Gs2Flag gs2 = Gs2Flag::n, std::uint32_t max_iter = 1'000'000) {
        ScramOptions o;
        o.gs2 = gs2;
        if (gs2 == Gs2Flag::p) o.channel_binding_data = cb_data();
        o.nonce = libpq_nonce;
        o.max_iterations = max_iter;
        return std::make_unique<ScramClient>(p(), password, std::move(o));
    }

    // Runs client-first and client-final, returning the error message of client_final.
    std::string server_first_error(std::string_view server_first, std::uint32_t max_iter = 1'000'000) {
        auto c = client("pencil", Gs2Flag::n, max_iter);
        c->client_first();
        try {
            c->client_final(server_first);
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::authentication);
            EXPECT_EQ(std::string(e.what()).find("pencil"), std::string::npos);
            return e.what();
        }
        ADD_FAILURE() << "accepted server-first: " << server_first;
        return {};
    }

    std::string server_final_error(std::string_view server_final) {
        auto c = client("scram-secret");
        c->client_first();
        c->client_final(server_first_4096);
        try {
            c->verify_server_final(server_final);
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::authentication);
            EXPECT_FALSE(c->finished());
            return e.what();
        }
        ADD_FAILURE() << "accepted server-final: " << server_final;
        return {};
    }
};

TEST_P(Scram, Rfc7677Example) {
    ScramOptions o;
    o.nonce = "rOprNGfwEbeRWgbNEkqO";
    o.username = "user";
    ScramClient c(p(), "pencil", o);
    EXPECT_EQ(c.client_first(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
    EXPECT_EQ(c.client_final("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"),
              "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
    EXPECT_FALSE(c.finished());
    EXPECT_NO_THROW(c.verify_server_final("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="));
    EXPECT_TRUE(c.finished());
}

struct LibpqVector { const char* password; Gs2Flag gs2; const char* first; const char* final_; const char* verifier; };

TEST_P(Scram, LibpqCompatibleVectors) {
    const LibpqVector vectors[] = {
        {"scram-secret", Gs2Flag::n, "n,,n=,r=fyko+d2lbbFgONRv9qkxdawL",
         "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=G/4a9UzaSNpmlL4csj0Oe2ol2PhHTg0vmiWN4P7aslU=",
         "v=rPk5Q7atNLwzDClMcryW/DezsSBUdB5l/h8P//fIZME="},
        {"scram-secret", Gs2Flag::y, "y,,n=,r=fyko+d2lbbFgONRv9qkxdawL",
         "c=eSws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=Fi9ZnTk4liz8XrP+PIVKMhdHd4xm70FJ1uY6XcmI+yU=",
         "v=8F8fXNFiVYrEExTrQWzFU/3/j4gOmpzcuvURzkfSzJY="},
        {"scram-secret", Gs2Flag::p, "p=tls-server-end-point,,n=,r=fyko+d2lbbFgONRv9qkxdawL",
         "c=cD10bHMtc2VydmVyLWVuZC1wb2ludCwsA/SMkKjmiG6rCDp0igfNu66AwDTFeudqEWNa2FLZE+M=,r=fyko+d2lbbFgONRv9qkxdawL"
         "3rfcNHYJY1ZVvWVs7j,p=yToo5EkisPwzZj0zki6lEsliZIPaNxjPtL+fQWtpOJE=",
         "v=dKyGrFe7KCa6G2mlX39QIkasCP8NLXv3OUXU3EZBMwA="},
        {"p\xc3\xa4ssw\xc3\xb6rd", Gs2Flag::n, "n,,n=,r=fyko+d2lbbFgONRv9qkxdawL",
         "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=VCn+VG/tECSJ4vNDdAqa0XhMywBRdSNuxEjxNuPMKCA=",
         "v=bMhqZN59AvBmPFCIcosI3h7rNpwqe8Q0Y/39GER9FFo="},
        // SASLprep: U+2168 ROMAN NUMERAL NINE and "I<SOFT HYPHEN>X" both become "IX" (RFC 4013 examples).
        {"\xe2\x85\xa8", Gs2Flag::n, "n,,n=,r=fyko+d2lbbFgONRv9qkxdawL",
         "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=hJ/Q+wWZHKJYyCbeUDEJCmwWuxoj2Q5I4u/fzOp/FRQ=",
         "v=xPOJjo/rznbNWmy4qNyVgzmWEG8vlbl0vNf8cQ1FJ38="},
        {"I\xc2\xadX", Gs2Flag::n, "n,,n=,r=fyko+d2lbbFgONRv9qkxdawL",
         "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=hJ/Q+wWZHKJYyCbeUDEJCmwWuxoj2Q5I4u/fzOp/FRQ=",
         "v=xPOJjo/rznbNWmy4qNyVgzmWEG8vlbl0vNf8cQ1FJ38="},
    };
    for (const auto& v : vectors) {
        SCOPED_TRACE(v.first);
        auto c = client(v.password, v.gs2);
        EXPECT_EQ(c->client_first(), v.first);
        EXPECT_EQ(c->client_final(server_first_4096), v.final_);
        EXPECT_NO_THROW(c->verify_server_final(v.verifier));
        EXPECT_TRUE(c->finished());
    }
}

TEST_P(Scram, RandomNonceIsLibpqShaped) {
    ScramClient a(p(), "x", {}), b(p(), "x", {});
    std::string fa = a.client_first(), fb = b.client_first();
    ASSERT_EQ(fa.rfind("n,,n=,r=", 0), 0u);
    EXPECT_EQ(fa.size(), std::string("n,,n=,r=").size() + 24);  // base64 of 18 random bytes
    EXPECT_NE(fa, fb);
}

TEST_P(Scram, ServerFirstViolationsHaveDistinctErrors) {
    std::set<std::string> messages;
    auto expect = [&](std::string_view msg, const char* needle, std::uint32_t max_iter = 1'000'000) {
        std::string e = server_first_error(msg, max_iter);
        EXPECT_NE(e.find(needle), std::string::npos) << msg << " -> " << e;
        messages.insert(e);
    };
    expect("", "empty");
    expect("s=AQID,r=fyko+d2lbbFgONRv9qkxdawL3rfc,i=4096", "attribute \"r\"");
    expect("m=ext,r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=AQID,i=4096", "attribute \"r\"");
    expect("r=otherclientnonce0000000xx,s=AQID,i=4096", "does not extend");
    expect("r=fyko+d2lbbFgONRv9qkxdawL,s=AQID,i=4096", "does not extend");        // nothing appended
    expect("r=fyko+d2lbbFg,s=AQID,i=4096", "does not extend");                   // truncated
    expect("r=fyko+d2lbbFgONRv9qkxdawL3rf\x01,s=AQID,i=4096", "non-printable");
    expect("r=fyko+d2lbbFgONRv9qkxdawL3rfc,i=4096,s=AQID", "attribute \"s\"");
    expect("r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=AQI,i=4096", "invalid salt");
    expect("r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=A!ID,i=4096", "invalid salt");
    expect("r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=,i=4096", "invalid salt");
    expect("r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=AQID", "attribute \"i\"");
    expect("r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=AQID,i=0", "must be positive");
    expect("r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=AQID,i=-1", "invalid iteration count");
    expect("r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=AQID,i=12x", "invalid iteration count");
    expect("r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=AQID,i=", "invalid iteration count");
    expect("r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=AQID,i=99999999999999999999", "invalid iteration count");
    expect("r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=AQID,i=1000000000", "more than the limit");
    expect("r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=AQID,i=4097", "more than the limit", 4096);
    expect("r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=AQID,i=4096,x=extra", "garbage at end");
    expect("r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=AQID,i=4096,", "garbage at end");
    expect(std::string_view("r=fyko+d2lbbFgONRv9qkxdawL3rfc\0,s=AQID,i=4096", 45), "NUL");
    // Each class of failure reads differently (salt and iteration families share a prefix).
    EXPECT_GE(messages.size(), 12u);
}

TEST_P(Scram, ServerFinalViolations) {
    EXPECT_NE(server_final_error("").find("empty"), std::string::npos);
    EXPECT_NE(server_final_error("e=invalid-proof").find("error received from server in SCRAM exchange: invalid-proof"),
              std::string::npos);
    EXPECT_NE(server_final_error("x=abc").find("attribute \"v\""), std::string::npos);
    EXPECT_NE(server_final_error("v=AQID").find("invalid server signature"), std::string::npos);
    EXPECT_NE(server_final_error("v=not base64!").find("invalid server signature"), std::string::npos);
    EXPECT_NE(server_final_error("v=rPk5Q7atNLwzDClMcryW/DezsSBUdB5l/h8P//fIZME=,x=1").find("garbage at end"), std::string::npos);
    // Right length, wrong value: the signature another password would give.
    EXPECT_NE(server_final_error("v=8F8fXNFiVYrEExTrQWzFU/3/j4gOmpzcuvURzkfSzJY=").find("incorrect server signature"),
              std::string::npos);
}

TEST_P(Scram, StepsOutOfOrderFail) {
    auto c = client("scram-secret");
    EXPECT_THROW(c->client_final(server_first_4096), Error);
    auto d = client("scram-secret");
    d->client_first();
    EXPECT_THROW(d->verify_server_final("v=rPk5Q7atNLwzDClMcryW/DezsSBUdB5l/h8P//fIZME="), Error);
    auto e = client("scram-secret");
    e->client_first();
    EXPECT_THROW(e->client_first(), Error);
}

INSTANTIATE_TEST_SUITE_P(AllProviders, Scram, testing::ValuesIn(all_crypto_providers()), provider_test_name);

}  // namespace
}  // namespace pgtls::test
