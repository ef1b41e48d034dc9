// The client side of one GSSAPI security context, as libpq's pg_GSS_startup/pg_GSS_continue
// drive it: target "<service>@<host>" (GSS_C_NT_HOSTBASED_SERVICE), credentials from the
// default ccache or KRB5CCNAME, mutual authentication, delegation only when asked for.
// Only built with the gssapi feature (meson -Dgssapi). The object owns every GSSAPI handle
// it holds and releases them in its destructor.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace pgtls::auth::gssapi {

struct InitiatorOptions {
    std::string service = "postgres";  // krbsrvname
    std::string host;                  // the connection's host name (not its address)
    bool delegate = false;             // gssdelegation=1: GSS_C_DELEG_FLAG
    // GSSAPI transport encryption (libpq's pqsecure_open_gss): asks for confidentiality,
    // integrity, replay and sequence protection besides mutual authentication, and names a
    // failure "could not initiate GSSAPI security context" as libpq does.
    bool encryption = false;
};

// libpq's pg_GSS_have_cred_cache: whether initiator credentials (a ticket in the default ccache
// or KRB5CCNAME) can be acquired. gssencmode=prefer|require tries encryption only then.
bool have_initiator_credentials();

class Initiator {
public:
    // Imports the target name. Throws Error(authentication) with libpq's
    // "GSSAPI name import error" text, or "host name must be specified" for an empty host.
    explicit Initiator(InitiatorOptions options);
    ~Initiator();
    Initiator(const Initiator&) = delete;
    Initiator& operator=(const Initiator&) = delete;

    // One gss_init_sec_context round. `input` is the server's token (empty on the first
    // call). Appends the token to send to `output` (possibly nothing). Returns true when the
    // context is complete (mutual authentication done). Throws Error(authentication) with
    // libpq's "GSSAPI continuation error: <major>: <minor>" text, plus a hint naming the
    // likely cause for missing/expired credentials and unknown service principals.
    bool step(std::span<const std::uint8_t> input, std::string& output);

    bool complete() const noexcept { return complete_; }
    bool started() const noexcept;

    // Per-message protection on a complete context (encryption only). The largest input
    // whose wrapped token fits in `max_token` bytes (gss_wrap_size_limit).
    std::size_t max_wrap_input(std::size_t max_token) const;
    // Appends the sealed token for `plain` to `out`. Throws Error(connection) with libpq's
    // "GSSAPI wrap error" text, or when the token would not use confidentiality.
    void wrap(std::span<const std::uint8_t> plain, std::string& out) const;
    // Appends the plaintext of `token` to `out`. Throws Error(connection) with libpq's
    // "GSSAPI unwrap error" text, or when the server's token did not use confidentiality.
    void unwrap(std::span<const std::uint8_t> token, std::string& out) const;

private:
    struct Handles;
    InitiatorOptions options_;
    std::unique_ptr<Handles> h_;
    bool complete_ = false;
};

}  // namespace pgtls::auth::gssapi
