// core/tls_setup_cache: clients with the same TLS settings share one context, and only while
// the files it was built from are unchanged; secrets and CRL directories are never shared.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "client/tls_setup_cache.hpp"
#include "tests/backends/conformance_fixture.hpp"

namespace pgtls::conformance {
namespace {

class TlsSetupCache : public BackendConformance {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/pgtls-setup-cache.XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        ca_ = dir_ + "/root.crt";
        copy_ca();
    }
    void TearDown() override {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    // Writes the PKI's root certificate to ca_ (a new file each time: new inode and mtime).
    void copy_ca() {
        std::ifstream in(pki("ca.crt"));
        std::stringstream text;
        text << in.rdbuf();
        const std::string tmp = ca_ + ".new";
        std::ofstream(tmp) << text.str();
        std::filesystem::rename(tmp, ca_);
    }
    Settings settings() const {
        Settings s;
        s.sslbackend = std::string(name());
        s.sslmode = SslMode::verify_full;
        s.sslrootcert = Pem::file(ca_);
        return s;
    }
    std::string dir_, ca_;
};

TEST_P(TlsSetupCache, SameSettingsShareOneContext) {
    const auto a = shared_tls_setup(settings());
    const auto b = shared_tls_setup(settings());
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a, b);
    EXPECT_EQ(a->context, b->context);
    EXPECT_TRUE(a->verify_full);
}

TEST_P(TlsSetupCache, DifferentSettingsGetTheirOwn) {
    const auto a = shared_tls_setup(settings());
    Settings other = settings();
    other.sslmode = SslMode::verify_ca;
    const auto b = shared_tls_setup(other);
    EXPECT_NE(a->context, b->context);
    EXPECT_FALSE(b->verify_full);
}

TEST_P(TlsSetupCache, ReplacedFileGivesANewContext) {
    const auto a = shared_tls_setup(settings());
    copy_ca();  // certificate rotation: same path, new file
    const auto b = shared_tls_setup(settings());
    EXPECT_NE(a->context, b->context);
    EXPECT_EQ(b, shared_tls_setup(settings()));  // and that one is shared in turn
}

TEST_P(TlsSetupCache, SecretsAndCrlDirectoriesAreNeverShared) {
    Settings with_password = settings();
    with_password.sslpassword = "secret";
    EXPECT_NE(shared_tls_setup(with_password)->context, shared_tls_setup(with_password)->context);
    Settings inline_root = settings();
    std::ifstream in(ca_);
    std::stringstream pem;
    pem << in.rdbuf();
    inline_root.sslrootcert = Pem::bytes(pem.str());
    EXPECT_NE(shared_tls_setup(inline_root)->context, shared_tls_setup(inline_root)->context);
    Settings crl_dir = settings();
    crl_dir.sslcrldir = dir_;
    EXPECT_NE(shared_tls_setup(crl_dir)->context, shared_tls_setup(crl_dir)->context);
}

TEST_P(TlsSetupCache, ASetupLivesOnlyWhileAClientHoldsIt) {
    std::weak_ptr<TlsSetup> weak = shared_tls_setup(settings());
    EXPECT_TRUE(weak.expired());  // nobody kept it: the cache does not either
}

TEST_P(TlsSetupCache, FailuresAreNotCached) {
    Settings s = settings();
    s.sslrootcert = Pem::file(dir_ + "/absent.crt");
    EXPECT_THROW(shared_tls_setup(s), Error);
    copy_ca();
    std::filesystem::copy_file(ca_, dir_ + "/absent.crt");
    EXPECT_NE(shared_tls_setup(s), nullptr);
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Backends, TlsSetupCache, ::testing::ValuesIn(tls::available_backends()),
                         [](const auto& info) { return std::string(info.param->name()); });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(TlsSetupCache);

}  // namespace pgtls::conformance
