#include "backends/openssl/openssl_context.hpp"

#include <sys/stat.h>

#include <cstring>
#include <utility>
#include <vector>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>

#include "backends/openssl/openssl_session.hpp"
#include "tls/material.hpp"
#include "pgtls/error.hpp"

namespace pgtls::tls::openssl {
namespace {

// The label errors use for a piece of material: `what "path"` or `setting (PEM data)`.
std::string label_of(const Material& m, std::string_view what, std::string_view setting) {
    return material_label(m, {std::string(what), std::string(setting) + " (PEM data)"});
}

const std::string& bytes_of(const Material& m, std::string& storage, std::string_view what) {
    if (m.kind == Material::Kind::file) {
        storage = read_file(m.value, what);
        return storage;
    }
    return m.value;
}

// Installed wherever OpenSSL might otherwise fall back to PEM_def_callback, which prompts on
// the terminal: a library must never read stdin.
int refuse_password(char*, int, int, void*) { return -1; }

struct PasswordRequest {
    const std::string* password;
    bool asked = false;
};

int supply_password(char* buf, int size, int, void* user) {
    auto* req = static_cast<PasswordRequest*>(user);
    req->asked = true;
    if (req->password->empty() || size <= 0) return -1;
    std::size_t n = req->password->size();
    if (n > static_cast<std::size_t>(size)) n = static_cast<std::size_t>(size);
    std::memcpy(buf, req->password->data(), n);
    return static_cast<int>(n);
}

struct PemObjects {
    std::vector<X509Ptr> certs;
    std::vector<X509CrlPtr> crls;
};

// Certificates and CRLs from PEM (any number, in order) or from a single DER object.
PemObjects parse_objects(const std::string& bytes, const std::string& label) {
    PemObjects out;
    {
        BioPtr bio = memory_bio(bytes);
        STACK_OF(X509_INFO)* infos = PEM_X509_INFO_read_bio(bio.get(), nullptr, refuse_password, nullptr);
        if (infos == nullptr)
            throw Error(ErrorKind::config, "could not read " + label + ": " + drain_errors());
        for (int i = 0; i < sk_X509_INFO_num(infos); ++i) {
            X509_INFO* info = sk_X509_INFO_value(infos, i);
            if (info->x509 != nullptr) out.certs.emplace_back(std::exchange(info->x509, nullptr));
            if (info->crl != nullptr) out.crls.emplace_back(std::exchange(info->crl, nullptr));
        }
        sk_X509_INFO_pop_free(infos, X509_INFO_free);
    }
    if (out.certs.empty() && out.crls.empty() && !bytes.empty()) {
        const auto* begin = reinterpret_cast<const unsigned char*>(bytes.data());
        const unsigned char* p = begin;
        long len = static_cast<long>(bytes.size());
        if (X509* cert = d2i_X509(nullptr, &p, len)) {
            out.certs.emplace_back(cert);
        } else {
            p = begin;
            if (X509_CRL* crl = d2i_X509_CRL(nullptr, &p, len)) out.crls.emplace_back(crl);
        }
    }
    ERR_clear_error();
    return out;
}

PkeyPtr parse_private_key(const std::string& bytes, const std::string& label, const std::string& password) {
    PasswordRequest request{&password};
    EVP_PKEY* key = nullptr;
    {
        BioPtr bio = memory_bio(bytes);
        key = PEM_read_bio_PrivateKey(bio.get(), nullptr, supply_password, &request);
    }
    std::string pem_error;
    if (key == nullptr && !request.asked) {
        // Not PEM: libpq accepts DER (binary ASN.1) keys too, encrypted PKCS#8 included.
        pem_error = drain_errors();
        BioPtr bio = memory_bio(bytes);
        key = d2i_PKCS8PrivateKey_bio(bio.get(), nullptr, supply_password, &request);
        if (key == nullptr && !request.asked) {
            ERR_clear_error();
            const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
            key = d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(bytes.size()));
        }
    }
    if (key == nullptr) {
        std::string detail = drain_errors();
        if (request.asked && password.empty())
            throw Error(ErrorKind::config, label + " is encrypted but no password was given (sslpassword)");
        if (request.asked)
            throw Error(ErrorKind::config, "could not decrypt " + label +
                                               " with the given sslpassword (wrong password?)" +
                                               (detail.empty() ? "" : ": " + detail));
        if (!pem_error.empty()) detail = pem_error;
        throw Error(ErrorKind::config, "could not load " + label + (detail.empty() ? "" : ": " + detail));
    }
    return PkeyPtr(key);
}

int protocol_number(TlsVersion v) {
    switch (v) {
        case TlsVersion::unspecified: return 0;
        case TlsVersion::tls1_0: return TLS1_VERSION;
        case TlsVersion::tls1_1: return TLS1_1_VERSION;
        case TlsVersion::tls1_2: return TLS1_2_VERSION;
        case TlsVersion::tls1_3:
#ifdef TLS1_3_VERSION
            return TLS1_3_VERSION;
#else
            return -1;
#endif
    }
    return -1;
}

void set_protocol_range(SSL_CTX* ctx, const ContextConfig& config) {
    if (config.min_version != TlsVersion::unspecified && config.max_version != TlsVersion::unspecified &&
        config.min_version > config.max_version)
        throw Error(ErrorKind::config, std::string("invalid SSL protocol version range: ssl_min_protocol_version ") +
                                           version_name(config.min_version) + " is above ssl_max_protocol_version " +
                                           version_name(config.max_version));
    int min = protocol_number(config.min_version);
    if (min < 0 || SSL_CTX_set_min_proto_version(ctx, min) != 1)
        throw Error(ErrorKind::config, std::string("ssl_min_protocol_version ") + version_name(config.min_version) +
                                           " is not supported by " + OpenSSL_version(OPENSSL_VERSION));
    int max = protocol_number(config.max_version);
    if (max < 0 || SSL_CTX_set_max_proto_version(ctx, max) != 1)
        throw Error(ErrorKind::config, std::string("ssl_max_protocol_version ") + version_name(config.max_version) +
                                           " is not supported by " + OpenSSL_version(OPENSSL_VERSION));
}

void load_trust(SSL_CTX* ctx, const ContextConfig& config) {
    X509_STORE* store = SSL_CTX_get_cert_store(ctx);
    const Material& ca = config.ca;
    switch (ca.kind) {
        case Material::Kind::none:
            throw Error(ErrorKind::config, "certificate verification requested but no root certificate "
                                           "(sslrootcert) was given");
        case Material::Kind::system:
            if (SSL_CTX_set_default_verify_paths(ctx) != 1)
                throw Error(ErrorKind::config, "could not load the system root certificate store: " + drain_errors());
            break;
        case Material::Kind::file:
        case Material::Kind::pem: {
            std::string storage;
            std::string label = label_of(ca, "root certificate file", "sslrootcert");
            PemObjects objects = parse_objects(bytes_of(ca, storage, "root certificate file"), label);
            if (objects.certs.empty()) throw Error(ErrorKind::config, "no certificates found in " + label);
            for (auto& cert : objects.certs)
                if (X509_STORE_add_cert(store, cert.get()) != 1)
                    throw Error(ErrorKind::tls, "could not add a certificate from " + label + ": " + drain_errors());
            // libpq loads the root file with X509_STORE_load_locations, which takes CRLs too.
            for (auto& crl : objects.crls) X509_STORE_add_crl(store, crl.get());
            ERR_clear_error();
            break;
        }
    }

    bool have_crl = false;
    if (config.crl.kind == Material::Kind::file || config.crl.kind == Material::Kind::pem) {
        std::string storage;
        std::string label = label_of(config.crl, "certificate revocation list file", "sslcrl");
        PemObjects objects = parse_objects(bytes_of(config.crl, storage, "certificate revocation list file"), label);
        if (objects.crls.empty()) throw Error(ErrorKind::config, "no certificate revocation lists found in " + label);
        for (auto& crl : objects.crls)
            if (X509_STORE_add_crl(store, crl.get()) != 1)
                throw Error(ErrorKind::tls, "could not add a CRL from " + label + ": " + drain_errors());
        have_crl = true;
    }
    if (!config.crl_dir.empty()) {
        struct stat st {};
        if (::stat(config.crl_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
            throw Error(ErrorKind::config, "certificate revocation list directory \"" + config.crl_dir +
                                               "\" (sslcrldir) is not a readable directory");
        X509_LOOKUP* lookup = X509_STORE_add_lookup(store, X509_LOOKUP_hash_dir());
        if (lookup == nullptr || X509_LOOKUP_add_dir(lookup, config.crl_dir.c_str(), X509_FILETYPE_PEM) != 1)
            throw Error(ErrorKind::config, "could not use certificate revocation list directory \"" +
                                               config.crl_dir + "\": " + drain_errors());
        have_crl = true;
    }
    // As libpq: once any CRL source is configured, every certificate in the chain must have
    // a CRL from its issuer.
    if (have_crl) X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);

    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_callback);
}

void load_client_identity(SSL_CTX* ctx, const ContextConfig& config) {
    if (!config.send_client_cert || config.cert.empty()) return;
    if (config.cert.kind == Material::Kind::system)
        throw Error(ErrorKind::config, "sslcert cannot be \"system\"");
    std::string cert_storage;
    std::string cert_label = label_of(config.cert, "certificate file", "sslcert");
    PemObjects chain = parse_objects(bytes_of(config.cert, cert_storage, "certificate file"), cert_label);
    if (chain.certs.empty()) throw Error(ErrorKind::config, "no certificate found in " + cert_label);
    if (SSL_CTX_use_certificate(ctx, chain.certs.front().get()) != 1)
        throw Error(ErrorKind::config, "could not use certificate from " + cert_label + ": " + drain_errors());
    for (std::size_t i = 1; i < chain.certs.size(); ++i)
        if (SSL_CTX_add1_chain_cert(ctx, chain.certs[i].get()) != 1)
            throw Error(ErrorKind::config, "could not use chain certificate from " + cert_label + ": " +
                                               drain_errors());

    if (config.key.empty() || config.key.kind == Material::Kind::system)
        throw Error(ErrorKind::config, "certificate present, but not private key (sslkey) for " + cert_label);
    std::string key_storage;
    std::string key_label = label_of(config.key, "private key file", "sslkey");
    PkeyPtr key = parse_private_key(bytes_of(config.key, key_storage, "private key file"), key_label,
                                    config.key_password);
    if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1)
        throw Error(ErrorKind::config, "certificate in " + cert_label + " does not match " + key_label + ": " +
                                           drain_errors());
}

