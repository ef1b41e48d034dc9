// Helpers for the config tests: a temporary directory that is removed afterwards, files with
// chosen permissions, and an injectable environment.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "pgtls/config.hpp"
#include "pgtls/error.hpp"
#include "tests/support/env/sanitizers.hpp"

namespace pgtls::test {

class TempDir {
public:
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "pgtls-config-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return path_; }
    std::string operator/(const std::string& name) const { return path_ + "/" + name; }

    // Writes `content` to `name` (parent directories created) with permission bits `mode`.
    std::string write(const std::string& name, const std::string& content, mode_t mode = 0600) const {
        std::string full = *this / name;
        std::filesystem::create_directories(std::filesystem::path(full).parent_path());
        {
            std::ofstream out(full, std::ios::binary | std::ios::trunc);
            out << content;
        }
        ::chmod(full.c_str(), mode);
        return full;
    }

private:
    std::string path_;
};

// An environment made of exactly these variables.
class FakeEnv {
public:
    FakeEnv() = default;
    FakeEnv(std::initializer_list<std::pair<const std::string, std::string>> vars) : vars_(vars) {}
    void set(const std::string& name, const std::string& value) { vars_[name] = value; }
    Environment fn() const {
        auto vars = vars_;
        return [vars](const std::string& name) -> std::optional<std::string> {
            auto it = vars.find(name);
            if (it == vars.end()) return std::nullopt;
            return it->second;
        };
    }

private:
    std::map<std::string, std::string> vars_;
};

// The message of the config error resolve() throws, or "" when it succeeds.
inline std::string resolve_error(const Config& c, const Environment& env) {
    try {
        (void)resolve(c, env);
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::config) << e.what();
        return e.what();
    }
    return "";
}

inline Config from_string(const std::string& conninfo) {
    Config c;
    c.conninfo = conninfo;
    return c;
}

// True in ASan/TSan builds: their runtimes abort the process on dlopen(RTLD_DEEPBIND)
// (google/sanitizers#611), which loading libpq 18 beside the linked libpq 15 needs. The
// libpq 18 differential tests skip there; the ordinary build runs them.
constexpr bool sanitizer_forbids_deepbind() { return built_with_asan() || built_with_tsan(); }

}  // namespace pgtls::test
