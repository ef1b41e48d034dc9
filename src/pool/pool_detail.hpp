// Helpers shared by the pool's sources. Internal (not installed).
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <string>

#include "pgtls/pool.hpp"

namespace pgtls {
struct Settings;
}

namespace pgtls::pool_detail {

// True when fd has data or EOF pending (poll with zero timeout); false for fd < 0.
bool socket_has_input(int fd) noexcept;
// The exception's what(), or "unknown exception".
std::string describe_exception(std::exception_ptr e);
long long to_ms(std::chrono::nanoseconds d) noexcept;
// The default pool name: "user@host:port/dbname" of the first host (as OpenTelemetry suggests
// for db.client.connection.pool.name when the application names none).
std::string default_pool_name(const Settings& s);
// Calls event hook `hook` (if set) with the event; its exceptions are swallowed.
void emit(const std::function<void(const PoolEvent&)>& hook, std::uint64_t id, std::string reason,
          std::chrono::nanoseconds wait = {}) noexcept;
// Error(usage) when `options` cannot make a pool (sizes, intervals, negative durations); the
// checks every front end makes before building its PoolCore.
void validate(const PoolCoreOptions& options);

}  // namespace pgtls::pool_detail
