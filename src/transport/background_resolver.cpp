#include "transport/background_resolver.hpp"

#include <netdb.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>

#include "pgtls/error.hpp"

namespace pgtls::transport {

// What the resolver and its thread share. The thread writes gai/res, then sets `done` (release)
// and, under `mutex`, signals `fd` unless the resolver has gone (fd is then -1).
struct BackgroundResolver::Shared {
    std::mutex mutex;
    int fd = -1;  // the resolver's eventfd; -1 once the resolver is destroyed
    std::atomic<bool> done{false};
    int gai = 0;
    addrinfo* res = nullptr;
    ~Shared() {
        if (res) ::freeaddrinfo(res);
    }
};

BackgroundResolver::BackgroundResolver(const std::string& name, const std::string& port, const addrinfo& hints)
    : shared_(std::make_shared<Shared>()) {
    fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd_ < 0)
        throw Error(ErrorKind::connection, ErrorCause::resolve_failed,
                    std::string("could not create an eventfd to resolve a host name: ") + std::strerror(errno));
    shared_->fd = fd_;
    try {
        std::thread([shared = shared_, name, port, hints] {
            addrinfo h = hints;
            shared->gai = ::getaddrinfo(name.c_str(), port.c_str(), &h, &shared->res);
            shared->done.store(true, std::memory_order_release);
            const std::lock_guard lock(shared->mutex);
            if (shared->fd >= 0) {
                const std::uint64_t one = 1;
                [[maybe_unused]] const ssize_t n = ::write(shared->fd, &one, sizeof one);
            }
        }).detach();
    } catch (const std::system_error& e) {
        ::close(fd_);
        throw Error(ErrorKind::connection, ErrorCause::resolve_failed,
                    std::string("could not start a thread to resolve a host name: ") + e.what());
    }
}

BackgroundResolver::~BackgroundResolver() {
    {
        const std::lock_guard lock(shared_->mutex);
        shared_->fd = -1;
    }
    ::close(fd_);
}

bool BackgroundResolver::finished() const noexcept { return shared_->done.load(std::memory_order_acquire); }

int BackgroundResolver::gai_error() const noexcept { return shared_->gai; }

const addrinfo* BackgroundResolver::result() const noexcept { return shared_->res; }

}  // namespace pgtls::transport
