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
};

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

private:
    struct Handles;
    InitiatorOptions options_;
    std::unique_ptr<Handles> h_;
    bool complete_ = false;
};

}  // namespace pgtls::auth::gssapi
