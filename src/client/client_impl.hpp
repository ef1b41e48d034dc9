// The blocking client's state (private to src/client): the connection's channel, buffers and
// session, the connect state, the statement cache, and the executor that runs the protocol
// algorithms (src/protocol/algorithm.hpp) over the channel (src/client/client_executor.cpp).
#pragma once

#include <chrono>
#include <cstdio>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "crypto/crypto.hpp"
#include "protocol/algorithm.hpp"
#include "protocol/backend_messages.hpp"
#include "protocol/message_reader.hpp"
#include "protocol/query.hpp"
#include "protocol/request.hpp"
#include "protocol/session_state.hpp"
#include "protocol/startup_flow.hpp"
#include "protocol/statement_cache.hpp"
#include "tls/tls_backend.hpp"
#include "transport/channel.hpp"
#include "transport/socket.hpp"
#include "pgtls/client.hpp"

namespace pgtls {

struct ConnectShared;  // src/client/client.cpp

// TLS configuration shared by connections with the same settings (a pool makes one).
struct TlsSetup {
    const tls::Backend* backend = nullptr;
    std::shared_ptr<tls::Context> context;
    bool verify_full = false;
};

// The TLS context and backend `s` asks for (sslrootcert, client key, CRL, versions, ...).
// Throws Error(config) for settings that cannot work (verification without a root).
TlsSetup make_tls_setup(const Settings& s);

struct client::ClientCore {
    using Clock = transport::Clock;
    using Deadline = transport::Deadline;

    // The explicit password and key passphrase live as long as the client: wiped at the end.
    ~ClientCore() {
        if (settings.password) crypto::secure_zero(settings.password->data(), settings.password->size());
        crypto::secure_zero(settings.sslpassword.data(), settings.sslpassword.size());
    }
    Settings settings;
    transport::Channel channel;
    protocol::MessageReader reader;
    std::string out;
    protocol::SessionState session;
    ConnectionInfo info;
    protocol::BackendKey key;
    HostTarget connected_target;
    std::string connected_address;
    protocol::TlsStart connected_tls = protocol::TlsStart::none;
    std::shared_ptr<TlsSetup> tls;
    std::shared_ptr<ConnectShared> shared;  // set by connect_shared(): a pool's TLS context and key cache
    bool healthy = false;
    // Set by connect_shared(): the whole connect ends by then (a pool's acquire deadline).
    Deadline connect_limit;
    // A public call is running: the client used from one of its own callbacks is refused.
    bool busy = false;
    // A CopyIn is open: statements are refused until it finishes or aborts.
    bool copy_in_open = false;
    std::chrono::milliseconds query_timeout{0};

    // ---- connecting ----
    // Runs protocol::ConnectFlow (libpq's host list x sslmode x target_session_attrs policy)
    // and records what the connected attempt negotiated in `info`.
    void connect_all();
    // The StartupFlow options of one attempt (ConnectOptions::startup_options).
    protocol::StartupOptions startup_options(const HostTarget& target, protocol::TlsStart tls_start);
    // The TLS setup (context, backend) for this client: the pool's shared one under
    // connect_shared(), else built from the settings; made once, on the first TLS attempt.
    void ensure_tls();
    // drive() times the connect's actions (only open_socket and start_tls: no cost per query).
    struct AttemptTiming {
        Clock::time_point started;
        double tcp_ms = 0, tls_ms = 0;
    } attempt_timing;

