// resolve(): merges fields set in code, the connection string, the service file, the PG*
// environment and libpq's defaults, keyword by keyword, validates every value and expands the
// host list. Precedence (highest first): code > connection string > service file >
// environment > default; the service and environment layers are exactly libpq's
// (conninfo_add_defaults), code sits on top.
//
// Merge rules that go beyond "the higher layer wins" (each is tested in tests/config):
//  M1  sslmode=disable with client certificate, key, root certificate, CRL, CRL directory or
//      key password given IN CODE is an error: code asked both for no TLS and for TLS material.
//      (From lower layers such material is merely unused; a connection-string value gets a
//      warning.)
//  M2  sslmode=no-verify with a root certificate or CRL from any source (code, connection
//      string, service file, environment) is an error: one setting asks to verify nothing while
//      another supplies verification material, and a user who set the material believes the
//      server is verified. One rule for every source, never a silent "unused".
//  M3  sslnegotiation=direct with an explicit sslmode that allows plaintext (disable, allow,
//      prefer) is libpq's error; with no sslmode anywhere pgtls uses require (libpq would
//      reject the default "prefer").
//  M4  sslrootcert=system needs verify-full; with no sslmode anywhere it becomes verify-full
//      (libpq).
//  M5  sslcertmode=disable and a client certificate or key in code is an error.
//  M6  sslcertmode=require or channel_binding=require with sslmode=disable is an error: neither
//      can ever be satisfied without TLS.
//  M7  A Pem with both a path and bytes is an error (which one was meant?).
//  M8  A client key in code with no certificate anywhere is an error; a certificate with no
//      key is libpq's error "certificate present, but not private key file".
//  M9  A file named in code that does not exist is an error. Named elsewhere, a missing
//      sslcert/sslrootcert/sslcrl is skipped as libpq does, with a warning (not silently);
//      a missing root certificate under verify-ca/verify-full is libpq's error.
//  M10 sslmode=require with a root certificate (explicit, or ~/.postgresql/root.crt when it
//      exists) means verify-ca, as in libpq; allow/prefer then verify the chain too.
//  M11 Keywords pgtls cannot honour are errors when set to a value that needs them:
//      gssencmode=require (without the gssapi feature), requirepeer, replication, scram_client_key/scram_server_key,
//      oauth_*, min_protocol_version above 3.0, require_auth listing only sspi/oauth (and gss
//      in a build without the gssapi feature).
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <clocale>
#include <climits>
#include <cstdlib>
#include <algorithm>
#include <langinfo.h>
#include <map>

#include "config/conninfo_parser.hpp"
#include "config/keywords.hpp"
#include "config/sources.hpp"
#include "pgtls/config.hpp"
#include "pgtls/error.hpp"
#include "pgtls_gssapi_config.h"

