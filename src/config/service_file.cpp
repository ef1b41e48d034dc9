// pg_service.conf lookup with libpq's rules: PGSERVICEFILE (which must exist) or
// ~/.pg_service.conf (if it exists) first; when the section is not there,
// $PGSYSCONFDIR/pg_service.conf (if it exists); otherwise "definition of service ... not found".
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "config/keywords.hpp"
#include "config/sources.hpp"
#include "pgtls/error.hpp"

namespace pgtls::config {

namespace {

// libpq reads service files with fgets() into a 1024-byte buffer and rejects any line that
// fills it.
constexpr std::size_t kMaxServiceLine = 1024 - 1;

[[noreturn]] void fail(const std::string& message) { throw Error(ErrorKind::config, message); }

bool file_exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

struct FileResult {
    bool group_found = false;
};

// Reads one service file; fills `out` with the keywords of section `service`.
FileResult parse_service_file(const std::string& path, const std::string& service, ServiceDefinition& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("service file \"" + path + "\" not found");
    std::stringstream content;
    content << in.rdbuf();
    const std::string text = content.str();

    FileResult result;
    std::size_t pos = 0;
    int line_number = 0;
    while (pos < text.size()) {
        std::size_t end = text.find('\n', pos);
        std::size_t next = end == std::string::npos ? text.size() : end + 1;
        std::string line = text.substr(pos, next - pos);  // includes the newline, as fgets does
        pos = next;
        ++line_number;
        if (line.size() >= kMaxServiceLine)
            fail("line " + std::to_string(line_number) + " too long in service file \"" + path + "\"");

        while (!line.empty() && is_space(line.back())) line.pop_back();
        std::size_t first = 0;
        while (first < line.size() && is_space(line[first])) ++first;
        line.erase(0, first);
        if (line.empty() || line[0] == '#') continue;

        if (line[0] == '[') {
            // End of the wanted section: done. libpq compares the name as a prefix followed by
            // ']' and ignores anything after the bracket.
            if (result.group_found) return result;
            result.group_found = line.compare(1, service.size(), service) == 0 &&
                                 line.size() > service.size() + 1 && line[service.size() + 1] == ']';
            continue;
        }
        if (!result.group_found) continue;

        const std::size_t equals = line.find('=');
        if (equals == std::string::npos)
            fail("syntax error in service file \"" + path + "\", line " + std::to_string(line_number));
        std::string key = line.substr(0, equals);
        std::string value = line.substr(equals + 1);
        if (key == "service")
            fail("nested service specifications not supported in service file \"" + path + "\", line " +
                 std::to_string(line_number));
        if (find_keyword(key) == nullptr)
            fail("syntax error in service file \"" + path + "\", line " + std::to_string(line_number) +
                 ": unknown keyword \"" + key + "\"");
        bool seen = false;
        for (const auto& kv : out.values) seen = seen || kv.first == key;
        if (!seen) out.values.emplace_back(std::move(key), std::move(value));
    }
    return result;
}

}  // namespace

ServiceDefinition lookup_service(const std::string& service, const Environment& env) {
    ServiceDefinition def;
    auto getenv = [&](const char* name) { return env ? env(name) : std::nullopt; };

    std::optional<std::string> first_file;
    if (auto file = getenv("PGSERVICEFILE")) {
        first_file = *file;
    } else if (auto home = home_directory(env)) {
        std::string candidate = *home + "/.pg_service.conf";
        if (file_exists(candidate)) first_file = candidate;
    }
    if (first_file) {
        def.file = *first_file;
        if (parse_service_file(*first_file, service, def).group_found) return def;
        def.values.clear();
    }

    auto sysconf = getenv("PGSYSCONFDIR");
    std::string system_file = (sysconf ? *sysconf : std::string(kDefaultSysconfDir)) + "/pg_service.conf";
    if (file_exists(system_file)) {
        def.file = system_file;
        if (parse_service_file(system_file, service, def).group_found) return def;
    }
    fail("definition of service \"" + service + "\" not found");
}

}  // namespace pgtls::config
