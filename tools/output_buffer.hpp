// Where `pgtls` writes query results: one large buffer over a file descriptor, written with
// write(2) in big chunks. It is also a std::streambuf, so the aligned table (and anything else
// written through std::ostream) shares the buffer with the CSV fast path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <string_view>
#include <vector>

namespace pgtls::cli {

// A write(2) to the output failed (disk full, closed pipe with SIGPIPE ignored, ...).
struct OutputError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class OutputBuffer : public std::streambuf {
public:
    static constexpr std::size_t default_capacity = 256 * 1024;
    // Does not own `fd`; `name` is for error messages ("standard output", the -o path).
    OutputBuffer(int fd, std::string name, std::size_t capacity = default_capacity);
    OutputBuffer(const OutputBuffer&) = delete;
    OutputBuffer& operator=(const OutputBuffer&) = delete;
    ~OutputBuffer() override;  // flushes what it can; errors are lost (call flush() first)

    void append(std::string_view s) {
        if (s.size() <= static_cast<std::size_t>(epptr() - pptr())) {
            std::memcpy(pptr(), s.data(), s.size());
            pbump(static_cast<int>(s.size()));
        } else {
            append_slow(s);
        }
    }
    void append(char c) {
        if (pptr() == epptr()) drain();
        *pptr() = c;
        pbump(1);
    }
    // Room for `n` bytes (n <= capacity()) at the write position, draining the buffer first
    // when needed; write there, then commit(end of what was written).
    char* reserve(std::size_t n) {
        if (static_cast<std::size_t>(epptr() - pptr()) < n) drain();
        return pptr();
    }
    void commit(char* end) noexcept { pbump(static_cast<int>(end - pptr())); }
    std::size_t capacity() const noexcept { return storage_.size(); }
    // Writes everything buffered; throws OutputError.
    void flush();
    // Bytes appended so far (written or still buffered).
    std::uint64_t bytes() const noexcept { return written_ + static_cast<std::uint64_t>(pptr() - pbase()); }
    int fd() const noexcept { return fd_; }

protected:
    int_type overflow(int_type ch) override;
    std::streamsize xsputn(const char* s, std::streamsize n) override;
    int sync() override;

private:
    void append_slow(std::string_view s);
    void drain();  // writes the buffer out, leaves it empty
    void write_all(const char* data, std::size_t size);
    int fd_;
    std::string name_;
    std::vector<char> storage_;
    std::uint64_t written_ = 0;
};

}  // namespace pgtls::cli
