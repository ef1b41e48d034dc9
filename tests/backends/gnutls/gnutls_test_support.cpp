#include "gnutls_test_support.hpp"

#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>


namespace pgtls::tls {
const Backend& gnutls_backend();
}

namespace pgtls::test {

const std::string& pki_dir() {
    static const std::string dir = [] {
        // Death-test children re-execute the binary; they reuse the parent's PKI.
        if (const char* inherited = std::getenv("PGTLS_GNUTLS_TEST_PKI")) return std::string(inherited);
        char tmpl[] = "/tmp/pgtls-gnutls-pki-XXXXXX";
        if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
        const std::string d = tmpl;
        const std::string cmd = std::string("bash '") + PGTLS_MAKE_PKI_SCRIPT + "' '" + d + "' >/dev/null";
        if (std::system(cmd.c_str()) != 0) throw std::runtime_error("scripts/make-pki.sh failed");
        ::setenv("PGTLS_GNUTLS_TEST_PKI", d.c_str(), 1);
        return d;
    }();
    return dir;
}

std::string pki(const std::string& name) { return pki_dir() + "/" + name; }

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

tls::Material file_material(const std::string& name) { return {tls::Material::Kind::file, pki(name)}; }
tls::Material pem_material(const std::string& name) { return {tls::Material::Kind::pem, slurp(pki(name))}; }

const tls::Backend& gnutls() { return tls::gnutls_backend(); }

namespace {

using Clock = std::chrono::steady_clock;

bool wait_for(int fd, tls::IoStatus status, Clock::time_point deadline) {
    pollfd p{fd, static_cast<short>(status == tls::IoStatus::want_write ? POLLOUT : POLLIN), 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    return ::poll(&p, 1, static_cast<int>(left)) == 1;
}

bool would_block(const tls::IoResult& r) {
    return r.status == tls::IoStatus::want_read || r.status == tls::IoStatus::want_write;
}

}  // namespace

tls::IoResult drive_handshake(tls::Session& s, int fd) {
    const auto deadline = Clock::now() + std::chrono::seconds(15);
    for (;;) {
        tls::IoResult r = s.handshake();
        if (!would_block(r)) return r;
        if (!wait_for(fd, r.status, deadline)) return {tls::IoStatus::error, 0, "test driver: handshake timed out"};
    }
}

tls::IoResult write_all(tls::Session& s, int fd, const std::string& data) {
    const auto deadline = Clock::now() + std::chrono::seconds(15);
    std::size_t done = 0;
    while (done < data.size()) {
        tls::IoResult r = s.write(data.data() + done, data.size() - done);
        if (r.status == tls::IoStatus::ok) {
            done += r.bytes;
            continue;
        }
        if (!would_block(r)) return r;
        if (!wait_for(fd, r.status, deadline)) return {tls::IoStatus::error, 0, "test driver: write timed out"};
    }
    return {};
}

std::string read_some(tls::Session& s, int fd, std::size_t want, tls::IoResult* last) {
    const auto deadline = Clock::now() + std::chrono::seconds(15);
    std::string out;
    char buf[4096];
    tls::IoResult r;
    while (out.size() < want) {
        r = s.read(buf, std::min(sizeof buf, want - out.size()));
        if (r.status == tls::IoStatus::ok) {
            out.append(buf, r.bytes);
            continue;
        }
        if (!would_block(r)) break;
        if (!wait_for(fd, r.status, deadline)) {
            r = {tls::IoStatus::error, 0, "test driver: read timed out"};
            break;
        }
    }
    if (last) *last = r;
    return out;
}

const PeerObservation& TlsPeer::finish() {
    if (!seen_) seen_ = server_.next_connection(std::chrono::seconds(20));
    if (!seen_) seen_ = PeerObservation{};
    return *seen_;
}

TestClient::TestClient(const tls::ContextConfig& config, int port, const std::string& sni)
    : context(gnutls().create_context(config)), fd(connect_tcp("127.0.0.1", static_cast<std::uint16_t>(port))) {
    tls::SessionParams params;
    params.sni = sni;
    session = context->create_session(fd, params);
}

TestClient::~TestClient() {
    session.reset();
    if (fd >= 0) ::close(fd);
}

}  // namespace pgtls::test
