// Which sanitizer this test binary was built with, for the few checks a sanitizer runtime
// makes impossible (each caller says why). GCC defines __SANITIZE_*__; clang answers
// __has_feature.
#pragma once

namespace pgtls::test {

constexpr bool built_with_asan() {
#if defined(__SANITIZE_ADDRESS__)
    return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    return true;
#else
    return false;
#endif
#else
    return false;
#endif
}

constexpr bool built_with_tsan() {
#if defined(__SANITIZE_THREAD__)
    return true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
    return true;
#else
    return false;
#endif
#else
    return false;
#endif
}

// How many times slower a sanitizer runtime makes this binary's own work (copies, page faults
// on shadow memory, TLB shootdowns between threads). Tests multiply the time bounds they
// assert on top of a timeout by it — never the timeout under test itself.
constexpr int sanitizer_slowdown() { return built_with_tsan() ? 4 : built_with_asan() ? 2 : 1; }

}  // namespace pgtls::test
