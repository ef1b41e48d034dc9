// Where a hostile case connects: straight to the scripted fake server (plaintext), or through
// a TLS front (tests/support/tls/tls_front.hpp) with one of the client's TLS backends, so the
// same script runs over every compiled TLS stack. Suites are parametrised by transport().
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tls/tls_backend.hpp"
#include "pgtls/client.hpp"
#include "tests/support/env/test_env.hpp"
#include "tests/support/fake/fake_server.hpp"
#include "tests/support/tls/tls_front.hpp"

namespace pgtls::test {

// "plaintext", then every compiled TLS backend's name.
inline std::vector<std::string> transports() {
    std::vector<std::string> v{"plaintext"};
    for (const auto* b : tls::available_backends()) v.emplace_back(b->name());
    return v;
}

class HostileTarget {
public:
    HostileTarget(FakeServer::Script script, const std::string& transport)
        : transport_(transport), server_(std::make_unique<FakeServer>(std::move(script))) {
        if (transport_ != "plaintext")
            front_ = std::make_unique<TlsFront>(server_->port(), pki("server.crt"), pki("server.key"));
    }
    // The server (and its scripts) first: a relay blocked on it is then released.
    ~HostileTarget() {
        server_.reset();
        front_.reset();
    }
    Settings settings() const {
        Settings st;
        st.hosts = {HostTarget{"127.0.0.1", "", front_ ? front_->port() : server_->port()}};
        st.user = "alice";
        st.dbname = "db";
        st.sslmode = front_ ? SslMode::require : SslMode::disable;
        st.sslbackend = front_ ? transport_ : std::string();
        st.connect_timeout = std::chrono::seconds(5);
        return st;
    }

private:
    std::string transport_;
    std::unique_ptr<FakeServer> server_;
    std::unique_ptr<TlsFront> front_;
};

// A suite whose every case runs once per transport; TLS ones skip without the test PKI.
class PerTransport : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        if (GetParam() != "plaintext" && !std::filesystem::exists(pki("server.crt")))
            GTEST_SKIP() << "no test PKI (scripts/make-pki.sh) for the TLS front";
    }
    HostileTarget target(FakeServer::Script script) const { return HostileTarget(std::move(script), GetParam()); }
};

inline std::string transport_name(const ::testing::TestParamInfo<std::string>& info) { return info.param; }

}  // namespace pgtls::test

#define PGTLS_INSTANTIATE_PER_TRANSPORT(Suite) \
    INSTANTIATE_TEST_SUITE_P(Transports, Suite, ::testing::ValuesIn(pgtls::test::transports()), pgtls::test::transport_name)
