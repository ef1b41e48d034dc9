// libFuzzer target: arbitrary server bytes in arbitrary splits through the backend-message
// decoder (MessageReader), every parse_* of src/protocol/backend_messages.hpp, and the
// engine's algorithms exactly as the drivers run them (resume(Event) → Action): simple and
// extended queries, streamed rows, COPY TO STDOUT, StartupFlow (plaintext, SSLRequest,
// direct TLS) and ConnectFlow (fallbacks, a second host, the SHOW of target_session_attrs).
// Every outcome must be an Action::done (a result or an error); a crash, a leak, a sanitizer
// report or an exception thrown out of resume() is a bug.
//
// Input layout: byte 0 = mode (flow, TLS start, reader cap, protocol version), byte 1 = split
// seed, rest = stream.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <string>
#include <vector>

#include "protocol/backend_messages.hpp"
#include "protocol/frontend.hpp"
#include "protocol/message_reader.hpp"
#include "protocol/connect_flow.hpp"
#include "protocol/copy.hpp"
#include "protocol/pipeline.hpp"
#include "protocol/query.hpp"
#include "protocol/startup_flow.hpp"
#include "tls/tls_backend.hpp"
#include "fuzz_common.hpp"
#include "pgtls/error.hpp"

using namespace pgtls;

