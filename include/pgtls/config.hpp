/// \file
/// pgtls — connection settings: the C++ config struct, libpq connection strings, environment,
/// service and password files, and the resolved settings a connection runs with.
#pragma once

#include "pgtls/trace.hpp"
#include "pgtls/version.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

PGTLS_API_BEGIN
namespace pgtls {

/// libpq's sslmode (verify_ca is "verify-ca"), plus no_verify: encrypt, verify nothing
/// (node-postgres' rejectUnauthorized=false).
enum class SslMode { disable, allow, prefer, require, verify_ca, verify_full, no_verify /* node-postgres: encrypt, verify nothing */ };
/// libpq's sslnegotiation: SSLRequest first (postgres) or TLS at once (direct, PostgreSQL 17+).
enum class SslNegotiation { postgres, direct };
/// libpq's sslcertmode: whether a client certificate is never, optionally or always sent.
enum class SslCertMode { disable, allow, require };
/// libpq's channel_binding for SCRAM-SHA-256-PLUS.
enum class ChannelBinding { disable, prefer, require };
/// A TLS protocol version (ssl_min_protocol_version / ssl_max_protocol_version).
enum class TlsVersion { unspecified, tls1_0, tls1_1, tls1_2, tls1_3 };
/// libpq's target_session_attrs (read_write is "read-write", and so on).
enum class TargetSessionAttrs { any, read_write, read_only, primary, standby, prefer_standby };
/// libpq's load_balance_hosts.
enum class LoadBalanceHosts { disable, random };
/// What a client does when max_notifications are queued and another arrives.
enum class NotificationOverflow { error, drop_oldest };
/// Frontend/backend protocol versions, as libpq 18's min_protocol_version/max_protocol_version
/// ("3.0", "3.2", "latest": the newest pgtls speaks, 3.2). 3.1 never existed.
enum class ProtocolVersion { v3_0, v3_2, latest };
/// GSSAPI transport encryption (libpq's gssencmode). prefer and require try it before any TLS
/// when Kerberos credentials can be had; a build without the gssapi feature refuses require.
enum class GssEncMode { disable, prefer, require };

/// @{
/// The keyword value as libpq spells it ("verify-full", "direct", ...), a static string.
const char* to_string(SslMode) noexcept;
const char* to_string(SslNegotiation) noexcept;
const char* to_string(SslCertMode) noexcept;
const char* to_string(ChannelBinding) noexcept;
/// @}
const char* to_string(TlsVersion) noexcept;  ///< "TLSv1.2" etc., "" for unspecified
/// @{
/// The keyword value as libpq spells it ("read-write", "random", ...), a static string.
const char* to_string(TargetSessionAttrs) noexcept;
const char* to_string(LoadBalanceHosts) noexcept;
/// @}
const char* to_string(NotificationOverflow) noexcept;  ///< "error", "drop-oldest"
const char* to_string(ProtocolVersion) noexcept;  ///< "3.0", "3.2", "latest"
const char* to_string(GssEncMode) noexcept;       ///< "disable", "prefer", "require"

/// TLS material: a file path, or the PEM bytes themselves (node-postgres' ssl.ca/cert/key take
/// file contents). Setting one clears the other.
struct Pem {
    std::optional<std::string> path;  ///< A file to read.
    std::optional<std::string> pem;   ///< The PEM text itself.

    static Pem file(std::string p) { return Pem{std::move(p), std::nullopt}; }    ///< From the file `p`.
    static Pem bytes(std::string b) { return Pem{std::nullopt, std::move(b)}; }  ///< From PEM text `b`.
    bool empty() const { return !path && !pem; }  ///< True when neither is set.
};

/// A notice or warning from the server or from pgtls itself (e.g. ".pgpass ignored").
struct Notice;

/// Settings given in code. Every field is optional: an unset field takes the value from the
/// connection string, then the service file, then the environment, then libpq's default.
/// A field set here wins over all of those, field by field — setting `sslrootcert` here
/// never drops `sslcert` from the string. Names follow libpq's keywords.
struct Config {
    /// A libpq connection string (key=value or postgresql:// URI). May be empty.
    std::string conninfo;
    /// Read PG* environment variables (as libpq does). Tests turn this off.
    bool use_environment = true;

