// Certificate rotation for both front ends (pgtls::Pool, AsyncPool): one per pool, it holds
// the pool's shared connection setup (ConnectShared: TLS context, SCRAM key cache), notices
// that the TLS files its Settings name (sslcert, sslkey, sslrootcert, sslcrl, sslcrldir and
// its entries) changed on disk, rebuilds the context from them, and says which released
// connections to retire. Internal (not installed).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "client/client_shared.hpp"
#include "pgtls/async.hpp"
#include "pgtls/config.hpp"
#include "pgtls/pool.hpp"
#include "pool/pool_core.hpp"

namespace pgtls::pool_detail {

// What stat() said about one watched path; equal stamps mean "unchanged".
struct FileStamp {
    std::string path;
    bool exists = false;
    std::uint64_t dev = 0, ino = 0, size = 0;
    std::int64_t mtime_ns = 0, ctime_ns = 0;
    bool operator==(const FileStamp&) const = default;
};

class PoolTls {
public:
    // `interval` (tls_check_interval): the least time between two automatic checks; negative:
    // none (reload() only). `retire` (retire_on_tls_reload): see retire_reason(). `hook` (may
    // be empty; the blocking pool's on_tls_reload, the async pool's queue for advance()) hears
    // every rebuild: PoolEvent::reason empty on success, else the load error.
    PoolTls(std::shared_ptr<const Settings> settings, std::chrono::milliseconds interval, bool retire,
            std::function<void(const PoolEvent&)> hook);

    // What every connection of the pool connects with.
    const std::shared_ptr<const Settings>& settings() const noexcept { return settings_; }
    const std::shared_ptr<ConnectShared>& shared() const noexcept { return shared_; }

    // Before each new connection: at most once per interval, stat the files and rebuild the
    // context when any changed. Never throws; a failed rebuild keeps the last good context
    // and is reported once per change of the files.
    void check() noexcept;
    // Rebuilds now whatever the files look like; throws the load error (the last good context
    // stays). Nothing to do when the settings use no TLS.
    void reload();
    // Checked on release right after the broken-connection check: with retire_on_tls_reload,
    // a connection whose TLS context a rebuild has replaced is closed ("retired: TLS material
    // reloaded"); empty otherwise.
    CloseReason retire_reason(const Client& c) const;
    CloseReason retire_reason(const AsyncConnection& c) const;
    bool retires() const noexcept { return retire_; }

private:
    std::vector<FileStamp> stamp() const;
    // Rebuilds the shared context; returns the load error, or null on success.
    std::exception_ptr rebuild() noexcept;
    // Tells the hook (without m_ held: it may call reload()); a throwing hook is ignored.
    void report(const std::exception_ptr& error) const noexcept;

    const std::shared_ptr<const Settings> settings_;
    const std::shared_ptr<ConnectShared> shared_;
    const std::chrono::milliseconds interval_;
    const bool retire_;
    const std::function<void(const PoolEvent&)> hook_;
    std::vector<std::string> paths_;  // files, and a CRL directory's entries are added at stat time
    std::mutex m_;                    // serialises checks and rebuilds
    std::chrono::steady_clock::time_point last_check_{};
    std::vector<FileStamp> stamps_;   // as of the last rebuild attempt (or construction)
};

}  // namespace pgtls::pool_detail
