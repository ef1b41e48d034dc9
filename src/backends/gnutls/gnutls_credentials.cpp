#include "backends/gnutls/gnutls_credentials.hpp"

#include <filesystem>
#include <optional>

#include "tls/material.hpp"
#include "tls/root_file_anchors.hpp"
#include "tls/system_trust_overrides.hpp"

namespace pgtls::tls::gnutls {
namespace {

// PEM when it has an armour line; otherwise the bytes are taken as one DER object, as the
// OpenSSL backend (and libpq for keys) accepts.
bool is_pem(std::string_view bytes) { return bytes.find("-----BEGIN ") != std::string_view::npos; }

// "root certificate file "/path"" or "root certificate (PEM data)".
std::string describe(const Material& m, const std::string& what) {
    if (m.kind != Material::Kind::file && m.kind != Material::Kind::pem) return what;
    return material_label(m, {what + " file", what + " (PEM data)"});
}

// Reads a whole file (tls/material.hpp); nullopt with errno text in `error` when it cannot.
std::optional<std::string> read_file(const std::string& path, std::string& error) {
    FileReadFailure failure;
    auto data = read_whole_file(path, failure);
    if (!data) error = !failure.reason.empty() ? failure.reason : failure.at_open ? "cannot open" : "read error";
    return data;
}

// The bytes of a file or PEM material; throws Error(config) "could not read <what>: reason".
std::string read_material(const Material& m, const std::string& what, const char* verb = "could not read") {
    if (m.kind == Material::Kind::pem) return m.value;
    std::string error;
    if (auto data = read_file(m.value, error)) return std::move(*data);
    throw Error(ErrorKind::config, std::string(verb) + " " + describe(m, what) + ": " + error);
}

// Parses every CRL (PEM) in `bytes`; returns how many were found and keeps them for the
// coverage rule. Adds them to the credentials, where GnuTLS applies their revocations.
int add_crls(ContextState& state, const std::string& bytes, std::string& error) {
    gnutls_x509_crl_t* list = nullptr;
    unsigned n = 0;
    gnutls_datum_t d = datum_of(bytes);
    int rc = gnutls_x509_crl_list_import2(&list, &n, &d, is_pem(bytes) ? GNUTLS_X509_FMT_PEM : GNUTLS_X509_FMT_DER, 0);
    if (rc < 0 || n == 0) {
        error = rc < 0 && rc != GNUTLS_E_BASE64_DECODING_ERROR && rc != GNUTLS_E_NO_CERTIFICATE_FOUND
                    ? error_text(rc)
                    : "no certificate revocation list found";
        return 0;
    }
    rc = gnutls_certificate_set_x509_crl(state.cred.get(), list, static_cast<int>(n));  // copies them
    for (unsigned i = 0; i < n; ++i) {
        if (rc >= 0)
            state.crls.emplace_back(list[i]);
        else
            gnutls_x509_crl_deinit(list[i]);
    }
    gnutls_free(list);
    if (rc < 0) {
        error = error_text(rc);
        return 0;
    }
    return static_cast<int>(n);
}

// OpenSSL's hashed CRL link name: 8 lowercase hex digits, ".r", one or more digits.
bool is_hashed_crl_name(std::string_view name) {
    if (name.size() < 11 || name.substr(8, 2) != ".r") return false;
    for (std::size_t i = 0; i < 8; ++i)
        if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f'))) return false;
    for (std::size_t i = 10; i < name.size(); ++i)
        if (name[i] < '0' || name[i] > '9') return false;
    return true;
}

bool looks_encrypted(std::string_view pem) {
    return pem.find("ENCRYPTED PRIVATE KEY") != std::string_view::npos ||
           pem.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos;
}

// Refuses GnuTLS's request for a PIN: a key password comes only from key_password.
int no_pin(void*, int, const char*, const char*, unsigned, char*, size_t) { return -1; }

std::string key_id_of(gnutls_pubkey_t pub) {
    unsigned char buf[64];
    size_t size = sizeof buf;
    if (gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, buf, &size) < 0) return {};
    return std::string(reinterpret_cast<const char*>(buf), size);
}

std::string key_id_of(gnutls_x509_privkey_t key) {
    unsigned char buf[64];
    size_t size = sizeof buf;
    if (gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA256, buf, &size) < 0) return {};
    return std::string(reinterpret_cast<const char*>(buf), size);
}

}  // namespace

