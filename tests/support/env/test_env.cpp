#include "test_env.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>

namespace pgtls::test {
namespace {

constexpr const char* kStartHint = "test servers not running: run scripts/test-servers.sh start";

std::string env_or(const char* name, const std::string& fallback) {
    const char* value = std::getenv(name);
    return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

std::string default_test_dir() { return env_or("PGTLS_TEST_DIR", "/tmp/pgtls-test"); }

std::string trim(std::string_view s) {
    const auto begin = s.find_first_not_of(" \t\r");
    if (begin == std::string_view::npos) return {};
    const auto end = s.find_last_not_of(" \t\r");
    return std::string(s.substr(begin, end - begin + 1));
}

// KEY=VALUE lines; blank lines and # comments ignored; a leading "export " and quotes
// around the value are accepted so a hand-edited, shell-style file still reads.
std::map<std::string, std::string> read_key_values(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error(std::string(kStartHint) + " (cannot read " + path + ")");
    std::map<std::string, std::string> values;
    std::string line;
    while (std::getline(in, line)) {
        std::string text = trim(line);
        if (text.empty() || text[0] == '#') continue;
        if (text.rfind("export ", 0) == 0) text = trim(std::string_view(text).substr(7));
        const auto eq = text.find('=');
        if (eq == std::string::npos || eq == 0) {
            throw std::runtime_error("malformed line in " + path + ": " + line);
        }
        std::string value = text.substr(eq + 1);
        if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
            value.back() == value.front()) {
            value = value.substr(1, value.size() - 2);
        }
        values[text.substr(0, eq)] = value;
    }
    return values;
}

class EnvValues {
public:
    EnvValues(std::string path, std::map<std::string, std::string> values)
        : path_(std::move(path)), values_(std::move(values)) {}

    const std::string& get(const std::string& key) const {
        const auto it = values_.find(key);
        if (it == values_.end() || it->second.empty()) {
            throw std::runtime_error(std::string(kStartHint) + " (" + path_ + " lacks " + key + ")");
        }
        return it->second;
    }

    int get_int(const std::string& key) const {
        const std::string& text = get(key);
        std::size_t used = 0;
        int value = 0;
        try {
            value = std::stoi(text, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != text.size() || value <= 0) {
            throw std::runtime_error(path_ + ": " + key + "=" + text + " is not a positive number");
        }
        return value;
    }

private:
    std::string path_;
    std::map<std::string, std::string> values_;
};

TestServer read_server(const EnvValues& env, const std::string& name, const std::string& key) {
    TestServer server;
    server.name = name;
    server.port = env.get_int("PGTLS_" + key + "_PORT");
    server.socket_dir = env.get("PGTLS_" + key + "_SOCKET_DIR");
    server.major_version = env.get_int("PGTLS_" + key + "_MAJOR");
    server.ssl = env.get("PGTLS_" + key + "_SSL") == "on";
    server.log_file = env.get("PGTLS_" + key + "_LOG");
    return server;
}

}  // namespace

const std::string& password_of(std::string_view user) {
    static const std::map<std::string, std::string, std::less<>> passwords = {
        {"trustuser", ""},
        {"pwuser", "pw-secret"},
        {"md5user", "md5-secret"},
        {"scramuser", "scram-secret"},
        {"certuser", "cert-secret"},
        {"sslonly", "ssl-secret"},
        {"\xC3\xBC" "n\xC3\xAF" "code", "p\xC3\xA4" "ssw\xC3\xB6" "rd"},  // ünïcode / pässwörd, NFC
    };
    const auto it = passwords.find(user);
    if (it == passwords.end()) throw std::runtime_error("unknown test user: " + std::string(user));
    return it->second;
}

std::string quote_conninfo_value(std::string_view value) {
    if (!value.empty() && value.find_first_of(" \t\n\r\f\v'\\") == std::string_view::npos) {
        return std::string(value);
    }
    std::string quoted = "'";
    for (const char c : value) {
        if (c == '\'' || c == '\\') quoted += '\\';
        quoted += c;
    }
    quoted += '\'';
    return quoted;
}

const TestServer& TestEnv::server(std::string_view name) const {
    for (const auto& s : servers) {
        if (s.name == name) return s;
    }
    throw std::runtime_error("no test server named " + std::string(name) + " in " + env_file);
}

std::vector<const TestServer*> TestEnv::ssl_servers() const {
    std::vector<const TestServer*> result;
    for (const auto& s : servers) {
        if (s.ssl) result.push_back(&s);
    }
    return result;
}

std::vector<const TestServer*> TestEnv::nossl_servers() const {
    std::vector<const TestServer*> result;
    for (const auto& s : servers) {
        if (!s.ssl) result.push_back(&s);
    }
    return result;
}

std::string TestEnv::conninfo(const TestServer& server, std::string_view user, std::string_view host,
                              std::string_view dbname) const {
    std::string info = "host=" + quote_conninfo_value(host) + " port=" + std::to_string(server.port) +
                       " dbname=" + quote_conninfo_value(dbname) + " user=" + quote_conninfo_value(user);
    const std::string& password = password_of(user);
    if (!password.empty()) info += " password=" + quote_conninfo_value(password);
    return info;
}

std::string TestEnv::unix_conninfo(const TestServer& server, std::string_view user,
                                   std::string_view dbname) const {
    return "host=" + quote_conninfo_value(server.socket_dir) + " port=" + std::to_string(server.port) +
           " dbname=" + quote_conninfo_value(dbname) + " user=" + quote_conninfo_value(user);
}

TestEnv load_test_env(const std::string& env_file) {
    const EnvValues env(env_file, read_key_values(env_file));
    TestEnv result;
    result.env_file = env_file;
    result.dir = env.get("PGTLS_TEST_DIR");
    result.pki_dir = env.get("PGTLS_TEST_PKI");
    result.pg15_bin = env.get("PGTLS_PG15_BIN");
    result.pg18_bin = env.get("PGTLS_PG18_BIN");
    result.servers.push_back(read_server(env, "pg15", "PG15"));
    result.servers.push_back(read_server(env, "pg15nossl", "PG15_NOSSL"));
    result.servers.push_back(read_server(env, "pg18", "PG18"));
    return result;
}

std::string test_env_path() { return env_or("PGTLS_TEST_ENV", default_test_dir() + "/env"); }

const TestEnv& test_env() {
    // A throwing initializer leaves the static uninitialized, so a later call retries.
    static const TestEnv env = load_test_env(test_env_path());
    return env;
}

std::string pki(const std::string& file) {
    namespace fs = std::filesystem;
    std::string dir = env_or("PGTLS_TEST_PKI", "");
    if (dir.empty()) {
        std::error_code ec;
        const std::string env_file = test_env_path();
        if (fs::exists(env_file, ec)) {
            dir = test_env().pki_dir;
        } else {
            dir = default_test_dir() + "/pki";
        }
    }
    const std::string path = dir + "/" + file;
    std::error_code ec;
    if (!fs::exists(path, ec)) {
        throw std::runtime_error("test PKI file " + path +
                                 " missing: run scripts/test-servers.sh start (or scripts/make-pki.sh " +
                                 dir + ")");
    }
    return path;
}

int closed_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("bind");
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

}  // namespace pgtls::test
