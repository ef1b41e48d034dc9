// The throwing ends of CallScope's checks, out of line and cold: every public call inlines the
// checks, none of them the throws.
#include "client/client_call.hpp"

namespace pgtls {

void CallScope::refuse_nested_call() {
    throw Error(ErrorKind::usage, "another command is already in progress: a Client must not be used from its own callbacks");
}

void CallScope::rethrow_stored_callback_error() {
    std::rethrow_exception(std::exchange(impl_.session.callback_error, nullptr));
}

}  // namespace pgtls
