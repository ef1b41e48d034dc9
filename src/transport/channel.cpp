#include "transport/channel.hpp"

#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pgtls/error.hpp"

namespace pgtls::transport {

Channel::~Channel() { abort(); }

Channel::Channel(Channel&& o) noexcept
    : fd_(o.fd_), handshaking_(o.handshaking_), gss_(o.gss_), tls_(std::move(o.tls_)) {
    o.fd_ = -1;
}

Channel& Channel::operator=(Channel&& o) noexcept {
    if (this != &o) {
        abort();
        fd_ = o.fd_;
        handshaking_ = o.handshaking_;
        gss_ = o.gss_;
        tls_ = std::move(o.tls_);
        o.fd_ = -1;
    }
    return *this;
}

tls::IoStatus Channel::handshake_step(tls::Context& context, const tls::SessionParams& params) {
    if (!handshaking_) {
        tls_ = context.create_session(fd_, params);
        gss_ = false;
        handshaking_ = true;
    }
    const tls::IoResult r = tls_->handshake();
    // What the server answered, as the session's own reads saw it (exact even when its bytes
    // and its EOF were consumed inside this one call), for the sslnegotiation=direct hint.
    const protocol::TlsPeerAnswer answer = tls_->peer_answer();
    switch (r.status) {
        case tls::IoStatus::ok: handshaking_ = false; return r.status;
        case tls::IoStatus::want_read:
        case tls::IoStatus::want_write: return r.status;
        case tls::IoStatus::closed:
            tls_.reset();
            handshaking_ = false;
            throw protocol::tls_handshake_error("SSL connection has been closed unexpectedly during the handshake",
                                              answer);
        case tls::IoStatus::error: break;
    }
    // libpq's "SSL error: ..." once: a backend may already say "SSL error: ..." or
    // "SSL SYSCALL error: ...".
    std::string msg = r.error.rfind("SSL ", 0) == 0 ? r.error : "SSL error: " + r.error;
    tls_.reset();
    handshaking_ = false;
    throw protocol::tls_handshake_error(msg, answer);
}

tls::IoStatus Channel::gss_handshake_step(const GssParams& params) {
    if (!handshaking_) {
        tls_ = make_gss_session(fd_, params);
        gss_ = true;
        handshaking_ = true;
    }
    tls::IoResult r;
    try {
        r = tls_->handshake();
    } catch (...) {
        tls_.reset();
        handshaking_ = false;
        throw;
    }
    if (r.status == tls::IoStatus::want_read || r.status == tls::IoStatus::want_write) return r.status;
    if (r.status == tls::IoStatus::ok) {
        handshaking_ = false;
        return r.status;
    }
    tls_.reset();
    handshaking_ = false;
    if (r.status == tls::IoStatus::closed)
        throw Error(ErrorKind::connection, ErrorCause::connection_closed,
                    "server closed the connection unexpectedly during GSSAPI encryption negotiation");
    throw Error(ErrorKind::connection, "could not receive data from server during GSSAPI encryption negotiation: " +
                                           r.error);
}

void Channel::start_gss(const GssParams& params, Deadline deadline) {
    handshaking_ = false;
    while (true) {
        switch (gss_handshake_step(params)) {
            case tls::IoStatus::want_read: wait_fd(fd_, false, deadline, "waiting for the GSSAPI handshake"); break;
            case tls::IoStatus::want_write: wait_fd(fd_, true, deadline, "waiting for the GSSAPI handshake"); break;
            default: return;
        }
    }
}

void Channel::start_tls(tls::Context& context, const tls::SessionParams& params, Deadline deadline) {
    handshaking_ = false;
    while (true) {
        switch (handshake_step(context, params)) {
            case tls::IoStatus::want_read: wait_fd(fd_, false, deadline, "waiting for the TLS handshake"); break;
            case tls::IoStatus::want_write: wait_fd(fd_, true, deadline, "waiting for the TLS handshake"); break;
            default: return;
        }
    }
}

void Channel::write_all(std::string_view data, Deadline deadline) {
    if (fd_ < 0) throw Error(ErrorKind::connection, "connection is closed");
    std::size_t off = 0;
    while (off < data.size()) {
        if (tls_) {
            const tls::IoResult r = tls_->write(data.data() + off, data.size() - off);
            switch (r.status) {
                case tls::IoStatus::ok: off += r.bytes; continue;
                case tls::IoStatus::want_read: wait_fd(fd_, false, deadline, "sending data to the server"); continue;
                case tls::IoStatus::want_write: wait_fd(fd_, true, deadline, "sending data to the server"); continue;
                case tls::IoStatus::closed:
                    throw Error(ErrorKind::connection, "server closed the connection unexpectedly");
                case tls::IoStatus::error: throw Error(ErrorKind::connection, "could not send data to server: " + r.error);
            }
        } else {
            const ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
            if (n > 0) {
                off += static_cast<std::size_t>(n);
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                wait_fd(fd_, true, deadline, "sending data to the server");
                continue;
            }
            throw Error(ErrorKind::connection, std::string("could not send data to server: ") + std::strerror(errno));
        }
    }
}

std::size_t Channel::try_write(std::string_view data, bool& want_read) {
    want_read = false;
    if (tls_) {
        const tls::IoResult r = tls_->write(data.data(), data.size());
        switch (r.status) {
            case tls::IoStatus::ok: return r.bytes;
            case tls::IoStatus::want_read: want_read = true; return 0;
            case tls::IoStatus::want_write: return 0;
            case tls::IoStatus::closed: throw Error(ErrorKind::connection, "server closed the connection unexpectedly");
            case tls::IoStatus::error: throw Error(ErrorKind::connection, "could not send data to server: " + r.error);
        }
    }
    while (true) {
        const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
        if (n >= 0) return static_cast<std::size_t>(n);
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        throw Error(ErrorKind::connection, std::string("could not send data to server: ") + std::strerror(errno));
    }
}

void Channel::write_all_draining(std::string_view data, protocol::MessageReader& reader, Deadline deadline,
                                 const std::function<void()>& consume) {
    if (fd_ < 0) throw Error(ErrorKind::connection, "connection is closed");
    std::size_t off = 0;
    while (off < data.size()) {
        bool want_read = false;
        const std::size_t n = try_write(data.substr(off), want_read);
        off += n;
        if (off == data.size()) break;
        if (n > 0) continue;
        // Blocked: take in what the server sent so it can keep going, then wait for either. A
        // server that never stops sending must not keep this loop past the deadline.
        while (try_read(reader) > 0) {
            if (consume) consume();
            if (deadline && Clock::now() >= *deadline)
                throw Error(ErrorKind::timeout, "timeout expired while sending data to the server");
        }
        pollfd p{fd_, static_cast<short>(want_read ? POLLIN : (POLLIN | POLLOUT)), 0};
        int ms = -1;
        if (deadline) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now()).count();
            if (left <= 0) throw Error(ErrorKind::timeout, "timeout expired while sending data to the server");
            ms = static_cast<int>(std::min<long long>(left, 1 << 30));
        }
        const int r = ::poll(&p, 1, ms);
        if (r == 0) throw Error(ErrorKind::timeout, "timeout expired while sending data to the server");
        if (r < 0 && errno != EINTR) throw Error(ErrorKind::connection, std::string("poll() failed: ") + std::strerror(errno));
    }
}

