// pgtls::Pool: BasicPool over pgtls::Client, and the non-template helpers of pool.hpp.
#include "pgtls/pool.hpp"

#include "core/client_shared.hpp"

#include <poll.h>

#include <cmath>

namespace pgtls {

namespace {

class SteadyPoolClock final : public PoolClock {
public:
    time_point now() const override { return std::chrono::steady_clock::now(); }
    void wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                    time_point deadline) const override {
        if (deadline == time_point::max())
            cv.wait(lock);
        else
            cv.wait_until(lock, deadline);
    }
};

// One Settings for every connection of the pool: resolved once, copied per connect so the
// pool's connect_timeout can override the settings' own. One ConnectShared too: the TLS
// context is built by the first connect and reused, and SCRAM's PBKDF2 result is kept for the
// (password, salt, iterations) the server sends, so reconnects skip both.
BasicPool<Client>::Connector client_connector(Settings settings) {
    auto shared = std::make_shared<const Settings>(std::move(settings));
    auto setup = make_connect_shared();
    return [shared, setup](std::chrono::milliseconds connect_timeout) {
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

std::shared_ptr<const PoolClock> steady_pool_clock() {
    static const auto clock = std::make_shared<const SteadyPoolClock>();
    return clock;
}

namespace pool_detail {

bool socket_has_input(int fd) noexcept {
    if (fd < 0) return false;
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
}

std::string describe_exception(std::exception_ptr e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        return x.what();
    } catch (...) {
        return "unknown exception";
    }
}

long long to_ms(std::chrono::nanoseconds d) noexcept {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace pool_detail

Pool::Pool(const Config& config, PoolOptions options) : Pool(resolve(config), std::move(options)) {}

Pool::Pool(const std::string& conninfo, PoolOptions options)
    : Pool(resolve_conninfo(conninfo), std::move(options)) {}

Pool::Pool(Settings settings, PoolOptions options)
    : BasicPool<Client>(client_connector(std::move(settings)), std::move(options)) {}

template class BasicPool<Client>;

}  // namespace pgtls
