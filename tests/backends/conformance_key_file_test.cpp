// src/tls/key_file_check: libpq's refusal of group/world-accessible private key files.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tls/key_file_check.hpp"
#include "pgtls/error.hpp"
#include "tests/backends/conformance_fixture.hpp"

namespace pgtls::conformance {
namespace {

const char* kPermMessage =
    " has group or world access; file must have permissions u=rw (0600) or less if owned by the current user, "
    "or permissions u=rw,g=r (0640) or less if owned by root";

class KeyFileCheck : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/pgtls-keyfile.XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        path_ = dir_ + "/client.key";
        std::ofstream(path_) << "not really a key\n";
    }
    void TearDown() override {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    // Sets owner and mode; false when the owner cannot be changed (not root).
    bool set(uid_t owner, mode_t mode) {
        if (::chown(path_.c_str(), owner, static_cast<gid_t>(-1)) != 0) return false;
        return ::chmod(path_.c_str(), mode) == 0;
    }
    std::string perm_error() const { return "private key file \"" + path_ + "\"" + kPermMessage; }

    std::string dir_, path_;
};

constexpr uid_t kNobody = 65534;

TEST_F(KeyFileCheck, NonRootOwnerNeeds0600OrLess) {
    uid_t owner = ::geteuid() == 0 ? kNobody : ::geteuid();
    for (mode_t ok : {0600, 0400, 0200, 0700}) {
        ASSERT_TRUE(set(owner, ok));
        EXPECT_EQ(tls::private_key_file_problem(path_), std::nullopt) << std::oct << ok;
    }
    for (mode_t bad : {0640, 0604, 0660, 0610, 0601, 0644, 0666}) {
        ASSERT_TRUE(set(owner, bad));
        EXPECT_EQ(tls::private_key_file_problem(path_), perm_error()) << std::oct << bad;
    }
}

TEST_F(KeyFileCheck, RootOwnerMayGrantGroupRead) {
    if (::geteuid() != 0) {
        // Cannot create a root-owned file: the rule is still checked on a root-owned system file.
        struct stat st {};
        ASSERT_EQ(::stat("/etc/passwd", &st), 0);
        ASSERT_EQ(st.st_uid, 0u);
        EXPECT_EQ(tls::private_key_file_problem("/etc/passwd"),
                  "private key file \"/etc/passwd\"" + std::string(kPermMessage));  // 0644: world-readable
        return;
    }
    for (mode_t ok : {0600, 0640, 0440, 0400}) {
        ASSERT_TRUE(set(0, ok));
        EXPECT_EQ(tls::private_key_file_problem(path_), std::nullopt) << std::oct << ok;
    }
    for (mode_t bad : {0660, 0650, 0644, 0604, 0641}) {
        ASSERT_TRUE(set(0, bad));
        EXPECT_EQ(tls::private_key_file_problem(path_), perm_error()) << std::oct << bad;
    }
}

TEST_F(KeyFileCheck, MissingFile) {
    std::string missing = dir_ + "/absent.key";
    EXPECT_EQ(tls::private_key_file_problem(missing),
              "certificate present, but not private key file \"" + missing + "\"");
}

TEST_F(KeyFileCheck, DirectoryIsNotARegularFile) {
    EXPECT_EQ(tls::private_key_file_problem(dir_), "private key file \"" + dir_ + "\" is not a regular file");
}

TEST_F(KeyFileCheck, SymlinkIsJudgedByItsTarget) {
    std::string link = dir_ + "/link.key";
    ASSERT_EQ(::symlink(path_.c_str(), link.c_str()), 0);
    ASSERT_EQ(::chmod(path_.c_str(), 0600), 0);
    EXPECT_EQ(tls::private_key_file_problem(link), std::nullopt);
    ASSERT_EQ(::chmod(path_.c_str(), 0666), 0);
    EXPECT_EQ(tls::private_key_file_problem(link), "private key file \"" + link + "\"" + kPermMessage);
}

TEST_F(KeyFileCheck, StatFailureOtherThanMissing) {
    std::string through_file = path_ + "/child.key";  // ENOTDIR
    auto problem = tls::private_key_file_problem(through_file);
    ASSERT_TRUE(problem);
    EXPECT_EQ(problem->rfind("could not stat private key file \"" + through_file + "\": ", 0), 0u) << *problem;
}

TEST_F(KeyFileCheck, CheckThrowsConfigError) {
    ASSERT_EQ(::chmod(path_.c_str(), 0644), 0);
    bool root_owned = ::geteuid() == 0;
    try {
        tls::check_private_key_file(path_);
        ADD_FAILURE() << "0644 key accepted (root-owned: " << root_owned << ")";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::config);
        EXPECT_EQ(std::string(e.what()), perm_error());
    }
    ASSERT_EQ(::chmod(path_.c_str(), 0600), 0);
    EXPECT_NO_THROW(tls::check_private_key_file(path_));
}

TEST_F(KeyFileCheck, GeneratedPkiKeysPass) {
    for (const char* key : {"client.key", "client-encrypted.key", "client-ecdsa.key", "server.key", "ca.key"})
        EXPECT_EQ(tls::private_key_file_problem(pki(key)), std::nullopt) << key;
}

}  // namespace
}  // namespace pgtls::conformance
