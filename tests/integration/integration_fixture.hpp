// Shared pieces of the integration suites: every case runs once per compiled TLS backend.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "tls/tls_backend.hpp"
#include "pgtls/client.hpp"
#include "tests/integration/driver_connection.hpp"
#include "tests/support/env/test_env.hpp"

namespace pgtls::test {

inline std::vector<std::string> backend_names() {
    std::vector<std::string> v;
    for (const auto* b : tls::available_backends()) v.emplace_back(b->name());
    if (v.empty()) v.emplace_back("none");
    return v;
}

class BackendTest : public ::testing::TestWithParam<std::string> {
protected:
    const TestEnv& env() const { return test_env(); }
    // The parameter is a backend name, with "_async" appended in suites instantiated per
    // driver too (PGTLS_INSTANTIATE_PER_BACKEND_AND_DRIVER): then connect() and
    // expect_failure() use that driver.
    std::string backend() const {
        const std::string& p = GetParam();
        return driver() == DriverKind::async ? p.substr(0, p.size() - kAsyncSuffix.size()) : p;
    }
    DriverKind driver() const {
        const std::string& p = GetParam();
        return p.size() > kAsyncSuffix.size() && p.compare(p.size() - kAsyncSuffix.size(), kAsyncSuffix.size(), kAsyncSuffix) == 0
                   ? DriverKind::async
                   : DriverKind::blocking;
    }
    bool has_tls() const { return backend() != "none"; }
    static constexpr std::string_view kAsyncSuffix = "_async";

    // conninfo + sslbackend for this test's backend; environment ignored.
    Config config(const std::string& conninfo) const {
        Config c;
        c.use_environment = false;
        c.conninfo = conninfo;
        if (has_tls()) c.sslbackend = backend();
        return c;
    }
    Client connect(const std::string& conninfo) const { return Client(config(conninfo)); }
    // Connects with this test's driver (see backend()).
    DriverConnection open(const Config& cfg, std::function<void(const Notice&)> notices = {}) const {
        return DriverConnection(driver(), cfg, std::move(notices));
    }
    DriverConnection open(const std::string& conninfo) const { return open(config(conninfo)); }

    // Connects and expects an Error of `kind` whose message contains `fragment`.
    void expect_failure(const std::string& conninfo, ErrorKind kind, const std::string& fragment) const {
        try {
            DriverConnection c(driver(), config(conninfo));
            ADD_FAILURE() << "connected, expected failure containing \"" << fragment << "\": " << conninfo;
        } catch (const Error& e) {
            EXPECT_EQ(to_string(e.kind()), std::string(to_string(kind))) << e.what();
            EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)
                << "message \"" << e.what() << "\" lacks \"" << fragment << "\"";
        }
    }
    std::string ca() const { return " sslrootcert=" + quote_conninfo_value(pki("ca.crt")); }
    // PostgreSQL 18 by name (localhost) as scramuser: verify-full with the test CA, or
    // plaintext for the "none" backend.
    Config pg18_verified() const {
        std::string ci = env().conninfo(env().server("pg18"), "scramuser", "localhost");
        ci += has_tls() ? " sslmode=verify-full" + ca() : " sslmode=disable";
        return config(ci);
    }
};

inline std::string backend_test_name(const ::testing::TestParamInfo<std::string>& info) { return info.param; }

// Every backend with each driver: "openssl" (blocking), "openssl_async", ...
inline std::vector<std::string> backend_and_driver_names() {
    std::vector<std::string> v;
    for (const auto& b : backend_names()) {
        v.push_back(b);
        v.push_back(b + "_async");
    }
    return v;
}

}  // namespace pgtls::test

#define PGTLS_INSTANTIATE_PER_BACKEND(Suite) \
    INSTANTIATE_TEST_SUITE_P(Backends, Suite, ::testing::ValuesIn(pgtls::test::backend_names()), pgtls::test::backend_test_name)
#define PGTLS_INSTANTIATE_PER_BACKEND_AND_DRIVER(Suite)                                                    \
    INSTANTIATE_TEST_SUITE_P(Backends, Suite, ::testing::ValuesIn(pgtls::test::backend_and_driver_names()), \
                             pgtls::test::backend_test_name)
