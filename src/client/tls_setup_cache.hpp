// One TLS context for every client that connects with the same TLS settings, as a pool's
// connections share theirs: an idle TLS connection then holds its session, not a context of
// its own (with OpenSSL 3 the context was most of an idle connection's memory).
#pragma once

#include <memory>

#include "client/client_impl.hpp"

namespace pgtls {

// make_tls_setup(s), or the setup a live client built from the same settings: same backend,
// modes and versions, key log file, and the same files unchanged (path, device, inode, size,
// modification time, mode, owner). Shared only while some client holds it. Settings with
// inline PEM, a key passphrase or a CRL directory always get a setup of their own. Throws as
// make_tls_setup. Thread-safe.
std::shared_ptr<TlsSetup> shared_tls_setup(const Settings& s);

}  // namespace pgtls
