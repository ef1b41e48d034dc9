// Helpers shared by the pool's sources. Internal (not installed).
#pragma once

#include <chrono>
#include <exception>
#include <string>

namespace pgtls::pool_detail {

// True when fd has data or EOF pending (poll with zero timeout); false for fd < 0.
bool socket_has_input(int fd) noexcept;
// The exception's what(), or "unknown exception".
std::string describe_exception(std::exception_ptr e);
long long to_ms(std::chrono::nanoseconds d) noexcept;

}  // namespace pgtls::pool_detail