void load_trust(ContextState& state, const ContextConfig& config) {
    const Material& ca = config.ca;
    if (ca.kind == Material::Kind::none) return;
    if (ca.kind == Material::Kind::system) {
        // $SSL_CERT_FILE / $SSL_CERT_DIR as OpenSSL (and so libpq) honours them; GnuTLS's
        // system trust stands in for the part not named.
        const SystemTrustOverrides env = system_trust_overrides();
        int total = 0;
        if (!env.replaces_platform_store()) {
            int rc = gnutls_certificate_set_x509_system_trust(state.cred.get());
            if (rc < 0)
                throw Error(ErrorKind::config,
                            "could not load the system root certificate store (sslrootcert=system): " + error_text(rc));
            total += rc;
        }
        if (env.file) {
            int rc = gnutls_certificate_set_x509_trust_file(state.cred.get(), env.file->c_str(), GNUTLS_X509_FMT_PEM);
            if (rc < 0)
                state.warnings.push_back("could not read $SSL_CERT_FILE \"" + *env.file + "\": " + error_text(rc));
            else
                total += rc;
        }
        if (env.dir) {
            int rc = gnutls_certificate_set_x509_trust_dir(state.cred.get(), env.dir->c_str(), GNUTLS_X509_FMT_PEM);
            if (rc < 0)
                state.warnings.push_back("could not read $SSL_CERT_DIR \"" + *env.dir + "\": " + error_text(rc));
            else
                total += rc;
        }
        if (total == 0)
            state.warnings.push_back("the system root certificate store (sslrootcert=system) holds no certificates");
        return;
    }
    // GnuTLS would take an intermediate CA of the file as an anchor; libpq does not.
    const RootFileAnchors anchors = keep_anchored_certificates(read_material(ca, "root certificate"));
    const std::string& bytes = anchors.data;
    const bool pem = is_pem(bytes);
    if (!anchors.trusts_nothing()) {
        gnutls_datum_t d = datum_of(bytes);
        int rc = gnutls_certificate_set_x509_trust_mem(state.cred.get(), &d, pem ? GNUTLS_X509_FMT_PEM : GNUTLS_X509_FMT_DER);
        if (rc < 0 && rc != GNUTLS_E_BASE64_DECODING_ERROR && rc != GNUTLS_E_NO_CERTIFICATE_FOUND)
            throw Error(ErrorKind::config, "could not read " + describe(ca, "root certificate") + ": " + error_text(rc));
        if (rc <= 0)
            throw Error(ErrorKind::config, "could not read " + describe(ca, "root certificate") + ": no certificate found");
    }
    // libpq loads sslrootcert with X509_STORE_load_locations, which takes the CRLs in it too;
    // they matter once CRL checking is switched on by sslcrl / sslcrldir.
    if (pem && bytes.find("-----BEGIN X509 CRL-----") != std::string::npos) {
        std::string ignored;
        add_crls(state, bytes, ignored);
    }
}

void load_crls(ContextState& state, const ContextConfig& config) {
    if (!config.crl.empty()) {
        const std::string bytes = read_material(config.crl, "certificate revocation list");
        std::string error;
        if (add_crls(state, bytes, error) == 0)
            throw Error(ErrorKind::config,
                        "could not read " + describe(config.crl, "certificate revocation list") + ": " + error);
        state.crl_active = true;
    }
    if (!config.crl_dir.empty()) {
        std::error_code ec;
        std::filesystem::directory_iterator it(config.crl_dir, ec), end;
        if (ec)
            throw Error(ErrorKind::config, "certificate revocation list directory \"" + config.crl_dir +
                                               "\" (sslcrldir) is not a readable directory: " + ec.message());
        for (; it != end; it.increment(ec)) {
            if (ec) break;
            const std::string name = it->path().filename().string();
            if (!is_hashed_crl_name(name)) continue;
            std::string error;
            auto bytes = read_file(it->path().string(), error);
            if (!bytes || add_crls(state, *bytes, error) == 0)
                state.warnings.push_back("skipped certificate revocation list \"" + it->path().string() + "\": " + error);
        }
        state.crl_active = true;
    }
}

