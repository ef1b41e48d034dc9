// What a test counts in /proc/self to prove an operation leaves nothing behind: open file
// descriptors and threads of this process, and its peak resident memory.
#pragma once

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

namespace pgtls::test {

inline std::size_t open_fds() {
    return static_cast<std::size_t>(std::distance(std::filesystem::directory_iterator("/proc/self/fd"), {}));
}

// ThreadSanitizer's runtime starts a helper thread of its own with the process's first
// pthread_create, which a test would otherwise count as a thread the code under test leaked;
// one thread started and joined before the first count puts it in every baseline.
inline std::size_t thread_count() {
    static const bool runtime_threads_started = [] {
        std::thread([] {}).join();
        return true;
    }();
    (void)runtime_threads_started;
    return static_cast<std::size_t>(std::distance(std::filesystem::directory_iterator("/proc/self/task"), {}));
}

// The process's peak resident set (VmHWM) in KiB, and a reset of that peak to the current
// resident set (Linux's /proc/self/clear_refs "5"), so a test can bound what one call holds
// at its worst.
inline long peak_rss_kib() {
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}
inline bool reset_peak_rss() { return static_cast<bool>(std::ofstream("/proc/self/clear_refs") << "5"); }

}  // namespace pgtls::test
