// Helpers shared by the pool's sources.
#include "pool/pool_detail.hpp"

#include <poll.h>

#include <stdexcept>

#include "pgtls/config.hpp"
#include "pgtls/error.hpp"

namespace pgtls::pool_detail {

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

std::string default_pool_name(const Settings& s) {
    std::string name = s.user + "@";
    if (!s.hosts.empty()) {
        const HostTarget& h = s.hosts.front();
        name += (h.host.empty() ? h.hostaddr : h.host) + ":" + std::to_string(h.port);
    }
    return name + "/" + s.dbname;
}

void emit(const std::function<void(const PoolEvent&)>& hook, std::uint64_t id, std::string reason,
          std::chrono::nanoseconds wait) noexcept {
    if (!hook) return;
    try {
        hook(PoolEvent{id, std::move(reason), wait});
    } catch (...) {
        // A hook's exception is the application's: it never changes what the pool does.
    }
}

void validate(const PoolCoreOptions& opt) {
    if (opt.max_size == 0) throw Error(ErrorKind::usage, "pool: max_size must be at least 1");
    if (opt.min_size > opt.max_size)
        throw Error(ErrorKind::usage, "pool: min_size (" + std::to_string(opt.min_size) + ") exceeds max_size (" +
                                          std::to_string(opt.max_size) + ")");
    if (opt.maintenance_interval.count() <= 0)
        throw Error(ErrorKind::usage, "pool: maintenance_interval must be positive");
    if (opt.connect_backoff_initial.count() < 0 || opt.connect_backoff_max < opt.connect_backoff_initial)
        throw Error(ErrorKind::usage, "pool: connect_backoff_initial must be >= 0 and <= connect_backoff_max");
    if (opt.max_lifetime_jitter.count() < 0 || opt.acquire_timeout.count() < 0 || opt.idle_timeout.count() < 0 ||
        opt.max_lifetime.count() < 0 || opt.connect_timeout.count() < 0 || opt.health_check_timeout.count() < 0)
        throw Error(ErrorKind::usage, "pool: durations must not be negative");
}

}  // namespace pgtls::pool_detail
