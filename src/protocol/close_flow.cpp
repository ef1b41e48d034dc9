#include "protocol/close_flow.hpp"

#include "protocol/frontend.hpp"

namespace pgtls::protocol {

Action CloseFlow::resume(const Event& event) {
    switch (state_) {
        case State::start:
            wire_.out.clear();
            terminate(wire_.out);
            state_ = State::writing;
            return Action::write(Timer::set(grace_));
        case State::writing:
            // Written or not (timeout, reset), the socket is closed next: nothing more is owed.
            (void)event;
            state_ = State::closing;
            return Action::close();
        case State::closing:
            state_ = State::done;
            return Action::success();
        case State::done: break;
    }
    throw Error(ErrorKind::usage, ErrorCause::usage, "CloseFlow resumed after it finished");
}

}  // namespace pgtls::protocol
