#include "config/conninfo_parser.hpp"

#include <algorithm>
#include <optional>

#include "config/keywords.hpp"
#include "pgtls/error.hpp"

namespace pgtls::config {

namespace {

constexpr std::string_view kUriDesignator = "postgresql://";
constexpr std::string_view kShortUriDesignator = "postgres://";

[[noreturn]] void fail(const std::string& message) { throw Error(ErrorKind::config, message); }

// isspace() in the C locale, which is what libpq sees in a program that never calls setlocale.
bool is_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// A URI as shown in an error message: libpq quotes it whole, password included; pgtls replaces
// the password of the user-info part and the value of every secret query parameter (password,
// sslpassword, ...) with "********", so a typo in a URI never prints its secrets.
std::string quoted_uri(std::string_view uri);

std::size_t uri_prefix_length(std::string_view s) noexcept {
    if (s.substr(0, kUriDesignator.size()) == kUriDesignator) return kUriDesignator.size();
    if (s.substr(0, kShortUriDesignator.size()) == kShortUriDesignator) return kShortUriDesignator.size();
    return 0;
}

std::optional<int> hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return std::nullopt;
}

// Collects values the way libpq's conninfo_storeval does: the obsolete `requiressl` becomes
// sslmode, a later value replaces an earlier one.
class Store {
public:
    enum class Unknown { error, uri_parameter };

    void put(std::string keyword, std::string value, Unknown unknown = Unknown::error) {
        if (keyword == "requiressl") {
            keyword = "sslmode";
            value = (!value.empty() && value[0] == '1') ? "require" : "prefer";
        }
        if (find_keyword(keyword) == nullptr) {
            std::string message = unknown == Unknown::error
                                      ? "invalid connection option " + quoted(keyword)
                                      : "invalid URI query parameter: " + quoted(keyword);
            std::string_view hint = suggest_keyword(keyword);
            if (!hint.empty()) message += " (did you mean " + quoted(hint) + "?)";
            fail(message);
        }
        for (auto& kv : values_) {
            if (kv.first == keyword) {
                kv.second = std::move(value);
                return;
            }
        }
        values_.emplace_back(std::move(keyword), std::move(value));
    }