void set_alpn(SSL_CTX* ctx, const std::vector<std::string>& protocols) {
    if (protocols.empty()) return;
    std::vector<unsigned char> wire;
    for (const std::string& p : protocols) {
        if (p.empty() || p.size() > 255)
            throw Error(ErrorKind::config, "invalid ALPN protocol name \"" + p + "\" (must be 1 to 255 bytes)");
        wire.push_back(static_cast<unsigned char>(p.size()));
        wire.insert(wire.end(), p.begin(), p.end());
    }
    // Unlike most of OpenSSL, 0 means success here.
    if (SSL_CTX_set_alpn_protos(ctx, wire.data(), static_cast<unsigned int>(wire.size())) != 0)
        throw Error(ErrorKind::tls, "could not set ALPN protocols: " + drain_errors());
}

}  // namespace

OpenSslContext::OpenSslContext(SslCtxPtr ctx, const ContextConfig& config)
    : ctx_(std::move(ctx)),
      keylog_file_(config.keylog_file),
      min_version_(config.min_version),
      max_version_(config.max_version) {}

std::shared_ptr<OpenSslContext> OpenSslContext::create(const ContextConfig& config) {
    ERR_clear_error();
    SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
    if (!ctx) throw Error(ErrorKind::tls, "could not create SSL context: " + drain_errors());
    SSL_CTX* c = ctx.get();

    // As libpq: no compression (CRIME), no renegotiation; no session resumption either, as
    // every connection runs a full handshake.
    std::uint64_t options = SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET;
#ifdef SSL_OP_NO_RENEGOTIATION
    options |= SSL_OP_NO_RENEGOTIATION;
#endif
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    // A TCP FIN without close_notify reads as end of stream. The PostgreSQL protocol frames
    // every message with its length, so the channel detects truncation itself; servers killed by
    // the postmaster close without close_notify and must read as a closed connection.
    options |= SSL_OP_IGNORE_UNEXPECTED_EOF;
#endif
    SSL_CTX_set_options(c, options);
    // Partial writes let write() report progress record by record on non-blocking sockets;
    // a retried write may then come from a different buffer address.
    SSL_CTX_set_mode(c, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_default_passwd_cb(c, refuse_password);

    set_protocol_range(c, config);
    if (config.verify_chain)
        load_trust(c, config);
    else
        SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
    load_client_identity(c, config);
    set_alpn(c, config.alpn);
    if (!config.keylog_file.empty()) SSL_CTX_set_keylog_callback(c, keylog_callback);
    ERR_clear_error();
    return std::make_shared<OpenSslContext>(std::move(ctx), config);
}

std::unique_ptr<Session> OpenSslContext::create_session(int fd, const SessionParams& params) {
    return std::make_unique<OpenSslSession>(shared_from_this(), fd, params);
}

}  // namespace pgtls::tls::openssl