void load_client_certificate(ContextState& state, const ContextConfig& config) {
    if (!config.send_client_cert) return;
    if (config.cert.empty()) return;  // a key alone is never used (libpq: no sslcert file, no client cert)
    if (config.key.empty())
        throw Error(ErrorKind::config,
                    "certificate present, but not private key file: " + describe(config.cert, "certificate") +
                        " given without sslkey");

    // Certificate chain, leaf first, sent in file order (SSL_CTX_use_certificate_chain_file).
    const std::string cert_bytes = read_material(config.cert, "certificate");
    {
        std::vector<gnutls_pcert_st> chain(64);
        unsigned n = static_cast<unsigned>(chain.size());
        gnutls_datum_t d = datum_of(cert_bytes);
        int rc = gnutls_pcert_list_import_x509_raw(chain.data(), &n, &d,
                                                   is_pem(cert_bytes) ? GNUTLS_X509_FMT_PEM : GNUTLS_X509_FMT_DER, 0);
        if (rc < 0 || n == 0)
            throw Error(ErrorKind::config, "could not read " + describe(config.cert, "certificate") + ": " +
                                               (rc < 0 ? error_text(rc) : std::string("no certificate found")));
        chain.resize(n);
        state.client_chain = std::move(chain);
    }

    const std::string what = describe(config.key, "private key");
    std::string key_bytes = read_material(config.key, "private key", "could not load");
    gnutls_x509_privkey_t raw = nullptr;
    if (int rc = gnutls_x509_privkey_init(&raw); rc < 0)
        throw Error(ErrorKind::tls, "GnuTLS: could not allocate a private key: " + error_text(rc));
    X509Key key(raw);
    gnutls_x509_privkey_set_pin_function(raw, no_pin, nullptr);
    const bool pem = is_pem(key_bytes);
    // DER carries no armour to tell; a password, when given, is offered (PKCS#8 may need it).
    const bool encrypted = pem ? looks_encrypted(key_bytes) : !config.key_password.empty();
    if (encrypted && config.key_password.empty()) {
        crypto::secure_zero(key_bytes.data(), key_bytes.size());
        throw Error(ErrorKind::config,
                    "could not load " + what + ": the key is encrypted and no password was given (sslpassword)");
    }
    gnutls_datum_t kd = datum_of(key_bytes);
    int rc = gnutls_x509_privkey_import2(raw, &kd, pem ? GNUTLS_X509_FMT_PEM : GNUTLS_X509_FMT_DER,
                                         encrypted ? config.key_password.c_str() : nullptr, 0);
    if (rc < 0 && !pem && !encrypted) {
        // An encrypted DER PKCS#8 key without a password.
        if (gnutls_x509_privkey_import_pkcs8(raw, &kd, GNUTLS_X509_FMT_DER, nullptr, 0) ==
            GNUTLS_E_DECRYPTION_FAILED) {
            crypto::secure_zero(key_bytes.data(), key_bytes.size());
            throw Error(ErrorKind::config,
                        "could not load " + what + ": the key is encrypted and no password was given (sslpassword)");
        }
    }
    crypto::secure_zero(key_bytes.data(), key_bytes.size());
    if (rc < 0) {
        std::string reason = error_text(rc);
        if (encrypted && (rc == GNUTLS_E_DECRYPTION_FAILED || rc == GNUTLS_E_ASN1_DER_ERROR ||
                          rc == GNUTLS_E_PK_INVALID_PRIVKEY || rc == GNUTLS_E_BASE64_DECODING_ERROR))
            reason = "wrong password (sslpassword) or damaged key: " + reason;
        throw Error(ErrorKind::config, "could not load " + what + ": " + reason);
    }

    const std::string cert_id = key_id_of(state.client_chain.front().pubkey);
    if (cert_id.empty() || cert_id != key_id_of(raw))
        throw Error(ErrorKind::config, "certificate does not match " + what + " (" + describe(config.cert, "certificate") + ")");

    gnutls_privkey_t priv = nullptr;
    if (rc = gnutls_privkey_init(&priv); rc < 0)
        throw Error(ErrorKind::tls, "GnuTLS: could not allocate a private key: " + error_text(rc));
    state.client_key.reset(priv);
    if (rc = gnutls_privkey_import_x509(priv, key.get(), GNUTLS_PRIVKEY_IMPORT_AUTO_RELEASE); rc < 0)
        throw Error(ErrorKind::config, "could not load " + what + ": " + error_text(rc));
    key.release();  // owned by `priv` now (AUTO_RELEASE)
}

}  // namespace pgtls::tls::gnutls
