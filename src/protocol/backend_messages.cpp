#include "protocol/backend_messages.hpp"

#include <cstring>

namespace pgtls::protocol {

void ByteReader::fail(const std::string& why) const {
    throw Error(ErrorKind::protocol, std::string("malformed ") + what_ + " message from server: " + why);
}

std::uint8_t ByteReader::u8() {
    if (remaining() < 1) fail("truncated");
    return data_[pos_++];
}

std::int16_t ByteReader::i16() {
    if (remaining() < 2) fail("truncated");
    const auto v = static_cast<std::uint16_t>((data_[pos_] << 8) | data_[pos_ + 1]);
    pos_ += 2;
    return static_cast<std::int16_t>(v);
}

std::int32_t ByteReader::i32() {
    if (remaining() < 4) fail("truncated");
    const std::uint32_t v = (std::uint32_t(data_[pos_]) << 24) | (std::uint32_t(data_[pos_ + 1]) << 16) |
                            (std::uint32_t(data_[pos_ + 2]) << 8) | std::uint32_t(data_[pos_ + 3]);
    pos_ += 4;
    return static_cast<std::int32_t>(v);
}

std::string_view ByteReader::cstring() {
    const auto* start = data_.data() + pos_;
    const void* nul = std::memchr(start, 0, remaining());
    if (!nul) fail("unterminated string");
    const std::size_t n = static_cast<const std::uint8_t*>(nul) - start;
    pos_ += n + 1;
    return {reinterpret_cast<const char*>(start), n};
}

std::span<const std::uint8_t> ByteReader::bytes(std::size_t n) {
    if (remaining() < n) fail("truncated");
    auto r = data_.subspan(pos_, n);
    pos_ += n;
    return r;
}

void ByteReader::expect_end() {
    if (!at_end()) fail(std::to_string(remaining()) + " unexpected trailing bytes");
}

ServerErrorFields parse_error_fields(std::span<const std::uint8_t> body) {
    ByteReader r(body, "ErrorResponse/NoticeResponse");
    ServerErrorFields f;
    while (true) {
        const char code = static_cast<char>(r.u8());
        if (code == 0) break;
        std::string value(r.cstring());
        switch (code) {
            case 'S': f.severity = std::move(value); break;
            case 'V': f.severity_nonlocalized = std::move(value); break;
            case 'C': f.sqlstate = std::move(value); break;
            case 'M': f.message = std::move(value); break;
            case 'D': f.detail = std::move(value); break;
            case 'H': f.hint = std::move(value); break;
            case 'P': f.position = std::move(value); break;
            case 'p': f.internal_position = std::move(value); break;
            case 'q': f.internal_query = std::move(value); break;
            case 'W': f.where = std::move(value); break;
            case 's': f.schema = std::move(value); break;
            case 't': f.table = std::move(value); break;
            case 'c': f.column = std::move(value); break;
            case 'd': f.data_type = std::move(value); break;
            case 'n': f.constraint = std::move(value); break;
            case 'F': f.file = std::move(value); break;
            case 'L': f.line = std::move(value); break;
            case 'R': f.routine = std::move(value); break;
            default: break;  // unknown fields are ignored, as the protocol requires
        }
    }
    return f;
}

std::vector<Column> parse_row_description(std::span<const std::uint8_t> body) {
    ByteReader r(body, "RowDescription");
    const int n = r.i16();
    if (n < 0) r.fail("negative column count");
    std::vector<Column> cols;
    cols.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        Column c;
        c.name = std::string(r.cstring());
        c.table_oid = static_cast<std::uint32_t>(r.i32());
        c.column_number = r.i16();
        c.type_oid = static_cast<std::uint32_t>(r.i32());
        c.type_size = r.i16();
        c.type_modifier = r.i32();
        c.format = r.i16();
        if (c.format != 0 && c.format != 1) r.fail("unknown format code " + std::to_string(c.format));
        cols.push_back(std::move(c));
    }
    r.expect_end();
    return cols;
}

std::pair<std::string, std::string> parse_parameter_status(std::span<const std::uint8_t> body) {
    ByteReader r(body, "ParameterStatus");
    std::string k(r.cstring());
    std::string v(r.cstring());
    r.expect_end();
    return {std::move(k), std::move(v)};
}

BackendKey parse_backend_key_data(std::span<const std::uint8_t> body) {
    ByteReader r(body, "BackendKeyData");
    BackendKey k;
    k.pid = r.i32();
    // Protocol 3.0: 4 bytes; 3.2 allows up to 256.
    if (r.remaining() < 4 || r.remaining() > 256) r.fail("bad secret key length");
    auto s = r.rest();
    k.secret.assign(s.begin(), s.end());
    return k;
}

TransactionStatus parse_ready_for_query(std::span<const std::uint8_t> body) {
    ByteReader r(body, "ReadyForQuery");
    const char s = static_cast<char>(r.u8());
    r.expect_end();
    switch (s) {
        case 'I': return TransactionStatus::idle;
        case 'T': return TransactionStatus::in_transaction;
        case 'E': return TransactionStatus::failed;
        default: r.fail(std::string("unknown transaction status '") + s + "'");
    }
}

std::string parse_command_complete(std::span<const std::uint8_t> body) {
    ByteReader r(body, "CommandComplete");
    std::string tag(r.cstring());
    r.expect_end();
    return tag;
}

Notification parse_notification(std::span<const std::uint8_t> body) {
    ByteReader r(body, "NotificationResponse");
    Notification n;
    n.backend_pid = r.i32();
    n.channel = std::string(r.cstring());
    n.payload = std::string(r.cstring());
    r.expect_end();
    return n;
}

std::int32_t auth_code(std::span<const std::uint8_t> body) {
    ByteReader r(body, "Authentication");
    return r.i32();
}

const char* backend_message_name(char type) noexcept {
    switch (type) {
        case 'R': return "Authentication";
        case 'K': return "BackendKeyData";
        case '2': return "BindComplete";
        case '3': return "CloseComplete";
        case 'C': return "CommandComplete";
        case 'd': return "CopyData";
        case 'c': return "CopyDone";
        case 'G': return "CopyInResponse";
        case 'H': return "CopyOutResponse";
        case 'W': return "CopyBothResponse";
        case 'D': return "DataRow";
        case 'I': return "EmptyQueryResponse";
        case 'E': return "ErrorResponse";
        case 'V': return "FunctionCallResponse";
        case 'v': return "NegotiateProtocolVersion";
        case 'n': return "NoData";
        case 'N': return "NoticeResponse";
        case 'A': return "NotificationResponse";
        case 't': return "ParameterDescription";
        case 'S': return "ParameterStatus";
        case '1': return "ParseComplete";
        case 's': return "PortalSuspended";
        case 'Z': return "ReadyForQuery";
        case 'T': return "RowDescription";
        default: return "unknown";
    }
}

}  // namespace pgtls::protocol
