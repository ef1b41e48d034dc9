// Placeholder: replaced by a portable SHA-2/MD5/HMAC/PBKDF2 implementation used when no TLS
// backend is compiled in.
#include "core/crypto/crypto.hpp"
#include "pgtls/error.hpp"

namespace pgtls::tls {
namespace {
class Builtin final : public crypto::Provider {
public:
    std::string_view name() const noexcept override { return "builtin"; }
    crypto::Bytes digest(crypto::Hash, crypto::ByteView) const override { fail(); }
    crypto::Bytes hmac(crypto::Hash, crypto::ByteView, crypto::ByteView) const override { fail(); }
    crypto::Bytes pbkdf2_hmac(crypto::Hash, crypto::ByteView, crypto::ByteView, std::uint32_t, std::size_t) const override { fail(); }
    void random(std::span<std::uint8_t>) const override { fail(); }
private:
    [[noreturn]] static void fail() { throw Error(ErrorKind::usage, "builtin crypto: placeholder"); }
};
}  // namespace
const crypto::Provider& builtin_crypto() { static Builtin b; return b; }
}  // namespace pgtls::tls
