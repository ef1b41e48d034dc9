// Shared pieces of the backend conformance suite: the generated test PKI, a client-side
// handshake driver over any tls::Backend, and the value-parameterized fixture that every
// conformance_*_test.cpp file adds cases to. The suite is instantiated once per compiled
// backend (conformance_test.cpp), so every case runs on every backend.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "tls/tls_backend.hpp"
#include "tests/support/tls/tls_test_server.hpp"

namespace pgtls::tls {
// Readable IoStatus in GoogleTest failure messages.
inline void PrintTo(IoStatus s, std::ostream* os) {
    static const char* const names[] = {"ok", "want_read", "want_write", "closed", "error"};
    *os << names[static_cast<int>(s)];
}
}  // namespace pgtls::tls

namespace pgtls::conformance {

// Directory of the test PKI: $PGTLS_TEST_PKI when set, otherwise scripts/make-pki.sh is run
// once per test binary into a temporary directory (removed at exit). Aborts the test binary
// with a message when the PKI cannot be generated.
const std::string& pki_dir();
std::string pki(std::string_view name);  // pki_dir() + "/" + name

tls::Material pki_file(std::string_view name);
tls::Material pki_pem(std::string_view name);

// A server presenting `cert_base`.crt / .key from the PKI.
test::TlsServerOptions server_options(std::string_view cert_base);

// The result of one client handshake against a TlsTestServer.
struct Handshake {
    std::shared_ptr<tls::Context> context;
    std::unique_ptr<tls::Session> session;  // destroyed before the context and the socket
    int fd = -1;
    tls::IoResult result;
    bool threw = false;  // handshake() threw instead of returning an IoResult (contract breach)
    std::optional<test::TlsServerConnection> server;  // what the server recorded

    Handshake() = default;
    Handshake(Handshake&&) noexcept;
    Handshake& operator=(Handshake&&) = delete;
    ~Handshake();
    bool ok() const { return result.status == tls::IoStatus::ok; }
};

// Creates a context from `config` (exceptions propagate), connects to `server`, runs the
// handshake to completion (bounded: 10 s), then collects the server's record.
Handshake run_handshake(const tls::Backend& backend, const tls::ContextConfig& config,
                        test::TlsTestServer& server, const tls::SessionParams& params = {},
                        bool nonblocking = false);

// Writes `data` and reads the same number of bytes back (the server echoes); fails the
// current test on error or a 10 s stall.
std::string echo(Handshake& h, std::string_view data);

bool contains_ignoring_case(std::string_view haystack, std::string_view needle);

std::string describe(const tls::IoResult& r);

class BackendConformance : public ::testing::TestWithParam<const tls::Backend*> {
protected:
    const tls::Backend& backend() const { return *GetParam(); }
    bool has(tls::Capability cap) const { return (backend().capabilities() & cap) != 0; }
    std::string_view name() const { return backend().name(); }
};

}  // namespace pgtls::conformance

// Asserts that a handshake failed by returning an error (not by throwing) with a message.
#define PGTLS_EXPECT_HANDSHAKE_ERROR(h)                                               \
    do {                                                                              \
        EXPECT_FALSE((h).threw) << "handshake() threw instead of returning: " << (h).result.error; \
        EXPECT_EQ((h).result.status, ::pgtls::tls::IoStatus::error) << ::pgtls::conformance::describe((h).result); \
        EXPECT_FALSE((h).result.error.empty()) << "error status without a message";  \
    } while (0)

#define PGTLS_ASSERT_HANDSHAKE_OK(h)                                                  \
    ASSERT_TRUE((h).ok()) << "handshake failed: " << ::pgtls::conformance::describe((h).result) \
                          << (((h).server) ? " | server: " + (h).server->error : std::string(" | no server record"))
