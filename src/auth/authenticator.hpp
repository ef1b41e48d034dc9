// Authentication exchange, backend-neutral: turns the server's Authentication* requests into
// the client's replies, and enforces channel_binding and require_auth before any secret
// leaves the client. Used by the startup flow in src/protocol; knows no socket.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "crypto/crypto.hpp"
#include "tls/tls_backend.hpp"
#include "pgtls/config.hpp"

namespace pgtls::auth {

enum class Method { none, password, md5, scram_sha_256, scram_sha_256_plus, gss, sspi };
const char* to_string(Method) noexcept;  // "none", "password", "md5", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS", ...

struct AuthParams {
    const crypto::Provider* crypto = nullptr;   // required for md5 and SCRAM
    std::string user;
    // Returns the password, looked up lazily (explicit, .pgpass, callback) only when the
    // server asks for one. nullopt: no password available.
    std::function<std::optional<std::string>()> get_password;
    ChannelBinding channel_binding = ChannelBinding::prefer;
    std::string require_auth;                  // libpq 16 list; empty = anything
    bool tls = false;                          // connection is encrypted
    // Server certificate for tls-server-end-point; nullopt when not TLS.
    std::optional<tls::PeerCertificate> peer_certificate;
    int scram_max_iterations = 1'000'000;
    // GSSAPI (builds with the gssapi feature): the target is "<krbsrvname>@<gss_host>".
    std::string krbsrvname = "postgres";
    std::string gss_host;        // the connection's host name (libpq: connhost[].host)
    bool gss_delegation = false;  // gssdelegation=1: forward the TGT (GSS_C_DELEG_FLAG)
    // The connection runs over GSSAPI encryption, whose context already authenticated both
    // sides: require_auth allowing gss is then satisfied without a GSS exchange (libpq 16+).
    bool gss_encrypted = false;
};

class Authenticator {
public:
    // Throws Error(config) if require_auth does not parse.
    explicit Authenticator(AuthParams params);
    ~Authenticator();
    Authenticator(Authenticator&&) noexcept;
    Authenticator& operator=(Authenticator&&) noexcept;

    // `body` is an Authentication ('R') message body: Int32 code followed by its payload.
    // Appends the complete frontend reply (type byte + length + payload) to `out`, or nothing.
    // AuthenticationOk (code 0) appends nothing and checks the policy (require_auth "none",
    // channel_binding=require, SCRAM finished with a verified server signature).
    // Throws Error(authentication) naming the reason; never sends a password the policy forbids.
    void on_request(std::span<const std::uint8_t> body, std::string& out);

    // True once AuthenticationOk was accepted.
    bool done() const noexcept;
    Method method() const noexcept;             // method the server used (none for trust)
    // What happened, for ConnectionInfo::auth_method: "trust", "password", "md5",
    // "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS", "gss"; a SCRAM or GSSAPI exchange the server ended with
    // AuthenticationOk before its signature was verified is named so ("SCRAM-SHA-256
    // (incomplete: ...)"): the server was never authenticated.
    std::string method_used() const;
    bool channel_binding_used() const noexcept;

    // Tests: fix the SCRAM client nonce (base64 text, no commas).
    void set_scram_nonce_for_testing(std::string nonce);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace pgtls::auth
