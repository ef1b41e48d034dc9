// The progress line of a long export: "\r<rows> rows, <MiB> MiB, <rate> rows/s" on stderr,
// first shown after one second, redrawn at most four times a second and erased by finish().
// Meant to be enabled only when stderr is a terminal: it writes carriage returns and an
// erase-line escape that would be noise in a log file.
#pragma once

#include <chrono>
#include <cstdint>

namespace pgtls::cli {

class ProgressLine {
public:
    explicit ProgressLine(bool enabled);
    ProgressLine(const ProgressLine&) = delete;
    ProgressLine& operator=(const ProgressLine&) = delete;
    ~ProgressLine() { finish(); }

    // One more row; `bytes` is the output size so far. Reads the clock once per 1024 rows.
    void row(std::uint64_t bytes) {
        if (!enabled_ || (++rows_ & 1023) != 0) return;
        update(bytes);
    }
    // Erases the line if it was shown (before an error message or at the end). Idempotent.
    void finish() noexcept;
    bool shown() const noexcept { return shown_; }

private:
    void update(std::uint64_t bytes);
    bool enabled_;
    bool shown_ = false;
    std::uint64_t rows_ = 0;
    std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace pgtls::cli
