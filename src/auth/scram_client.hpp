// SCRAM-SHA-256 / SCRAM-SHA-256-PLUS client (RFC 5802, RFC 7677) as PostgreSQL speaks it
// (libpq's fe-auth-scram.c): the user name in the messages is empty (the server takes it from
// the startup packet) and the password goes through SASLprep with libpq's fallback.
//
// State machine: client_first() -> client_final(server-first) -> verify_server_final(server-final).
// Each step may be called once, in order; every failure throws Error(authentication) with a
// distinct message and leaves the client failed. Secrets are zeroed on destruction.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/crypto.hpp"

namespace pgtls::auth {

// The GS2 channel-binding flag (RFC 5802 section 7).
enum class Gs2Flag {
    n,  // client does not support (or disabled) channel binding
    y,  // client supports it but thinks the server does not
    p,  // SCRAM-SHA-256-PLUS with tls-server-end-point
};

struct ScramOptions {
    Gs2Flag gs2 = Gs2Flag::n;
    crypto::Bytes channel_binding_data;  // tls-server-end-point hash; required for Gs2Flag::p
    std::uint32_t max_iterations = 1'000'000;
    std::string nonce;                   // client nonce; empty: 18 random bytes, base64 (as libpq)
    std::string username;                // n= value; PostgreSQL ignores it, libpq sends it empty
};

class ScramClient {
public:
    // `password` is the user's password as given; SASLprep is applied here.
    ScramClient(const crypto::Provider& crypto, std::string_view password, ScramOptions options);
    ~ScramClient();
    ScramClient(const ScramClient&) = delete;
    ScramClient& operator=(const ScramClient&) = delete;

    // client-first-message: gs2-header "n=,r=" client-nonce.
    std::string client_first();
    // Parses server-first-message (r=, s=, i=) and returns client-final-message with the proof.
    std::string client_final(std::string_view server_first);
    // Parses server-final-message: "e=" is the server's error, "v=" must equal the expected
    // ServerSignature (constant-time compare).
    void verify_server_final(std::string_view server_final);

    // True after verify_server_final succeeded.
    bool finished() const noexcept { return state_ == State::finished; }
    Gs2Flag gs2() const noexcept { return options_.gs2; }

private:
    enum class State { init, first_sent, final_sent, finished, failed };
    [[noreturn]] void fail(const std::string& message);

    const crypto::Provider& crypto_;
    ScramOptions options_;
    State state_ = State::init;
    std::string password_;            // SASLprep'd (or raw) password
    std::string client_first_bare_;
    std::string server_first_;
    std::string client_final_without_proof_;
    crypto::Bytes salted_password_;
};

}  // namespace pgtls::auth
