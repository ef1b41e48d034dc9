// Closing a session politely: Terminate, then the socket is closed. The smallest algorithm
// (see algorithm.hpp); a failed write still ends with the socket closed.
#pragma once

#include <chrono>

#include "protocol/algorithm.hpp"

namespace pgtls::protocol {

class CloseFlow final : public Algorithm {
public:
    Operation operation() const noexcept override { return Operation::close; }
    // `grace` bounds the Terminate write: a server that stopped reading cannot hold close().
    CloseFlow(Wire wire, std::chrono::milliseconds grace) : wire_(wire), grace_(grace) {}
    Action resume(const Event& event) override;

private:
    enum class State { start, writing, closing, done };
    Wire wire_;
    std::chrono::milliseconds grace_;
    State state_ = State::start;
};

}  // namespace pgtls::protocol
