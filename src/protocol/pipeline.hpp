// A pipeline, sans I/O: many encoded queries and sync points written at once, the server's
// replies consumed while the write is still going on (so a server that answers instead of
// reading cannot fill the buffer), every sync group's results collected by PipelineFlow.
// A timeout retires the connection (what the server still holds of the pipeline is unknown).
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "protocol/pipeline_flow.hpp"
#include "protocol/request.hpp"

namespace pgtls::protocol {

class PipelineRequest final : public Request {
public:
    Operation operation() const noexcept override { return Operation::pipeline; }
    // `messages` (the encoded queries and Syncs), `results` (one per query), `sync_after`
    // (queries before each Sync) and `described` (see PipelineFlow) outlive the request.
    PipelineRequest(Wire wire, std::string_view messages, std::vector<PipelineResult>& results,
                    std::span<const std::size_t> sync_after, RequestOptions options,
                    std::span<const std::int16_t> described = {})
        : Request(wire, closing(options)),
          messages_(messages),
          flow_(results, sync_after, wire.session, described) {}

    // See PipelineFlow::reported() and settled().
    std::size_t reported() const noexcept { return flow_.reported(); }
    const std::vector<PipelineResult>& results() const noexcept { return flow_.results(); }
    std::size_t settled() const noexcept { return flow_.settled(); }

private:
    static RequestOptions closing(RequestOptions o) {
        o.on_timeout = RequestOptions::OnTimeout::close;
        return o;
    }
    Action send() override {
        Action a = Action::write_draining();
        a.tail = {messages_, {}};
        return a;
    }
    bool on_message(const BackendMessage& m) override { return flow_.on_message(m); }
    // Each query's error is its own result; a FATAL ends the flow with that error.
    const ServerError* server_error() const noexcept override { return nullptr; }

    std::string_view messages_;
    PipelineFlow flow_;
};

}  // namespace pgtls::protocol
