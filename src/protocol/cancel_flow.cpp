#include "protocol/cancel_flow.hpp"

#include "protocol/frontend.hpp"
#include "protocol/ssl_reply.hpp"

namespace pgtls::protocol {

CancelFlow::CancelFlow(CancelOptions options, Wire wire) : options_(std::move(options)), wire_(wire) {
    if (options_.secret.empty()) throw Error(ErrorKind::usage, ErrorCause::usage, "no cancel key: not connected");
}

Action CancelFlow::close_then(std::exception_ptr e) {
    error_ = std::move(e);
    state_ = State::closing;
    return Action::close();
}

Action CancelFlow::send_cancel() {
    wire_.out.clear();
    cancel_request(wire_.out, options_.pid, options_.secret);
    state_ = State::sending;
    return Action::write();
}

Action CancelFlow::resume(const Event& event) {
    using K = Event::Kind;
    if (state_ == State::done) throw Error(ErrorKind::usage, ErrorCause::usage, "CancelFlow resumed after it finished");
    if (state_ == State::closing) {
        state_ = State::done;
        return error_ ? Action::failure(error_, Action::Connection::retired) : Action::success();
    }
    if (event.kind == K::timeout || event.kind == K::io_error) {
        // Once the request is written the server has it: the wait for its close is a courtesy.
        if (state_ == State::draining) return close_then(nullptr);
        if (event.kind == K::timeout)
            return close_then(std::make_exception_ptr(
                Error(ErrorKind::timeout, ErrorCause::connect_timeout, "timeout expired while sending the cancel request")));
        if (!event.error) return close_then(std::make_exception_ptr(Error(ErrorKind::connection, "I/O error")));
        // A failed direct handshake most often means a server older than 17: say so, as the
        // connect does.
        if (state_ == State::tls && options_.tls == TlsStart::direct && event.error->kind() == ErrorKind::tls &&
            direct_hint_applies(*event.error))
            return close_then(std::make_exception_ptr(Error(ErrorKind::tls, ErrorCause::tls_handshake,
                                                            with_direct_negotiation_hint(event.error->what(), options_.tls))));
        return close_then(std::make_exception_ptr(*event.error));
    }
    try {
        switch (state_) {
            case State::start:
                state_ = State::opening;
                return Action::open_socket(options_.target, Timer::set(options_.grace));
            case State::opening:
                if (options_.tls == TlsStart::ssl_request) {
                    wire_.out.clear();
                    ssl_request(wire_.out);
                    state_ = State::ssl_request;
                    return Action::write();
                }
                if (options_.tls == TlsStart::gss) {
                    wire_.out.clear();
                    gssenc_request(wire_.out);
                    state_ = State::ssl_request;  // then gss_reply
                    return Action::write();
                }
                if (options_.tls == TlsStart::direct) {
                    state_ = State::tls;
                    return Action::start_tls(TlsRequest{TlsStart::direct, options_.sni});
                }
                return send_cancel();
            case State::ssl_request:
                state_ = options_.tls == TlsStart::gss ? State::gss_reply : State::ssl_reply;
                return Action::read();
            case State::gss_reply: {
                const auto got = take_ssl_reply(wire_.in);
                if (!got) return Action::read();
                // The session was GSSAPI-encrypted, so is its cancel key.
                if (got->byte != 'G')
                    throw Error(ErrorKind::connection, ErrorCause::ssl_refused,
                                "server refused GSSAPI encryption for the cancel request");
                if (got->trailing)
                    throw Error(ErrorKind::protocol, ErrorCause::protocol_violation,
                                "received unencrypted data after GSSAPI encryption response");
                state_ = State::tls;
                return Action::start_tls(TlsRequest::gss(options_.gss_service, options_.host, false));
            }
            case State::ssl_reply: {
                const auto got = take_ssl_reply(wire_.in);
                if (!got) return Action::read();
                // Only TLS will do: the session was encrypted, so is its cancel key.
                if (got->byte != 'S')
                    throw Error(ErrorKind::tls, ErrorCause::ssl_refused, "server refused SSL for the cancel request");
                if (got->trailing)
                    throw Error(ErrorKind::protocol, ErrorCause::protocol_violation,
                                "received unencrypted data after SSL response");
                state_ = State::tls;
                return Action::start_tls(TlsRequest{TlsStart::ssl_request, options_.sni});
            }
            case State::tls:
                if (!event.tls) throw Error(ErrorKind::usage, ErrorCause::usage, "tls_up without the handshake's result");
                if (options_.tls != TlsStart::gss)  // GSSAPI authenticated the server in its handshake
                    check_tls_up(*event.tls, {options_.tls, options_.verify_full, options_.host, false});
                return send_cancel();
            case State::sending:
                state_ = State::draining;
                wire_.in.clear();
                return Action::read();
            case State::draining:
                drained_ += wire_.in.buffered();
                wire_.in.clear();
                if (drained_ > drain_limit) return close_then(nullptr);
                return Action::read();
            case State::closing:
            case State::done: break;
        }
    } catch (...) {
        return close_then(std::current_exception());
    }
    throw Error(ErrorKind::usage, ErrorCause::usage, "CancelFlow resumed in an impossible state");
}

}  // namespace pgtls::protocol
