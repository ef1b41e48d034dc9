// pgtls::Pool: BasicPool over pgtls::Client with a shared connection setup.
#include "pgtls/pool.hpp"

#include "client/client_shared.hpp"
#include "pool/pool_detail.hpp"
#include "pool/tls_reload.hpp"

#include <cmath>

namespace pgtls {

namespace {

// One Settings for every connection of the pool: resolved once, copied per connect so the
// pool's connect_timeout can override the settings' own. One ConnectShared too: the TLS
// context is built by the first connect and reused (until `watch` rebuilds it from changed
// files), and SCRAM's PBKDF2 result is kept for the (password, salt, iterations) the server
// sends, so reconnects skip both.
BasicPool<Client>::Connector client_connector(std::shared_ptr<const Settings> shared,
                                              std::shared_ptr<ConnectShared> setup,
                                              std::shared_ptr<pool_detail::TlsFileWatch> watch) {
    return [shared, setup, watch](std::chrono::milliseconds connect_timeout) {
        watch->check();
        Settings s = *shared;
        // Settings holds whole seconds; round up so a 500 ms budget does not become "none".
        if (connect_timeout.count() > 0) s.connect_timeout = std::chrono::ceil<std::chrono::seconds>(connect_timeout);
        // ... and the exact budget bounds the whole connect (every host and attempt), below
        // libpq's 2 s floor: an acquire() must not outlast its own timeout.
        return connect_shared(std::move(s), setup, connect_timeout);
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
    std::shared_ptr<pool_detail::TlsFileWatch> watch;
    PoolOptions options;

    Parts(Settings settings, PoolOptions o) : options(std::move(o)) {
        if (!options.tracer) options.tracer = settings.tracer;
        if (options.name.empty()) options.name = pool_detail::default_pool_name(settings);
        auto shared = std::make_shared<const Settings>(std::move(settings));
        auto setup = make_connect_shared();
        watch = std::make_shared<pool_detail::TlsFileWatch>(shared, setup, options.tls_check_interval,
                                                            options.on_tls_reload);
        connector = client_connector(shared, setup, watch);
        if (options.retire_on_tls_reload)
            retire = [setup](const Client& c) { return !uses_current_tls(c, *setup); };
    }
};

Pool::Pool(Settings settings, PoolOptions options) : Pool(Parts(std::move(settings), std::move(options))) {}

Pool::Pool(Parts parts)
    : BasicPool<Client>(std::move(parts.connector), std::move(parts.options), std::move(parts.retire)),
      tls_watch_(std::move(parts.watch)) {}

void Pool::reload_tls() { tls_watch_->reload(); }

template class BasicPool<Client>;

}  // namespace pgtls
