// The shape every operation of the engine has: a resumable sans-I/O algorithm.
//
// An algorithm (connect, startup, query, COPY, cancel, ...) is an object that a driver —
// the blocking executor of Client, or the non-blocking connection of the async API — resumes
// with what just happened (Event) and that answers with what to do next (Action). It owns no
// socket, reads no clock, starts no thread and never blocks: all of that is the driver's.
// The bytes live in a Wire shared with the driver: the driver appends what it reads to
// `in` and sends what the algorithm encoded into `out`.
//
// Contract, for every algorithm and every driver:
//  - The first call is resume(Event{Event::Kind::start}).
//  - After each action the driver performs it and resumes with the matching event:
//      write / write_draining -> written        read        -> read
//      open_socket            -> socket_open    start_tls   -> tls_up
//      close                  -> closed         cancel      -> cancel_done
//    or, when performing it failed, with io_error (the Error the I/O layer reported), or
//    with timeout when the timer the algorithm armed expired first.
//  - A write with Action::read_after set may be followed at once by a read, without resuming
//    in between: the driver then resumes with the read's event (read, timeout or io_error)
//    and Event::write_done set, standing for written plus that event. A driver may ignore
//    the hint (resume with written); the algorithm accepts both. It sets the hint only where
//    its next action after written would be that read with its timer kept.
//  - Action::done is final: the algorithm is not resumed again. Its error, if any, is in
//    Action::error; its result is read from the algorithm's own accessors.
//  - Action::connection says what became of the connection: a driver closes (aborts) a
//    retired connection before it reports the result; an algorithm never leaves a request
//    half-sent or a reply half-read on a connection it keeps.
//  - A driver may deliver cancel_requested (the application cancels the operation) in place
//    of a read's completion, only to an algorithm whose cancellable() is true and only while
//    its action is read; the read is then no longer pending. Likewise `more`, only to an
//    algorithm that was handed more to send while its action was read (PipelineRequest::append).
//  - Timers are relative (Timer): the driver turns them into deadlines. A timer stays armed
//    across actions until the algorithm sets another one or clears it.
//  - An algorithm may throw pgtls::Error only for the driver's own misuse (a broken
//    contract); everything the server or the network does is reported through done.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/message_reader.hpp"
#include "protocol/session_state.hpp"
#include "tls/tls_backend.hpp"
#include "pgtls/config.hpp"
#include "pgtls/error.hpp"

namespace pgtls::protocol {

// The bytes an algorithm works on, owned by the driver for the connection's lifetime.
struct Wire {
    MessageReader& in;        // received, not yet consumed
    std::string& out;         // encoded, not yet sent (the driver clears what it sent)
    SessionState& session;    // server parameters, transaction status, async traffic
};

enum class TlsStart : std::uint8_t {
    none,         // plaintext
    ssl_request,  // classic: SSLRequest, then TLS on 'S'
    direct,       // PostgreSQL 17+: TLS at once, ALPN "postgresql"
    gss,          // GSSENCRequest, then GSSAPI encryption on 'G' (start_tls with how == gss)
};

// A timer the algorithm asks for, relative to the moment the driver performs the action.
struct Timer {
    enum class Kind : std::uint8_t { keep, set, clear };
    Kind kind = Kind::keep;
    std::chrono::milliseconds after{0};
    static Timer keep() noexcept { return {}; }
    static Timer set(std::chrono::milliseconds ms) noexcept { return {Kind::set, ms}; }
    static Timer clear() noexcept { return {Kind::clear, {}}; }
};

// What the TLS handshake is for: the driver runs it with the connection's TLS context.
struct TlsRequest {
    TlsRequest() = default;
    TlsRequest(TlsStart h, std::string_view server_name) : how(h), sni(server_name) {}
    static TlsRequest gss(std::string_view service, std::string_view host, bool delegation) {
        TlsRequest r(TlsStart::gss, {});
        r.gss_service = service;
        r.gss_host = host;
        r.gss_delegation = delegation;
        return r;
    }

    TlsStart how = TlsStart::none;
    // Server name to send; empty: none (IP literal, Unix socket, sslsni=0). Points into the
    // algorithm's own storage: valid until the algorithm is resumed again. (A view keeps every
    // Action free of allocations: the drivers create several per query.)
    std::string_view sni;
    // how == gss: the GSSAPI target "<gss_service>@<gss_host>" and whether to delegate the
    // TGT; the driver runs the GSSAPI handshake (transport::GssParams) instead of TLS. Views
    // into the algorithm's storage, as `sni`.
    std::string_view gss_service;
    std::string_view gss_host;
    bool gss_delegation = false;
};

// What the driver learnt from a successful handshake; the algorithm applies the checks every
// TLS connection to the server must pass (ALPN, host name) to it. After a GSSAPI handshake
// info.protocol is "GSSAPI" and there is no certificate.
struct TlsUp {
    tls::SessionInfo info;
    std::optional<tls::PeerCertificate> peer;
    bool client_certificate_sent = false;
    std::vector<std::string> warnings;  // the backend's non-fatal problems (key log file)
    bool client_certificate_requested = false;  // the server sent a CertificateRequest

