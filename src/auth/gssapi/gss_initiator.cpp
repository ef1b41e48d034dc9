#include "auth/gssapi/gss_initiator.hpp"

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>

#include "auth/gssapi/gss_status.hpp"
#include "pgtls/error.hpp"

namespace pgtls::auth::gssapi {
namespace {

[[noreturn]] void fail(const std::string& message) {
    throw Error(ErrorKind::authentication, ErrorCause::auth_failed, message);
}

// What the user can do about the commonest failures; the GSSAPI text alone names the class
// of failure and the krb5 cause but not the remedy.
std::string hint(OM_uint32 major, OM_uint32 minor) {
    const OM_uint32 routine = GSS_ROUTINE_ERROR(major);
    if (routine == GSS_S_NO_CRED)
        return " (no usable Kerberos credentials: run kinit, or point KRB5CCNAME at a credential cache)";
    if (routine == GSS_S_CREDENTIALS_EXPIRED || minor == static_cast<OM_uint32>(KRB5KRB_AP_ERR_TKT_EXPIRED))
        return " (the Kerberos ticket has expired: run kinit again)";
    if (minor == static_cast<OM_uint32>(KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN))
        return " (the KDC does not know the server's service principal: check krbsrvname and the host name)";
    return {};
}

}  // namespace

struct Initiator::Handles {
    gss_name_t target = GSS_C_NO_NAME;
    gss_ctx_id_t context = GSS_C_NO_CONTEXT;
    gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
    ~Handles() {
        OM_uint32 minor = 0;
        if (context != GSS_C_NO_CONTEXT) gss_delete_sec_context(&minor, &context, GSS_C_NO_BUFFER);
        if (cred != GSS_C_NO_CREDENTIAL) gss_release_cred(&minor, &cred);
        if (target != GSS_C_NO_NAME) gss_release_name(&minor, &target);
    }
};

Initiator::Initiator(InitiatorOptions options) : options_(std::move(options)), h_(std::make_unique<Handles>()) {
    if (options_.host.empty()) fail("host name must be specified for GSSAPI authentication");
    std::string name = options_.service + "@" + options_.host;
    gss_buffer_desc buf{name.size(), name.data()};
    OM_uint32 minor = 0;
    const OM_uint32 major = gss_import_name(&minor, &buf, GSS_C_NT_HOSTBASED_SERVICE, &h_->target);
    if (major != GSS_S_COMPLETE) fail(format_gss_error("GSSAPI name import error", major, minor));
}

Initiator::~Initiator() = default;

bool Initiator::started() const noexcept { return h_->context != GSS_C_NO_CONTEXT; }

bool Initiator::step(std::span<const std::uint8_t> input, std::string& output) {
    OM_uint32 minor = 0;
    // libpq (pg_GSS_have_cred_cache): initiator credentials when they can be had at all,
    // else GSS_C_NO_CREDENTIAL and let gss_init_sec_context report the failure.
    if (h_->cred == GSS_C_NO_CREDENTIAL) {
        gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
        if (gss_acquire_cred(&minor, GSS_C_NO_NAME, 0, GSS_C_NO_OID_SET, GSS_C_INITIATE, &cred, nullptr, nullptr) ==
            GSS_S_COMPLETE)
            h_->cred = cred;
    }
    OM_uint32 flags = GSS_C_MUTUAL_FLAG;
    if (options_.encryption) flags |= GSS_C_REPLAY_FLAG | GSS_C_SEQUENCE_FLAG | GSS_C_CONF_FLAG | GSS_C_INTEG_FLAG;
    if (options_.delegate) flags |= GSS_C_DELEG_FLAG;

    gss_buffer_desc in{input.size(), const_cast<std::uint8_t*>(input.data())};
    gss_buffer_desc out = GSS_C_EMPTY_BUFFER;
    const bool first = h_->context == GSS_C_NO_CONTEXT;
    const OM_uint32 major = gss_init_sec_context(&minor, h_->cred, &h_->context, h_->target, GSS_C_NO_OID, flags, 0,
                                                 GSS_C_NO_CHANNEL_BINDINGS, first ? GSS_C_NO_BUFFER : &in, nullptr,
                                                 &out, nullptr, nullptr);
    if (out.length != 0) output.append(static_cast<const char*>(out.value), out.length);
    OM_uint32 ignored = 0;
    gss_release_buffer(&ignored, &out);
    if (major != GSS_S_COMPLETE && major != GSS_S_CONTINUE_NEEDED)
        fail(format_gss_error(options_.encryption ? "could not initiate GSSAPI security context"
                                                  : "GSSAPI continuation error",
                              major, minor) +
             hint(major, minor));
    complete_ = major == GSS_S_COMPLETE;
    return complete_;
}

bool have_initiator_credentials() {
    OM_uint32 minor = 0;
    gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
    const OM_uint32 major =
        gss_acquire_cred(&minor, GSS_C_NO_NAME, 0, GSS_C_NO_OID_SET, GSS_C_INITIATE, &cred, nullptr, nullptr);
    if (cred != GSS_C_NO_CREDENTIAL) gss_release_cred(&minor, &cred);
    return major == GSS_S_COMPLETE;
}

std::size_t Initiator::max_wrap_input(std::size_t max_token) const {
    OM_uint32 minor = 0, max_input = 0;
    const OM_uint32 major = gss_wrap_size_limit(&minor, h_->context, 1, GSS_C_QOP_DEFAULT,
                                                static_cast<OM_uint32>(max_token), &max_input);
    if (major != GSS_S_COMPLETE)
        throw Error(ErrorKind::connection, format_gss_error("GSSAPI size check error", major, minor));
    return max_input;
}

void Initiator::wrap(std::span<const std::uint8_t> plain, std::string& out) const {
    OM_uint32 minor = 0;
    int conf = 0;
    gss_buffer_desc in{plain.size(), const_cast<std::uint8_t*>(plain.data())};
    gss_buffer_desc token = GSS_C_EMPTY_BUFFER;
    const OM_uint32 major = gss_wrap(&minor, h_->context, 1, GSS_C_QOP_DEFAULT, &in, &conf, &token);
    if (major == GSS_S_COMPLETE && conf != 0) out.append(static_cast<const char*>(token.value), token.length);
    OM_uint32 ignored = 0;
    gss_release_buffer(&ignored, &token);
    if (major != GSS_S_COMPLETE) throw Error(ErrorKind::connection, format_gss_error("GSSAPI wrap error", major, minor));
    if (conf == 0) throw Error(ErrorKind::connection, "outgoing GSSAPI message would not use confidentiality");
}

void Initiator::unwrap(std::span<const std::uint8_t> token, std::string& out) const {
    OM_uint32 minor = 0;
    int conf = 0;
    gss_buffer_desc in{token.size(), const_cast<std::uint8_t*>(token.data())};
    gss_buffer_desc plain = GSS_C_EMPTY_BUFFER;
    const OM_uint32 major = gss_unwrap(&minor, h_->context, &in, &plain, &conf, nullptr);
    if (major == GSS_S_COMPLETE && conf != 0) out.append(static_cast<const char*>(plain.value), plain.length);
    OM_uint32 ignored = 0;
    gss_release_buffer(&ignored, &plain);
    if (major != GSS_S_COMPLETE)
        throw Error(ErrorKind::connection, format_gss_error("GSSAPI unwrap error", major, minor));
    if (conf == 0) throw Error(ErrorKind::connection, "incoming GSSAPI message did not use confidentiality");
}

}  // namespace pgtls::auth::gssapi
