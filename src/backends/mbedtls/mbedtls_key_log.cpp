#include "backends/mbedtls/mbedtls_key_log.hpp"

#include "crypto/crypto.hpp"
#include "tls/key_log_file.hpp"

namespace pgtls::tls::mbedtls {
namespace {

thread_local std::vector<std::string>* current_sink = nullptr;

constexpr std::size_t master_secret_len = 48;

void warn(std::string message) {
    if (current_sink != nullptr) current_sink->push_back(std::move(message));
}

}  // namespace

KeyLogScope::KeyLogScope(std::vector<std::string>& sink) noexcept : previous_(current_sink) { current_sink = &sink; }
KeyLogScope::~KeyLogScope() { current_sink = previous_; }

int export_keys_to_file(void* p_expkey, const unsigned char* ms, const unsigned char*, std::size_t, std::size_t,
                        std::size_t, const unsigned char client_random[32], const unsigned char*,
                        mbedtls_tls_prf_types) {
    const auto& path = *static_cast<const std::string*>(p_expkey);
    std::string line = key_log_line("CLIENT_RANDOM", {client_random, 32}, {ms, master_secret_len});
    if (auto warning = append_key_log_line(path, line)) warn(std::move(*warning));
    crypto::secure_zero(line.data(), line.size());
    return 0;
}

}  // namespace pgtls::tls::mbedtls
