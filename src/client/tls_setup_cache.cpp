// See client/tls_setup_cache.hpp. Keyed by what make_tls_setup reads, with each file's identity so
// that a rotated certificate or key is loaded by the next client that connects.
#include <sys/stat.h>

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "client/tls_setup_cache.hpp"

namespace pgtls {

namespace {

void add(std::string& key, std::string_view part) {
    key += std::to_string(part.size());
    key += ':';
    key += part;
}

// The file as a context built now would load it: path and identity (device, inode, size,
// modification time, mode, owner). A replaced or rewritten file gives another key.
void add_file(std::string& key, const std::string& path) {
    add(key, path);
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        add(key, "missing");
        return;
    }
    add(key, std::to_string(st.st_dev) + '/' + std::to_string(st.st_ino) + '/' + std::to_string(st.st_size) + '/' +
                 std::to_string(st.st_mtim.tv_sec) + '.' + std::to_string(st.st_mtim.tv_nsec) + '/' +
                 std::to_string(st.st_mode) + '/' + std::to_string(st.st_uid));
}

// What make_tls_setup reads from `s`, or nullopt when the context must not be shared: inline
// PEM and a key passphrase are secrets that must not live in a long-lived key, and a CRL
// directory's entries can change without the directory's own identity changing.
std::optional<std::string> cache_key(const Settings& s) {
    if (!s.sslpassword.empty() || !s.sslcrldir.empty()) return std::nullopt;
    std::string key;
    add(key, s.sslbackend);
    add(key, std::to_string(static_cast<int>(s.sslmode)) + (s.ssl_verify_chain ? "v" : "-"));
    add(key, std::to_string(static_cast<int>(s.sslcertmode)));
    add(key, std::to_string(static_cast<int>(s.ssl_min_protocol_version)) + '-' +
                 std::to_string(static_cast<int>(s.ssl_max_protocol_version)));
    add(key, s.sslkeylogfile);
    for (const Pem* pem : {&s.sslrootcert, &s.sslcrl, &s.sslcert, &s.sslkey}) {
        if (pem->pem) return std::nullopt;
        if (!pem->path || pem->path->empty()) add(key, "-");
        else if (*pem->path == "system") add(key, "system");
        else add_file(key, *pem->path);
    }
    return key;
}

// Contexts in use, by key. Weak: a context lives as long as a connection holds it, not longer.
struct TlsSetupCache {
    std::mutex m;
    std::unordered_map<std::string, std::weak_ptr<TlsSetup>> entries;
};

TlsSetupCache& cache() {
    static auto* c = new TlsSetupCache;  // never destroyed: clients may close during exit
    return *c;
}

}  // namespace

std::shared_ptr<TlsSetup> shared_tls_setup(const Settings& s) {
    const std::optional<std::string> key = cache_key(s);
    if (!key) return std::make_shared<TlsSetup>(make_tls_setup(s));
    TlsSetupCache& c = cache();
    {
        std::lock_guard lk(c.m);
        const auto it = c.entries.find(*key);
        if (it != c.entries.end())
            if (auto setup = it->second.lock()) return setup;
    }
    auto fresh = std::make_shared<TlsSetup>(make_tls_setup(s));  // outside the lock: file I/O
    std::lock_guard lk(c.m);
    std::erase_if(c.entries, [](const auto& e) { return e.second.expired(); });
    c.entries[*key] = fresh;
    return fresh;
}

}  // namespace pgtls
