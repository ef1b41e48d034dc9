// Parsers for backend (server -> client) message bodies. Every read is bounds-checked; a
// short or malformed body is Error(protocol) naming the message.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pgtls/session.hpp"
#include "pgtls/error.hpp"
#include "pgtls/result.hpp"

namespace pgtls::protocol {

class ByteReader {
public:
    ByteReader(std::span<const std::uint8_t> data, const char* what) : data_(data), what_(what) {}
    std::uint8_t u8();
    std::int16_t i16();
    std::int32_t i32();
    std::string_view cstring();              // without the NUL
    std::span<const std::uint8_t> bytes(std::size_t n);
    std::span<const std::uint8_t> rest() noexcept { auto r = data_.subspan(pos_); pos_ = data_.size(); return r; }
    std::size_t remaining() const noexcept { return data_.size() - pos_; }
    bool at_end() const noexcept { return pos_ == data_.size(); }
    void expect_end();
    [[noreturn]] void fail(const std::string& why) const;

private:
    std::span<const std::uint8_t> data_;
    std::size_t pos_ = 0;
    const char* what_;
};

ServerErrorFields parse_error_fields(std::span<const std::uint8_t> body);
std::vector<Column> parse_row_description(std::span<const std::uint8_t> body);
std::pair<std::string, std::string> parse_parameter_status(std::span<const std::uint8_t> body);
struct BackendKey {
    std::int32_t pid = 0;
    std::vector<std::uint8_t> secret;
};
BackendKey parse_backend_key_data(std::span<const std::uint8_t> body);
TransactionStatus parse_ready_for_query(std::span<const std::uint8_t> body);
std::string parse_command_complete(std::span<const std::uint8_t> body);
Notification parse_notification(std::span<const std::uint8_t> body);
std::int32_t auth_code(std::span<const std::uint8_t> body);

// Readable name of a message type byte, for errors ("DataRow", ...).
const char* backend_message_name(char type) noexcept;

}  // namespace pgtls::protocol
