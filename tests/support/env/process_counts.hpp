// What a test counts in /proc/self to prove an operation leaves nothing behind: open file
// descriptors and threads of this process.
#pragma once

#include <cstddef>
#include <filesystem>
#include <iterator>
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

}  // namespace pgtls::test
