// The authentication exchange as libpq's fe-auth.c runs it (pg_fe_sendauth,
// check_expected_areq, pg_SASL_init, pg_SASL_continue, pg_password_sendauth), with the
// policy checks made before any reply is built, so a refused request never costs a secret.
#include "auth/authenticator.hpp"

#include <array>

#include "auth/auth_messages.hpp"
#include "auth/channel_binding.hpp"
#include "auth/require_auth.hpp"
#include "auth/scram_client.hpp"
#include "pgtls/error.hpp"
#include "pgtls_gssapi_config.h"
#if PGTLS_HAVE_GSSAPI
#include "auth/gssapi/gss_initiator.hpp"
#endif

namespace pgtls::auth {
namespace {

constexpr std::string_view scram_name = "SCRAM-SHA-256";
constexpr std::string_view scram_plus_name = "SCRAM-SHA-256-PLUS";

const char* describe(std::uint32_t code) {
    switch (code) {
        case auth_req_ok: return "server authenticated the client without asking for credentials";
        case auth_req_password: return "server requested a cleartext password";
        case auth_req_md5: return "server requested a hashed password";
        case auth_req_gss:
        case auth_req_gss_cont: return "server requested GSSAPI authentication";
        case auth_req_sspi: return "server requested SSPI authentication";
        case auth_req_sasl:
        case auth_req_sasl_cont:
        case auth_req_sasl_fin: return "server requested SASL authentication";
        case auth_req_krb4: return "server requested Kerberos 4 authentication";
        case auth_req_krb5: return "server requested Kerberos 5 authentication";
        case auth_req_crypt: return "server requested crypt authentication";
        case auth_req_scm_creds: return "server requested SCM credential authentication";
    }
    return "server requested an unknown authentication type";
}

[[noreturn]] void auth_error(const std::string& m) { throw Error(ErrorKind::authentication, m); }
[[noreturn]] void protocol_error(const std::string& m) { throw Error(ErrorKind::protocol, m); }

// Zeroes a std::string's bytes when the scope ends.
struct Wipe {
    std::string& s;
    ~Wipe() { crypto::secure_zero(s.data(), s.size()); }
};

}  // namespace

const char* to_string(Method m) noexcept {
    switch (m) {
        case Method::none: return "none";
        case Method::password: return "password";
        case Method::md5: return "md5";
        case Method::scram_sha_256: return "SCRAM-SHA-256";
        case Method::scram_sha_256_plus: return "SCRAM-SHA-256-PLUS";
        case Method::gss: return "gss";
        case Method::sspi: return "sspi";
    }
    return "unknown";
}

struct Authenticator::Impl {
    AuthParams params;
    RequireAuth require;
    Method method = Method::none;
    bool done = false;
    bool started = false;               // a method was answered (password sent or SASL begun)
    bool client_finished_auth = false;  // libpq's conn->client_finished_auth
    int sasl_step = 0;                  // 1: client-first sent, 2: client-final sent, 3: verified
    bool plus = false;
    std::unique_ptr<ScramClient> scram;
    std::string test_nonce;
#if PGTLS_HAVE_GSSAPI
    std::unique_ptr<gssapi::Initiator> gss;
#endif

