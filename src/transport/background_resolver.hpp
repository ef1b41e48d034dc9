// Name resolution off the caller's thread, for an event loop that must never block: the
// system resolver (getaddrinfo) runs on a short-lived thread of its own, and fd() — an eventfd
// — becomes readable when its answer is in, so the loop waits for it like for any socket.
//
// The thread shares only a small state with the resolver, never its owner: destroying the
// resolver mid-resolution closes fd() at once and leaves the thread to finish its lookup (the
// system resolver cannot be interrupted; resolv.conf's timeout bounds it) and free the state
// on its own. Nothing is delivered after destruction.
#pragma once

#include <memory>
#include <string>

struct addrinfo;

namespace pgtls::transport {

class BackgroundResolver {
public:
    // Starts resolving `name`, port `port`, with `hints` (copied). Throws Error(connection)
    // when no eventfd or thread can be had.
    BackgroundResolver(const std::string& name, const std::string& port, const addrinfo& hints);
    ~BackgroundResolver();
    BackgroundResolver(const BackgroundResolver&) = delete;
    BackgroundResolver& operator=(const BackgroundResolver&) = delete;

    // Readable once the answer is in.
    int fd() const noexcept { return fd_; }
    // True once the answer is in (then result() and gai_error() hold it).
    bool finished() const noexcept;
    // getaddrinfo's return value; 0 on success.
    int gai_error() const noexcept;
    // The addresses (getaddrinfo's list; null on failure), owned by the resolver.
    const addrinfo* result() const noexcept;

private:
    struct Shared;
    std::shared_ptr<Shared> shared_;
    int fd_ = -1;
};

}  // namespace pgtls::transport
