// Helpers shared by the pool's sources.
#include "pool/pool_detail.hpp"

#include <poll.h>

#include <stdexcept>

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

}  // namespace pgtls::pool_detail
