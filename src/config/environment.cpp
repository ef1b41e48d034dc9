#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "config/sources.hpp"
#include "pgtls/error.hpp"

namespace pgtls {

Environment process_environment() {
    return [](const std::string& name) -> std::optional<std::string> {
        const char* value = std::getenv(name.c_str());
        if (value == nullptr) return std::nullopt;
        return std::string(value);
    };
}

namespace config {

namespace {

struct PasswdEntry {
    bool found = false;
    int error = 0;
    std::string name, dir;
};

PasswdEntry effective_user_entry() {
    PasswdEntry result;
    std::vector<char> buffer(16384);
    struct passwd pw {};
    struct passwd* found = nullptr;
    int rc = getpwuid_r(geteuid(), &pw, buffer.data(), buffer.size(), &found);
    if (rc != 0) {
        result.error = rc;
        return result;
    }
    if (found == nullptr) return result;
    result.found = true;
    result.name = pw.pw_name != nullptr ? pw.pw_name : "";
    result.dir = pw.pw_dir != nullptr ? pw.pw_dir : "";
    return result;
}

}  // namespace

std::optional<std::string> home_directory(const Environment& env) {
    if (auto home = env ? env("HOME") : std::nullopt; home && !home->empty()) return home;
    PasswdEntry entry = effective_user_entry();
    if (!entry.found || entry.dir.empty()) return std::nullopt;
    return entry.dir;
}

std::string current_os_user() {
    PasswdEntry entry = effective_user_entry();
    if (entry.error != 0)
        throw Error(ErrorKind::config, "could not look up local user ID " + std::to_string(geteuid()) + ": " +
                                           std::strerror(entry.error));
    if (!entry.found || entry.name.empty())
        throw Error(ErrorKind::config,
                    "local user with ID " + std::to_string(geteuid()) + " does not exist; set user");
    return entry.name;
}

}  // namespace config
}  // namespace pgtls