namespace pgtls {

namespace {

using config::KeywordValues;

struct Entry {
    std::string text;          // the value as libpq would see it (path for Pem::file)
    SettingSource source = SettingSource::default_value;
    std::string origin;        // where exactly, for messages: "in the connection string", ...
    std::optional<std::string> pem;  // PEM bytes given in code (text is then empty)
};

[[noreturn]] void fail(const std::string& message) { throw Error(ErrorKind::config, message); }

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

bool is_secret(const std::string& keyword) {
    const config::KeywordInfo* k = config::find_keyword(keyword);
    return k != nullptr && k->secret;
}

std::string shown(const std::string& keyword, const Entry& e) {
    if (is_secret(keyword)) return "********";
    if (e.pem) return "<PEM data, " + std::to_string(e.pem->size()) + " bytes>";
    return e.text;
}

// The merged keyword values, highest layer first in: add() never replaces.
class Layers {
public:
    void add(const std::string& keyword, Entry e) { values_.emplace(keyword, std::move(e)); }
    const Entry* get(const std::string& keyword) const {
        auto it = values_.find(keyword);
        return it == values_.end() ? nullptr : &it->second;
    }
    bool has(const std::string& keyword) const { return values_.count(keyword) != 0; }
    // Set and non-empty (libpq treats an empty value like an absent one almost everywhere).
    const Entry* nonempty(const std::string& keyword) const {
        const Entry* e = get(keyword);
        return e != nullptr && (!e->text.empty() || e->pem) ? e : nullptr;
    }
    std::string text(const std::string& keyword) const {
        const Entry* e = get(keyword);
        return e ? e->text : std::string();
    }
    const std::map<std::string, Entry>& all() const { return values_; }

private:
    std::map<std::string, Entry> values_;
};

[[noreturn]] void bad_value(const std::string& keyword, const Entry& e, const std::string& allowed) {
    std::string message = "invalid " + keyword + " value: " + quoted(shown(keyword, e)) + " " + e.origin;
    if (!allowed.empty()) message += "; allowed: " + allowed;
    fail(message);
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

// libpq's pqParseIntParam: optional surrounding whitespace, a decimal int, nothing else.
std::optional<int> parse_int(const std::string& value) {
    const char* begin = value.c_str();
    char* end = nullptr;
    errno = 0;
    long n = std::strtol(begin, &end, 10);
    if (end == begin || errno != 0 || n < INT_MIN || n > INT_MAX) return std::nullopt;
    while (*end != '\0' && is_space(*end)) ++end;
    if (*end != '\0' || static_cast<std::size_t>(end - begin) != value.size()) return std::nullopt;
    return static_cast<int>(n);
}

// A positive count or size (pgtls's caps), up to SIZE_MAX.
std::size_t size_setting(const Layers& layers, const std::string& keyword, std::size_t fallback) {
    const Entry* e = layers.get(keyword);
    if (e == nullptr || e->text.empty()) return fallback;
    const char* begin = e->text.c_str();
    char* end = nullptr;
    errno = 0;
    const unsigned long long n = std::strtoull(begin, &end, 10);
    while (*end != '\0' && is_space(*end)) ++end;
    if (end == begin || *end != '\0' || errno != 0 || e->text.find('-') != std::string::npos || n == 0)
        fail("invalid integer value " + quoted(e->text) + " for connection option " + quoted(keyword) + " " +
             e->origin + "; allowed: a positive integer");
    return static_cast<std::size_t>(n);
}

int int_setting(const Layers& layers, const std::string& keyword, int fallback, const std::string& allowed) {
    const Entry* e = layers.get(keyword);
    if (e == nullptr || e->text.empty()) return fallback;
    std::optional<int> n = parse_int(e->text);
    if (!n)
        fail("invalid integer value " + quoted(e->text) + " for connection option " + quoted(keyword) + " " +
             e->origin + "; allowed: " + allowed);
    if (*n < 0) bad_value(keyword, *e, allowed);
    return *n;
}

template <typename Enum, std::size_t N>
Enum enum_setting(const Layers& layers, const std::string& keyword, Enum fallback,
                  const std::pair<const char*, Enum> (&names)[N]) {
    const Entry* e = layers.get(keyword);
    if (e == nullptr) return fallback;
    std::string allowed;
    for (const auto& [name, value] : names) {
        if (e->text == name) return value;
        allowed += (allowed.empty() ? "" : ", ") + std::string(name);
    }
    bad_value(keyword, *e, allowed);
}

bool iequals(const std::string& a, const char* b) {
    std::size_t i = 0;
    for (; i < a.size() && b[i] != '\0'; ++i) {
        char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
        char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
        if (x != y) return false;
    }
    return i == a.size() && b[i] == '\0';
}

TlsVersion tls_version_setting(const Layers& layers, const std::string& keyword, TlsVersion fallback) {
    const Entry* e = layers.get(keyword);
    if (e == nullptr) return fallback;
    if (e->text.empty()) return TlsVersion::unspecified;  // libpq: empty means "no bound"
    static const std::pair<const char*, TlsVersion> names[] = {
        {"TLSv1", TlsVersion::tls1_0}, {"TLSv1.1", TlsVersion::tls1_1},
        {"TLSv1.2", TlsVersion::tls1_2}, {"TLSv1.3", TlsVersion::tls1_3}};
    for (const auto& [name, v] : names)
        if (iequals(e->text, name)) return v;
    bad_value(keyword, *e, "TLSv1, TLSv1.1, TLSv1.2, TLSv1.3 (any case), or empty for no bound");
}

std::vector<std::string> split_commas(const std::string& s) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (;;) {
        std::size_t comma = s.find(',', start);
        parts.push_back(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return parts;
}

bool path_exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

// libpq's client_encoding=auto: the encoding of the current LC_CTYPE locale.
std::string encoding_from_locale() {
    const char* ctype = std::setlocale(LC_CTYPE, nullptr);
    if (ctype == nullptr || std::string(ctype) == "C" || std::string(ctype) == "POSIX") return "SQL_ASCII";
    std::string codeset = nl_langinfo(CODESET);
    static const std::pair<const char*, const char*> map[] = {
        {"UTF-8", "UTF8"},          {"utf8", "UTF8"},         {"ANSI_X3.4-1968", "SQL_ASCII"},
        {"ISO-8859-1", "LATIN1"},   {"ISO-8859-2", "LATIN2"}, {"ISO-8859-5", "ISO_8859_5"},
        {"ISO-8859-15", "LATIN9"},  {"EUC-JP", "EUC_JP"},     {"EUC-KR", "EUC_KR"},
        {"KOI8-R", "KOI8R"},        {"CP1251", "WIN1251"},    {"GBK", "GBK"},
        {"BIG5", "BIG5"},           {"SJIS", "SJIS"},
    };
    for (const auto& [from, to] : map)
        if (iequals(codeset, from)) return to;
    return "SQL_ASCII";
}

std::string origin_text(SettingSource source, const std::string& detail) {
    switch (source) {
        case SettingSource::code: return "(set in code)";
        case SettingSource::connection_string: return "(in the connection string)";
        case SettingSource::service_file: return "(in service file \"" + detail + "\")";
        case SettingSource::environment: return "(from environment variable " + detail + ")";
        case SettingSource::default_value: return "(default)";
    }
    return "";
}

Entry make_entry(std::string text, SettingSource source, const std::string& detail = {}) {
    Entry e;
    e.text = std::move(text);
    e.source = source;
    e.origin = origin_text(source, detail);
    return e;
}

// Fields set in code, as keyword entries. Enums and numbers become libpq's spellings so that
// one validator serves every layer.
void add_code_fields(const Config& c, Layers& layers) {
    auto str = [&](const char* keyword, const std::optional<std::string>& v) {
        if (v) layers.add(keyword, make_entry(*v, SettingSource::code));
    };
    auto num = [&](const char* keyword, const std::optional<int>& v) {
        if (v) layers.add(keyword, make_entry(std::to_string(*v), SettingSource::code));
    };
    auto flag = [&](const char* keyword, const std::optional<bool>& v) {
        if (v) layers.add(keyword, make_entry(*v ? "1" : "0", SettingSource::code));
    };
    auto pem = [&](const char* keyword, const std::optional<Pem>& v) {
        if (!v) return;
        if (v->path && v->pem)
            fail(std::string(keyword) + " is set in code with both a file path and PEM bytes; set one of them");
        Entry e = make_entry(v->path.value_or(""), SettingSource::code);
        if (v->pem) e.pem = *v->pem;
        layers.add(keyword, std::move(e));
    };
    auto en = [&](const char* keyword, const auto& v) {
        if (v) layers.add(keyword, make_entry(to_string(*v), SettingSource::code));
    };

    str("host", c.host);
    str("hostaddr", c.hostaddr);
    str("port", c.port);
    str("dbname", c.dbname);
    str("user", c.user);
    str("password", c.password);
    str("passfile", c.passfile);
    str("service", c.service);
    num("connect_timeout", c.connect_timeout);
    str("client_encoding", c.client_encoding);
    str("options", c.options);
    str("application_name", c.application_name);
    str("fallback_application_name", c.fallback_application_name);
    flag("keepalives", c.keepalives);
    num("keepalives_idle", c.keepalives_idle);
    num("keepalives_interval", c.keepalives_interval);
    num("keepalives_count", c.keepalives_count);
    num("tcp_user_timeout", c.tcp_user_timeout);
    en("sslmode", c.sslmode);
    en("sslnegotiation", c.sslnegotiation);
    pem("sslrootcert", c.sslrootcert);
    pem("sslcert", c.sslcert);
    pem("sslkey", c.sslkey);
    str("sslpassword", c.sslpassword);
    en("sslcertmode", c.sslcertmode);
    pem("sslcrl", c.sslcrl);
    str("sslcrldir", c.sslcrldir);
    flag("sslsni", c.sslsni);
    en("ssl_min_protocol_version", c.ssl_min_protocol_version);
    en("ssl_max_protocol_version", c.ssl_max_protocol_version);
    str("sslkeylogfile", c.sslkeylogfile);
    str("sslbackend", c.sslbackend);
    en("min_protocol_version", c.min_protocol_version);
    en("max_protocol_version", c.max_protocol_version);
    en("gssencmode", c.gssencmode);
    en("channel_binding", c.channel_binding);
    str("require_auth", c.require_auth);
    en("target_session_attrs", c.target_session_attrs);
    en("load_balance_hosts", c.load_balance_hosts);
    auto size = [&](const char* keyword, const std::optional<std::size_t>& v) {
        if (v) layers.add(keyword, make_entry(std::to_string(*v), SettingSource::code));
    };
    size("max_result_bytes", c.max_result_bytes);
    size("max_result_rows", c.max_result_rows);
    size("max_result_sets", c.max_result_sets);
    size("max_notifications", c.max_notifications);
    en("notification_overflow", c.notification_overflow);
    size("max_parameter_status", c.max_parameter_status);
}

// libpq's require_auth grammar: a comma list of methods, all plain or all negated with '!',
// no duplicates. Rejects (M11) a list whose every allowed method needs something pgtls lacks.
void validate_require_auth(const Entry& e) {
    if (e.text.empty()) return;
    static const char* const methods[] = {"password", "md5", "gss", "sspi", "scram-sha-256", "oauth", "none"};
    const std::string allowed = "a comma-separated list of password, md5, gss, sspi, scram-sha-256, oauth, none, "
                                "all optionally negated with '!'";
    bool negated = false;
    std::vector<std::string> seen;
    bool any_usable = false;
    auto parts = split_commas(e.text);
    for (std::size_t i = 0; i < parts.size(); ++i) {
        std::string method = parts[i];
        if (!method.empty() && method[0] == '!') {
            if (i > 0 && !negated)
                fail("negative require_auth method " + quoted(method) + " cannot be mixed with non-negative methods " +
                     e.origin);
            negated = true;
            method.erase(0, 1);
        } else if (negated) {
            fail("require_auth method " + quoted(method) + " cannot be mixed with negative methods " + e.origin);
        }
        bool known = false;
        for (const char* m : methods) known = known || method == m;
        if (!known) fail("invalid require_auth value: " + quoted(method) + " " + e.origin + "; allowed: " + allowed);
        for (const auto& s : seen)
            if (s == method) fail("require_auth method " + quoted(parts[i]) + " is specified more than once " + e.origin);
        seen.push_back(method);
        if ((method != "gss" || PGTLS_HAVE_GSSAPI) && method != "sspi" && method != "oauth") any_usable = true;
    }
    if (!negated && !any_usable)
        fail("require_auth=" + e.text + " " + e.origin + " allows only authentication methods pgtls does not implement (" +
             (PGTLS_HAVE_GSSAPI ? "sspi, oauth" : "gss, sspi, oauth") + ")");
}

// M11: keywords accepted for compatibility whose active values need a feature pgtls lacks.
void validate_restricted(const Layers& layers) {
    if (const Entry* e = layers.get("gssencmode")) {
        if (e->text != "disable" && e->text != "prefer" && e->text != "require")
            bad_value("gssencmode", *e, "disable, prefer, require");
        if (e->text == "require" && !PGTLS_HAVE_GSSAPI)
            fail("gssencmode=require " + e->origin +
                 " needs GSSAPI encryption, which this pgtls build does not support (built without the gssapi "
                 "feature); use disable or prefer");
    }
    if (const Entry* e = layers.nonempty("requirepeer"))
        fail("requirepeer " + e->origin + " (a Unix-socket peer user check) is not supported by pgtls");
    if (const Entry* e = layers.nonempty("replication")) {
        static const char* const off[] = {"0", "false", "off", "no", "f", "n"};
        bool is_off = false;
        for (const char* o : off) is_off = is_off || iequals(e->text, o);
        if (!is_off)
            fail("replication=" + e->text + " " + e->origin +
                 " asks for a replication (walsender) connection, which pgtls does not support");
    }
    for (const char* k : {"scram_client_key", "scram_server_key"})
        if (const Entry* e = layers.nonempty(k))
            fail(std::string(k) + " " + e->origin + " (SCRAM pass-through keys) is not supported by pgtls");
    for (const char* k : {"oauth_issuer", "oauth_client_id", "oauth_client_secret", "oauth_scope"})
        if (const Entry* e = layers.nonempty(k))
            fail(std::string(k) + " " + e->origin + " needs OAuth authentication, which pgtls does not support");
}

// libpq 18: "3.0", "3.2" or "latest" (3.2 here); unset gives nullopt. An empty value is
// libpq's error too ("min_protocol_version=", PGMAXPROTOCOLVERSION=""), not the default.
std::optional<ProtocolVersion> protocol_version_setting(const Layers& layers, const char* keyword) {
    const Entry* e = layers.get(keyword);
    if (e == nullptr) return std::nullopt;
    if (e->text == "3.0") return ProtocolVersion::v3_0;
    if (e->text == "3.2" || e->text == "latest") return ProtocolVersion::v3_2;
    bad_value(keyword, *e, "3.0, 3.2, latest");
}

struct Material {
    Pem pem;
    SettingSource source = SettingSource::default_value;
    bool present() const { return !pem.empty(); }
};

// An explicitly named certificate/key/CRL: PEM bytes, or a path that must exist (M9).
// Returns nothing (with a warning) for a missing file named outside code, as libpq skips it.
Material explicit_material(const std::string& keyword, const Entry& e, std::vector<std::string>& warnings) {
    Material m;
    m.source = e.source;
    if (e.pem) {
        m.pem = Pem::bytes(*e.pem);
        return m;
    }
    if (path_exists(e.text)) {
        m.pem = Pem::file(e.text);
        return m;
    }
    if (e.source == SettingSource::code)
        fail(keyword + " file " + quoted(e.text) + " (set in code) does not exist");
    warnings.push_back(keyword + " file " + quoted(e.text) + " " + e.origin + " does not exist; ignored, as libpq does");
    return Material{};
}

std::string material_text(const Pem& p) {
    if (p.pem) return "<PEM data, " + std::to_string(p.pem->size()) + " bytes>";
    return p.path.value_or("");
}

}  // namespace

Settings resolve(const Config& config) { return resolve(config, process_environment()); }

Settings resolve(const Config& config, const Environment& process_env) {
    // PG* variables only when use_environment; HOME always (it locates defaults, like libpq).
    Environment env = [&](const std::string& name) -> std::optional<std::string> {
        if (!process_env) return std::nullopt;
        if (!config.use_environment && name != "HOME") return std::nullopt;
        return process_env(name);
    };

    Settings s;
    Layers layers;
    add_code_fields(config, layers);
    for (auto& [keyword, value] : config::parse_connection_string(config.conninfo))
        layers.add(keyword, make_entry(value, SettingSource::connection_string));

    // Service file: named by code, the string, or PGSERVICE (read before the other variables,
    // as libpq does, so that the service file outranks them).
    std::optional<std::string> service;
    if (const Entry* e = layers.get("service")) service = e->text;
    else if (auto v = env("PGSERVICE")) service = *v;
    if (service) {
        config::ServiceDefinition def = config::lookup_service(*service, env);
        for (auto& [keyword, value] : def.values)
            layers.add(keyword, make_entry(value, SettingSource::service_file, def.file));
    }

    for (const auto& k : config::keywords()) {
        if (k.envvar.empty()) continue;
        std::string keyword(k.name);
        if (layers.has(keyword)) continue;
        if (auto v = env(std::string(k.envvar)))
            layers.add(keyword, make_entry(*v, SettingSource::environment, std::string(k.envvar)));
    }
    // The deprecated PGREQUIRESSL: values starting with '1' mean sslmode=require.
    if (!layers.has("sslmode"))
        if (auto v = env("PGREQUIRESSL"); v && !v->empty() && (*v)[0] == '1')
            layers.add("sslmode", make_entry("require", SettingSource::environment, "PGREQUIRESSL"));

    const std::optional<std::string> home = config::home_directory(env);
    auto record = [&](const std::string& keyword, const std::string& display, SettingSource source) {
        s.display[keyword] = is_secret(keyword) ? std::string("********") : display;
        s.sources[keyword] = source;
    };
    for (const auto& [keyword, e] : layers.all()) record(keyword, shown(keyword, e), e.source);
    for (const auto& k : config::keywords())
        if (k.has_default && !layers.has(std::string(k.name)))
            record(std::string(k.name), std::string(k.default_value), SettingSource::default_value);

    validate_restricted(layers);

    // ---- identity -------------------------------------------------------------------------
    if (const Entry* e = layers.nonempty("user")) {
        s.user = e->text;
    } else {
        s.user = config::current_os_user();
        record("user", s.user, SettingSource::default_value);
    }
    if (const Entry* e = layers.nonempty("dbname")) {
        s.dbname = e->text;
    } else {
        s.dbname = s.user;
        record("dbname", s.dbname, SettingSource::default_value);
    }
    if (const Entry* e = layers.nonempty("password")) s.password = e->text;
    if (const Entry* e = layers.nonempty("passfile")) {
        s.passfile = e->text;
    } else if (home) {
        s.passfile = *home + "/.pgpass";
        record("passfile", s.passfile, SettingSource::default_value);
    }

    // ---- connection behaviour ---------------------------------------------------------------
    const std::string non_negative = "a non-negative integer";
    int timeout = int_setting(layers, "connect_timeout", 0, non_negative + " (seconds, 0 = wait indefinitely)");
    // libpq enforces a 2-second minimum so that rounding cannot make a timeout fire at once.
    if (timeout == 1) timeout = 2;
    s.connect_timeout = std::chrono::seconds(timeout);
    s.client_encoding = layers.text("client_encoding");
    if (s.client_encoding == "auto") {
        s.client_encoding = encoding_from_locale();
        record("client_encoding", "auto (" + s.client_encoding + ")", layers.get("client_encoding")->source);
    }
    s.options = layers.text("options");
    s.application_name = layers.text("application_name");
    // libpq's fallback is for an application_name given nowhere: one given empty (in the
    // string, the service file, PGAPPNAME="") sends none.
    if (!layers.has("application_name")) s.application_name = layers.text("fallback_application_name");
    // The StartupMessage carries these as C strings: a NUL byte is refused here, naming the
    // setting, rather than by the encoder once connected.
    for (const char* k : {"user", "dbname", "options", "application_name", "fallback_application_name", "client_encoding"})
        if (const Entry* e = layers.get(k); e && e->text.find('\0') != std::string::npos)
            fail(std::string(k) + " " + e->origin + " contains a NUL byte, which the protocol cannot carry");
    if (const Entry* e = layers.nonempty("keepalives")) {
        std::optional<int> n = parse_int(e->text);
        if (!n)
            fail("invalid integer value " + quoted(e->text) + " for connection option \"keepalives\" " + e->origin +
                 "; allowed: 0 or 1");
        s.keepalives = *n != 0;
    }
    s.keepalives_idle = int_setting(layers, "keepalives_idle", 0, non_negative + " (seconds, 0 = system default)");
    s.keepalives_interval =
        int_setting(layers, "keepalives_interval", 0, non_negative + " (seconds, 0 = system default)");
    s.keepalives_count = int_setting(layers, "keepalives_count", 0, non_negative + " (0 = system default)");
    s.tcp_user_timeout =
        int_setting(layers, "tcp_user_timeout", 0, non_negative + " (milliseconds, 0 = system default)");

    s.target_session_attrs = enum_setting(layers, "target_session_attrs", TargetSessionAttrs::any,
                                          {std::pair{"any", TargetSessionAttrs::any},
                                           {"read-write", TargetSessionAttrs::read_write},
                                           {"read-only", TargetSessionAttrs::read_only},
                                           {"primary", TargetSessionAttrs::primary},
                                           {"standby", TargetSessionAttrs::standby},
                                           {"prefer-standby", TargetSessionAttrs::prefer_standby}});
    s.load_balance_hosts = enum_setting(layers, "load_balance_hosts", LoadBalanceHosts::disable,
                                        {std::pair{"disable", LoadBalanceHosts::disable},
                                         {"random", LoadBalanceHosts::random}});
    s.channel_binding = enum_setting(layers, "channel_binding", ChannelBinding::prefer,
                                     {std::pair{"disable", ChannelBinding::disable},
                                      {"prefer", ChannelBinding::prefer},
                                      {"require", ChannelBinding::require}});
    if (const Entry* e = layers.get("require_auth")) {
        validate_require_auth(*e);
        s.require_auth = e->text;
    }
    if (const Entry* e = layers.nonempty("krbsrvname")) s.krbsrvname = e->text;
    if (PGTLS_HAVE_GSSAPI)  // validate_restricted() checked the value; without the feature: disable
        s.gssencmode = enum_setting(layers, "gssencmode", GssEncMode::prefer,
                                    {std::pair{"disable", GssEncMode::disable}, {"prefer", GssEncMode::prefer},
                                     {"require", GssEncMode::require}});
    if (const Entry* e = layers.nonempty("gsslib"); e && !iequals(e->text, "gssapi"))
        bad_value("gsslib", *e, "gssapi (sspi exists only on Windows)");
    if (const Entry* e = layers.nonempty("gssdelegation")) {
        if (e->text != "0" && e->text != "1") bad_value("gssdelegation", *e, "0, 1");
        s.gssdelegation = e->text == "1";
    }

    // ---- hosts -----------------------------------------------------------------------------
    const std::string host_list = layers.text("host");
    const std::string hostaddr_list = layers.text("hostaddr");
    const std::string port_list = layers.has("port") ? layers.text("port") : std::to_string(config::kDefaultPort);
    std::vector<std::string> hosts, hostaddrs;
    std::size_t count = 1;
    if (!hostaddr_list.empty()) {
        hostaddrs = split_commas(hostaddr_list);
        count = hostaddrs.size();
    } else if (!host_list.empty()) {
        count = split_commas(host_list).size();
    }
    if (!host_list.empty()) {
        hosts = split_commas(host_list);
        if (hosts.size() != count)
            fail("could not match " + std::to_string(hosts.size()) + " host names to " + std::to_string(count) +
                 " hostaddr values");
    }
    hosts.resize(count);
    hostaddrs.resize(count);
    std::vector<std::string> ports;
    if (!port_list.empty()) {
        ports = split_commas(port_list);
        if (ports.size() == 1) {
            ports.resize(count, ports[0]);
        } else if (ports.size() != count) {
            fail("could not match " + std::to_string(ports.size()) + " port numbers to " + std::to_string(count) +
                 " hosts");
        }
    }
    ports.resize(count);
    bool default_host_used = false;
    for (std::size_t i = 0; i < count; ++i) {
        HostTarget t;
        t.hostaddr = hostaddrs[i];
        t.host = hosts[i];
        if (!t.hostaddr.empty()) {
            addrinfo hints{};
            hints.ai_flags = AI_NUMERICHOST;
            hints.ai_family = AF_UNSPEC;
            hints.ai_socktype = SOCK_STREAM;
            addrinfo* result = nullptr;
            if (::getaddrinfo(t.hostaddr.c_str(), nullptr, &hints, &result) != 0)
                fail("could not parse network address " + quoted(t.hostaddr) + " " + layers.get("hostaddr")->origin +
                     "; hostaddr takes numeric IPv4 or IPv6 addresses");
            ::freeaddrinfo(result);
        } else if (t.host.empty()) {
            t.host = config::kDefaultSocketDir;
            default_host_used = true;
        }
        if (!ports[i].empty()) {
            std::optional<int> p = parse_int(ports[i]);
            const Entry* e = layers.get("port");
            const std::string origin = e ? e->origin : std::string("(default)");
            if (!p)
                fail("invalid integer value " + quoted(ports[i]) + " for connection option \"port\" " + origin +
                     "; allowed: 1 to 65535");
            if (*p < 1 || *p > 65535)
                fail("invalid port number: " + quoted(ports[i]) + " " + origin + "; allowed: 1 to 65535");
            t.port = static_cast<std::uint16_t>(*p);
        } else {
            t.port = static_cast<std::uint16_t>(config::kDefaultPort);
        }
        s.hosts.push_back(std::move(t));
    }
    if (!layers.has("host") && hostaddr_list.empty())
        record("host", config::kDefaultSocketDir, SettingSource::default_value);
    else if (default_host_used && host_list.empty() && hostaddr_list.empty())
        record("host", std::string(config::kDefaultSocketDir) + " (default for an empty host)",
               layers.get("host")->source);

    // ---- TLS --------------------------------------------------------------------------------
    s.sslnegotiation = enum_setting(layers, "sslnegotiation", SslNegotiation::postgres,
                                    {std::pair{"postgres", SslNegotiation::postgres},
                                     {"direct", SslNegotiation::direct}});
    const Entry* rootcert_entry = layers.nonempty("sslrootcert");
    const bool system_roots = rootcert_entry && !rootcert_entry->pem && rootcert_entry->text == "system";
    const Entry* mode_entry = layers.get("sslmode");
    s.sslmode_explicit = mode_entry != nullptr;
    if (mode_entry) {
        s.sslmode = enum_setting(layers, "sslmode", SslMode::prefer,
                                 {std::pair{"disable", SslMode::disable}, {"allow", SslMode::allow},
                                  {"prefer", SslMode::prefer}, {"require", SslMode::require},
                                  {"verify-ca", SslMode::verify_ca}, {"verify-full", SslMode::verify_full},
                                  {"no-verify", SslMode::no_verify}});
    } else if (system_roots) {
        s.sslmode = SslMode::verify_full;  // M4
        record("sslmode", "verify-full (default with sslrootcert=system)", SettingSource::default_value);
    } else if (s.sslnegotiation == SslNegotiation::direct) {
        s.sslmode = SslMode::require;  // M3
        record("sslmode", "require (default with sslnegotiation=direct)", SettingSource::default_value);
    }
    const std::string mode_origin = mode_entry ? mode_entry->origin : std::string("(default)");
    if (system_roots && s.sslmode != SslMode::verify_full)
        fail("weak sslmode " + quoted(to_string(s.sslmode)) + " " + mode_origin +
             " may not be used with sslrootcert=system (use \"verify-full\")");
    if (s.sslnegotiation == SslNegotiation::direct &&
        (s.sslmode == SslMode::disable || s.sslmode == SslMode::allow || s.sslmode == SslMode::prefer))
        fail("weak sslmode " + quoted(to_string(s.sslmode)) + " " + mode_origin +
             " may not be used with sslnegotiation=direct (use \"require\", \"verify-ca\", or \"verify-full\")");

    s.sslcertmode = enum_setting(layers, "sslcertmode", SslCertMode::allow,
                                 {std::pair{"disable", SslCertMode::disable}, {"allow", SslCertMode::allow},
                                  {"require", SslCertMode::require}});
    if (!layers.has("sslcertmode")) record("sslcertmode", "allow", SettingSource::default_value);
    if (s.sslmode == SslMode::disable) {  // M6
        if (s.sslcertmode == SslCertMode::require)
            fail("sslcertmode=require " + layers.get("sslcertmode")->origin + " cannot be satisfied with sslmode=disable " +
                 mode_origin + ": no TLS, so no client certificate can be sent");
        if (s.channel_binding == ChannelBinding::require)
            fail("channel_binding=require " + layers.get("channel_binding")->origin +
                 " cannot be satisfied with sslmode=disable " + mode_origin + ": channel binding needs TLS");
    }

    s.ssl_min_protocol_version = tls_version_setting(layers, "ssl_min_protocol_version", TlsVersion::tls1_2);
    s.ssl_max_protocol_version = tls_version_setting(layers, "ssl_max_protocol_version", TlsVersion::unspecified);
    if (s.ssl_min_protocol_version != TlsVersion::unspecified &&
        s.ssl_max_protocol_version != TlsVersion::unspecified &&
        s.ssl_min_protocol_version > s.ssl_max_protocol_version)
        fail("invalid SSL protocol version range: ssl_min_protocol_version=" +
             std::string(to_string(s.ssl_min_protocol_version)) +
             " is above ssl_max_protocol_version=" + to_string(s.ssl_max_protocol_version));
    // libpq 18: the maximum defaults to 3.0 unless the minimum asks for more.
    const auto min_pv = protocol_version_setting(layers, "min_protocol_version");
    const auto max_pv = protocol_version_setting(layers, "max_protocol_version");
    s.min_protocol_version = min_pv.value_or(ProtocolVersion::v3_0);
    s.max_protocol_version = max_pv.value_or(s.min_protocol_version);
    if (s.min_protocol_version > s.max_protocol_version)
        fail("\"min_protocol_version\" is greater than \"max_protocol_version\"");
    if (const Entry* e = layers.get("sslsni")) {
        if (e->text != "0" && e->text != "1") bad_value("sslsni", *e, "0, 1");
        s.sslsni = e->text == "1";
    }
    if (const Entry* e = layers.get("sslbackend")) {
        if (!e->text.empty() && e->text != "openssl" && e->text != "gnutls" && e->text != "mbedtls" &&
            e->text != "wolfssl")
            bad_value("sslbackend", *e, "openssl, gnutls, mbedtls, wolfssl, or empty for the build's default");
        s.sslbackend = e->text;
    }
    s.sslpassword = layers.text("sslpassword");
    s.sslcrldir = layers.text("sslcrldir");
    s.sslkeylogfile = layers.text("sslkeylogfile");

    // TLS material.
    static const char* const material_keywords[] = {"sslcert", "sslkey", "sslrootcert", "sslcrl", "sslcrldir",
                                                    "sslpassword"};
    if (s.sslmode == SslMode::disable) {
        for (const char* k : material_keywords) {
            const Entry* e = layers.nonempty(k);
            if (e == nullptr) continue;
            if (e->source == SettingSource::code)  // M1
                fail(std::string(k) + " is set in code but sslmode=disable " + mode_origin +
                     " turns TLS off; remove one of them");
            if (e->source == SettingSource::connection_string)
                s.warnings.push_back(std::string(k) + " in the connection string is unused because sslmode=disable");
        }
    } else {
        if (s.sslmode == SslMode::no_verify) {  // M2
            for (const char* k : {"sslrootcert", "sslcrl", "sslcrldir"})
                if (const Entry* e = layers.nonempty(k))
                    fail(std::string(k) + " " + e->origin + " asks for verification, but sslmode=no-verify " +
                         mode_origin + " verifies nothing; remove one of them");
        }
        const std::string dot_postgresql = home ? *home + "/.postgresql/" : std::string();
        auto default_file = [&](const char* name) -> Material {
            Material m;
            if (!home) return m;
            std::string path = dot_postgresql + name;
            if (path_exists(path)) m.pem = Pem::file(path);
            return m;
        };

        // Root certificate (and M9 / M10).
        Material root;
        if (s.sslmode != SslMode::no_verify) {
            if (rootcert_entry) {
                if (system_roots) {
                    root.pem = Pem::file("system");
                    root.source = rootcert_entry->source;
                } else {
                    root = explicit_material("sslrootcert", *rootcert_entry, s.warnings);
                }
            } else {
                root = default_file("root.crt");
            }
        }
        const bool verify_mode = s.sslmode == SslMode::verify_ca || s.sslmode == SslMode::verify_full;
        bool any_tcp_host = false;
        for (const auto& h : s.hosts) any_tcp_host = any_tcp_host || !h.is_unix_socket();
        // libpq never negotiates TLS over a Unix socket, so it never needs the root there.
        if (verify_mode && !root.present() && any_tcp_host) {
            const std::string which = rootcert_entry ? rootcert_entry->text : dot_postgresql + "root.crt";
            fail("root certificate file " + quoted(which) + " does not exist; sslmode=" + to_string(s.sslmode) + " " +
                 mode_origin +
                 " needs one: provide the file, use the system's trusted roots with sslrootcert=system, or change "
                 "sslmode to disable server certificate verification");
        }
        if (root.present()) {
            s.sslrootcert = root.pem;
            if (!rootcert_entry) record("sslrootcert", material_text(root.pem), SettingSource::default_value);
            if (s.sslmode == SslMode::require) {  // M10
                s.sslmode = SslMode::verify_ca;
                record("sslmode", "verify-ca (require with a root certificate, as libpq)",
                       mode_entry ? mode_entry->source : SettingSource::default_value);
            }
        }
        s.ssl_verify_chain = s.sslmode != SslMode::no_verify && (verify_mode || root.present());

        // Client certificate and key.
        const Entry* cert_entry = layers.nonempty("sslcert");
        const Entry* key_entry = layers.nonempty("sslkey");
        if (s.sslcertmode == SslCertMode::disable) {  // M5
            for (const Entry* e : {cert_entry, key_entry})
                if (e && e->source == SettingSource::code)
                    fail("a client certificate or key is set in code but sslcertmode=disable " +
                         layers.get("sslcertmode")->origin + " never sends one; remove one of them");
        }
        // With sslcertmode=disable libpq never looks at a client certificate or key.
        Material cert;
        if (s.sslcertmode != SslCertMode::disable)
            cert = cert_entry ? explicit_material("sslcert", *cert_entry, s.warnings) : default_file("postgresql.crt");
        if (s.sslcertmode == SslCertMode::disable) {
            for (const char* k : {"sslcert", "sslkey"})
                if (const Entry* e = layers.nonempty(k))
                    s.warnings.push_back(std::string(k) + " " + e->origin + " is unused because sslcertmode=disable");
        } else if (cert.present()) {
            s.sslcert = cert.pem;
            if (!cert_entry) record("sslcert", material_text(cert.pem), SettingSource::default_value);
            Material key;
            if (key_entry) {
                if (key_entry->pem || path_exists(key_entry->text)) {
                    key = explicit_material("sslkey", *key_entry, s.warnings);
                } else {
                    fail("certificate present, but not private key file " + quoted(key_entry->text) + " " +
                         key_entry->origin);
                }
            } else {
                key = default_file("postgresql.key");
                if (!key.present())
                    fail("certificate present (" + material_text(cert.pem) + "), but not private key file " +
                         quoted(dot_postgresql + "postgresql.key") + "; set sslkey");
                record("sslkey", material_text(key.pem), SettingSource::default_value);
            }
            s.sslkey = key.pem;
        } else if (key_entry) {  // M8
            if (key_entry->source == SettingSource::code)
                fail("sslkey is set in code but there is no client certificate (sslcert) to go with it");
            s.warnings.push_back("sslkey " + key_entry->origin + " is unused: there is no client certificate");
        }

        // CRL: explicit, else ~/.postgresql/root.crl when no CRL directory is given.
        if (s.sslmode != SslMode::no_verify) {
            if (const Entry* e = layers.nonempty("sslcrl")) {
                s.sslcrl = explicit_material("sslcrl", *e, s.warnings).pem;
            } else if (s.sslcrldir.empty()) {
                Material crl = default_file("root.crl");
                if (crl.present()) {
                    s.sslcrl = crl.pem;
                    record("sslcrl", material_text(crl.pem), SettingSource::default_value);
                }
            }
        }
    }

    // ---- pgtls-only ------------------------------------------------------------------------
    s.max_result_bytes = size_setting(layers, "max_result_bytes", s.max_result_bytes);
    s.max_result_rows = size_setting(layers, "max_result_rows", s.max_result_rows);
    s.max_result_sets = size_setting(layers, "max_result_sets", s.max_result_sets);
    s.max_notifications = size_setting(layers, "max_notifications", s.max_notifications);
    s.notification_overflow = enum_setting(layers, "notification_overflow", NotificationOverflow::error,
                                           {std::pair{"error", NotificationOverflow::error},
                                            {"drop-oldest", NotificationOverflow::drop_oldest}});
    s.max_parameter_status = size_setting(layers, "max_parameter_status", s.max_parameter_status);
    s.runtime_params = config.runtime_params;
    // libpq's EnvironmentOptions: PGDATESTYLE, PGTZ and PGGEQO are sent as startup parameters
    // (any value but "default", any case; an empty one too). A runtime parameter set in code
    // for the same setting wins.
    for (const auto& variable : {std::pair{"PGDATESTYLE", "datestyle"}, {"PGTZ", "timezone"}, {"PGGEQO", "geqo"}}) {
        const char* guc = variable.second;  // a variable of its own: clang 14 cannot capture a binding
        const auto v = env(variable.first);
        if (!v || iequals(*v, "default")) continue;
        const bool in_code = std::any_of(config.runtime_params.begin(), config.runtime_params.end(),
                                         [guc](const auto& p) { return iequals(p.first, guc); });
        if (!in_code) s.runtime_params.emplace(guc, *v);
    }
    s.password_callback = config.password_callback;
    s.tracer = config.tracer;
    s.trace_query_text = config.trace_query_text;
    s.trace_context = config.trace_context;
    if (config.max_message_size) {
        if (*config.max_message_size < 5) fail("max_message_size (set in code) must be at least 5 bytes");
        s.max_message_size = *config.max_message_size;
    }
    if (config.scram_max_iterations) {
        if (*config.scram_max_iterations < 1) fail("scram_max_iterations (set in code) must be positive");
        s.scram_max_iterations = *config.scram_max_iterations;
    }
    for (const auto& [name, value] : config.runtime_params) {
        if (name.empty() || name.find('\0') != std::string::npos || value.find('\0') != std::string::npos)
            fail("runtime parameter " + quoted(name) + " (set in code) must be non-empty and contain no NUL byte");
        static const char* const reserved[] = {"user", "database", "options", "application_name",
                                               "client_encoding", "replication"};
        for (const char* r : reserved)
            if (name == r)
                fail("runtime parameter " + quoted(name) + " (set in code) is a connection setting; set the " +
                     (name == "database" ? std::string("dbname") : name) + " field instead");
    }
    return s;
}

std::vector<std::pair<std::string, std::string>> parse_conninfo(const std::string& conninfo) {
    return config::parse_connection_string(conninfo);
}

}  // namespace pgtls
