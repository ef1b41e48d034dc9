// A connected socket, optionally wrapped in a TLS session or GSSAPI encryption
// (src/transport/gss_session.hpp: the same session contract), with deadline-bounded blocking
// operations. Owns the fd.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "protocol/message_reader.hpp"
#include "protocol/tls_checks.hpp"
#include "tls/tls_backend.hpp"
#include "transport/gss_session.hpp"
#include "transport/socket.hpp"

namespace pgtls::transport {

class Channel {
public:
    Channel() = default;
    explicit Channel(int fd) : fd_(fd) {}
    ~Channel();
    Channel(const Channel&) = delete;
    Channel& operator=(const Channel&) = delete;
    Channel(Channel&& o) noexcept;
    Channel& operator=(Channel&& o) noexcept;

    int fd() const noexcept { return fd_; }
    bool is_open() const noexcept { return fd_ >= 0; }
    bool tls_active() const noexcept { return tls_ != nullptr && !gss_; }
    bool gss_active() const noexcept { return tls_ != nullptr && gss_; }
    // The session protecting the socket, TLS or GSSAPI; null on plaintext.
    tls::Session* tls_session() const noexcept { return tls_.get(); }

    // Runs the TLS handshake. Throws Error(tls) with the backend's reason, or Error(timeout).
    void start_tls(tls::Context& context, const tls::SessionParams& params, Deadline deadline);

    // Writes everything. Throws Error(connection) / Error(timeout).
    void write_all(std::string_view data, Deadline deadline);
    // Writes everything while also reading whatever the server sends meanwhile into `reader`,
    // so a large pipelined batch cannot deadlock against a server blocked on its own output.
    // `consume`, when set, is called after each read to take complete messages out of
    // `reader` (what it throws ends the write), so the reader need not hold them all.
    void write_all_draining(std::string_view data, protocol::MessageReader& reader, Deadline deadline,
                            const std::function<void()>& consume = {});
    // Reads at least one byte into the reader (waiting as needed). Throws on EOF/error/timeout.
    void read_some(protocol::MessageReader& reader, Deadline deadline);
    // Reads whatever is available without blocking; returns false if nothing was available.
    bool read_available(protocol::MessageReader& reader);
    // True when decrypted bytes are buffered inside the TLS library (poll() cannot see them).
    bool has_buffered() const noexcept { return tls_ && tls_->pending() > 0; }

    // Non-blocking steps for an event-loop driver; the blocking calls above are these steps
    // with a poll() between them.
    // Starts (first call) or continues the TLS handshake: ok once it is complete, otherwise
    // what to wait for. Throws protocol::tls_handshake_error(...), which says whether the server had
    // answered in TLS (tls::Session::peer_answer(): what the session's own reads returned).
    tls::IoStatus handshake_step(tls::Context& context, const tls::SessionParams& params);
    // The same for GSSAPI encryption (after the server's 'G'). Throws the GSSAPI failure's
    // Error, or Error(connection) when the network fails during the exchange.
    tls::IoStatus gss_handshake_step(const GssParams& params);
    // gss_handshake_step() with a poll() between steps. Throws as it does, or Error(timeout).
    void start_gss(const GssParams& params, Deadline deadline);
    // Reads what is available into the reader: bytes read, 0 when it would block. Throws
    // Error(connection) on EOF or error.
    std::size_t try_read(protocol::MessageReader& reader);
    // Writes what the socket takes: bytes written, 0 when it would block (`want_read` set when
    // TLS must read first). Throws Error(connection).
    std::size_t try_write(std::string_view data, bool& want_read);

    // Polite close: TLS close_notify (best effort), then close the fd. Never throws.
    void close() noexcept;
    // Close the fd without any more traffic (after a broken connection).
    void abort() noexcept;

private:
    int fd_ = -1;
    bool handshaking_ = false;
    bool gss_ = false;  // tls_ is a GSSAPI session
    std::unique_ptr<tls::Session> tls_;
};

}  // namespace pgtls::transport
