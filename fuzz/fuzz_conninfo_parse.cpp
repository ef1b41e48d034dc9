// libFuzzer target: connection strings (keyword/value and URI forms) through parse_conninfo
// and resolve() with an empty environment: Settings or pgtls::Error, nothing else. (The
// differential comparison with libpq is tests/config/fuzz_conninfo.cpp.)
#include <cstdint>
#include <optional>
#include <string>

#include "pgtls/config.hpp"
#include "pgtls/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string input(reinterpret_cast<const char*>(data), size);
    try {
        (void)pgtls::parse_conninfo(input);
    } catch (const pgtls::Error&) {
        return 0;
    }
    pgtls::Config config;
    config.conninfo = input;
    pgtls::Environment env = [](const std::string& name) -> std::optional<std::string> {
        if (name == "HOME") return std::string("/nonexistent-pgtls-home");
        if (name == "PGSYSCONFDIR") return std::string("/nonexistent-pgtls-sysconf");
        return std::nullopt;
    };
    try {
        (void)pgtls::resolve(config, env);
    } catch (const pgtls::Error&) {
    }
    return 0;
}
