// The blocking client's connect: the TLS setup, the host list × sslmode attempts ×
// target_session_attrs policy, each attempt's startup, and the cancel request.
#include <algorithm>
#include <list>
#include <mutex>

#include "auth/authenticator.hpp"
#include "client/client_call.hpp"
#include "client/client_impl.hpp"
#include "client/client_shared.hpp"
#include "crypto/pbkdf2_cache.hpp"
#include "protocol/cancel_flow.hpp"
#include "protocol/connect_flow.hpp"
#include "client/session_setup.hpp"
#include "protocol/frontend.hpp"
#include "protocol/startup_flow.hpp"
#include "protocol/tls_checks.hpp"
#include "tls/hostname.hpp"
#include "tls/key_file_check.hpp"
#include "tls/tls_backend.hpp"
#include "client/tls_setup_cache.hpp"
#include "transport/channel.hpp"

namespace pgtls {

namespace {

using transport::Clock;
using transport::Deadline;

tls::Material material(const Pem& pem) {
    tls::Material m;
    if (pem.pem) {
        m.kind = tls::Material::Kind::pem;
        m.value = *pem.pem;
    } else if (pem.path && !pem.path->empty()) {
        m.kind = *pem.path == "system" ? tls::Material::Kind::system : tls::Material::Kind::file;
        m.value = *pem.path;
    }
    return m;
}

bool verifies_chain(const Settings& s) {
    // resolve() applies libpq's rule: verify-ca/verify-full, and any TLS mode but no-verify
    // when a root certificate is present (require then behaves as verify-ca).
    return s.ssl_verify_chain || s.sslmode == SslMode::verify_ca || s.sslmode == SslMode::verify_full;
}


}  // namespace


// Wipes the copies of the key passphrase and of inline (PEM) key bytes that a ContextConfig
// holds once the backend has loaded them, on success and on error alike.
struct ContextConfigWiper {
    tls::ContextConfig& c;
    ~ContextConfigWiper() {
        crypto::secure_zero(c.key_password.data(), c.key_password.size());
        if (c.key.kind == tls::Material::Kind::pem) crypto::secure_zero(c.key.value.data(), c.key.value.size());
    }
};

TlsSetup make_tls_setup(const Settings& s) {
    TlsSetup setup;
    setup.backend = &tls::find_backend(s.sslbackend);
    tls::ContextConfig c;
    ContextConfigWiper wipe{c};
    c.verify_chain = verifies_chain(s);
    setup.verify_full = s.sslmode == SslMode::verify_full;
    c.ca = material(s.sslrootcert);
    if (c.verify_chain && c.ca.empty())
        throw Error(ErrorKind::config,
                    "root certificate file \"~/.postgresql/root.crt\" does not exist\nEither provide the file, use "
                    "the system's trusted roots with sslrootcert=system, or change sslmode to disable server "
                    "certificate verification.");
    c.crl = material(s.sslcrl);
    c.crl_dir = s.sslcrldir;
    c.send_client_cert = s.sslcertmode != SslCertMode::disable;
    if (c.send_client_cert) {
        c.cert = material(s.sslcert);
        c.key = material(s.sslkey);
        if (c.key.kind == tls::Material::Kind::file) tls::check_private_key_file(c.key.value);
    }
    c.key_password = s.sslpassword;
    c.min_version = s.ssl_min_protocol_version;
    c.max_version = s.ssl_max_protocol_version;
    c.alpn = {"postgresql"};
    c.keylog_file = s.sslkeylogfile;
    setup.context = setup.backend->create_context(c);
    return setup;
}

// See src/client/client_shared.hpp.
struct ConnectShared {
    mutable std::mutex m;
    std::shared_ptr<TlsSetup> tls;
    std::uint64_t tls_built = 0;
    std::list<crypto::Pbkdf2CachingProvider> auth_crypto;  // one per underlying provider