    std::optional<std::string> host;       ///< comma-separated list allowed
    std::optional<std::string> hostaddr;   ///< comma-separated list allowed
    std::optional<std::string> port;       ///< comma-separated list allowed
    std::optional<std::string> dbname;     ///< database name; default: the user name
    std::optional<std::string> user;       ///< user name; default: the operating system user
    std::optional<std::string> password;   ///< password; see also passfile and password_callback
    std::optional<std::string> passfile;   ///< password file; default ~/.pgpass
    std::optional<std::string> service;    ///< service name in pg_service.conf
    std::optional<int> connect_timeout;    ///< seconds, 0 = none
    std::optional<std::string> client_encoding;  ///< client_encoding sent at startup ("auto": from the locale)
    std::optional<std::string> options;    ///< command-line options for the server, e.g. "-c geqo=off"
    std::optional<std::string> application_name;  ///< application_name sent at startup
    std::optional<std::string> fallback_application_name;  ///< application_name when none is given anywhere
    std::optional<bool> keepalives;        ///< TCP keepalives on (default) or off
    std::optional<int> keepalives_idle;    ///< seconds of idleness before the first keepalive
    std::optional<int> keepalives_interval;  ///< seconds between unanswered keepalives
    std::optional<int> keepalives_count;   ///< unanswered keepalives before the connection is dropped
    std::optional<int> tcp_user_timeout;   ///< milliseconds

    /// Disable, allow, prefer (default), require, verify-ca, verify-full, no-verify.
    std::optional<SslMode> sslmode;
    /// Postgres (SSLRequest first, default) or direct (TLS at once, PostgreSQL 17+).
    std::optional<SslNegotiation> sslnegotiation;
    std::optional<Pem> sslrootcert;        ///< path may be "system"
    std::optional<Pem> sslcert;            ///< client certificate (chain)
    std::optional<Pem> sslkey;             ///< client private key
    std::optional<std::string> sslpassword;  ///< passphrase of an encrypted sslkey
    std::optional<SslCertMode> sslcertmode;  ///< disable, allow (default) or require a client certificate to be sent
    std::optional<Pem> sslcrl;             ///< certificate revocation list
    std::optional<std::string> sslcrldir;  ///< directory of revocation lists (hashed names)
    std::optional<bool> sslsni;            ///< send the host name as TLS SNI (default on)
    std::optional<TlsVersion> ssl_min_protocol_version;  ///< lowest TLS version accepted; default TLSv1.2
    /// Highest TLS version offered; default: the backend's newest.
    std::optional<TlsVersion> ssl_max_protocol_version;
    std::optional<std::string> sslkeylogfile;  ///< append TLS secrets to this file (NSS key log format) for debugging
    std::optional<std::string> sslbackend;  ///< pgtls: openssl | gnutls | mbedtls
    std::optional<ProtocolVersion> min_protocol_version;  ///< lowest frontend/backend protocol version accepted
    std::optional<ProtocolVersion> max_protocol_version;  ///< protocol version asked for at startup
    std::optional<GssEncMode> gssencmode;  ///< GSSAPI transport encryption: disable, prefer, require

    std::optional<ChannelBinding> channel_binding;  ///< SCRAM channel binding: disable, prefer (default), require
    /// Authentication methods the server may ask for, e.g. "scram-sha-256" or "!password".
    std::optional<std::string> require_auth;
    /// Which server of a host list is acceptable (libpq's values).
    std::optional<TargetSessionAttrs> target_session_attrs;
    std::optional<LoadBalanceHosts> load_balance_hosts;  ///< disable (hosts in order, default) or random

