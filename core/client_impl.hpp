// The blocking client's state (private to core/): the connection's channel, buffers and
// session, the connect state, the statement cache, and the executor that runs the protocol
// algorithms (core/protocol/algorithm.hpp) over the channel (core/client_executor.cpp).
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

#include "core/crypto/crypto.hpp"
#include "core/protocol/algorithm.hpp"
#include "core/protocol/backend_messages.hpp"
#include "core/protocol/message_reader.hpp"
#include "core/protocol/query_flow.hpp"
#include "core/protocol/session_state.hpp"
#include "core/protocol/startup_flow.hpp"
#include "core/tls/tls_backend.hpp"
#include "core/transport/channel.hpp"
#include "core/transport/socket.hpp"
#include "pgtls/client.hpp"

namespace pgtls {

struct ConnectShared;  // core/client.cpp

// TLS configuration shared by connections with the same settings (a pool makes one).
struct TlsSetup {
    const tls::Backend* backend = nullptr;
    std::shared_ptr<tls::Context> context;
    bool verify_full = false;
};

struct Client::Impl {
    using Clock = transport::Clock;
    using Deadline = transport::Deadline;

    // The explicit password and key passphrase live as long as the client: wiped at the end.
    ~Impl() {
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
    // The drain after a user callback threw (session.callback_error): it ends by this time
    // and within kCallbackDrainBytes, or the connection is closed.
    Deadline drain_until;
    std::size_t drain_bytes = 0;
    bool tls_accepted = false;  // this attempt got past SSL negotiation into a TLS handshake
    bool tls_established = false;  // ... and the handshake (with its checks) succeeded
    std::chrono::milliseconds query_timeout{0};

    // ---- connecting ----
    void connect_all();
    void connect_host(const HostTarget& target);
    void attempt(const HostTarget& target, protocol::TlsStart tls_start, Deadline deadline);
    // The TLS setup (context, backend) for this client: the pool's shared one under
    // connect_shared(), else built from the settings; made once, on the first TLS attempt.
    void ensure_tls();
    // Empty when the session satisfies target_session_attrs; otherwise libpq's reason.
    std::optional<std::string> session_attrs_mismatch(TargetSessionAttrs want);

    // ---- running ----
    Deadline query_deadline() const {
        if (query_timeout.count() <= 0) return std::nullopt;
        return Clock::now() + query_timeout;
    }
    // A write that fails or times out part-way leaves a partial message on the wire: the
    // connection is unusable (the next message would be read as the rest of this one).
    // On an established connection a write refused because the server hung up reports the
    // FATAL it sent first, if any (as libpq does).
    // `tail` follows `out` on the wire, sent from the caller's memory.
    void send(Deadline d, std::initializer_list<std::string_view> tail = {}) {
        try {
            channel.write_all(out, d);
            for (std::string_view part : tail) channel.write_all(part, d);
        } catch (const Error& e) {
            fail_after_write(e);
        }
        out.clear();
        reply_pending = true;
    }
    // Called from the handler of a failed write's Error `e`: retires the connection and
    // rethrows, with the server's FATAL instead when the server hung up after sending one.
    [[noreturn]] void fail_after_write(const Error& e) {
        std::optional<ServerError> why;
        if (healthy && e.kind() == ErrorKind::connection) why = pending_server_error();
        fail_connection();
        if (why) throw *why;
        throw;
    }
    // Set once a request went out: its reply cannot be complete yet, so next_message() waits
    // for the socket before its first read instead of trying a read that mostly comes back
    // empty (a failed TLS read costs about as much as a successful one).
    bool reply_pending = false;
    // From this size on a simple query's SQL is sent without being copied into `out`.
    static constexpr std::size_t large_statement_bytes = 64 * 1024;
    // The ErrorResponse the server sent before closing, still unread; best effort, never
    // throws. The last one: earlier ones in a pipeline's replies belong to its queries.
    std::optional<ServerError> pending_server_error() noexcept {
        std::optional<ServerError> last;
        try {
            try {
                while (channel.read_available(reader)) {
                }
            } catch (const Error&) {
                // EOF or reset after the data: what was read is still in the reader.
            }
            while (auto m = reader.next())
                if (m->type == 'E') last.emplace(protocol::parse_error_fields(m->body));
        } catch (...) {
        }
        return last;
    }
    protocol::BackendMessage next_message(Deadline d);
    // The executor: runs `algo` from start to done over this connection, performing each
    // action it returns (see core/protocol/algorithm.hpp) with the algorithm's timers as
    // deadlines, capped by `limit` when set (either expiring is Event::timeout). I/O errors
    // are reported to the algorithm, never thrown past it. On done, a retired connection is
    // aborted (healthy = false) and the algorithm's error, if any, is rethrown.
    void drive(protocol::Algorithm& algo, Deadline limit = std::nullopt);
    // The buffers an algorithm running on this connection works on.
    protocol::Wire wire() noexcept { return protocol::Wire{reader, out, session}; }
    // On a client-side timeout the query is cancelled on the server and drained; with
    // `cancel_on_timeout` false (a ping) the connection is closed at once instead.
    std::vector<Result> run(protocol::QueryFlow& flow, Deadline d, bool cancel_on_timeout = true);
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
    // Runs the TLS handshake on `c` toward `target` and checks what every TLS connection to
    // the server must satisfy, for the session and for a cancel request alike: SNI per
    // sslsni, ALPN "postgresql" on a direct connection (and never another protocol), and for
    // verify-full a certificate naming target.host. Returns the peer certificate, if any.
    // The checks themselves are protocol::check_tls_up's (core/protocol/tls_checks.hpp);
    // `require_client_certificate` (sslcertmode=require) applies to the session only.
    std::optional<tls::PeerCertificate> start_checked_tls(transport::Channel& c, const HostTarget& target,
                                                           protocol::TlsStart how, Deadline deadline,
                                                           bool require_client_certificate) const;
    // The handshake alone (what it yielded, unchecked), and the SNI `target` gets per sslsni.
    protocol::TlsUp tls_handshake(transport::Channel& c, const std::string& sni, protocol::TlsStart how,
                                  Deadline deadline) const;
    std::string sni_for(const HostTarget& target) const;

    // Statement cache (LRU), off when capacity is 0.
    struct CachedStatement {
        PreparedStatement statement;
        std::list<std::string>::iterator lru;
    };
    std::size_t cache_capacity = 0;
    std::unordered_map<std::string, CachedStatement> cache;
    std::list<std::string> cache_lru;  // front = most recent
    std::uint64_t statement_counter = 0;
    // Cached statement names are "pgtls_<random>_<n>": unique per client, so behind a pooler
    // (PgBouncer transaction pooling) a server connection that carries another client's
    // statements never runs one of them in place of ours; a missing one is a clear 26000.
    std::string statement_prefix = [] {
        std::random_device rd;
        const std::uint64_t r = (std::uint64_t{rd()} << 32) ^ rd();
        char buf[40];
        std::snprintf(buf, sizeof buf, "pgtls_%016llx_", static_cast<unsigned long long>(r));
        return std::string(buf);
    }();

    // Appends Parse (unless `prepared`) + Bind + Describe portal (unless `prepared`) + Execute
    // for one statement to `o`, straight from the parameters (no copies of their values).
    void encode_extended(std::string& o, const PreparedStatement* prepared, std::string_view sql,
                         std::span<const Param> params, ResultFormat format);
    // Sends one extended query (encode_extended + Sync) and reads its single result; rows go to
    // `on_row` when given. The shared path of execute(sql...), execute(PreparedStatement) and
    // stream().
    Result extended_round_trip(const PreparedStatement* prepared, std::string_view sql,
                               std::span<const Param> params, ResultFormat format,
                               const std::function<void(const Row&)>* on_row, Deadline d);
    PreparedStatement prepare_statement(std::string_view name, std::string_view sql,
                                        const std::vector<std::uint32_t>& types, Deadline d);
    // Reads ParameterDescription / RowDescription|NoData up to ReadyForQuery (after a
    // Describe of a statement, preceded by ParseComplete when `after_parse`).
    PreparedStatement read_statement_description(std::string name, bool after_parse, Deadline d);
    const PreparedStatement* cached_statement(std::string_view sql, std::span<const Param> params, Deadline d);
    Result execute_extended(std::string_view sql, std::span<const Param> params, ResultFormat format,
                            const std::function<void(const Row&)>* on_row);
    std::optional<Notification> wait_notification(std::chrono::milliseconds timeout);
    void fail_connection() noexcept {
        healthy = false;
        channel.abort();
    }
};

}  // namespace pgtls