    // ---- running ----
    Deadline query_deadline() const {
        if (query_timeout.count() <= 0) return std::nullopt;
        return Clock::now() + query_timeout;
    }
    // The options of a request that must end by `d` (a public call's query deadline, shared by
    // the requests it makes): the query timeout for the texts, the time left for the timer.
    protocol::RequestOptions request_options(
        Deadline d, protocol::RequestOptions::OnTimeout on_timeout = protocol::RequestOptions::OnTimeout::cancel) const {
        protocol::RequestOptions o{query_timeout, on_timeout, std::nullopt};
        if (d) o.remaining = std::max(std::chrono::milliseconds(0), std::chrono::ceil<std::chrono::milliseconds>(*d - Clock::now()));
        return o;
    }
    // A connection the executor runs an algorithm over: the client's own (`link`), or the side
    // connection of a cancel request.
    struct Link {
        Link(transport::Channel& c, protocol::MessageReader& r, std::string& o, bool is_session = true)
            : channel(c), reader(r), out(o), session(is_session) {}
        transport::Channel& channel;
        protocol::MessageReader& reader;
        std::string& out;
        // The session's connection: open_socket uses every keepalive setting and times the
        // connect (attempt_timing); a side connection uses keepalives alone, as libpq's cancel.
        bool session = true;
        // Set once a request went out: its reply cannot be complete yet, so the executor waits
        // for the socket before its first read instead of trying a read that mostly comes back
        // empty (a failed TLS read costs about as much as a successful one).
        bool reply_pending = false;
        // What the socket_open / tls_up events point to (members: no per-call construction).
        std::string address;
        protocol::TlsUp tls_up;
    };
    Link link{channel, reader, out};
    // The executor: runs `algo` from start to done over `l`, performing each action it returns
    // (see src/protocol/algorithm.hpp) with the algorithm's timers as deadlines, capped by
    // `limit` when set (either expiring is Event::timeout). I/O errors are reported to the
    // algorithm, never thrown past it. Returns the final (done) action.
    protocol::Action run(protocol::Algorithm& algo, Link& l, Deadline limit);
    // The read action's I/O: at least one byte into l.reader by `d`.
    static void read_reply(Link& l, Deadline d);
    // run() on this connection; on done, a retired connection is aborted (healthy = false) and
    // the algorithm's error, if any, is rethrown.
    void drive(protocol::Algorithm& algo, Deadline limit = std::nullopt) {
        const protocol::Action done = run(algo, link, limit);
        if (done.connection == protocol::Action::Connection::retired) [[unlikely]] fail_connection();
        if (done.error) [[unlikely]] std::rethrow_exception(done.error);
    }
    // The buffers an algorithm running on this connection works on.
    protocol::Wire wire() noexcept { return protocol::Wire{reader, out, session}; }
    // One simple-protocol request (query_all, ping): send, run, and forget the statement
    // cache when the server dropped the prepared statements (DISCARD ALL, DEALLOCATE ALL).
    std::vector<Result> simple_query(std::string_view sql, Deadline d, bool cancel_on_timeout = true);
    void ensure_ready() const {
        if (!channel.is_open()) throw Error(ErrorKind::usage, "connection is closed");
        if (copy_in_open)
            throw Error(ErrorKind::usage,
                        "a COPY FROM STDIN is in progress on this connection: finish() or abort() its CopyIn first");
        if (!healthy) throw Error(ErrorKind::connection, "connection is broken after an earlier error; reconnect");
    }
    // `limit`, when set, bounds the whole request (the query timeout's grace period).
    void cancel_request(Deadline limit = std::nullopt);

    // Statement cache of execute(sql, ...) (src/protocol/statement_cache.hpp), off when its
    // capacity is 0.
    protocol::StatementCache cache;

    // Sends one extended query (encode_extended + Sync) and reads its single result; rows go to
    // `on_row` when given. The shared path of execute(sql...), execute(PreparedStatement) and
    // stream(). Defined inline in client.cpp: called there only.
    Result extended_round_trip(protocol::ExtendedCall call, Deadline d);
    PreparedStatement prepare_statement(std::string_view name, std::string_view sql,
                                        const std::vector<std::uint32_t>& types, Deadline d);
    // One extended query of `sql`: through the statement cache when it is on (starting over once
    // after a lost statement when `may_retry`), else as the unnamed statement.
    Result execute_extended(std::string_view sql, std::span<const Param> params, ResultFormat format,
                            const std::function<void(const Row&)>* on_row, bool may_retry);
    std::optional<Notification> wait_notification(std::chrono::milliseconds timeout);
    void fail_connection() noexcept {
        healthy = false;
        channel.abort();
    }
};

}  // namespace pgtls