    /// Extra startup parameters (GUCs) sent verbatim, e.g. {"search_path", "app"}.
    std::map<std::string, std::string> runtime_params;

    /// Called only when the server asks for a password and none was found elsewhere
    /// (node-postgres' `password` function). Receives host, port, user.
    std::function<std::string(const std::string& host, const std::string& port, const std::string& user)>
        password_callback;

    /// pgtls-specific limits.
    std::optional<std::size_t> max_message_size;  ///< default 1 GiB (the server's own limit)
    std::optional<int> scram_max_iterations;      ///< default 1'000'000
    /// What a server's replies can make a connection hold; also connection keywords of the
    /// same names (positive integers; notification_overflow=error|drop-oldest). Exceeding a
    /// cap is Error(protocol) naming it, and the connection is closed (the rest of the reply
    /// is not read). Rows streamed (stream()) or copied (copy_out()) are not held: any size.
    std::optional<std::size_t> max_result_bytes;   ///< rows kept for one query or pipeline: default 1 GiB
    std::optional<std::size_t> max_result_rows;    ///< rows kept for one query or pipeline: default 100,000,000
    std::optional<std::size_t> max_result_sets;    ///< results in one query's reply: default 100,000
    std::optional<std::size_t> max_notifications;  ///< queued, not yet taken: default 100,000
    std::optional<NotificationOverflow> notification_overflow;  ///< default error
    std::optional<std::size_t> max_parameter_status;  ///< distinct ParameterStatus names: default 1,000

    /// Receives a span per operation of connections made with this config (see
    /// pgtls/trace.hpp); null (the default): no tracing, no cost beyond a null check.
    std::shared_ptr<Tracer> tracer;
    /// Spans carry db.query.text (the statement's text, never parameter values). Off by
    /// default: statements can hold literals an application considers secret.
    bool trace_query_text = false;
    /// Trace-context comment, sqlcommenter style; null (the default): none. When set, it is
    /// called just before a statement is sent with the simple protocol (Client::query,
    /// query_all, AsyncConnection::query) or as the unnamed statement of Client::execute()/exec()
    /// (statement cache off: statement_cache_capacity 0, the default) and of
    /// AsyncConnection::execute()/stream(), on the thread that sends it (AsyncConnection: its
    /// event loop's), and returns the current W3C traceparent ("00-<32 hex>-<16 hex>-<2 hex>")
    /// or "" for none; the statement then goes out as "/* traceparent='...' */ " + sql. A
    /// value that is not a valid traceparent is not sent (never spliced into the SQL), and an
    /// exception thrown by the callback is swallowed. Named statements (prepare(), the
    /// statement cache) never carry it: their Parse is sent once and reused whatever the trace,
    /// and the cache's key stays the statement's own text. PgBouncer in transaction mode
    /// passes the comment through like any statement text.
    std::function<std::string()> trace_context;
};

/// Where a resolved setting came from, for `pgtls conninfo`.
enum class SettingSource { default_value, environment, service_file, connection_string, code };
/// "default", "environment", ... (a static string).
const char* to_string(SettingSource) noexcept;

/// One host to try, after splitting host/hostaddr/port lists.
struct HostTarget {
    std::string host;      ///< name, IP literal, or Unix socket directory (starts with '/' or '@')
    std::string hostaddr;  ///< numeric address to connect to instead of resolving host; may be empty
    std::uint16_t port = 5432;  ///< TCP port, or the Unix socket's number (.s.PGSQL.PORT)
    /// True when `host` names a Unix socket directory (or abstract socket) and no hostaddr is set.
    bool is_unix_socket() const { return hostaddr.empty() && !host.empty() && (host[0] == '/' || host[0] == '@'); }
};

/// Everything a connection runs with, after merging code, string, service file, environment
/// and defaults. Produced by resolve(); consumed by Client and Pool.
struct Settings {
    std::vector<HostTarget> hosts;         ///< the hosts to try, in order, with their ports
    std::string dbname;                    ///< database name
    std::string user;                      ///< user name
    std::optional<std::string> password;   ///< explicit password (code, string, PGPASSWORD)
    std::string passfile;                  ///< resolved path of .pgpass (may not exist)
    std::chrono::seconds connect_timeout{0};  ///< per host attempt; 0: none
    std::string client_encoding;           ///< empty: not sent
    std::string options;                   ///< command-line options for the server
    std::string application_name;          ///< already falls back to fallback_application_name
    bool keepalives = true;                ///< TCP keepalives on
    /// @{
    /// keepalives_idle, keepalives_interval (seconds), keepalives_count; 0: system default.
    int keepalives_idle = 0, keepalives_interval = 0, keepalives_count = 0;
    /// @}
    int tcp_user_timeout = 0;              ///< ms, 0: system default

