// What both drivers of the engine (the blocking Client and the non-blocking AsyncConnection)
// derive from Settings to connect, and what they report once connected: one definition, so
// the two never drift apart.
#pragma once

#include <string>

#include "protocol/cancel_flow.hpp"
#include "protocol/connect_flow.hpp"
#include "protocol/startup_flow.hpp"
#include "tls/tls_backend.hpp"
#include "transport/socket.hpp"
#include "pgtls/config.hpp"
#include "pgtls/session.hpp"

namespace pgtls {

// The server name `target` gets per sslsni: none for IP literals and Unix sockets.
std::string sni_for(const Settings& settings, const HostTarget& target);

// The connect policy `settings` asks for (hosts, sslmode, negotiation, target_session_attrs,
// load balancing with a fresh random seed, connect_timeout, limits). The driver adds the two
// hooks that need its state: prepare_tls and startup_options.
protocol::ConnectOptions connect_options(const Settings& settings);

// The TCP options of the session's sockets: keepalives, keepalives_idle/interval/count and
// tcp_user_timeout as `settings` asks.
transport::SocketOptions socket_options(const Settings& settings);

// The StartupFlow options of one attempt at `target`: startup parameters, protocol versions,
// authentication settings with `crypto` for SCRAM, and the password lookup (explicit, then
// .pgpass — whose ignored-file warnings go to the session's notice handler — then the
// password callback; a callback that throws ends the attempt, its exception kept in
// session.callback_error). `settings` and `session` outlive the attempt.
protocol::StartupOptions startup_options(const Settings& settings, const HostTarget& target, protocol::TlsStart tls,
                                         const crypto::Provider& crypto, protocol::SessionState& session);

// What a connected attempt negotiated: where it went, TLS (`up` null without it; `backend` is
// the TLS backend that ran the handshake), the startup's outcome and the server's version.
ConnectionInfo connection_info(const HostTarget& target, const std::string& address, protocol::TlsStart tls,
                               const protocol::TlsUp* up, const tls::Backend* backend,
                               const protocol::StartupFlow& startup, const protocol::SessionState& session);

// A cancel request for the session connected to `target` at `address` with `tls`: the same
// server (its numeric address, not a re-resolve) and negotiation, the session's key; the
// grace period is libpq's connect_timeout (30 s without one). The caller may shorten it.
protocol::CancelOptions cancel_options(const Settings& settings, const HostTarget& target, const std::string& address,
                                       protocol::TlsStart tls, bool verify_full, const protocol::BackendKey& key);

}  // namespace pgtls
