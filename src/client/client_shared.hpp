// Connection-setup state shared by many connections (Client or AsyncConnection) with the same Settings — what a Pool builds
// once instead of per connection: the TLS configuration object (tls::Context, with its CA,
// CRL and client key loaded once) and a cache of SCRAM-derived keys (crypto/pbkdf2_cache.hpp).
// Internal (not installed): used by pool/; the public Client API is unchanged.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "pgtls/async.hpp"
#include "pgtls/client.hpp"
#include "pgtls/config.hpp"

namespace pgtls {

namespace crypto {
class Provider;
}
struct ConnectShared;  // defined in src/client/client_connect.cpp
struct TlsSetup;       // src/client/client_impl.hpp

// An empty shared state: the TLS context is built by the first connection that needs it (so
// its configuration errors surface there, as for a lone Client) and reused afterwards.
std::shared_ptr<ConnectShared> make_connect_shared();

// Connects like Client(settings), but through `shared` (nullptr: exactly Client(settings)).
// Every Client connected with the same `shared` must have the same TLS and credential settings.
// `limit` (0: none) bounds the whole connect, every host and attempt together, exactly.
std::unique_ptr<Client> connect_shared(Settings settings, const std::shared_ptr<ConnectShared>& shared,
                                       std::chrono::milliseconds limit = std::chrono::milliseconds(0));

// Queues connection.connect(settings, done) made through `shared` as connect_shared() makes a
// Client: the TLS context and the SCRAM key cache are shared's. A later plain connect() on the
// same connection goes back to its own context.
AsyncConnection::OpId connect_shared(AsyncConnection& connection, Settings settings,
                                     std::shared_ptr<ConnectShared> shared, AsyncConnection::Done done);

// What a connect through `shared` uses, for the drivers: the current TLS setup (built from
// `settings` by the first caller, so its errors surface there), and `base` behind the PBKDF2
// cache. Thread-safe.
std::shared_ptr<TlsSetup> shared_tls(ConnectShared& shared, const Settings& settings);
const crypto::Provider& shared_auth_crypto(ConnectShared& shared, const crypto::Provider& base);
// True when `tls` is the setup later connects through `shared` get.
bool is_current_tls(const ConnectShared& shared, const std::shared_ptr<TlsSetup>& tls);

// Builds a new TLS context from `settings` (its files read now) and makes it the one later
// connects through `shared` use; clients already connected keep theirs alive. On failure
// throws the load error (as a connect would) and keeps the previous context.
void rebuild_shared_tls(ConnectShared& shared, const Settings& settings);

// False when the connection did its TLS through a context of `shared` that
// rebuild_shared_tls() has since replaced; true otherwise (the current context, no TLS, or
// not connected through `shared`).
bool uses_current_tls(const Client& client, const ConnectShared& shared);
bool uses_current_tls(const AsyncConnection& connection, const ConnectShared& shared);

// Counters, for tests and benchmarks.
struct ConnectSharedStats {
    std::uint64_t tls_contexts_built = 0;
    std::uint64_t pbkdf2_cache_hits = 0;
    std::uint64_t pbkdf2_cache_misses = 0;
};
ConnectSharedStats connect_shared_stats(const ConnectShared& shared);

}  // namespace pgtls
