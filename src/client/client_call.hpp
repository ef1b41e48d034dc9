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
// Every call passes through here: the checks are inline, what they throw is out of line
// (src/client/client_call.cpp).
class CallScope {
public:
    explicit CallScope(client::ClientCore& impl) : impl_(impl) {
        if (impl.busy) [[unlikely]] refuse_nested_call();
        impl.busy = true;
        if (impl.session.callback_error) [[unlikely]] impl.session.callback_error = nullptr;
        was_usable_ = impl.channel.is_open() && impl.healthy;
    }
    ~CallScope() { impl_.busy = false; }
    CallScope(const CallScope&) = delete;
    CallScope& operator=(const CallScope&) = delete;

    // f's outcome, made in place (a Result is not moved on its way out). An Error it throws
    // says whether this call lost the connection; the callback's exception replaces it.
    template <class F>
    decltype(auto) run(F& f) {
        try {
            return f();
        } catch (Error& e) {
            rethrow_callback_error();
            if (was_usable_ && !(impl_.channel.is_open() && impl_.healthy)) e.set_connection_lost(true);
            throw;
        } catch (...) {
            rethrow_callback_error();
            throw;
        }
    }
    void rethrow_callback_error() {
        if (impl_.session.callback_error) [[unlikely]] rethrow_stored_callback_error();
    }

private:
    [[noreturn, gnu::cold]] static void refuse_nested_call();
    [[noreturn, gnu::cold]] void rethrow_stored_callback_error();

    client::ClientCore& impl_;
    bool was_usable_ = false;
};

// One public call as a CallScope frames it. Two overloads rather than one with `if constexpr`:
// GCC returns the named result in place (no move) only outside such a branch.
template <class F>
    requires std::is_void_v<std::invoke_result_t<F&>>
void guarded(client::ClientCore& impl, F&& f) {
    CallScope scope(impl);
    scope.run(f);
    scope.rethrow_callback_error();
}

template <class F>
    requires(!std::is_void_v<std::invoke_result_t<F&>>)
std::decay_t<std::invoke_result_t<F&>> guarded(client::ClientCore& impl, F&& f) {
    CallScope scope(impl);
    auto r = scope.run(f);
    scope.rethrow_callback_error();
    return r;
}

}  // namespace pgtls
