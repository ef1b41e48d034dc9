#include "mbedtls_test_env.hpp"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include <poll.h>
#include <unistd.h>

namespace pgtls::tls {
const Backend& mbedtls_backend();
}

namespace pgtls::test {

std::string read_text_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

bool run_shell(const std::string& command) { return std::system(command.c_str()) == 0; }

TempDir::TempDir() {
    std::string tmpl = "/tmp/pgtls-mbedtls-test-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
}

TempDir::~TempDir() { run_shell("rm -rf '" + path_ + "'"); }

const std::string& pki_dir() {
    static TempDir dir;
    static const bool made = run_shell(std::string("bash '") + PGTLS_MAKE_PKI_SCRIPT + "' '" + dir.path() + "/pki' >/dev/null");
    static const std::string path = dir.path() + "/pki";
    if (!made) throw std::runtime_error("scripts/make-pki.sh failed");
    return path;
}

std::string pki(const std::string& name) { return pki_dir() + "/" + name; }

tls::Material file_material(const std::string& path) { return {tls::Material::Kind::file, path}; }
tls::Material pem_material(const std::string& text) { return {tls::Material::Kind::pem, text}; }

const tls::Backend& mbedtls() { return tls::mbedtls_backend(); }

namespace {
bool wait_fd(int fd, short events) {
    pollfd p{fd, events, 0};
    return ::poll(&p, 1, 5000) > 0;
}
}  // namespace

tls::IoResult complete_handshake(tls::Session& session, int fd) {
    for (int i = 0; i < 1000; ++i) {
        tls::IoResult r = session.handshake();
        if (r.status == tls::IoStatus::want_read) {
            if (!wait_fd(fd, POLLIN)) return {tls::IoStatus::error, 0, "test: handshake timed out"};
        } else if (r.status == tls::IoStatus::want_write) {
            if (!wait_fd(fd, POLLOUT)) return {tls::IoStatus::error, 0, "test: handshake timed out"};
        } else {
            return r;
        }
    }
    return {tls::IoStatus::error, 0, "test: handshake did not finish"};
}

std::string send_line(tls::Session& session, int fd, const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
        tls::IoResult r = session.write(data.data() + sent, data.size() - sent);
        if (r.status == tls::IoStatus::ok) sent += r.bytes;
        else if (r.status == tls::IoStatus::want_write) wait_fd(fd, POLLOUT);
        else if (r.status == tls::IoStatus::want_read) wait_fd(fd, POLLIN);
        else return "<write failed: " + r.error + ">";
    }
    std::string got;
    char buf[256];
    while (got.find('\n') == std::string::npos) {
        tls::IoResult r = session.read(buf, sizeof buf);
        if (r.status == tls::IoStatus::ok) got.append(buf, r.bytes);
        else if (r.status == tls::IoStatus::want_read) {
            if (!wait_fd(fd, POLLIN)) break;
        } else if (r.status == tls::IoStatus::want_write) wait_fd(fd, POLLOUT);
        else break;
    }
    return got;
}

}  // namespace pgtls::test
