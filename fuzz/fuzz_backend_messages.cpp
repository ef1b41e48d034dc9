// libFuzzer target: arbitrary server bytes in arbitrary splits through the backend-message
// decoder (MessageReader), every parse_* of core/protocol/backend_messages.hpp, QueryFlow
// (simple and extended) and StartupFlow (plaintext, SSLRequest, direct TLS). Any outcome
// other than a result or pgtls::Error (crash, leak, sanitizer report, other exception) is a bug.
//
// Input layout: byte 0 = mode (flow, TLS start, reader cap, protocol version), byte 1 = split
// seed, rest = stream.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "core/protocol/backend_messages.hpp"
#include "core/protocol/frontend.hpp"
#include "core/protocol/message_reader.hpp"
#include "core/protocol/query_flow.hpp"
#include "core/protocol/startup_flow.hpp"
#include "core/tls/tls_backend.hpp"
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

// Decoder + parsers + QueryFlow on the same stream.
void run_query(std::uint8_t mode, std::uint8_t seed, std::span<const std::uint8_t> stream) {
    protocol::MessageReader reader((mode & 4) ? 64 : 1 << 20);
    protocol::SessionState session;
    protocol::QueryFlow flow((mode & 2) ? protocol::QueryFlow::Kind::extended : protocol::QueryFlow::Kind::simple,
                             session);
    fuzz::Splitter split(seed);
    std::size_t pos = 0;
    try {
        while (pos < stream.size()) {
            std::size_t n = split.next(stream.size() - pos);
            reader.feed(stream.subspan(pos, n));
            pos += n;
            while (auto m = reader.next()) {
                parse_one(*m);
                if (flow.on_message(*m)) {
                    // A finished query: the results must be walkable.
                    for (auto& r : flow.results()) {
                        for (std::size_t i = 0; i < r.size(); ++i) {
                            Row row = r[i];
                            for (std::size_t c = 0; c < row.size(); ++c) {
                                Field f = row[c];
                                if (!f.is_null()) (void)f.view();
                            }
                        }
                    }
                    return;
                }
            }
        }
    } catch (const Error&) {
    }
}

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
    fuzz::Splitter split(seed);
    std::size_t pos = 0;
    try {
        protocol::StartupFlow flow(std::move(o), session, in, out);
        for (int steps = 0; steps < 100000; ++steps) {
            auto a = flow.resume();
            if (a == protocol::StartupAction::write) {
                out.clear();
            } else if (a == protocol::StartupAction::start_tls) {
                flow.tls_established(std::nullopt);
            } else if (a == protocol::StartupAction::read) {
                if (pos == stream.size()) return;
                std::size_t n = split.next(stream.size() - pos);
                in.feed(stream.subspan(pos, n));
                pos += n;
            } else {
                return;  // done
            }
        }
        std::fprintf(stderr, "StartupFlow made no progress\n");
        std::abort();
    } catch (const Error&) {
    }
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
