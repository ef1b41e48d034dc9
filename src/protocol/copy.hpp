// COPY, sans I/O — every COPY message exchange lives here (see request.hpp for what the
// requests share):
//  - CopyOut: COPY ... TO STDOUT; each CopyData goes to the caller's callback.
//  - CopyInStart: COPY ... FROM STDIN up to CopyInResponse (statements before it in the same
//    string run first); a string without one is refused.
//  - CopyInData: a batch of CopyData messages; an ErrorResponse the server sends meanwhile
//    (bad data) is picked up during the write and the reply drained to ReadyForQuery.
//  - CopyInEnd: the last batch ending in CopyDone (finish: rows copied) or CopyFail (abort);
//    a second COPY FROM STDIN in the same string is answered with CopyFail.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/query_flow.hpp"
#include "protocol/request.hpp"

namespace pgtls::protocol {

class CopyOut final : public Request {
public:
    Operation operation() const noexcept override { return Operation::copy_out; }
    // `sql` and `on_data` outlive the request.
    CopyOut(Wire wire, std::string_view sql, const std::function<void(std::string_view)>& on_data, RequestOptions options)
        : Request(wire, options), sql_(sql), on_data_(on_data) {}
    std::uint64_t rows() const noexcept { return rows_; }

private:
    Action send() override;
    bool on_message(const BackendMessage& m) override;
    const ServerError* server_error() const noexcept override { return error_ ? &*error_ : nullptr; }

    std::string_view sql_;
    const std::function<void(std::string_view)>& on_data_;
    bool in_copy_ = false;
    bool copied_ = false;  // a CopyDone came: the next CommandComplete is the COPY's
    std::uint64_t rows_ = 0;
    std::optional<ServerError> error_;
};

class CopyInStart final : public Request {
public:
    Operation operation() const noexcept override { return Operation::copy_in_start; }
    CopyInStart(Wire wire, std::string_view sql, RequestOptions options)
        : Request(wire, options), sql_(sql), other_(QueryFlow::Kind::simple, wire.session) {}

private:
    Action send() override;
    bool on_message(const BackendMessage& m) override;
    const ServerError* server_error() const noexcept override { return error_ ? &*error_ : nullptr; }
    Action finished() override;

    std::string_view sql_;
    std::optional<ServerError> error_;
    bool not_copy_ = false;  // the statement was not a COPY FROM STDIN: its reply runs through other_
    QueryFlow other_;
};

// Sends `messages` (complete CopyData messages, kept alive by the caller). Succeeds once they
// are written, unless the server reported an error meanwhile: then ServerError, connection kept.
class CopyInData final : public Request {
public:
    Operation operation() const noexcept override { return Operation::copy_in_data; }
    CopyInData(Wire wire, std::string_view messages, RequestOptions options)
        : Request(wire, options), messages_(messages) {}

private:
    Action send() override;
    bool on_message(const BackendMessage& m) override;
    const ServerError* server_error() const noexcept override { return error_ ? &*error_ : nullptr; }
    bool reply_expected() const noexcept override { return error_.has_value(); }

    std::string_view messages_;
    std::optional<ServerError> error_;
};

// Sends `messages` (the last CopyData messages, then CopyDone or CopyFail) and reads the
// COPY's outcome. After CopyFail the server's error (the reason echoed) is the expected
// answer, not a failure.
class CopyInEnd final : public Request {
public:
    Operation operation() const noexcept override { return Operation::copy_in_end; }
    enum class How : std::uint8_t { finish, abort };
    CopyInEnd(Wire wire, std::string_view messages, How how, RequestOptions options)
        : Request(wire, options), messages_(messages), how_(how), flow_(QueryFlow::Kind::simple, wire.session) {}
    // The COPY's row count: its result comes first, before those of any statements after it.
    std::uint64_t rows() noexcept { return flow_.results().empty() ? 0 : flow_.results().front().affected_rows(); }

private:
    Action send() override;
    bool on_message(const BackendMessage& m) override;
    const ServerError* server_error() const noexcept override { return flow_.error() ? &*flow_.error() : nullptr; }
    Action finished() override;

    std::string_view messages_;
    How how_;
    QueryFlow flow_;
};

}  // namespace pgtls::protocol
