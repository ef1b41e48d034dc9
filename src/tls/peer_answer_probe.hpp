// What the server answered to the ClientHello, told from the first bytes a backend's own socket
// reads return during the handshake. Every backend feeds it from its read callback, so the
// answer is exact even when the server's bytes and its EOF arrive while one handshake() call
// runs (a peek before the call would miss them). core uses it for the sslnegotiation=direct
// hint, which is only right when no TLS came back (Error::tls_peer_answer()).
#pragma once

#include <cstddef>
#include <cstdint>

#include "pgtls/error.hpp"

namespace pgtls::tls {

class PeerAnswerProbe {
public:
    // The next `n` bytes the socket returned, in order (n == 0 and EOF are not bytes).
    void received(const void* data, std::size_t n) noexcept {
        const auto* p = static_cast<const std::uint8_t*>(data);
        for (; n > 0 && have_ < sizeof head_; --n) head_[have_++] = *p++;
    }

    // nothing until a byte came; tls when the bytes start a TLS record (content type 20..24,
    // then major version 3; one byte of a record type is enough); not_tls otherwise (e.g. a
    // PostgreSQL ErrorResponse 'E' from a server before 17).
    TlsPeerAnswer answer() const noexcept {
        if (have_ == 0) return TlsPeerAnswer::nothing;
        const bool record = head_[0] >= 20 && head_[0] <= 24 && (have_ < 2 || head_[1] == 3);
        return record ? TlsPeerAnswer::tls : TlsPeerAnswer::not_tls;
    }

private:
    std::uint8_t head_[2] = {};
    std::size_t have_ = 0;
};

}  // namespace pgtls::tls
