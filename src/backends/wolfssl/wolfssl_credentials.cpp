#include "backends/wolfssl/wolfssl_credentials.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <string_view>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "backends/wolfssl/wolfssl_errors.hpp"
#include "crypto/crypto.hpp"
#include "tls/material.hpp"
#include "tls/root_file_anchors.hpp"
#include "tls/system_trust_overrides.hpp"
#include "pgtls/error.hpp"

namespace pgtls::tls::wolfssl {
namespace {

const unsigned char* bytes(const std::string& s) { return reinterpret_cast<const unsigned char*>(s.data()); }
long size_of(const std::string& s) { return static_cast<long>(s.size()); }

std::string describe(const Material& m, const std::string& what) {
    return material_label(m, {what, what + " (in-memory PEM)"});
}

std::string material_data(const Material& m, const std::string& what) { return material_bytes(m, what); }

constexpr std::string_view crl_begin = "-----BEGIN X509 CRL-----";
constexpr std::string_view crl_end = "-----END X509 CRL-----";

// Why the CRL in PEM `block` is outside its validity period, or nullptr. wolfSSL never checks
// thisUpdate (it would take a CRL from the future) and names an expired CRL only as an
// "ASN parsing error"; OpenSSL (libpq) refuses both ("CRL is not yet valid", "CRL has
// expired"). They are refused here when loaded, where wolfSSL already refused expired ones.
const char* crl_date_problem(const std::string& block) {
    WOLFSSL_BIO* bio = wolfSSL_BIO_new_mem_buf(block.data(), static_cast<int>(block.size()));
    if (bio == nullptr) return nullptr;
    WOLFSSL_X509_CRL* crl = wolfSSL_PEM_read_bio_X509_CRL(bio, nullptr, nullptr, nullptr);
    wolfSSL_BIO_free(bio);
    if (crl == nullptr) return nullptr;  // wolfSSL_CTX_LoadCRLBuffer reports what is wrong with it
    const char* problem = nullptr;
    const WOLFSSL_ASN1_TIME* this_update = wolfSSL_X509_CRL_get_lastUpdate(crl);
    const WOLFSSL_ASN1_TIME* next_update = wolfSSL_X509_CRL_get_nextUpdate(crl);
    if (this_update != nullptr && wolfSSL_X509_cmp_current_time(this_update) > 0)
        problem = "CRL is not yet valid";
    else if (next_update != nullptr && next_update->length > 0 && wolfSSL_X509_cmp_current_time(next_update) < 0)
        problem = "CRL has expired";
    wolfSSL_X509_CRL_free(crl);
    return problem;
}

// Loads every PEM CRL block of `data`; returns how many loaded. wolfSSL_CTX_LoadCRLBuffer
// takes the first block only.
int load_crl_blocks(WOLFSSL_CTX* ctx, const std::string& data, const std::string& label) {
    int loaded = 0;
    for (std::size_t at = data.find(crl_begin); at != std::string::npos; at = data.find(crl_begin, at)) {
        const std::size_t end = data.find(crl_end, at);
        if (end == std::string::npos) break;
        const std::string block = data.substr(at, end + crl_end.size() - at) + "\n";
        if (const char* problem = crl_date_problem(block))
            throw Error(ErrorKind::config, "could not load " + label + ": " + problem);
        if (const int rc = wolfSSL_CTX_LoadCRLBuffer(ctx, bytes(block), size_of(block), WOLFSSL_FILETYPE_PEM);
            rc != WOLFSSL_SUCCESS)
            throw Error(ErrorKind::config, "could not load " + label + ": " + error_text(rc));
        ++loaded;
        at = end;
    }
    return loaded;
}

void enable_crl_checks(WOLFSSL_CTX* ctx) {
    if (const int rc = wolfSSL_CTX_EnableCRL(ctx, WOLFSSL_CRL_CHECKALL); rc != WOLFSSL_SUCCESS)
        throw Error(ErrorKind::tls, "wolfssl: could not enable CRL checking: " + error_text(rc));
}

// $SSL_CERT_FILE and $SSL_CERT_DIR as OpenSSL (and so libpq's sslrootcert=system) honours
// them; wolfSSL's own search of the platform store stands in for the part not named.
void load_system_trust(WOLFSSL_CTX* ctx) {
    const SystemTrustOverrides env = system_trust_overrides();
    if (env.file) {
        const std::string data = read_file(*env.file, "system root certificate file ($SSL_CERT_FILE)");
        if (wolfSSL_CTX_load_verify_buffer_ex(ctx, bytes(data), size_of(data), WOLFSSL_FILETYPE_PEM, 0,
                                              WOLFSSL_LOAD_FLAG_IGNORE_ERR) != WOLFSSL_SUCCESS)
            throw Error(ErrorKind::config, "could not load the system trust store (sslrootcert=system) from "
                                           "$SSL_CERT_FILE \"" + *env.file + "\"");
    }
    // Every file of the directory, not a hashed lookup; files that are not certificates are
    // skipped, and an unreadable directory adds nothing, as OpenSSL's by_dir.
    if (env.dir)
        wolfSSL_CTX_load_verify_locations_ex(ctx, nullptr, env.dir->c_str(), WOLFSSL_LOAD_FLAG_IGNORE_ERR);
    if (env.replaces_platform_store()) return;
    const bool platform = wolfSSL_CTX_load_system_CA_certs(ctx) == WOLFSSL_SUCCESS;
    if (!platform && !env.file && !env.dir)
        throw Error(ErrorKind::config, "could not load the system trust store (sslrootcert=system): no readable CA "
                                       "certificates found in the platform's locations");
}

std::size_t load_roots(WOLFSSL_CTX* ctx, const Material& ca) {
    if (ca.kind == Material::Kind::system) {
        load_system_trust(ctx);
        return 0;
    }
    const std::string label = describe(ca, "root certificate file");
    const std::string data = material_data(ca, "root certificate file");
    // wolfSSL would take an intermediate CA of the file as an anchor; libpq does not. Nor does
    // wolfSSL check the dates of the certificates it trusts, which OpenSSL does on every path.
    const RootFileAnchors anchors = keep_anchored_certificates(data, std::time(nullptr));
    if (!anchors.trusts_nothing()) {
        const std::string& roots = anchors.data;
        if (const int rc = wolfSSL_CTX_load_verify_buffer(ctx, bytes(roots), size_of(roots), WOLFSSL_FILETYPE_PEM);
            rc != WOLFSSL_SUCCESS)
            throw Error(ErrorKind::config, "could not load " + label + ": " + error_text(rc));
    }
    // libpq loads the root file with X509_STORE_load_locations, which takes CRLs too.
    if (ca.kind == Material::Kind::file && data.find(crl_begin) != std::string::npos) {
        enable_crl_checks(ctx);
        load_crl_blocks(ctx, data, "the CRL in " + label);
    }
    return anchors.out_of_date;
}

// Every PEM CRL in the directory, loaded up front (OpenSSL's by_dir, which libpq uses, looks up
// hashed names on demand; wolfSSL_CTX_LoadCRL would take only *.pem names). Files that are
// not PEM CRLs are skipped.
void load_crl_dir(WOLFSSL_CTX* ctx, const std::string& dir) {
    for_each_crl_dir_file(dir, [ctx](const std::string& path, const std::string& data) {
        if (data.find(crl_begin) != std::string::npos) load_crl_blocks(ctx, data, "CRL \"" + path + "\"");
    });
}

struct PasswordSource {
    const std::string* password;
};

// Never prompts: an empty sslpassword supplies nothing, so an encrypted key fails to load.
int password_callback(char* buf, int size, int /*rw*/, void* userdata) {
    const std::string& pw = *static_cast<PasswordSource*>(userdata)->password;
    if (pw.empty() || size <= 0 || pw.size() > static_cast<std::size_t>(size)) return 0;
    std::memcpy(buf, pw.data(), pw.size());
    return static_cast<int>(pw.size());
}

bool is_encrypted_pem(const std::string& data) {
    return data.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string::npos ||
           data.find("Proc-Type: 4,ENCRYPTED") != std::string::npos;
}

void load_private_key(WOLFSSL_CTX* ctx, const ContextConfig& config, const std::string& label) {
    std::string data = material_data(config.key, "private key file");
    PasswordSource source{&config.key_password};
    wolfSSL_CTX_set_default_passwd_cb(ctx, &password_callback);
    wolfSSL_CTX_set_default_passwd_cb_userdata(ctx, &source);
    const int rc = wolfSSL_CTX_use_PrivateKey_buffer(ctx, bytes(data), size_of(data), WOLFSSL_FILETYPE_PEM);
    wolfSSL_CTX_set_default_passwd_cb(ctx, nullptr);
    wolfSSL_CTX_set_default_passwd_cb_userdata(ctx, nullptr);
    const bool encrypted = is_encrypted_pem(data);
    crypto::secure_zero(data.data(), data.size());
    if (rc == WOLFSSL_SUCCESS) return;
    if (encrypted && config.key_password.empty())
        throw Error(ErrorKind::config, label + " is encrypted and no password (sslpassword) was given");
    if (encrypted)
        throw Error(ErrorKind::config, "could not decrypt " + label + ": wrong password (sslpassword)? " +
                                           error_text(rc));
    throw Error(ErrorKind::config, "could not load " + label + ": " + error_text(rc));
}

}  // namespace

std::size_t load_trust(WOLFSSL_CTX* ctx, const ContextConfig& config) {
    const std::size_t out_of_date = load_roots(ctx, config.ca);
    if (config.crl.kind == Material::Kind::file || config.crl.kind == Material::Kind::pem) {
        const std::string label = describe(config.crl, "SSL certificate revocation list file");
        const std::string data = material_data(config.crl, "SSL certificate revocation list file");
        enable_crl_checks(ctx);
        if (load_crl_blocks(ctx, data, label) == 0)
            throw Error(ErrorKind::config, "could not load " + label + ": no CRL found in it");
    }
    if (!config.crl_dir.empty()) {
        enable_crl_checks(ctx);
        load_crl_dir(ctx, config.crl_dir);
    }
    return out_of_date;
}

bool load_client_identity(WOLFSSL_CTX* ctx, const ContextConfig& config) {
    if (config.cert.empty()) return false;  // a key without a certificate is unused, as in libpq
    if (config.key.empty())
        throw Error(ErrorKind::config, "certificate present, but not private key: " +
                                           describe(config.cert, "client certificate") + " needs sslkey");
    const std::string cert_label = describe(config.cert, "client certificate file");
    const std::string cert_data = material_data(config.cert, "certificate file");
    if (const int rc = wolfSSL_CTX_use_certificate_chain_buffer_format(ctx, bytes(cert_data), size_of(cert_data),
                                                                         WOLFSSL_FILETYPE_PEM);
        rc != WOLFSSL_SUCCESS)
        throw Error(ErrorKind::config, "could not load " + cert_label + ": " + error_text(rc));
    const std::string key_label = describe(config.key, "private key file");
    load_private_key(ctx, config, key_label);
    if (wolfSSL_CTX_check_private_key(ctx) != WOLFSSL_SUCCESS)
        throw Error(ErrorKind::config, "certificate does not match " + key_label);
    return true;
}

}  // namespace pgtls::tls::wolfssl
