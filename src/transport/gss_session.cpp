#include "transport/gss_session.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "pgtls/error.hpp"
#include "pgtls_gssapi_config.h"

#if PGTLS_HAVE_GSSAPI
#include "auth/gssapi/gss_initiator.hpp"
#endif

namespace pgtls::transport {

#if PGTLS_HAVE_GSSAPI

namespace {

constexpr std::size_t kLengthWord = 4;
constexpr std::size_t kMaxToken = gss_max_packet - kLengthWord;  // 16380
// Plaintext encrypted per write() call before the packets are sent: a few packets, so that a
// large write is not one packet per send().
constexpr std::size_t kWriteBatch = 4 * gss_max_packet;
// Bytes asked of recv() at a time; a packet never needs more than gss_max_packet.
constexpr std::size_t kReadChunk = 4 * gss_max_packet;

std::uint32_t get_length(const std::string& buf, std::size_t at) {
    const auto* p = reinterpret_cast<const unsigned char*>(buf.data() + at);
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

void put_length(std::string& out, std::size_t n) {
    const auto v = static_cast<std::uint32_t>(n);
    const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                       static_cast<char>(v)};
    out.append(b, 4);
}

tls::IoResult io(tls::IoStatus st, std::size_t bytes = 0, std::string error = {}) {
    return tls::IoResult{st, bytes, std::move(error)};
}

std::string oversize(std::size_t n) {
    return "oversize GSSAPI packet sent by the server (" + std::to_string(n) + " > " + std::to_string(kMaxToken) + ")";
}

class GssSession final : public tls::Session {
public:
    GssSession(int fd, const GssParams& p)
        : fd_(fd), init_(auth::gssapi::InitiatorOptions{p.service, p.host, p.delegate, true}) {}

    tls::IoResult handshake() override {
        while (true) {
            if (auto r = flush(); r.status != tls::IoStatus::ok) return r;
            if (established_) return io(tls::IoStatus::ok);
            std::string token;
            if (!init_.started()) {
                init_.step({}, token);
            } else {
                // The server's next token: one length-framed packet.
                std::size_t len = 0;
                if (auto r = take_packet(len, true); r.status != tls::IoStatus::ok) return r;
                const auto* data = reinterpret_cast<const std::uint8_t*>(raw_.data() + raw_off_ + kLengthWord);
                init_.step({data, len}, token);
                raw_off_ += kLengthWord + len;
            }
            if (token.size() > kMaxToken)
                throw Error(ErrorKind::authentication, ErrorCause::auth_failed,
                            "GSSAPI context establishment error: token of " + std::to_string(token.size()) +
                                " bytes exceeds the packet size");
            if (!token.empty()) {
                put_length(out_, token.size());
                out_ += token;
            }
            if (init_.complete()) {
                // Whatever token completes the context is sent before the session is used.
                max_input_ = init_.max_wrap_input(kMaxToken);
                if (max_input_ == 0) throw Error(ErrorKind::connection, "GSSAPI size check error: no room for data");
                established_ = true;
            } else if (token.empty()) {
                throw Error(ErrorKind::authentication, ErrorCause::auth_failed,
                            "GSSAPI context establishment error: no token to send and the context is incomplete");
            }
        }
    }

    tls::IoResult read(void* buf, std::size_t len) override {
        try {
            while (plain_off_ == plain_.size()) {
                plain_.clear();
                plain_off_ = 0;
                std::size_t n = 0;
                if (auto r = take_packet(n, false); r.status != tls::IoStatus::ok) return r;
                const auto* data = reinterpret_cast<const std::uint8_t*>(raw_.data() + raw_off_ + kLengthWord);
                init_.unwrap({data, n}, plain_);
                raw_off_ += kLengthWord + n;
            }
        } catch (const Error& e) {
            return io(tls::IoStatus::error, 0, e.what());
        }
        const std::size_t n = std::min(len, plain_.size() - plain_off_);
        std::memcpy(buf, plain_.data() + plain_off_, n);
        plain_off_ += n;
        return io(tls::IoStatus::ok, n);
    }

    // libpq's pg_GSS_write contract: a want_write after some of `buf` was encrypted means the
    // caller must offer the same bytes again; only fully sent packets count as written.
    tls::IoResult write(const void* buf, std::size_t len) override {
        if (len < consumed_)
            return io(tls::IoStatus::error, 0, "GSSAPI caller failed to retransmit all data needing to be retried");
        if (out_off_ == out_.size()) {
            out_.clear();
            out_off_ = 0;
            const auto* p = static_cast<const std::uint8_t*>(buf);
            try {
                std::string token;
                while (consumed_ < len && out_.size() < kWriteBatch) {
                    const std::size_t n = std::min(max_input_, len - consumed_);
                    token.clear();
                    init_.wrap({p + consumed_, n}, token);
                    if (token.size() > kMaxToken)
                        return io(tls::IoStatus::error, 0,
                                  "client tried to send oversize GSSAPI packet (" + std::to_string(token.size()) +
                                      " > " + std::to_string(kMaxToken) + ")");
                    put_length(out_, token.size());
                    out_ += token;
                    consumed_ += n;
                }
            } catch (const Error& e) {
                return io(tls::IoStatus::error, 0, e.what());
            }
        }
        if (auto r = flush(); r.status != tls::IoStatus::ok) return r;
        return io(tls::IoStatus::ok, std::exchange(consumed_, 0));
    }