    void check_expected(std::uint32_t code);
    void fetch_password(std::string& out);
    void send_password(std::uint32_t code, std::span<const std::uint8_t> payload, std::string& out);
    void sasl_init(std::span<const std::uint8_t> payload, std::string& out);
    void gss_request(std::uint32_t code, std::span<const std::uint8_t> payload, std::string& out);
    bool gss_complete() const noexcept;
};

Authenticator::Authenticator(AuthParams params) : impl_(std::make_unique<Impl>()) {
    impl_->require = RequireAuth::parse(params.require_auth);
    impl_->params = std::move(params);
}
Authenticator::~Authenticator() = default;
Authenticator::Authenticator(Authenticator&&) noexcept = default;
Authenticator& Authenticator::operator=(Authenticator&&) noexcept = default;

bool Authenticator::done() const noexcept { return impl_->done; }
Method Authenticator::method() const noexcept { return impl_->method; }
std::string Authenticator::method_used() const {
    // GSSAPI encryption authenticated the client when the server asked for nothing more.
    if (impl_->method == Method::none) return impl_->params.gss_encrypted ? "gss" : "trust";
    std::string name = to_string(impl_->method);
    const bool scram = impl_->method == Method::scram_sha_256 || impl_->method == Method::scram_sha_256_plus;
    if (scram && impl_->sasl_step != 3) name += " (incomplete: server skipped to AuthenticationOk)";
    if (impl_->method == Method::gss && !impl_->gss_complete())
        name += " (incomplete: server skipped to AuthenticationOk before mutual authentication)";
    return name;
}
bool Authenticator::channel_binding_used() const noexcept {
    return impl_->plus && impl_->scram && impl_->scram->finished();
}
void Authenticator::set_scram_nonce_for_testing(std::string nonce) { impl_->test_nonce = std::move(nonce); }

// libpq's check_expected_areq: require_auth first, then channel_binding=require.
void Authenticator::Impl::check_expected(std::uint32_t code) {
    if (require.active()) {
        bool ok = true;
        const char* reason = nullptr;
        if (code == auth_req_ok) {
            // libpq: a GSSAPI-encrypted channel satisfies a require_auth that allows gss.
            const bool gss_by_encryption = params.gss_encrypted && require.allows(auth_req_gss);
            if (require.auth_required() && !client_finished_auth && !gss_by_encryption) {
                ok = false;
                reason = started ? "server did not complete authentication (AuthenticationOk before the exchange finished)"
                                 : "server did not complete authentication (it asked for no credentials)";
            }
        } else {
            ok = require.allows(code);
        }
        if (!ok)
            auth_error("authentication method requirement \"" + require.text() + "\" failed: " +
                       (reason ? reason : describe(code)));
    }
    if (params.channel_binding == ChannelBinding::require) {
        switch (code) {
            case auth_req_sasl:
            case auth_req_sasl_cont:
            case auth_req_sasl_fin: break;
            case auth_req_ok:
                if (!(plus && scram && scram->finished())) {
                    if (scram)
                        auth_error("channel binding required, but server sent AuthenticationOk before the "
                                   "SCRAM-SHA-256-PLUS exchange completed (server signature not verified)");
                    auth_error("channel binding required, but server authenticated client without channel binding "
                               "(it asked for no credentials)");
                }
                break;
            default:
                auth_error(std::string("channel binding required but not supported by server's authentication request: ") +
                           describe(code));
        }
    }
}

// Copies the password into `out` (the caller wipes it) and wipes the callback's copy.
void Authenticator::Impl::fetch_password(std::string& out) {
    std::optional<std::string> pw;
    if (params.get_password) pw = params.get_password();
    if (!pw || pw->empty()) {
        if (pw) crypto::secure_zero(pw->data(), pw->size());
        auth_error("password is required but none was supplied for user \"" + params.user +
                   "\" (fe_sendauth: no password supplied)");
    }
    if (pw->find('\0') != std::string::npos) {
        crypto::secure_zero(pw->data(), pw->size());
        auth_error("password for user \"" + params.user + "\" contains a NUL byte, which the protocol cannot carry");
    }
    out.assign(*pw);
    crypto::secure_zero(pw->data(), pw->size());
}

void Authenticator::Impl::send_password(std::uint32_t code, std::span<const std::uint8_t> payload, std::string& out) {
    if (started) protocol_error(std::string("server sent a second authentication request (") + describe(code) +
                                ") after the exchange had started");
    std::array<std::uint8_t, 4> salt{};
    if (code == auth_req_md5) {
        if (payload.size() != 4) protocol_error("malformed AuthenticationMD5Password message: the salt must be 4 bytes");
        std::copy(payload.begin(), payload.end(), salt.begin());
        if (!params.crypto) throw Error(ErrorKind::usage, "md5 authentication needs a crypto provider");
    } else if (!payload.empty()) {
        protocol_error("malformed AuthenticationCleartextPassword message: unexpected payload");
    }
    std::string password;
    Wipe wipe{password};
    fetch_password(password);
    if (code == auth_req_md5) {
        std::string hashed = md5_password(*params.crypto, password, params.user, salt);
        append_password_message(out, hashed);
        method = Method::md5;
    } else {
        append_password_message(out, password);
        method = Method::password;
    }
    started = true;
    client_finished_auth = true;  // no further requests are expected
}

void Authenticator::Impl::sasl_init(std::span<const std::uint8_t> payload, std::string& out) {
    const bool tls = params.tls;
    if (params.channel_binding == ChannelBinding::require && !tls)
        auth_error("channel binding required, but SSL not in use");
    if (started) protocol_error("duplicate SASL authentication request");

    // The payload is a list of NUL-terminated mechanism names ended by an empty one.
    std::vector<std::string> offered;
    std::size_t pos = 0;
    for (;;) {
        std::size_t end = pos;
        while (end < payload.size() && payload[end] != 0) ++end;
        if (end == payload.size())
            protocol_error("invalid authentication request from server: invalid list of authentication mechanisms");
        if (end == pos) {
            pos = end + 1;
            break;
        }
        offered.emplace_back(reinterpret_cast<const char*>(payload.data() + pos), end - pos);
        pos = end + 1;
    }
    if (pos != payload.size())
        protocol_error("invalid authentication request from server: data after the list of authentication mechanisms");

    // Mechanism choice as pg_SASL_init: PLUS over everything when TLS is in use and channel
    // binding is not disabled; PLUS offered without TLS means something stripped TLS.
    std::string_view selected;
    for (const std::string& m : offered) {
        if (m == scram_plus_name) {
            if (!tls)
                auth_error("server offered SCRAM-SHA-256-PLUS authentication over a non-SSL connection");
            if (params.channel_binding != ChannelBinding::disable) selected = scram_plus_name;
        } else if (m == scram_name && selected.empty()) {
            selected = scram_name;
        }
    }
    if (selected.empty()) {
        std::string list;
        for (const std::string& m : offered) {
            if (!list.empty()) list += ", ";
            for (char c : m.substr(0, 64)) list += (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) ? c : '?';
        }
        auth_error("none of the server's SASL authentication mechanisms are supported (server offered: " +
                   (list.empty() ? std::string("nothing") : list) + ")");
    }
    const bool use_plus = selected == scram_plus_name;
    if (params.channel_binding == ChannelBinding::require && !use_plus)
        auth_error("channel binding is required, but server did not offer an authentication method that supports "
                   "channel binding (SCRAM-SHA-256-PLUS)");
    if (!params.crypto) throw Error(ErrorKind::usage, "SCRAM authentication needs a crypto provider");

    ScramOptions options;
    if (use_plus) {
        if (!params.peer_certificate)
            auth_error("channel binding not possible: no server certificate is available");
        options.channel_binding_data = tls_server_end_point(*params.crypto, *params.peer_certificate);
        options.gs2 = Gs2Flag::p;
    } else if (tls && params.channel_binding != ChannelBinding::disable) {
        options.gs2 = Gs2Flag::y;  // we could bind, but the server did not offer it
    } else {
        options.gs2 = Gs2Flag::n;
    }
    options.max_iterations = params.scram_max_iterations > 0 ? static_cast<std::uint32_t>(params.scram_max_iterations) : 1;
    options.nonce = test_nonce;

    std::string password;
    Wipe wipe{password};
    fetch_password(password);
    scram = std::make_unique<ScramClient>(*params.crypto, password, std::move(options));
    const std::string first = scram->client_first();
    append_sasl_initial_response(out, selected, first);
    plus = use_plus;
    method = use_plus ? Method::scram_sha_256_plus : Method::scram_sha_256;
    started = true;
    sasl_step = 1;
}

bool Authenticator::Impl::gss_complete() const noexcept {
#if PGTLS_HAVE_GSSAPI
    return gss && gss->complete();
#else
    return false;
#endif
}

// libpq's pg_GSS_startup (AuthenticationGSS) and pg_GSS_continue (AuthenticationGSSContinue):
// each server token goes through gss_init_sec_context; whatever token it yields is sent as a
// GSSResponse. The exchange is finished for require_auth only once the context is complete.
void Authenticator::Impl::gss_request(std::uint32_t code, std::span<const std::uint8_t> payload, std::string& out) {
#if PGTLS_HAVE_GSSAPI
    if (code == auth_req_gss) {
        if (gss) protocol_error("duplicate GSS authentication request");
        if (started)
            protocol_error("server sent a second authentication request (server requested GSSAPI authentication) "
                           "after the exchange had started");
        gss = std::make_unique<gssapi::Initiator>(
            gssapi::InitiatorOptions{params.krbsrvname, params.gss_host, params.gss_delegation});
        method = Method::gss;
        started = true;
        payload = {};  // libpq ignores any data after the code of AuthenticationGSS
    } else {
        if (!gss || !gss->started())
            protocol_error("invalid authentication request from server: AuthenticationGSSContinue without "
                           "AuthenticationGSS");
        if (gss->complete())
            protocol_error("unexpected AuthenticationGSSContinue: the GSSAPI context is already complete");
        // Its size is bounded by MessageReader's 2000-byte cap on 'R' messages (libpq's).
        if (payload.empty()) protocol_error("malformed AuthenticationGSSContinue message: empty GSSAPI token");
    }
    std::string token;
    const bool complete = gss->step(payload, token);
    if (!token.empty()) append_sasl_response(out, token);  // GSSResponse: 'p' + the token
    if (complete) client_finished_auth = true;
#else
    (void)code;
    (void)payload;
    (void)out;
    auth_error("GSSAPI authentication not supported by pgtls");
#endif
}

void Authenticator::on_request(std::span<const std::uint8_t> body, std::string& out) {
    Impl& s = *impl_;
    if (s.done) protocol_error("server sent an authentication request after AuthenticationOk");
    if (body.size() < 4) protocol_error("malformed authentication request: shorter than its 4-byte code");
    const std::uint32_t code = (std::uint32_t{body[0]} << 24) | (std::uint32_t{body[1]} << 16) |
                               (std::uint32_t{body[2]} << 8) | body[3];
    const auto payload = body.subspan(4);
    if (code > auth_req_max) protocol_error("server sent an unknown authentication request (code " + std::to_string(code) + ")");

    s.check_expected(code);

    switch (code) {
        case auth_req_ok:
            if (!payload.empty()) protocol_error("malformed AuthenticationOk message: unexpected payload");
            s.done = true;
            return;
        case auth_req_krb4: auth_error("Kerberos 4 authentication not supported");
        case auth_req_krb5: auth_error("Kerberos 5 authentication not supported");
        case auth_req_crypt: auth_error("Crypt authentication not supported");
        case auth_req_scm_creds: auth_error("SCM_CRED authentication method not supported");
        case auth_req_gss:
        case auth_req_gss_cont: s.gss_request(code, payload, out); return;
        case auth_req_sspi: auth_error("SSPI authentication not supported by pgtls");
        case auth_req_password:
        case auth_req_md5: s.send_password(code, payload, out); return;
        case auth_req_sasl: s.sasl_init(payload, out); return;
        case auth_req_sasl_cont: {
            if (!s.scram)
                protocol_error("invalid authentication request from server: AuthenticationSASLContinue without AuthenticationSASL");
            if (s.sasl_step != 1) protocol_error("unexpected AuthenticationSASLContinue: the SCRAM exchange is past that step");
            const std::string_view server_first(reinterpret_cast<const char*>(payload.data()), payload.size());
            const std::string final_message = s.scram->client_final(server_first);
            append_sasl_response(out, final_message);
            s.sasl_step = 2;
            return;
        }
        case auth_req_sasl_fin: {
            if (!s.scram)
                protocol_error("invalid authentication request from server: AuthenticationSASLFinal without AuthenticationSASL");
            if (s.sasl_step != 2)
                auth_error("AuthenticationSASLFinal received from server, but SASL authentication was not completed");
            const std::string_view server_final(reinterpret_cast<const char*>(payload.data()), payload.size());
            s.scram->verify_server_final(server_final);
            s.sasl_step = 3;
            s.client_finished_auth = true;
            return;
        }
    }
    protocol_error("server sent an unknown authentication request (code " + std::to_string(code) + ")");
}

}  // namespace pgtls::auth