    // What `session` reports once its handshake has completed: every driver's tls_up event.
    static TlsUp of(const tls::Session& session) {
        return TlsUp{session.info(), session.peer_certificate(), session.client_certificate_sent(),
                     session.warnings(), session.client_certificate_requested()};
    }
};

struct Action {
    enum class Kind : std::uint8_t {
        write,           // send Wire::out entirely, then each non-empty `tail` view
        write_draining,  // the same, while reading what the server sends meanwhile into
                         // Wire::in and calling the algorithm's consume_input() after each read
        read,            // read at least one byte into Wire::in
        open_socket,     // close the current socket, if any; connect to `target`
        start_tls,       // TLS handshake on the current socket, per `tls`
        close,           // close the current socket without more traffic
        cancel,          // send a cancel request for the current session on a side connection
        done,            // final; see `error` and `connection`
    };
    enum class Connection : std::uint8_t { kept, retired };

    Kind kind = Kind::done;
    Timer timer;
    // write: sent after Wire::out, from memory the algorithm's caller keeps alive (a large
    // statement is never copied into `out`).
    std::array<std::string_view, 2> tail{};
    // write: the reply follows; see the contract above (one resume less per request).
    bool read_after = false;
    const HostTarget* target = nullptr;  // open_socket
    TlsRequest tls;                      // start_tls
    std::exception_ptr error;            // done: the operation's error (pgtls::Error or a
                                         // user callback's exception), null on success
    Connection connection = Connection::kept;  // done

    static Action write(Timer t = {}) { return with(Kind::write, t); }
    static Action write_draining(Timer t = {}) { return with(Kind::write_draining, t); }
    static Action read(Timer t = {}) { return with(Kind::read, t); }
    static Action close() { return with(Kind::close, {}); }
    static Action cancel(Timer t = {}) { return with(Kind::cancel, t); }
    static Action start_tls(TlsRequest tls, Timer t = {}) {
        Action a = with(Kind::start_tls, t);
        a.tls = std::move(tls);
        return a;
    }
    static Action open_socket(const HostTarget& target, Timer t = {}) {
        Action a = with(Kind::open_socket, t);
        a.target = &target;
        return a;
    }
    static Action success() { return with(Kind::done, Timer::clear()); }
    static Action failure(std::exception_ptr e, Connection c) {
        Action a = with(Kind::done, Timer::clear());
        a.error = std::move(e);
        a.connection = c;
        return a;
    }

private:
    static Action with(Kind k, Timer t) {
        Action a;
        a.kind = k;
        a.timer = t;
        return a;
    }
};

struct Event {
    enum class Kind : std::uint8_t {
        start,        // the first resume
        written,      // the write action completed
        read,         // at least one byte was appended to Wire::in
        socket_open,  // open_socket completed: `address` is the peer's numeric address
        tls_up,       // start_tls completed: see `tls`
        closed,       // close completed
        cancel_done,  // the cancel request was delivered (or failed: see `error`)
        timeout,      // the armed timer expired before the action completed
        io_error,     // the action failed: see `error`
        cancel_requested,  // the application cancels the operation (see the contract above)
        more,              // the algorithm was handed more to send (see the contract above)
    };
    Kind kind = Kind::start;
    std::string_view address;        // socket_open
    const TlsUp* tls = nullptr;      // tls_up
    const Error* error = nullptr;    // io_error; cancel_done when the cancel failed
    // read, timeout, io_error: the event of the read a driver performed right after a
    // write with Action::read_after; the write completed.
    bool write_done = false;

    static Event start() noexcept { return {}; }
    static Event of(Kind k) noexcept {
        Event e;
        e.kind = k;
        return e;
    }
    static Event failed(const Error& err) noexcept {
        Event e;
        e.kind = Kind::io_error;
        e.error = &err;
        return e;
    }
};

// What an algorithm does, for observers that describe a run (the tracer): each algorithm names
// itself, so an observer reads its results through the named type (every concrete algorithm
// is final) and never probes the type with dynamic_cast.
enum class Operation : std::uint8_t {
    other,
    connect,            // ConnectFlow
    simple_query,       // SimpleQuery
    extended,           // ExtendedRequest
    cached_execute,     // CachedExecute: execute through the statement cache
    describe,           // DescribeStatement
    close_statements,   // CloseStatements
    pipeline,           // PipelineRequest
    copy_out,           // CopyOut
    copy_in_start,      // CopyInStart
    copy_in_data,       // CopyInData
    copy_in_end,        // CopyInEnd
    copy_in,            // CopyInAll: a whole COPY FROM STDIN (rows: affected_rows())
    cancel,             // CancelFlow
    close,              // CloseFlow
    notification_wait,  // NotificationWait
};

// The interface a driver runs. Concrete algorithms derive from it; their results are read
// through their own accessors once resume() returned Action::done.
class Algorithm {
public:
    virtual ~Algorithm() = default;
    // What this algorithm is (see Operation).
    virtual Operation operation() const noexcept { return Operation::other; }
    // Rows the operation affected, or -1 when it has none to tell (for observers).
    virtual std::int64_t affected_rows() const noexcept { return -1; }
    virtual Action resume(const Event& event) = 0;
    // write_draining only: take complete messages out of Wire::in as they arrive. May return
    // an Action::done (failure) to stop the write; otherwise returns nullopt.
    virtual std::optional<Action> consume_input() { return std::nullopt; }
    // Whether the algorithm handles Event::cancel_requested (a query sends a cancel request and
    // drains; a wait ends). A driver ends the others on cancellation by retiring the connection.
    virtual bool cancellable() const noexcept { return false; }
};

}  // namespace pgtls::protocol
