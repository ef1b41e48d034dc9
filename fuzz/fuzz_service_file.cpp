// libFuzzer target: service-file parsing through config::lookup_service with PGSERVICEFILE
// pointing at a temporary file. Input: first line = the service name, rest = file content.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include "config/sources.hpp"
#include "pgtls/error.hpp"

namespace {

const std::string& temp_path() {
    static const std::string path = [] {
        char tmpl[] = "/tmp/pgtls-fuzz-service-XXXXXX";
        int fd = mkstemp(tmpl);
        if (fd < 0) std::abort();
        close(fd);
        return std::string(tmpl);
    }();
    return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    auto nl = input.find('\n');
    std::string name(input.substr(0, nl));
    std::string_view content = nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);
    int fd = open(temp_path().c_str(), O_WRONLY | O_TRUNC | O_CREAT, 0600);
    if (fd < 0) std::abort();
    while (!content.empty()) {
        ssize_t n = write(fd, content.data(), content.size());
        if (n <= 0) std::abort();
        content.remove_prefix(static_cast<std::size_t>(n));
    }
    close(fd);
    pgtls::Environment env = [](const std::string& var) -> std::optional<std::string> {
        if (var == "PGSERVICEFILE") return temp_path();
        if (var == "PGSYSCONFDIR") return std::string("/nonexistent-pgtls-sysconf");
        if (var == "HOME") return std::string("/nonexistent-pgtls-home");
        return std::nullopt;
    };
    try {
        (void)pgtls::config::lookup_service(name, env);
    } catch (const pgtls::Error&) {
    }
    return 0;
}