    KeywordValues take() { return std::move(values_); }

private:
    KeywordValues values_;
};

// key = value pairs separated by whitespace; a value is either a run of non-space characters
// or a single-quoted string; in both, a backslash takes the next character literally.
// Whitespace after '=' is skipped even when the value then starts at the next keyword
// ("host= port=1" gives host "port=1"), as libpq does.
KeywordValues parse_keyword_value(std::string_view s) {
    Store store;
    std::size_t i = 0;
    const std::size_t n = s.size();
    while (i < n) {
        if (is_space(s[i])) {
            ++i;
            continue;
        }
        const std::size_t name_start = i;
        while (i < n && s[i] != '=' && !is_space(s[i])) ++i;
        std::string name(s.substr(name_start, i - name_start));
        while (i < n && is_space(s[i])) ++i;
        if (i >= n || s[i] != '=')
            fail("missing \"=\" after " + quoted(name) + " in connection info string");
        ++i;
        while (i < n && is_space(s[i])) ++i;

        std::string value;
        if (i < n && s[i] == '\'') {
            ++i;
            for (;;) {
                if (i >= n) fail("unterminated quoted string in connection info string");
                if (s[i] == '\\') {
                    ++i;
                    if (i < n) value += s[i++];
                    continue;
                }
                if (s[i] == '\'') {
                    ++i;
                    break;
                }
                value += s[i++];
            }
        } else {
            while (i < n) {
                if (is_space(s[i])) {
                    ++i;
                    break;
                }
                if (s[i] == '\\') {
                    ++i;
                    if (i < n) value += s[i++];
                } else {
                    value += s[i++];
                }
            }
        }
        store.put(std::move(name), std::move(value));
    }
    return store.take();
}

// The query part of a URI: key=value pairs separated by '&', each side percent-decoded.
void parse_uri_parameters(std::string_view params, Store& store) {
    std::size_t i = 0;
    while (i < params.size()) {
        const std::size_t start = i;
        std::optional<std::size_t> equals;
        std::size_t end = 0;
        for (;;) {
            const char c = i < params.size() ? params[i] : '\0';
            if (c == '=') {
                if (equals)
                    fail("extra key/value separator \"=\" in URI query parameter: " +
                         quoted(params.substr(start, *equals - start)));
                equals = i++;
            } else if (c == '&' || c == '\0') {
                end = i;
                if (c == '&') ++i;
                if (!equals)
                    fail("missing key/value separator \"=\" in URI query parameter: " +
                         quoted(params.substr(start, end - start)));
                break;
            } else {
                ++i;
            }
        }
        std::string keyword = uri_decode(params.substr(start, *equals - start));
        const KeywordInfo* info = find_keyword(keyword);
        std::string value = uri_decode(params.substr(*equals + 1, end - *equals - 1), info && info->secret);
        // JDBC compatibility, as in libpq: ssl=true means sslmode=require.
        if (keyword == "ssl" && value == "true") {
            keyword = "sslmode";
            value = "require";
        }
        store.put(std::move(keyword), std::move(value), Store::Unknown::uri_parameter);
    }
}

// postgresql://[user[:password]@][netloc][:port][,...][/dbname][?param1=value1&...]
// netloc is a name, an IPv4 address or a bracketed IPv6 address. Host and port lists are
// joined with commas before percent-decoding, so "a,b" yields port "," when no port is given.
KeywordValues parse_uri(std::string_view uri) {
    Store store;
    auto at = [&](std::size_t i) -> char { return i < uri.size() ? uri[i] : '\0'; };
    const std::size_t start = uri_prefix_length(uri);
    std::size_t p = start;

    // Credentials end at '@'; the look-ahead stops at '/' but not at '?'.
    std::size_t look = p;
    while (at(look) != '\0' && at(look) != '@' && at(look) != '/') ++look;
    if (at(look) == '@') {
        std::size_t user_end = p;
        while (at(user_end) != ':' && at(user_end) != '@') ++user_end;
        std::string_view user = uri.substr(p, user_end - p);
        if (!user.empty()) store.put("user", uri_decode(user));
        p = user_end;
        if (at(p) == ':') {
            const std::size_t password_start = p + 1;
            while (at(p) != '@') ++p;
            std::string_view password = uri.substr(password_start, p - password_start);
            if (!password.empty()) store.put("password", uri_decode(password, true));
        }
        ++p;  // past '@'
    }

    auto is_host_end = [](char c) { return c == '\0' || c == ':' || c == '/' || c == '?' || c == ','; };
    std::string hosts, ports;
    char terminator = '\0';
    for (;;) {
        if (at(p) == '[') {
            const std::size_t host_start = ++p;
            while (at(p) != '\0' && at(p) != ']') ++p;
            if (at(p) == '\0')
                fail("end of string reached when looking for matching \"]\" in IPv6 host address in URI: " +
                     quoted_uri(uri));
            if (p == host_start) fail("IPv6 host address may not be empty in URI: " + quoted_uri(uri));
            hosts += uri.substr(host_start, p - host_start);
            ++p;  // past ']'
            if (!is_host_end(at(p)))
                fail(std::string("unexpected character \"") + at(p) + "\" at position " + std::to_string(p + 1) +
                     " in URI (expected \":\" or \"/\"): " + quoted_uri(uri));
        } else {
            const std::size_t host_start = p;
            while (!is_host_end(at(p))) ++p;
            hosts += uri.substr(host_start, p - host_start);
        }
        terminator = at(p);
        if (terminator == ':') {
            const std::size_t port_start = ++p;
            while (at(p) != '\0' && at(p) != '/' && at(p) != '?' && at(p) != ',') ++p;
            ports += uri.substr(port_start, p - port_start);
            terminator = at(p);
        }
        if (terminator != ',') break;
        ++p;
        hosts += ',';
        ports += ',';
    }
    if (!hosts.empty()) store.put("host", uri_decode(hosts));
    if (!ports.empty()) store.put("port", uri_decode(ports));

    if (terminator == '/') {
        const std::size_t dbname_start = ++p;
        while (at(p) != '\0' && at(p) != '?') ++p;
        std::string_view dbname = uri.substr(dbname_start, p - dbname_start);
        // An empty dbname is not stored: it would hide PGDATABASE (libpq's reasoning).
        if (!dbname.empty()) store.put("dbname", uri_decode(dbname));
        terminator = at(p);
    }
    if (terminator == '?') parse_uri_parameters(uri.substr(p + 1), store);
    return store.take();
}

std::string quoted_uri(std::string_view uri) {
    constexpr std::string_view kMask = "********";
    std::string out(uri.substr(0, uri_prefix_length(uri)));
    std::size_t p = out.size();
    // User info ends at the first '@' before any '/', as in parse_uri.
    const std::size_t slash = uri.find('/', p);
    const std::size_t at_sign = uri.find('@', p);
    if (at_sign != std::string_view::npos && at_sign < slash) {
        const std::size_t colon = uri.find(':', p);
        if (colon < at_sign) {
            out += uri.substr(p, colon + 1 - p);
            out += kMask;
        } else {
            out += uri.substr(p, at_sign - p);
        }
        p = at_sign;
    }
    const std::size_t question = uri.find('?', p);
    out += uri.substr(p, question == std::string_view::npos ? std::string_view::npos : question + 1 - p);
    if (question == std::string_view::npos) return quoted(out);
    std::size_t i = question + 1;
    while (i <= uri.size()) {
        std::size_t end = uri.find('&', i);
        if (end == std::string_view::npos) end = uri.size();
        const std::string_view param = uri.substr(i, end - i);
        const std::size_t equals = param.find('=');
        bool secret = false;
        if (equals != std::string_view::npos) {
            std::string keyword;
            try {
                keyword = uri_decode(param.substr(0, equals));
            } catch (const Error&) {
                keyword.clear();
            }
            const KeywordInfo* info = find_keyword(keyword);
            secret = info != nullptr && info->secret;
        }
        out += secret ? std::string(param.substr(0, equals + 1)) + std::string(kMask) : std::string(param);
        if (end < uri.size()) out += '&';
        i = end + 1;
    }
    return quoted(out);
}

}  // namespace