    std::shared_ptr<TlsSetup> tls_for(const Settings& s) {
        std::lock_guard lk(m);
        if (!tls) {
            tls = std::make_shared<TlsSetup>(make_tls_setup(s));
            ++tls_built;
        }
        return tls;
    }
    void rebuild_tls(const Settings& s) {
        auto fresh = std::make_shared<TlsSetup>(make_tls_setup(s));  // outside the lock: file I/O
        std::lock_guard lk(m);
        tls = std::move(fresh);
        ++tls_built;
    }
    const crypto::Provider& auth_crypto_for(const crypto::Provider& base) {
        std::lock_guard lk(m);
        for (auto& p : auth_crypto)
            if (&p.base() == &base) return p;
        return auth_crypto.emplace_back(base);
    }
};


void client::ClientCore::ensure_tls() {
    if (!tls) tls = shared ? shared->tls_for(settings) : shared_tls_setup(settings);
}

// ---------------------------------------------------------------------------------------------
// Connecting

protocol::StartupOptions client::ClientCore::startup_options(const HostTarget& target, protocol::TlsStart tls_start) {
    if (tls_start != protocol::TlsStart::none) ensure_tls();
    const crypto::Provider* crypto = tls ? &tls->backend->crypto() : &tls::default_crypto();
    if (shared) crypto = &shared->auth_crypto_for(*crypto);
    return pgtls::startup_options(settings, target, tls_start, *crypto, session);
}

void client::ClientCore::connect_all() {
    protocol::ConnectOptions o = connect_options(settings);
    o.prepare_tls = [this] { ensure_tls(); };
    o.startup_options = [this](const HostTarget& t, protocol::TlsStart how) { return startup_options(t, how); };

    healthy = false;
    protocol::ConnectFlow flow(std::move(o), wire());
    drive(flow, connect_limit);  // a failure aborts the socket and rethrows the flow's error

    const auto done = Clock::now();
    connected_target = flow.target();
    connected_address = flow.address();
    connected_tls = flow.tls();
    key = flow.startup().backend_key();
    info = connection_info(connected_target, connected_address, connected_tls, flow.tls_up(),
                           flow.tls_up() ? tls->backend : nullptr, flow.startup(), session);
    info.timings.tcp_connect_ms = attempt_timing.tcp_ms;
    info.timings.tls_handshake_ms = attempt_timing.tls_ms;
    info.timings.total_ms = std::chrono::duration<double, std::milli>(done - attempt_timing.started).count();
    info.timings.authentication_ms = std::max(0.0, info.timings.total_ms - info.timings.tcp_connect_ms - info.timings.tls_handshake_ms);
    healthy = true;
}

// ---------------------------------------------------------------------------------------------
// The cancel request: protocol::CancelFlow on a side connection, run by the same executor.
void client::ClientCore::cancel_request(Deadline limit) {
    if (key.secret.empty()) throw Error(ErrorKind::usage, "no cancel key: not connected");
    protocol::CancelOptions o = cancel_options(settings, connected_target, connected_address, connected_tls,
                                               tls && tls->verify_full, key);
    if (limit) o.grace = std::clamp(std::chrono::ceil<std::chrono::milliseconds>(*limit - Clock::now()),
                                    std::chrono::milliseconds(0), o.grace);
    protocol::MessageReader r(1024);
    std::string buf;
    protocol::SessionState side_session;
    protocol::CancelFlow flow(std::move(o), protocol::Wire{r, buf, side_session});
    transport::Channel c;
    Link side(c, r, buf, false);
    const protocol::Action done = run(flow, side, limit);
    if (done.error) std::rethrow_exception(done.error);
}

std::shared_ptr<ConnectShared> make_connect_shared() { return std::make_shared<ConnectShared>(); }

std::unique_ptr<Client> connect_shared(Settings settings, const std::shared_ptr<ConnectShared>& shared,
                                       std::chrono::milliseconds limit) {
    auto c = std::make_unique<Client>();
    client::ClientCore& core = *c->core();
    core.settings = std::move(settings);
    core.shared = shared;
    if (limit.count() > 0) core.connect_limit = Clock::now() + limit;
    core.connect_all();
    return c;
}

void rebuild_shared_tls(ConnectShared& shared, const Settings& settings) { shared.rebuild_tls(settings); }

std::shared_ptr<TlsSetup> shared_tls(ConnectShared& shared, const Settings& settings) { return shared.tls_for(settings); }

const crypto::Provider& shared_auth_crypto(ConnectShared& shared, const crypto::Provider& base) {
    return shared.auth_crypto_for(base);
}

bool is_current_tls(const ConnectShared& shared, const std::shared_ptr<TlsSetup>& tls) {
    std::lock_guard lk(shared.m);
    return tls == shared.tls;
}

bool uses_current_tls(const Client& client, const ConnectShared& shared) {
    const client::ClientCore* core = client.core();
    if (!core || !core->tls || core->shared.get() != &shared) return true;
    return is_current_tls(shared, core->tls);
}

ConnectSharedStats connect_shared_stats(const ConnectShared& shared) {
    std::lock_guard lk(shared.m);
    ConnectSharedStats st;
    st.tls_contexts_built = shared.tls_built;
    for (const auto& p : shared.auth_crypto) {
        st.pbkdf2_cache_hits += p.hits();
        st.pbkdf2_cache_misses += p.misses();
    }
    return st;
}

void Client::connect(Settings settings) {
    if (!impl_) impl_ = std::make_unique<client::ClientCore>();  // a moved-from client connects afresh
    guarded(*impl_, [&] {
        if (impl_->channel.is_open()) close();
        impl_->settings = std::move(settings);
        impl_->tls.reset();
        impl_->shared.reset();  // a pool's shared setup fits the pool's settings only
        impl_->connect_all();
    });
}

}  // namespace pgtls
