// COPY FROM STDIN with all of its data known up front (the async API's copy_in): CopyInStart,
// then the data and CopyDone in one final write (CopyInEnd). One algorithm, so a driver runs it
// as one operation and an observer sees one COPY (Operation::copy_in).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "protocol/algorithm.hpp"
#include "protocol/copy.hpp"

namespace pgtls::protocol {

class CopyInAll final : public Algorithm {
public:
    CopyInAll(Wire wire, std::string_view sql, std::string_view messages, RequestOptions o)
        : start_(wire, sql, o), end_(wire, messages, CopyInEnd::How::finish, o) {}
    Action resume(const Event& e) override {
        if (!started_) {
            Action a = start_.resume(e);
            if (a.kind != Action::Kind::done || a.error) return a;
            started_ = true;
            return end_.resume(Event::start());
        }
        return end_.resume(e);
    }
    std::optional<Action> consume_input() override { return started_ ? end_.consume_input() : start_.consume_input(); }
    bool cancellable() const noexcept override { return true; }
    std::uint64_t rows() noexcept { return end_.rows(); }
    Operation operation() const noexcept override { return Operation::copy_in; }
    std::int64_t affected_rows() const noexcept override {
        return started_ ? static_cast<std::int64_t>(const_cast<CopyInEnd&>(end_).rows()) : -1;
    }

private:
    CopyInStart start_;
    CopyInEnd end_;
    bool started_ = false;
};

}  // namespace pgtls::protocol