    SslMode sslmode = SslMode::prefer;     ///< require with a root certificate becomes verify_ca (libpq)
    bool sslmode_explicit = false;         ///< set anywhere but default (direct negotiation needs this)
    /// The server's certificate chain must verify against sslrootcert: verify-ca, verify-full,
    /// and, as in libpq, allow/prefer/require whenever a root certificate is configured (an
    /// explicit one, or ~/.postgresql/root.crt when it exists). Never for no-verify.
    bool ssl_verify_chain = false;
    SslNegotiation sslnegotiation = SslNegotiation::postgres;  ///< postgres (SSLRequest) or direct
    Pem sslrootcert;                       ///< path "system" means the platform trust store
    Pem sslcert;                           ///< client certificate (empty: none)
    Pem sslkey;                            ///< client private key
    std::string sslpassword;               ///< passphrase of an encrypted sslkey
    SslCertMode sslcertmode = SslCertMode::allow;  ///< whether a client certificate may or must be sent
    Pem sslcrl;                            ///< certificate revocation list (empty: none)
    std::string sslcrldir;                 ///< directory of revocation lists (empty: none)
    bool sslsni = true;                    ///< send the host name as TLS SNI
    TlsVersion ssl_min_protocol_version = TlsVersion::tls1_2;  ///< lowest TLS version accepted
    /// Highest TLS version offered; unspecified: the backend's newest.
    TlsVersion ssl_max_protocol_version = TlsVersion::unspecified;
    std::string sslkeylogfile;             ///< TLS key log file (empty: none)
    std::string sslbackend;                ///< empty: the build's default backend
    /// The range of protocol versions to accept (never `latest` here: resolved to 3.2). As in
    /// libpq 18 the maximum, which the startup message asks for, defaults to 3.0 (poolers
    /// such as PgBouncer 1.18 refuse 3.2) unless the minimum is higher.
    ProtocolVersion min_protocol_version = ProtocolVersion::v3_0;
    ProtocolVersion max_protocol_version = ProtocolVersion::v3_0;  ///< the version asked for at startup

    ChannelBinding channel_binding = ChannelBinding::prefer;  ///< SCRAM channel binding policy
    std::string require_auth;              ///< raw list, validated
    /// Kerberos (GSSAPI; used by builds with the gssapi feature). The service principal is
    /// "<krbsrvname>/<host>": krbsrvname defaults to "postgres"; gsslib may only be empty or
    /// "gssapi" (libpq on Unix); gssdelegation=1 forwards the client's ticket-granting ticket.
    std::string krbsrvname = "postgres";
    bool gssdelegation = false;            ///< forward the ticket-granting ticket (gssdelegation=1)
    /// resolve() gives libpq's default: prefer in builds with the gssapi feature (tried only
    /// when credentials can be acquired), disable without it. Settings built by hand start at
    /// disable.
    GssEncMode gssencmode = GssEncMode::disable;
    /// Which server of the host list is acceptable.
    TargetSessionAttrs target_session_attrs = TargetSessionAttrs::any;
    LoadBalanceHosts load_balance_hosts = LoadBalanceHosts::disable;  ///< host order: as given, or shuffled

