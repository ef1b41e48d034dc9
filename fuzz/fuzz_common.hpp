// Helpers shared by the libFuzzer targets: splitting the fuzz input deterministically, and
// reporting a broken property (an oracle, beyond what the sanitizers catch).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

namespace pgtls::fuzz {

// A property the target checks does not hold: says which, and aborts (libFuzzer then writes
// the input as a crash artifact).
[[noreturn]] inline void fail(const char* what) {
    std::fprintf(stderr, "property broken: %s\n", what);
    std::abort();
}
inline void require(bool holds, const char* what) {
    if (!holds) fail(what);
}

// Chunk sizes for feeding a stream in arbitrary splits, derived from a seed byte so that the
// fuzzer controls them: every split from 1 byte to a whole buffer is reachable.
class Splitter {
public:
    explicit Splitter(std::uint32_t seed) : state_(seed * 2654435761u + 1) {}
    std::size_t next(std::size_t remaining) {
        state_ = state_ * 1103515245u + 12345u;
        std::size_t pick = (state_ >> 16) % 4;
        std::size_t n = pick == 0 ? 1 : pick == 1 ? 1 + ((state_ >> 8) % 7) : pick == 2 ? 1 + ((state_ >> 4) % 64) : remaining;
        return n < remaining ? n : remaining;
    }

private:
    std::uint32_t state_;
};

}  // namespace pgtls::fuzz
