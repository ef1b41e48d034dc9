// Helpers shared by the pool's sources.
#include "pool/pool_detail.hpp"

#include <poll.h>

#include <stdexcept>

#include "pgtls/config.hpp"

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

}  // namespace pgtls::pool_detail
