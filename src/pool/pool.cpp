// pgtls::Pool: BasicPool over pgtls::Client with a shared connection setup.
#include "pgtls/pool.hpp"

#include "client/client_shared.hpp"
#include "pool/pool_detail.hpp"
#include "pool/tls_reload.hpp"

#include <cmath>

namespace pgtls {

namespace {

// One Settings for every connection of the pool: resolved once, copied per connect so the
// pool's connect_timeout can override the settings' own. One ConnectShared too (in `tls`):
// the TLS context is built by the first connect and reused (until `tls` rebuilds it from
// changed files), and SCRAM's PBKDF2 result is kept for the (password, salt, iterations) the
// server sends, so reconnects skip both.
BasicPool<Client>::Connector client_connector(std::shared_ptr<pool_detail::PoolTls> tls) {
    return [tls](std::chrono::milliseconds connect_timeout) {
        tls->check();
        Settings s = *tls->settings();
        // Settings holds whole seconds; round up so a 500 ms budget does not become "none".
        if (connect_timeout.count() > 0) s.connect_timeout = std::chrono::ceil<std::chrono::seconds>(connect_timeout);
        // ... and the exact budget bounds the whole connect (every host and attempt), below
        // libpq's 2 s floor: an acquire() must not outlast its own timeout.
        return connect_shared(std::move(s), tls->shared(), connect_timeout);
    };
}

Settings resolve_conninfo(const std::string& conninfo) {
    Config config;
    config.conninfo = conninfo;
    return resolve(config);
}

}  // namespace

Pool::Pool(const Config& config, PoolOptions options) : Pool(resolve(config), std::move(options)) {}

Pool::Pool(const std::string& conninfo, PoolOptions options)
    : Pool(resolve_conninfo(conninfo), std::move(options)) {}

struct Pool::Parts {
    BasicPool<Client>::Connector connector;
    std::function<bool(const Client&)> retire;
    std::shared_ptr<pool_detail::PoolTls> tls;
    PoolOptions options;

    Parts(Settings settings, PoolOptions o) : options(std::move(o)) {
        if (!options.tracer) options.tracer = settings.tracer;
        if (options.name.empty()) options.name = pool_detail::default_pool_name(settings);
        tls = std::make_shared<pool_detail::PoolTls>(std::make_shared<const Settings>(std::move(settings)),
                                                      options.tls_check_interval, options.retire_on_tls_reload,
                                                      options.on_tls_reload);
        connector = client_connector(tls);
        if (tls->retires()) retire = [tls = tls](const Client& c) { return tls->retire_reason(c).closes(); };
    }
};

Pool::Pool(Settings settings, PoolOptions options) : Pool(Parts(std::move(settings), std::move(options))) {}

Pool::Pool(Parts parts)
    : BasicPool<Client>(std::move(parts.connector), std::move(parts.options), std::move(parts.retire)),
      tls_(std::move(parts.tls)) {}

void Pool::reload_tls() { tls_->reload(); }

template class BasicPool<Client>;

}  // namespace pgtls
