// The server's answer to SSLRequest, read in one place for the session (StartupFlow) and
// the cancel request (CancelFlow). Each caller decides what an answer means for it.
#pragma once

#include <optional>

#include "protocol/message_reader.hpp"

namespace pgtls::protocol {

struct SslReply {
    char byte = 0;          // 'S', 'N', 'E' or anything a broken server sends
    bool trailing = false;  // more bytes were buffered after it
};

// Takes the one-byte reply out of `in`; nullopt when nothing has arrived yet. Bytes after an
// 'S' or 'N' came before any handshake protected them (CVE-2021-23222): a caller that sees
// `trailing` with either refuses the connection, never processes them.
inline std::optional<SslReply> take_ssl_reply(MessageReader& in) {
    if (in.buffered() == 0) return std::nullopt;
    SslReply r{static_cast<char>(in.raw()[0]), in.buffered() > 1};
    in.consume_raw(1);
    return r;
}

}  // namespace pgtls::protocol
