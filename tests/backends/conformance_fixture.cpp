#include "tests/backends/conformance_fixture.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "pgtls/error.hpp"

namespace pgtls::conformance {
namespace {

std::string g_generated_dir;

void remove_generated_pki() {
    if (!g_generated_dir.empty()) {
        std::error_code ec;
        std::filesystem::remove_all(g_generated_dir, ec);
    }
}

std::string make_pki() {
    if (const char* env = std::getenv("PGTLS_TEST_PKI"); env && *env) return env;
    char tmpl[] = "/tmp/pgtls-conformance-pki.XXXXXX";
    if (!::mkdtemp(tmpl)) {
        std::fprintf(stderr, "conformance: mkdtemp failed\n");
        std::abort();
    }
    g_generated_dir = tmpl;
    std::atexit(remove_generated_pki);
    std::string cmd = std::string("bash '") + PGTLS_MAKE_PKI_SCRIPT + "' '" + g_generated_dir + "' >/dev/null";
    if (std::system(cmd.c_str()) != 0) {
        std::fprintf(stderr, "conformance: %s failed; set PGTLS_TEST_PKI to an existing PKI\n", cmd.c_str());
        std::abort();
    }
    return g_generated_dir;
}

}  // namespace

const std::string& pki_dir() {
    static const std::string dir = make_pki();
    return dir;
}

std::string pki(std::string_view name) { return pki_dir() + "/" + std::string(name); }

tls::Material pki_file(std::string_view name) { return {tls::Material::Kind::file, pki(name)}; }
tls::Material pki_pem(std::string_view name) { return {tls::Material::Kind::pem, test::read_file(pki(name))}; }

test::TlsServerOptions server_options(std::string_view cert_base) {
    test::TlsServerOptions o;
    o.cert_file = pki(std::string(cert_base) + ".crt");
    o.key_file = pki(std::string(cert_base) + ".key");
    return o;
}

Handshake::Handshake(Handshake&& o) noexcept
    : context(std::move(o.context)), session(std::move(o.session)), fd(o.fd), result(std::move(o.result)),
      threw(o.threw), server(std::move(o.server)) {
    o.fd = -1;
}

Handshake::~Handshake() {
    session.reset();
    if (fd >= 0) ::close(fd);
}

std::string describe(const tls::IoResult& r) {
    const char* s = "?";
    switch (r.status) {
        case tls::IoStatus::ok: s = "ok"; break;
        case tls::IoStatus::want_read: s = "want_read"; break;
        case tls::IoStatus::want_write: s = "want_write"; break;
        case tls::IoStatus::closed: s = "closed"; break;
        case tls::IoStatus::error: s = "error"; break;
    }
    return std::string(s) + (r.error.empty() ? "" : ": " + r.error);
}

bool contains_ignoring_case(std::string_view haystack, std::string_view needle) {
    auto lower = [](std::string_view s) {
        std::string out(s);
        for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return out;
    };
    return lower(haystack).find(lower(needle)) != std::string::npos;
}

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kDeadline = std::chrono::seconds(10);

// Waits for `fd` to become readable/writable as the last IoResult asked; false on timeout.
bool wait_for(int fd, tls::IoStatus want, Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, static_cast<short>(want == tls::IoStatus::want_write ? POLLOUT : POLLIN), 0};
    return ::poll(&p, 1, static_cast<int>(left)) > 0;
}

}  // namespace

Handshake run_handshake(const tls::Backend& backend, const tls::ContextConfig& config, test::TlsTestServer& server,
                        const tls::SessionParams& params, bool nonblocking) {
    Handshake h;
    h.context = backend.create_context(config);
    if (!h.context) throw std::runtime_error("create_context returned null");
    h.fd = test::connect_tcp(server.address(), server.port());
    if (nonblocking) ::fcntl(h.fd, F_SETFL, ::fcntl(h.fd, F_GETFL) | O_NONBLOCK);
    h.session = h.context->create_session(h.fd, params);
    if (!h.session) throw std::runtime_error("create_session returned null");
    const auto deadline = Clock::now() + kDeadline;
    try {
        for (;;) {
            h.result = h.session->handshake();
            if (h.result.status != tls::IoStatus::want_read && h.result.status != tls::IoStatus::want_write) break;
            if (!wait_for(h.fd, h.result.status, deadline)) {
                h.result = {tls::IoStatus::error, 0, "test: handshake did not finish within 10 s"};
                break;
            }
        }
    } catch (const std::exception& e) {
        h.threw = true;
        h.result = {tls::IoStatus::error, 0, e.what()};
    }
    if (!h.ok()) {
        // Let the server see the failure rather than a half-open socket.
        h.session.reset();
        ::close(h.fd);
        h.fd = -1;
    }
    h.server = server.next_connection(std::chrono::seconds(10));
    return h;
}

std::string echo(Handshake& h, std::string_view data) {
    const auto deadline = Clock::now() + kDeadline;
    std::size_t sent = 0;
    while (sent < data.size()) {
        tls::IoResult r = h.session->write(data.data() + sent, data.size() - sent);
        if (r.status == tls::IoStatus::ok) {
            sent += r.bytes;
            continue;
        }
        if ((r.status == tls::IoStatus::want_read || r.status == tls::IoStatus::want_write) &&
            wait_for(h.fd, r.status, deadline))
            continue;
        ADD_FAILURE() << "write: " << describe(r);
        return {};
    }
    std::string got;
    char buf[8192];
    while (got.size() < data.size()) {
        tls::IoResult r = h.session->read(buf, std::min(sizeof buf, data.size() - got.size()));
        if (r.status == tls::IoStatus::ok) {
            got.append(buf, r.bytes);
            continue;
        }
        if ((r.status == tls::IoStatus::want_read || r.status == tls::IoStatus::want_write) &&
            wait_for(h.fd, r.status, deadline))
            continue;
        ADD_FAILURE() << "read after " << got.size() << " of " << data.size() << " bytes: " << describe(r);
        return got;
    }
    return got;
}

}  // namespace pgtls::conformance