bool is_conninfo_uri(std::string_view conninfo) noexcept { return uri_prefix_length(conninfo) != 0; }

// libpq 17+ also trims spaces (' ' only, not other whitespace) around each component and
// rejects one with a space inside; decoding stops at the first space, so a malformed escape
// before it is reported first.
std::string uri_decode(std::string_view encoded, bool secret) {
    // libpq quotes the raw component in these messages; pgtls never shows a password.
    const std::string shown = secret ? std::string("\"********\"") : quoted(encoded);
    std::string out;
    out.reserve(encoded.size());
    std::size_t i = 0;
    while (i < encoded.size() && encoded[i] == ' ') ++i;
    for (; i < encoded.size() && encoded[i] != ' '; ++i) {
        if (encoded[i] != '%') {
            out += encoded[i];
            continue;
        }
        std::optional<int> hi = i + 1 < encoded.size() ? hex_value(encoded[i + 1]) : std::nullopt;
        std::optional<int> lo = hi && i + 2 < encoded.size() ? hex_value(encoded[i + 2]) : std::nullopt;
        if (!hi || !lo) fail("invalid percent-encoded token: " + shown);
        const int c = (*hi << 4) | *lo;
        if (c == 0) fail("forbidden value %00 in percent-encoded value: " + shown);
        out += static_cast<char>(c);
        i += 2;
    }
    while (i < encoded.size() && encoded[i] == ' ') ++i;
    if (i < encoded.size())
        fail("unexpected spaces found in " + shown + ", use percent-encoded spaces (%20) instead");
    return out;
}

std::string masked_connection_string(std::string_view conninfo) {
    constexpr std::string_view kMask = "********";
    if (is_conninfo_uri(conninfo)) {
        std::string q = quoted_uri(conninfo);
        return q.substr(1, q.size() - 2);
    }
    auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
    std::string out;
    std::size_t i = 0;
    const std::size_t n = conninfo.size();
    while (i < n) {
        while (i < n && space(conninfo[i])) out += conninfo[i++];
        if (i == n) break;
        const std::size_t key_start = i;
        while (i < n && conninfo[i] != '=' && !space(conninfo[i])) ++i;
        const std::string_view keyword = conninfo.substr(key_start, i - key_start);
        out += keyword;
        while (i < n && space(conninfo[i])) out += conninfo[i++];
        if (i == n) break;
        if (conninfo[i] != '=') return out + std::string(kMask);  // off libpq's grammar
        out += conninfo[i++];
        while (i < n && space(conninfo[i])) out += conninfo[i++];
        const std::size_t value_start = i;
        if (i < n && conninfo[i] == '\'') {
            for (++i; i < n && conninfo[i] != '\''; ++i)
                if (conninfo[i] == '\\') ++i;
            if (i >= n) return out + std::string(kMask);  // unterminated quote
            ++i;
        } else {
            for (; i < n && !space(conninfo[i]); ++i)
                if (conninfo[i] == '\\') ++i;
            i = std::min(i, n);
        }
        // A misspelt keyword ("pasword=") may hold a secret too.
        const KeywordInfo* info = find_keyword(keyword);
        if (info == nullptr || info->secret)
            out += kMask;
        else
            out += conninfo.substr(value_start, i - value_start);
    }
    return out;
}

KeywordValues parse_connection_string(std::string_view conninfo) {
    if (conninfo.find('\0') != std::string_view::npos)
        fail("connection string contains a NUL byte at offset " + std::to_string(conninfo.find('\0')));
    if (is_conninfo_uri(conninfo)) return parse_uri(conninfo);
    return parse_keyword_value(conninfo);
}

}  // namespace pgtls::config
