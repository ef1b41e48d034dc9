// What a test counts in /proc/self to prove an operation leaves nothing behind: open file
// descriptors and threads of this process.
#pragma once

#include <cstddef>
#include <filesystem>
#include <iterator>

namespace pgtls::test {

inline std::size_t open_fds() {
    return static_cast<std::size_t>(std::distance(std::filesystem::directory_iterator("/proc/self/fd"), {}));
}

inline std::size_t thread_count() {
    return static_cast<std::size_t>(std::distance(std::filesystem::directory_iterator("/proc/self/task"), {}));
}

}  // namespace pgtls::test
