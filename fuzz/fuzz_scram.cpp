// libFuzzer target: SCRAM-SHA-256 server-first and server-final messages through the public
// ScramClient API with a fixed client nonce. Input: server-first, a NUL, server-final (the
// second is used only when the first was accepted). Errors must be pgtls::Error.
// An input starting with 0xFF is a password instead, for SASLprep (what SCRAM hashes), checked
// against properties rather than for crashes alone: strict UTF-8 decodes and re-encodes to the
// same bytes, NFKC is idempotent, pure ASCII passes unchanged, a prepared password is valid
// UTF-8, and scram_password is the prepared password, or the raw bytes when SASLprep fails.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.hpp"
#include "auth/saslprep.hpp"
#include "auth/scram_client.hpp"
#include "tls/tls_backend.hpp"
#include "pgtls/error.hpp"

namespace {

using pgtls::fuzz::require;

void password(std::string_view p) {
    using namespace pgtls::auth;
    std::u32string chars;
    const bool utf8 = utf8_decode(p, chars);
    if (utf8) {
        require(utf8_encode(chars) == p, "strict UTF-8 re-encoded to other bytes");
        const std::u32string once = nfkc(chars);
        require(nfkc(once) == once, "NFKC is not idempotent");
    }
    std::string prepared;
    const SaslprepStatus status = saslprep(p, prepared);
    bool ascii = true;
    for (char c : p) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
    if (ascii) require(status == SaslprepStatus::success && prepared == p, "SASLprep changed an ASCII password");
    if (!utf8) require(status == SaslprepStatus::invalid_utf8, "SASLprep took invalid UTF-8");
    if (status == SaslprepStatus::success) require(utf8_decode(prepared, chars), "a prepared password is not UTF-8");
    require(scram_password(p) == (status == SaslprepStatus::success ? prepared : std::string(p)),
            "scram_password is neither the prepared nor the raw password");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > 0 && data[0] == 0xFF) {
        password({reinterpret_cast<const char*>(data + 1), size - 1});
        return 0;
    }
    std::string_view input(reinterpret_cast<const char*>(data), size);
    auto nul = input.find('\0');
    std::string_view first = input.substr(0, nul);
    std::string_view final_msg = nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);
    pgtls::auth::ScramOptions options;
    options.nonce = "rOprNGfwEbeRWgbNEkqO";
    options.max_iterations = 4096;  // PBKDF2 cost per input; the cap check is what is fuzzed
    if (size > 0 && (data[size - 1] & 1)) {
        options.gs2 = pgtls::auth::Gs2Flag::p;
        options.channel_binding_data = pgtls::crypto::Bytes(32, 0x5a);
    }
    try {
        pgtls::auth::ScramClient client(pgtls::tls::default_crypto(), "pencil", options);
        (void)client.client_first();
        (void)client.client_final(first);
        client.verify_server_final(final_msg);
    } catch (const pgtls::Error&) {
    }
    return 0;
}
