// libFuzzer target: .pgpass parsing through pgtls::pgpass_lookup on a temporary 0600 file.
// Input: first line "host:port:dbname:user" (the lookup key, split on the first three ':'),
// the rest is the file content.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "pgtls/config.hpp"
#include "pgtls/error.hpp"

namespace {

const std::string& temp_path() {
    static const std::string path = [] {
        char tmpl[] = "/tmp/pgtls-fuzz-pgpass-XXXXXX";
        int fd = mkstemp(tmpl);
        if (fd < 0) std::abort();
        close(fd);
        return std::string(tmpl);
    }();
    return path;
}

void write_file(const std::string& path, std::string_view content) {
    int fd = open(path.c_str(), O_WRONLY | O_TRUNC | O_CREAT, 0600);
    if (fd < 0) std::abort();
    fchmod(fd, 0600);
    while (!content.empty()) {
        ssize_t n = write(fd, content.data(), content.size());
        if (n <= 0) std::abort();
        content.remove_prefix(static_cast<std::size_t>(n));
    }
    close(fd);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    auto nl = input.find('\n');
    std::string_view key = input.substr(0, nl);
    std::string_view content = nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);
    std::string parts[4];
    std::size_t field = 0;
    for (char c : key) {
        if (c == ':' && field < 3)
            ++field;
        else
            parts[field] += c;
    }
    write_file(temp_path(), content);
    std::vector<std::string> warnings;
    try {
        (void)pgtls::pgpass_lookup(temp_path(), parts[0], parts[1], parts[2], parts[3], &warnings);
    } catch (const pgtls::Error&) {
    }
    return 0;
}
