// The close algorithm, scripted: Terminate then close; any fault still closes the socket.
#include "protocol/close_flow.hpp"

#include <gtest/gtest.h>

#include "scripted_io.hpp"

using namespace pgtls;
using namespace pgtls::test;

namespace {
ScriptedIo terminate_then_close() {
    ScriptedIo s;
    s.expect_write(msg('X', "")).expect_close();
    return s;
}
}  // namespace

TEST(CloseFlow, SendsTerminateThenClosesTheSocket) {
    TestWire w;
    protocol::CloseFlow flow(w.wire, std::chrono::seconds(5));
    const auto end = terminate_then_close().run(flow, w);
    EXPECT_EQ(end.kind, protocol::Action::Kind::done);
    EXPECT_FALSE(end.error);
}

TEST(CloseFlow, ArmsTheGraceTimerForTheTerminateWrite) {
    TestWire w;
    protocol::CloseFlow flow(w.wire, std::chrono::milliseconds(1234));
    const auto first = flow.resume(protocol::Event::start());
    EXPECT_EQ(first.kind, protocol::Action::Kind::write);
    EXPECT_EQ(first.timer.kind, protocol::Timer::Kind::set);
    EXPECT_EQ(first.timer.after, std::chrono::milliseconds(1234));
}

TEST(CloseFlow, AFailedOrTimedOutTerminateStillClosesTheSocket) {
    for (auto fault : {ScriptedIo::Fault::network_error, ScriptedIo::Fault::timeout}) {
        TestWire w;
        protocol::CloseFlow flow(w.wire, std::chrono::seconds(5));
        // The fault answers the write; the flow must still ask to close, then finish.
        auto a = flow.resume(protocol::Event::start());
        ASSERT_EQ(a.kind, protocol::Action::Kind::write);
        const Error e(ErrorKind::connection, ErrorCause::connection_closed, "reset");
        a = fault == ScriptedIo::Fault::timeout ? flow.resume(protocol::Event::of(protocol::Event::Kind::timeout))
                                                : flow.resume(protocol::Event::failed(e));
        EXPECT_EQ(a.kind, protocol::Action::Kind::close);
        a = flow.resume(protocol::Event::of(protocol::Event::Kind::closed));
        EXPECT_EQ(a.kind, protocol::Action::Kind::done);
    }
}
