// The frame of every public call of the blocking API: one call at a time per client, and the
// exception a user callback threw reported unchanged in place of the call's own outcome.
#pragma once

#include <exception>
#include <type_traits>
#include <utility>

#include "client/client_impl.hpp"

namespace pgtls {

// Runs one public call: refuses it while another runs on the same client (a callback using
// its own client), and rethrows the exception a user callback threw during it unchanged, in
// place of the call's result or of an error that followed. The flows have read the reply to
// ReadyForQuery by then, or the connection was closed (see Request's callback drain bounds).
class CallScope {
public:
    explicit CallScope(client::ClientCore& impl) : impl_(impl) {
        if (impl.busy)
            throw Error(ErrorKind::usage,
                        "another command is already in progress: a Client must not be used from its own callbacks");
        impl.busy = true;
        impl.session.callback_error = nullptr;
    }
    ~CallScope() { impl_.busy = false; }
    CallScope(const CallScope&) = delete;
    CallScope& operator=(const CallScope&) = delete;
    void rethrow_callback_error() {
        if (auto e = std::exchange(impl_.session.callback_error, nullptr)) std::rethrow_exception(e);
    }

private:
    client::ClientCore& impl_;
};

template <class F>
decltype(auto) guarded(client::ClientCore& impl, F&& f) {
    CallScope scope(impl);
    const bool was_usable = impl.channel.is_open() && impl.healthy;
    try {
        if constexpr (std::is_void_v<decltype(f())>) {
            f();
            scope.rethrow_callback_error();
        } else {
            auto r = f();
            scope.rethrow_callback_error();
            return r;
        }
    } catch (Error& e) {
        scope.rethrow_callback_error();
        if (was_usable && !(impl.channel.is_open() && impl.healthy)) e.set_connection_lost(true);
        throw;
    } catch (...) {
        scope.rethrow_callback_error();
        throw;
    }
}

}  // namespace pgtls