    std::map<std::string, std::string> runtime_params;  ///< extra startup parameters, as Config::runtime_params
    /// As Config::password_callback.
    std::function<std::string(const std::string&, const std::string&, const std::string&)> password_callback;
    /// Largest server message accepted (Error(protocol) beyond).
    std::size_t max_message_size = std::size_t{1} << 30;
    int scram_max_iterations = 1'000'000;  ///< largest SCRAM iteration count accepted from a server
    std::size_t max_result_bytes = std::size_t{1} << 30;  ///< as Config::max_result_bytes
    std::size_t max_result_rows = 100'000'000;  ///< as Config::max_result_rows
    std::size_t max_result_sets = 100'000;  ///< as Config::max_result_sets
    std::size_t max_notifications = 100'000;  ///< as Config::max_notifications
    NotificationOverflow notification_overflow = NotificationOverflow::error;  ///< as Config::notification_overflow
    std::size_t max_parameter_status = 1'000;  ///< as Config::max_parameter_status
    std::shared_ptr<Tracer> tracer;        ///< as Config::tracer
    bool trace_query_text = false;         ///< as Config::trace_query_text
    std::function<std::string()> trace_context;  ///< as Config::trace_context

    /// keyword -> where its value came from (only keywords that have a value).
    std::map<std::string, SettingSource> sources;
    /// keyword -> effective value as text (passwords masked), for display.
    std::map<std::string, std::string> display;
    /// Warnings produced while resolving (e.g. unsafe .pgpass permissions).
    std::vector<std::string> warnings;
};

/// Environment lookup, injectable for tests. nullptr-returning = unset.
using Environment = std::function<std::optional<std::string>(const std::string& name)>;
Environment process_environment();  ///< The process's environment (getenv).

/// Merge everything and validate. Throws pgtls::Error(ErrorKind::config) naming the keyword,
/// the value and what is allowed.
Settings resolve(const Config& config);
/// The same, reading environment variables through `env`.
Settings resolve(const Config& config, const Environment& env);

/// Parse a connection string (either form) to keyword/value pairs, validating keywords.
std::vector<std::pair<std::string, std::string>> parse_conninfo(const std::string& conninfo);

/// Look a password up in a .pgpass file with libpq's matching rules. Returns nullopt when the
/// file is missing, unsafe (a warning is appended) or has no matching line.
std::optional<std::string> pgpass_lookup(const std::string& passfile, const std::string& host,
                                         const std::string& port, const std::string& dbname,
                                         const std::string& user, std::vector<std::string>* warnings);

/// The password for one host as libpq picks it: the explicit password when non-empty, else the
/// .pgpass line for that host (keyed by host, or hostaddr when host is empty), port, dbname
/// and user. Call it only when the server asks for a password; password_callback comes after.
std::optional<std::string> password_for_host(const Settings& settings, const HostTarget& target,
                                             std::vector<std::string>* warnings);

/// Every effective keyword with its value (passwords and key material masked) and where it came
/// from, one per line, then the host list and warnings; json=true gives one JSON object
/// {"settings":[{"keyword","value","source"}...],"hosts":[...],"warnings":[...]}.
/// Used by `pgtls conninfo`.
std::string describe_settings(const Settings& settings, bool json);

/// `conninfo` as it may be shown in a message or a log: the values of secret keywords
/// (password, sslpassword, ...), of unknown (misspelt) ones and a URI's password replaced by
/// "********". Never throws (but std::bad_alloc): a string that stops following libpq's grammar
/// is shown up to that point, then "********" for the rest.
std::string masked_connection_string(std::string_view conninfo);

}  // namespace pgtls
PGTLS_API_END
