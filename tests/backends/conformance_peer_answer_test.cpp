// Backend conformance, Session::peer_answer(): what the server's first bytes were, as the
// session's own reads returned them. The peer writes its bytes and closes its side BEFORE the
// client's first handshake() call, on a blocking socket: the library then reads the bytes and
// the EOF inside that one call, the case a peek before the call could not see (the
// sslnegotiation=direct hint raced on it, tests/faults/startup_cut_test.cpp).
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "pgtls/error.hpp"
#include "tests/backends/conformance_fixture.hpp"

namespace pgtls::conformance {
namespace {

using tls::IoStatus;

// A connected blocking socket pair; the peer end's bytes and its EOF are queued before the
// client reads. The peer keeps its end open for reading, so the ClientHello can be written.
class QueuedPeer {
public:
    explicit QueuedPeer(const std::string& reply) {
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds_) != 0) fds_[0] = fds_[1] = -1;
        if (fds_[1] >= 0 && !reply.empty()) {
            [[maybe_unused]] ssize_t n = ::send(fds_[1], reply.data(), reply.size(), MSG_NOSIGNAL);
        }
        if (fds_[1] >= 0) ::shutdown(fds_[1], SHUT_WR);
    }
    ~QueuedPeer() {
        for (int fd : fds_)
            if (fd >= 0) ::close(fd);
    }
    QueuedPeer(const QueuedPeer&) = delete;
    QueuedPeer& operator=(const QueuedPeer&) = delete;
    int client_fd() const { return fds_[0]; }

private:
    int fds_[2] = {-1, -1};
};

struct Outcome {
    tls::IoResult result;
    TlsPeerAnswer before = TlsPeerAnswer::unknown;  // before the first handshake() call
    TlsPeerAnswer after = TlsPeerAnswer::unknown;   // after the failed handshake
};

// One handshake() call does it on a blocking socket; a few more are allowed for a library that
// reports want_read once, never an endless loop.
Outcome handshake_against(const tls::Backend& b, const std::string& reply) {
    QueuedPeer peer(reply);
    Outcome out;
    if (peer.client_fd() < 0) {
        ADD_FAILURE() << "socketpair failed";
        return out;
    }
    auto ctx = b.create_context(tls::ContextConfig{});
    auto session = ctx->create_session(peer.client_fd(), {"localhost"});
    out.before = session->peer_answer();
    for (int i = 0; i < 4; ++i) {
        out.result = session->handshake();
        if (out.result.status != IoStatus::want_read && out.result.status != IoStatus::want_write) break;
    }
    out.after = session->peer_answer();
    return out;
}

const char* name_of(TlsPeerAnswer a) {
    switch (a) {
        case TlsPeerAnswer::unknown: return "unknown";
        case TlsPeerAnswer::nothing: return "nothing";
        case TlsPeerAnswer::tls: return "tls";
        case TlsPeerAnswer::not_tls: return "not_tls";
    }
    return "?";
}

// The start of a real TLS 1.2 ServerHello record: handshake (22), version 3.3, length, then
// the ServerHello's own header (type 2, length) and its version.
const std::string kServerHello = std::string("\x16\x03\x03\x00\x51\x02\x00\x00\x4d\x03\x03", 11);

TEST_P(BackendConformance, PeerAnswerIsTlsWhenARecordAndEofCameInOneCall) {
    for (std::size_t n : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{5}, kServerHello.size()}) {
        SCOPED_TRACE("first " + std::to_string(n) + " bytes of a ServerHello record");
        const Outcome o = handshake_against(backend(), kServerHello.substr(0, n));
        EXPECT_EQ(o.before, TlsPeerAnswer::nothing) << name_of(o.before);
        EXPECT_TRUE(o.result.status == IoStatus::error || o.result.status == IoStatus::closed) << describe(o.result);
        EXPECT_EQ(o.after, TlsPeerAnswer::tls) << name_of(o.after);
    }
}

TEST_P(BackendConformance, PeerAnswerIsNotTlsForAPostgresErrorResponse) {
    // What a server before PostgreSQL 17 may send to a ClientHello it cannot read.
    const std::string error = std::string("E\0\0\0\x2a", 5) + "SFATAL\0C08P01\0Munsupported frontend\0\0";
    for (const std::string& reply : {error, std::string("E"), std::string("\x16\x01", 2)}) {
        SCOPED_TRACE("reply of " + std::to_string(reply.size()) + " bytes");
        const Outcome o = handshake_against(backend(), reply);
        EXPECT_NE(o.result.status, IoStatus::ok) << describe(o.result);
        EXPECT_EQ(o.after, TlsPeerAnswer::not_tls) << name_of(o.after);
    }
}

TEST_P(BackendConformance, PeerAnswerIsNothingWhenThePeerClosedWithoutAWord) {
    const Outcome o = handshake_against(backend(), "");
    EXPECT_TRUE(o.result.status == IoStatus::error || o.result.status == IoStatus::closed) << describe(o.result);
    EXPECT_EQ(o.after, TlsPeerAnswer::nothing) << name_of(o.after);
}

}  // namespace
}  // namespace pgtls::conformance
