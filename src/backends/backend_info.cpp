// pgtls::tls_backends() (include/pgtls/backends.hpp): the registry as the public API shows it.
#include "pgtls/backends.hpp"

#include <cstdint>
#include <utility>

#include "tls/tls_backend.hpp"

namespace pgtls {

namespace {

std::vector<std::string> capability_names(std::uint32_t caps) {
    static const std::pair<std::uint32_t, const char*> names[] = {
        {tls::cap_tls12, "tls1.2"},        {tls::cap_tls13, "tls1.3"},
        {tls::cap_alpn, "alpn"},           {tls::cap_sni, "sni"},
        {tls::cap_crl_file, "crl_file"},   {tls::cap_crl_dir, "crl_dir"},
        {tls::cap_system_ca, "system_ca"}, {tls::cap_encrypted_keys, "encrypted_keys"},
        {tls::cap_keylog, "keylog"},       {tls::cap_pem_in_memory, "pem_in_memory"},
    };
    std::vector<std::string> out;
    for (const auto& [bit, name] : names)
        if (caps & bit) out.emplace_back(name);
    return out;
}

}  // namespace

std::vector<TlsBackendInfo> tls_backends() {
    std::vector<TlsBackendInfo> out;
    const auto& all = tls::available_backends();
    const tls::Backend* def = all.empty() ? nullptr : &tls::find_backend("");
    for (const tls::Backend* b : all)
        out.push_back({std::string(b->name()), b->library_version(), b == def, capability_names(b->capabilities())});
    return out;
}

}  // namespace pgtls
