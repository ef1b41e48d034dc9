// libFuzzer target: SCRAM-SHA-256 server-first and server-final messages through the public
// ScramClient API with a fixed client nonce. Input: server-first, a NUL, server-final (the
// second is used only when the first was accepted). Errors must be pgtls::Error.
#include <cstdint>
#include <string>
#include <string_view>

#include "auth/scram_client.hpp"
#include "tls/tls_backend.hpp"
#include "pgtls/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
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
