#include "auth/gssapi/gss_status.hpp"

#include <gssapi/gssapi.h>

namespace pgtls::auth::gssapi {
namespace {

// Appends " <message>" for each message gss_display_status yields for one status code.
void append_status(std::string& out, OM_uint32 status, int type) {
    OM_uint32 context = 0;
    do {
        OM_uint32 minor = 0;
        gss_buffer_desc text = GSS_C_EMPTY_BUFFER;
        OM_uint32 major = gss_display_status(&minor, status, type, GSS_C_NO_OID, &context, &text);
        if (GSS_ERROR(major)) break;
        out += ' ';
        out.append(static_cast<const char*>(text.value), text.length);
        gss_release_buffer(&minor, &text);
    } while (context != 0);
}

}  // namespace

std::string format_gss_error(std::string_view prefix, std::uint32_t major, std::uint32_t minor) {
    std::string out(prefix);
    out += ':';
    append_status(out, major, GSS_C_GSS_CODE);
    out += ':';
    append_status(out, minor, GSS_C_MECH_CODE);
    return out;
}

}  // namespace pgtls::auth::gssapi
