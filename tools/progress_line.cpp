#include "progress_line.hpp"

#include <unistd.h>

#include <cstdio>

namespace pgtls::cli {
namespace {

constexpr auto delay_before_first = std::chrono::seconds(1);
constexpr auto redraw_interval = std::chrono::milliseconds(250);
constexpr char erase_line[] = "\r\033[K";

// Straight to the descriptor: stderr is unbuffered anyway and the line must not interleave
// with std::cerr's own writes half-way.
void write_stderr(const char* s, std::size_t n) noexcept {
    while (n > 0) {
        const ssize_t w = ::write(STDERR_FILENO, s, n);
        if (w <= 0) return;  // a progress line is not worth failing an export for
        s += w;
        n -= static_cast<std::size_t>(w);
    }
}

}  // namespace

ProgressLine::ProgressLine(bool enabled) : enabled_(enabled), start_(std::chrono::steady_clock::now()) {}

void ProgressLine::update(std::uint64_t bytes) {
    const auto now = std::chrono::steady_clock::now();
    if (now - start_ < delay_before_first || (shown_ && now - last_ < redraw_interval)) return;
    last_ = now;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    char line[128];
    const int n = std::snprintf(line, sizeof line, "%s%llu rows, %.1f MiB, %.0f rows/s", erase_line,
                                static_cast<unsigned long long>(rows_), static_cast<double>(bytes) / (1024.0 * 1024.0),
                                static_cast<double>(rows_) / seconds);
    if (n > 0) write_stderr(line, static_cast<std::size_t>(n) < sizeof line ? static_cast<std::size_t>(n) : sizeof line - 1);
    shown_ = true;
}

void ProgressLine::finish() noexcept {
    if (!shown_) return;
    write_stderr(erase_line, sizeof erase_line - 1);
    shown_ = false;
}

}  // namespace pgtls::cli