namespace {

void parse_one(const protocol::BackendMessage& m) {
    try {
        switch (m.type) {
            case 'E':
            case 'N': (void)protocol::parse_error_fields(m.body); break;
            case 'T': (void)protocol::parse_row_description(m.body); break;
            case 'S': (void)protocol::parse_parameter_status(m.body); break;
            case 'K': (void)protocol::parse_backend_key_data(m.body); break;
            case 'Z': (void)protocol::parse_ready_for_query(m.body); break;
            case 'C': (void)protocol::parse_command_complete(m.body); break;
            case 'A': (void)protocol::parse_notification(m.body); break;
            case 'R': (void)protocol::auth_code(m.body); break;
            default: break;
        }
    } catch (const Error&) {
    }
    (void)protocol::backend_message_name(m.type);
}

// Plays the server for `algo` with `stream`, cut by `split`: every read action gets the next
// piece (the end of the stream is the server closing the connection), every other action
// succeeds (a start_tls as a handshake without a peer certificate). Runs until done; an
// algorithm that neither finishes nor asks for input within the step budget is a bug.
// `more`, when given, is asked at each read: true when it handed the algorithm more to send,
// which is then resumed with Event::more in place of the read (PipelineRequest::append).
void play_server(protocol::Algorithm& algo, protocol::Wire wire, fuzz::Splitter& split,
                 std::span<const std::uint8_t> stream, const std::function<bool()>& more = {}) {
    const Error eof(ErrorKind::connection, ErrorCause::connection_closed, "server closed the connection unexpectedly");
    const protocol::TlsUp tls_up;
    std::size_t pos = 0;
    protocol::Event ev = protocol::Event::start();
    for (int steps = 0; steps < 100000; ++steps) {
        const protocol::Action a = algo.resume(ev);
        switch (a.kind) {
            case protocol::Action::Kind::done: return;
            case protocol::Action::Kind::write:
            case protocol::Action::Kind::write_draining:
                wire.out.clear();
                ev = protocol::Event::of(protocol::Event::Kind::written);
                break;
            case protocol::Action::Kind::read: {
                if (more && more()) {
                    ev = protocol::Event::of(protocol::Event::Kind::more);
                    break;
                }
                if (pos == stream.size()) {
                    ev = protocol::Event::failed(eof);
                    break;
                }
                const std::size_t n = split.next(stream.size() - pos);
                wire.in.feed(stream.subspan(pos, n));
                pos += n;
                ev = protocol::Event::of(protocol::Event::Kind::read);
                break;
            }
            case protocol::Action::Kind::open_socket:
                ev = protocol::Event::of(protocol::Event::Kind::socket_open);
                ev.address = "192.0.2.1";
                break;
            case protocol::Action::Kind::start_tls:
                ev = protocol::Event::of(protocol::Event::Kind::tls_up);
                ev.tls = &tls_up;
                break;
            case protocol::Action::Kind::close: ev = protocol::Event::of(protocol::Event::Kind::closed); break;
            case protocol::Action::Kind::cancel: ev = protocol::Event::of(protocol::Event::Kind::cancel_done); break;
        }
    }
    std::fprintf(stderr, "the algorithm made no progress\n");
    std::abort();
}

// A finished query's results must be walkable.
void walk(const std::vector<Result>& results) {
    for (const Result& r : results)
        for (std::size_t i = 0; i < r.size(); ++i) {
            Row row = r[i];
            for (std::size_t c = 0; c < row.size(); ++c) {
                Field f = row[c];
                if (!f.is_null()) (void)f.view();
            }
        }
}

// The decoder and every parser on the raw stream, then the query-side algorithms the clients
// run (simple query, extended query, COPY TO STDOUT, an implicit pipeline) on the same stream.
void run_query(std::uint8_t mode, std::uint8_t seed, std::span<const std::uint8_t> stream) {
    {
        protocol::MessageReader reader((mode & 4) ? 64 : 1 << 20);
        fuzz::Splitter split(seed);
        std::size_t pos = 0;
        try {
            while (pos < stream.size()) {
                const std::size_t n = split.next(stream.size() - pos);
                reader.feed(stream.subspan(pos, n));
                pos += n;
                while (auto m = reader.next()) parse_one(*m);
            }
        } catch (const Error&) {
        }
    }
    protocol::MessageReader in((mode & 4) ? 64 : 1 << 20);
    std::string out;
    protocol::SessionState session;
    const protocol::Wire wire{in, out, session};
    fuzz::Splitter split(seed);
    const protocol::RequestOptions options{};
    if (mode & 0x10) {
        // An implicit pipeline, a sync group per query: a query with a Describe of its own,
        // then a run that takes its columns from its statement's description (text, binary).
        // Bit 0x20: once it waits for its reply, the same again joins it (overlapping
        // pipelines), as often as the stream lasts up to three times.
        std::vector<PipelineResult> results(4);
        std::vector<std::size_t> sync_after{1, 2, 3, 4};
        constexpr std::int16_t own = protocol::PipelineFlow::own_description;
        std::vector<std::int16_t> described{own, 0, 1, 0};
        protocol::PipelineRequest q(wire, "", results, sync_after, options, described);
        int appended = 0;
        const std::function<bool()> more = [&] {
            if (!(mode & 0x20) || appended == 3 || !q.appendable()) return false;
            ++appended;
            for (std::size_t i = 0; i < 4; ++i) {
                results.emplace_back();
                sync_after.push_back(results.size());
                described.push_back(i == 0 ? own : static_cast<std::int16_t>(i == 2));
            }
            out.append("appended");  // written by the next action
            q.append(sync_after, described);
            return true;
        };
        play_server(q, wire, split, stream, more);
        for (const PipelineResult& r : results) walk({r.result});
        return;
    }
    // Bit 1 keeps its old meaning (extended); bit 3 adds COPY and streamed rows.
    switch (((mode >> 1) & 1) | ((mode >> 2) & 2)) {
        case 0: {
            protocol::SimpleQuery q(wire, "SELECT 1; SELECT 2", options);
            play_server(q, wire, split, stream);
            walk(q.results());
            break;
        }
        case 1: {
            Result result;
            const Param p = to_param(42);
            protocol::ExtendedCall call;
            call.sql = "SELECT $1::int";
            call.params = std::span<const Param>(&p, 1);
            call.target = &result;
            protocol::ExtendedRequest q(wire, call, options);
            play_server(q, wire, split, stream);
            walk({result});
            break;
        }
        case 2: {
            std::size_t bytes = 0;
            const std::function<void(std::string_view)> on_data = [&](std::string_view d) { bytes += d.size(); };
            protocol::CopyOut q(wire, "COPY t TO STDOUT", on_data, options);
            play_server(q, wire, split, stream);
            break;
        }
        default: {
            Result result;
            std::size_t rows = 0;
            const std::function<void(const Row&)> on_row = [&](const Row& r) { rows += r.size(); };
            protocol::ExtendedCall call;
            call.sql = "SELECT 1";
            call.on_row = &on_row;
            call.target = &result;
            protocol::ExtendedRequest q(wire, call, options);
            play_server(q, wire, split, stream);
            break;
        }
    }
}

// The connect: StartupFlow alone, or ConnectFlow (two hosts, sslmode=prefer with its
// plaintext fallback, target_session_attrs=read-write with its SHOW query) over the stream.
void run_startup(std::uint8_t mode, std::uint8_t seed, std::span<const std::uint8_t> stream) {
    protocol::StartupOptions o;
    o.tls = (mode & 0x30) == 0x10 ? protocol::TlsStart::ssl_request
          : (mode & 0x30) == 0x20 ? protocol::TlsStart::direct
                                  : protocol::TlsStart::none;
    o.tls_required = (mode & 0x40) != 0;
    o.startup_params = {{"user", "alice"}, {"database", "db"}};
    o.auth.user = "alice";
    o.auth.crypto = &tls::default_crypto();
    o.auth.get_password = [] { return std::optional<std::string>("secret"); };
    o.auth.scram_max_iterations = 4096;  // keeps PBKDF2 cheap; the cap itself is under test
    if (mode & 0x80) o.auth.channel_binding = ChannelBinding::require;
    // Protocol 3.2 asked for (mode & 2), with 3.2 also the minimum (mode & 4): the
    // NegotiateProtocolVersion and long-BackendKeyData paths.
    if (mode & 2) o.protocol_version = protocol::protocol_version_3_2;
    if (mode & 4) o.min_protocol_version = protocol::protocol_version_3_2;
    protocol::SessionState session;
    protocol::MessageReader in(1 << 20);
    std::string out;
    const protocol::Wire wire{in, out, session};
    fuzz::Splitter split(seed);
    if (mode & 8) {
        protocol::ConnectOptions c;
        HostTarget a, b;
        a.host = b.host = "db.example";
        a.hostaddr = "192.0.2.1";
        b.hostaddr = "192.0.2.2";
        a.port = b.port = 5432;
        c.hosts = {a, b};
        c.sslmode = SslMode::prefer;
        c.target_session_attrs = TargetSessionAttrs::read_write;
        c.startup_options = [&o](const HostTarget&, protocol::TlsStart how) {
            protocol::StartupOptions each = o;
            each.tls = how;
            return each;
        };
        protocol::ConnectFlow flow(std::move(c), wire);
        play_server(flow, wire, split, stream);
        return;
    }
    protocol::StartupFlow flow(std::move(o), wire);
    play_server(flow, wire, split, stream);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    std::uint8_t mode = data[0], seed = data[1];
    std::span<const std::uint8_t> stream(data + 2, size - 2);
    if (mode & 1)
        run_startup(mode, seed, stream);
    else
        run_query(mode, seed, stream);
    return 0;
}
