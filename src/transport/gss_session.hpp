// GSSAPI transport encryption (PostgreSQL's GSSENCRequest, libpq's fe-secure-gssapi.c) as a
// byte-stream session over a connected socket, beside TLS: the same tls::Session contract
// (handshake / read / write with want_read / want_write on a non-blocking socket, the caller
// owns the fd), so the channel and both drivers run every operation over it unchanged.
//
// The handshake exchanges the GSSAPI context tokens, each framed by a 4-byte big-endian
// length, until the client's context is complete (mutual authentication, confidentiality,
// integrity, replay and sequence protection). Afterwards every byte in either direction
// travels in packets of at most 16384 bytes (PQ_GSS_SEND_BUFFER_SIZE/RECV: part of the
// protocol): a 4-byte length, then gss_wrap'ed data. A server packet announcing more is
// refused before anything is allocated for it.
//
// GSSAPI failures during the handshake throw pgtls::Error (libpq's texts, with a hint for
// missing or expired credentials); network failures are IoResult statuses as for TLS.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "tls/tls_backend.hpp"

namespace pgtls::transport {

// The framing limit both sides hold to: a packet's length word plus its data.
inline constexpr std::size_t gss_max_packet = 16384;

struct GssParams {
    std::string service = "postgres";  // krbsrvname
    std::string host;                  // the connection's host name (never hostaddr)
    bool delegate = false;             // gssdelegation=1: forward the TGT
};

// Whether this build has GSSAPI (the gssapi feature).
bool gss_available() noexcept;
// libpq's pg_GSS_have_cred_cache: initiator credentials can be acquired now. False in a build
// without GSSAPI.
bool gss_credentials_available();

// A session over `fd` whose handshake() starts the GSSAPI exchange. Throws Error(config) in a
// build without GSSAPI; Error(authentication) when the target name cannot be imported.
std::unique_ptr<tls::Session> make_gss_session(int fd, const GssParams& params);

}  // namespace pgtls::transport
