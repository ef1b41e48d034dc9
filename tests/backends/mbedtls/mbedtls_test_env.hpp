// Shared fixture pieces for the mbedTLS backend tests: a PKI generated once per test binary
// by scripts/make-pki.sh, material helpers and a poll-driven handshake loop.
#pragma once

#include <memory>
#include <string>

#include "tls/tls_backend.hpp"

namespace pgtls::test {

// A fresh temporary directory removed (recursively) on destruction.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

// Runs `command` with /bin/sh; true on exit status 0.
bool run_shell(const std::string& command);
std::string read_text_file(const std::string& path);

// Directory holding the generated PKI (created on first use, removed at exit).
const std::string& pki_dir();
std::string pki(const std::string& name);  // pki_dir() + "/" + name

tls::Material file_material(const std::string& path);
tls::Material pem_material(const std::string& text);

const tls::Backend& mbedtls();

// Runs handshake() to completion, polling `fd` on want_read/want_write (5 s cap).
tls::IoResult complete_handshake(tls::Session& session, int fd);
// Writes all of `data` then reads until a '\n' (or closed/error); returns what was read.
std::string send_line(tls::Session& session, int fd, const std::string& data);

}  // namespace pgtls::test
