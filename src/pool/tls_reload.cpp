// See tls_reload.hpp.
#include "pool/tls_reload.hpp"
#include "pool/pool_detail.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

namespace pgtls::pool_detail {

namespace {

void add_path(std::vector<std::string>& paths, const Pem& pem) {
    if (pem.pem || !pem.path || pem.path->empty() || *pem.path == "system") return;
    paths.push_back(*pem.path);
}

FileStamp stat_path(const std::string& path) {
    FileStamp f;
    f.path = path;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return f;
    f.exists = true;
    f.dev = static_cast<std::uint64_t>(st.st_dev);
    f.ino = static_cast<std::uint64_t>(st.st_ino);
    f.size = static_cast<std::uint64_t>(st.st_size);
    f.mtime_ns = std::int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
    f.ctime_ns = std::int64_t{st.st_ctim.tv_sec} * 1'000'000'000 + st.st_ctim.tv_nsec;
    return f;
}

}  // namespace

PoolTls::PoolTls(std::shared_ptr<const Settings> settings, std::chrono::milliseconds interval, bool retire,
                 std::function<void(const PoolEvent&)> hook)
    : settings_(std::move(settings)),
      shared_(make_connect_shared()),
      interval_(interval),
      retire_(retire),
      hook_(std::move(hook)) {
    const Settings& s = *settings_;
    if (s.sslmode != SslMode::disable) {
        add_path(paths_, s.sslrootcert);
        add_path(paths_, s.sslcrl);
        if (s.sslcertmode != SslCertMode::disable) {
            add_path(paths_, s.sslcert);
            add_path(paths_, s.sslkey);
        }
        if (!s.sslcrldir.empty()) paths_.push_back(s.sslcrldir);
    }
    stamps_ = stamp();
    last_check_ = std::chrono::steady_clock::now();
}

std::vector<FileStamp> PoolTls::stamp() const {
    std::vector<FileStamp> out;
    out.reserve(paths_.size());
    for (const auto& p : paths_) out.push_back(stat_path(p));
    // A CRL directory's own mtime changes when entries come and go, not when one is
    // rewritten in place: its entries are stamped too (sorted, so the order is stable).
    const std::string& dir = settings_->sslcrldir;
    if (!dir.empty() && settings_->sslmode != SslMode::disable) {
        std::vector<std::string> entries;
        std::error_code ec;
        for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
            entries.push_back(it->path().string());
        std::sort(entries.begin(), entries.end());
        for (const auto& e : entries) out.push_back(stat_path(e));
    }
    return out;
}

std::exception_ptr PoolTls::rebuild() noexcept {
    try {
        rebuild_shared_tls(*shared_, *settings_);
    } catch (...) {
        return std::current_exception();
    }
    return nullptr;
}

void PoolTls::report(const std::exception_ptr& error) const noexcept {
    if (hook_) {
        try {
            hook_(PoolEvent{0, error ? describe_exception(error) : std::string(), {}});
        } catch (...) {
        }
    }
}

void PoolTls::check() noexcept {
    if (interval_.count() < 0 || paths_.empty()) return;
    std::unique_lock lk(m_, std::try_to_lock);
    if (!lk.owns_lock()) return;  // another connect is checking or a reload is running
    const auto now = std::chrono::steady_clock::now();
    if (now - last_check_ < interval_) return;
    last_check_ = now;
    std::vector<FileStamp> now_stamps;
    try {
        now_stamps = stamp();
    } catch (...) {
        return;
    }
    if (now_stamps == stamps_) return;
    stamps_ = std::move(now_stamps);
    auto error = rebuild();
    lk.unlock();  // the hook may call reload()
    report(error);
}

void PoolTls::reload() {
    if (settings_->sslmode == SslMode::disable) return;
    std::unique_lock lk(m_);
    stamps_ = stamp();
    last_check_ = std::chrono::steady_clock::now();
    auto error = rebuild();
    lk.unlock();
    report(error);
    if (error) std::rethrow_exception(error);
}

namespace {

template <class Conn>
CloseReason retire_if_stale(bool retire, const Conn& c, const ConnectShared& shared) {
    if (!retire || uses_current_tls(c, shared)) return {};
    return tls_retired_reason();
}

}  // namespace

CloseReason PoolTls::retire_reason(const Client& c) const { return retire_if_stale(retire_, c, *shared_); }
CloseReason PoolTls::retire_reason(const AsyncConnection& c) const { return retire_if_stale(retire_, c, *shared_); }

}  // namespace pgtls::pool_detail
