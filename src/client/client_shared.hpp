// Connection-setup state shared by many Clients with the same Settings — what a Pool builds
// once instead of per connection: the TLS configuration object (tls::Context, with its CA,
// CRL and client key loaded once) and a cache of SCRAM-derived keys (crypto/pbkdf2_cache.hpp).
// Internal (not installed): used by pool/; the public Client API is unchanged.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "pgtls/client.hpp"
#include "pgtls/config.hpp"

namespace pgtls {

struct ConnectShared;  // defined in src/client/client.cpp

// An empty shared state: the TLS context is built by the first connection that needs it (so
// its configuration errors surface there, as for a lone Client) and reused afterwards.
std::shared_ptr<ConnectShared> make_connect_shared();

// Connects like Client(settings), but through `shared` (nullptr: exactly Client(settings)).
// Every Client connected with the same `shared` must have the same TLS and credential settings.
// `limit` (0: none) bounds the whole connect, every host and attempt together, exactly.
std::unique_ptr<Client> connect_shared(Settings settings, const std::shared_ptr<ConnectShared>& shared,
                                       std::chrono::milliseconds limit = std::chrono::milliseconds(0));

// Builds a new TLS context from `settings` (its files read now) and makes it the one later
// connects through `shared` use; clients already connected keep theirs alive. On failure
// throws the load error (as a connect would) and keeps the previous context.
void rebuild_shared_tls(ConnectShared& shared, const Settings& settings);

// False when `client` did its TLS through a context of `shared` that rebuild_shared_tls()
// has since replaced; true otherwise (the current context, no TLS, or not a shared client).
bool uses_current_tls(const Client& client, const ConnectShared& shared);

// Counters, for tests and benchmarks.
struct ConnectSharedStats {
    std::uint64_t tls_contexts_built = 0;
    std::uint64_t pbkdf2_cache_hits = 0;
    std::uint64_t pbkdf2_cache_misses = 0;
};
ConnectSharedStats connect_shared_stats(const ConnectShared& shared);

}  // namespace pgtls
