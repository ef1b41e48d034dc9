// Text of a GSSAPI failure as libpq prints it (fe-gssapi-common.c, pg_GSS_error): the prefix,
// ':', every message gss_display_status gives for the major status each preceded by a space,
// ':', then the same for the mechanism's minor status. The major part names the class of
// failure ("No credentials were supplied, or the credentials were unavailable or
// inaccessible"), the minor part the krb5 cause ("No Kerberos credentials available (default
// cache: FILE:/tmp/krb5cc_0)", "Server not found in Kerberos database", ...).
// Only built with the gssapi feature (meson -Dgssapi).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pgtls::auth::gssapi {

// prefix is libpq's, e.g. "GSSAPI continuation error". major and minor are the
// OM_uint32 statuses a gss_* call returned. Never throws for unknown codes: the library's own
// "Unknown code" text is used then.
std::string format_gss_error(std::string_view prefix, std::uint32_t major, std::uint32_t minor);

}  // namespace pgtls::auth::gssapi
