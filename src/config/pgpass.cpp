// .pgpass lookup with libpq's rules (passwordFromFile): lines host:port:database:user:password,
// '*' matches anything, backslash escapes ':' and '\', '#' starts a comment line, the first
// matching line wins, and a file readable by group or others is ignored with a warning.
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "config/sources.hpp"
#include "pgtls/config.hpp"

namespace pgtls {

namespace {

constexpr std::size_t npos = std::string::npos;

// Matches one field of `line` starting at `pos` against `token`. Returns the position after the
// field's terminating ':' on a match, npos otherwise. A field of exactly "*" matches anything.
std::size_t match_field(const std::string& line, std::size_t pos, const std::string& token) {
    if (line.compare(pos, 2, "*:") == 0) return pos + 2;
    std::size_t t = 0;
    std::size_t i = pos;
    while (i < line.size()) {
        bool escaped = false;
        if (line[i] == '\\') {
            ++i;
            escaped = true;
        }
        if (i < line.size() && line[i] == ':' && t == token.size() && !escaped) return i + 1;
        if (t == token.size()) return npos;
        if (i < line.size() && line[i] == token[t]) {
            ++i;
            ++t;
        } else {
            return npos;
        }
    }
    return npos;
}

// The password field: up to the first unescaped ':' (or end of line), backslashes removed.
std::string unescape_password(const std::string& line, std::size_t pos) {
    std::string out;
    for (std::size_t i = pos; i < line.size() && line[i] != ':'; ++i) {
        if (line[i] == '\\' && i + 1 < line.size()) ++i;
        out += line[i];
    }
    return out;
}

}  // namespace

std::optional<std::string> pgpass_lookup(const std::string& passfile, const std::string& host_in,
                                         const std::string& port_in, const std::string& dbname,
                                         const std::string& user, std::vector<std::string>* warnings) {
    if (passfile.empty() || dbname.empty() || user.empty()) return std::nullopt;

    // 'localhost' matches an empty host and the default socket directory.
    std::string host = host_in;
    if (host.empty() || (config::is_unix_socket_path(host) && host == config::kDefaultSocketDir)) host = "localhost";
    std::string port = port_in.empty() ? std::to_string(config::kDefaultPort) : port_in;

    struct stat st {};
    if (::stat(passfile.c_str(), &st) != 0) return std::nullopt;
    if (!S_ISREG(st.st_mode)) {
        if (warnings) warnings->push_back("password file \"" + passfile + "\" is not a plain file; ignored");
        return std::nullopt;
    }
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        if (warnings)
            warnings->push_back("password file \"" + passfile +
                                "\" has group or world access; permissions should be u=rw (0600) or less; ignored");
        return std::nullopt;
    }

    std::ifstream in(passfile, std::ios::binary);
    if (!in) return std::nullopt;
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty() && line[0] == '#') continue;
        while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
        if (line.empty()) continue;
        std::size_t pos = match_field(line, 0, host);
        if (pos != npos) pos = match_field(line, pos, port);
        if (pos != npos) pos = match_field(line, pos, dbname);
        if (pos != npos) pos = match_field(line, pos, user);
        if (pos != npos) return unescape_password(line, pos);
    }
    return std::nullopt;
}

std::optional<std::string> password_for_host(const Settings& settings, const HostTarget& target,
                                             std::vector<std::string>* warnings) {
    if (settings.password && !settings.password->empty()) return settings.password;
    // libpq keys the lookup by host when given, else by hostaddr.
    const std::string& key = target.host.empty() ? target.hostaddr : target.host;
    return pgpass_lookup(settings.passfile, key, std::to_string(target.port), settings.dbname, settings.user,
                         warnings);
}

}  // namespace pgtls
