#include "output_buffer.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pgtls::cli {

OutputBuffer::OutputBuffer(int fd, std::string name, std::size_t capacity)
    : fd_(fd), name_(std::move(name)), storage_(capacity < 64 ? 64 : capacity) {
    setp(storage_.data(), storage_.data() + storage_.size());
}

OutputBuffer::~OutputBuffer() {
    try {
        flush();
    } catch (const OutputError&) {
    }
}

void OutputBuffer::flush() { drain(); }

void OutputBuffer::drain() {
    const std::size_t n = static_cast<std::size_t>(pptr() - pbase());
    // Reset first: after a failed write the buffered bytes are dropped, not retried forever.
    setp(storage_.data(), storage_.data() + storage_.size());
    write_all(storage_.data(), n);
}

void OutputBuffer::write_all(const char* data, std::size_t size) {
    while (size > 0) {
        const ssize_t n = ::write(fd_, data, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw OutputError("cannot write to " + name_ + ": " + std::strerror(errno));
        }
        data += n;
        size -= static_cast<std::size_t>(n);
        written_ += static_cast<std::uint64_t>(n);
    }
}

// Fills the buffer, drains it, and writes a piece larger than the whole buffer directly.
void OutputBuffer::append_slow(std::string_view s) {
    const std::size_t room = static_cast<std::size_t>(epptr() - pptr());
    std::memcpy(pptr(), s.data(), room);
    pbump(static_cast<int>(room));
    s.remove_prefix(room);
    drain();
    if (s.size() >= storage_.size()) {
        write_all(s.data(), s.size());
        return;
    }
    std::memcpy(pptr(), s.data(), s.size());
    pbump(static_cast<int>(s.size()));
}

OutputBuffer::int_type OutputBuffer::overflow(int_type ch) {
    if (traits_type::eq_int_type(ch, traits_type::eof())) return traits_type::not_eof(ch);
    append(traits_type::to_char_type(ch));
    return ch;
}

std::streamsize OutputBuffer::xsputn(const char* s, std::streamsize n) {
    append(std::string_view(s, static_cast<std::size_t>(n)));
    return n;
}

// std::ostream::flush() lands here; an OutputError escapes the stream only when the stream
// has exceptions enabled, so callers flush the OutputBuffer itself to see errors.
int OutputBuffer::sync() {
    try {
        drain();
        return 0;
    } catch (const OutputError&) {
        return -1;
    }
}

}  // namespace pgtls::cli
