// An `openssl s_server -rev` child process on 127.0.0.1 (ephemeral port) for handshakes
// against a real, independent TLS implementation. -rev echoes every line reversed; the line
// "CLOSE" makes the server send close_notify. The server serves one connection.
#pragma once

#include <string>
#include <vector>

namespace pgtls::test {

class OpensslServer {
public:
    // Runs in `workdir` (relative certificate paths resolve there). Throws std::runtime_error
    // when the server does not start listening within a few seconds (log included).
    OpensslServer(const std::string& workdir, const std::vector<std::string>& args);
    ~OpensslServer();
    OpensslServer(const OpensslServer&) = delete;
    OpensslServer& operator=(const OpensslServer&) = delete;

    int port() const { return port_; }
    // A connected blocking TCP socket; the caller closes it.
    int connect() const;
    // Everything the server printed so far.
    std::string log() const;
    // Waits up to `ms` for `text` to appear in the log.
    bool wait_for_log(const std::string& text, int ms = 3000) const;

private:
    int pid_ = -1;
    int port_ = 0;
    std::string log_path_;
};

// Runs `command` with /bin/sh; true on exit status 0.
bool run_shell(const std::string& command);

// A fresh temporary directory removed (recursively) on destruction.
class TempDir {
public:
    TempDir();
    ~TempDir();
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

std::string read_text_file(const std::string& path);

}  // namespace pgtls::test