std::size_t Channel::try_read(protocol::MessageReader& reader) {
    auto space = reader.prepare();
    if (tls_) {
        while (true) {
            const tls::IoResult r = tls_->read(space.data(), space.size());
            switch (r.status) {
                case tls::IoStatus::ok:
                    reader.commit(r.bytes);
                    return r.bytes;
                case tls::IoStatus::want_read: return 0;
                case tls::IoStatus::want_write: return 0;  // renegotiation is off; treat as retry
                case tls::IoStatus::closed:
                    throw Error(ErrorKind::connection,
                                "server closed the connection unexpectedly\n\tThis probably means the server "
                                "terminated abnormally\n\tbefore or while processing the request.");
                case tls::IoStatus::error: throw Error(ErrorKind::connection, "could not receive data from server: " + r.error);
            }
        }
    }
    while (true) {
        const ssize_t n = ::recv(fd_, space.data(), space.size(), 0);
        if (n > 0) {
            reader.commit(static_cast<std::size_t>(n));
            return static_cast<std::size_t>(n);
        }
        if (n == 0)
            throw Error(ErrorKind::connection,
                        "server closed the connection unexpectedly\n\tThis probably means the server terminated "
                        "abnormally\n\tbefore or while processing the request.");
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        throw Error(ErrorKind::connection, std::string("could not receive data from server: ") + std::strerror(errno));
    }
}

void Channel::read_some(protocol::MessageReader& reader, Deadline deadline) {
    if (fd_ < 0) throw Error(ErrorKind::connection, "connection is closed");
    while (true) {
        if (try_read(reader) > 0) return;
        wait_fd(fd_, false, deadline, "waiting for the server");
    }
}

bool Channel::read_available(protocol::MessageReader& reader) {
    if (fd_ < 0) throw Error(ErrorKind::connection, "connection is closed");
    return try_read(reader) > 0;
}

void Channel::close() noexcept {
    if (fd_ < 0) return;
    if (tls_) {
        try {
            tls_->shutdown();
        } catch (...) {
        }
    }
    abort();
}

void Channel::abort() noexcept {
    tls_.reset();
    handshaking_ = false;
    gss_ = false;
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
}

}  // namespace pgtls::transport