    tls::IoResult shutdown() override { return io(tls::IoStatus::ok); }  // GSSAPI has no close message

    // Decrypted bytes not yet returned, or a whole packet waiting to be decrypted: poll() sees
    // neither.
    std::size_t pending() const override {
        if (plain_off_ < plain_.size()) return plain_.size() - plain_off_;
        const std::size_t have = raw_.size() - raw_off_;
        if (have < kLengthWord) return 0;
        const std::size_t n = get_length(raw_, raw_off_);
        return n <= kMaxToken && have >= kLengthWord + n ? 1 : 0;
    }

    tls::SessionInfo info() const override { return {"GSSAPI", "", ""}; }
    std::optional<tls::PeerCertificate> peer_certificate() const override { return std::nullopt; }
    bool client_certificate_requested() const override { return false; }
    bool client_certificate_sent() const override { return false; }

private:
    // Sends what is queued in out_: ok once all of it is out.
    tls::IoResult flush() {
        while (out_off_ < out_.size()) {
            const ssize_t n = ::send(fd_, out_.data() + out_off_, out_.size() - out_off_, MSG_NOSIGNAL);
            if (n >= 0) {
                out_off_ += static_cast<std::size_t>(n);
                continue;
            }
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return io(tls::IoStatus::want_write);
            return io(tls::IoStatus::error, 0, std::strerror(errno));
        }
        out_.clear();
        out_off_ = 0;
        return io(tls::IoStatus::ok);
    }

    // Makes one complete packet available at raw_off_ (its data length in `len`), reading as
    // needed; during the handshake an 'E' where a length belongs is the server's error.
    tls::IoResult take_packet(std::size_t& len, bool handshaking) {
        while (true) {
            const std::size_t have = raw_.size() - raw_off_;
            if (have >= 1 && handshaking && raw_[raw_off_] == 'E')
                // Not authenticated yet: its text is not shown (as for SSL's 'E').
                throw Error(ErrorKind::connection, ErrorCause::server_fatal,
                            "server sent an error response during GSSAPI encryption negotiation");
            if (have >= kLengthWord) {
                len = get_length(raw_, raw_off_);
                if (len > kMaxToken) {
                    if (handshaking) throw Error(ErrorKind::protocol, ErrorCause::protocol_violation, oversize(len));
                    return io(tls::IoStatus::error, 0, oversize(len));
                }
                if (have >= kLengthWord + len) return io(tls::IoStatus::ok);
            }
            if (raw_off_ > 0) {
                raw_.erase(0, raw_off_);
                raw_off_ = 0;
            }
            const std::size_t old = raw_.size();
            raw_.resize(old + kReadChunk);
            const ssize_t n = ::recv(fd_, raw_.data() + old, kReadChunk, 0);
            raw_.resize(old + (n > 0 ? static_cast<std::size_t>(n) : 0));
            if (n > 0) continue;
            if (n == 0) return io(tls::IoStatus::closed);
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return io(tls::IoStatus::want_read);
            return io(tls::IoStatus::error, 0, std::strerror(errno));
        }
    }

    int fd_;
    auth::gssapi::Initiator init_;
    bool established_ = false;
    std::size_t max_input_ = 0;
    std::string out_;          // framed packets (or handshake tokens) not yet sent
    std::size_t out_off_ = 0;
    std::size_t consumed_ = 0;  // caller bytes inside out_ (see write())
    std::string raw_;          // received, not yet unwrapped
    std::size_t raw_off_ = 0;
    std::string plain_;        // unwrapped, not yet returned
    std::size_t plain_off_ = 0;
};

}  // namespace

bool gss_available() noexcept { return true; }
bool gss_credentials_available() { return auth::gssapi::have_initiator_credentials(); }

std::unique_ptr<tls::Session> make_gss_session(int fd, const GssParams& params) {
    return std::make_unique<GssSession>(fd, params);
}

#else

bool gss_available() noexcept { return false; }
bool gss_credentials_available() { return false; }

std::unique_ptr<tls::Session> make_gss_session(int, const GssParams&) {
    throw Error(ErrorKind::config, ErrorCause::config,
                "GSSAPI encryption is not supported by this build (built without the gssapi feature)");
}

#endif

}  // namespace pgtls::transport
