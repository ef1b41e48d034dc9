// The seam between core/ and a TLS stack. A backend implements Backend, Context and
// Session; core/ never sees OpenSSL, GnuTLS or mbedTLS types and never #ifdefs on them.
//
// Division of labour:
//  - the backend verifies the certificate chain (CA bundle or system store, CRL file/dir)
//    when ContextConfig::verify_chain is set, and reports the peer certificate's names;
//  - core/ checks the host name (src/tls/hostname.hpp) with libpq's rules, identically for
//    every backend, and computes channel binding in auth/ from the peer certificate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/crypto.hpp"
#include "pgtls/config.hpp"

namespace pgtls::tls {

// TLS material for a context. `kind == file` reads `value` as a path; `pem` uses the bytes;
// `system` (CA only) loads the platform trust store.
struct Material {
    enum class Kind { none, file, pem, system };
    Kind kind = Kind::none;
    std::string value;
    bool empty() const { return kind == Kind::none; }
};

struct ContextConfig {
    bool verify_chain = false;         // verify-ca / verify-full (and require with a root cert)
    Material ca;                       // required when verify_chain (core checks before calling)
    Material crl;                      // file or PEM; optional
    std::string crl_dir;               // directory of CRLs (hashed names, as OpenSSL's -CRLpath); optional
    Material cert;                     // client certificate (chain allowed in the PEM); optional
    Material key;                      // client private key; PKCS#1, SEC1 or PKCS#8, maybe encrypted
    std::string key_password;          // sslpassword; empty = none. A wrong password is an Error
                                       // naming the key, never an interactive prompt.
    bool send_client_cert = true;      // sslcertmode=disable -> false
    TlsVersion min_version = TlsVersion::tls1_2;
    TlsVersion max_version = TlsVersion::unspecified;  // unspecified: the library's highest
    std::vector<std::string> alpn;     // protocols to offer, in order (core passes {"postgresql"})
    std::string keylog_file;           // NSS key log; empty = off. Open failures -> warning only.
};

enum class IoStatus { ok, want_read, want_write, closed, error };

struct IoResult {
    IoStatus status = IoStatus::ok;
    std::size_t bytes = 0;             // bytes read/written when status == ok
    std::string error;                 // message when status == error
};

// Names in the server certificate, raw, for core's libpq-compatible host-name check.
struct PeerCertificate {
    std::vector<std::uint8_t> der;                   // leaf certificate, DER
    std::vector<std::string> san_dns;                // dNSName entries, as bytes in the cert
    std::vector<std::vector<std::uint8_t>> san_ip;   // iPAddress entries: 4 or 16 bytes
    std::vector<std::string> common_names;           // subject CN attribute(s)
    std::string subject;                             // one-line RFC 2253-ish, for display
    std::string issuer;
    // Hash of the certificate's signature algorithm; nullopt when it has none usable
    // (e.g. Ed25519) — auth/ then applies libpq's rule.
    std::optional<crypto::Hash> signature_hash;
};

struct SessionInfo {
    std::string protocol;   // "TLSv1.3"
    std::string cipher;     // IANA or library name of the suite
    std::string alpn;       // selected protocol, empty if none
};

// One TLS connection over a connected socket that the caller owns (the session never closes
// it). Works on blocking and non-blocking sockets: on a non-blocking socket every call may
// return want_read / want_write, and the caller polls the fd and calls again.
class Session {
public:
    virtual ~Session() = default;
    virtual IoResult handshake() = 0;
    virtual IoResult read(void* buf, std::size_t len) = 0;        // closed on clean EOF
    virtual IoResult write(const void* buf, std::size_t len) = 0; // may write less than len
    virtual IoResult shutdown() = 0;                              // best effort close_notify
    virtual std::size_t pending() const = 0;   // decrypted bytes buffered inside the library
    virtual SessionInfo info() const = 0;
    virtual std::optional<PeerCertificate> peer_certificate() const = 0;
    // True when the server sent a CertificateRequest (for sslcertmode=require).
    virtual bool client_certificate_requested() const = 0;
    // True when a client certificate was actually sent.
    virtual bool client_certificate_sent() const = 0;
    // Non-fatal problems met so far, for the caller to surface (e.g. the key log file could
    // not be opened: libpq warns and goes on). Never contains secrets. Default: none.
    virtual std::vector<std::string> warnings() const { return {}; }
};

// Per-session parameters.
struct SessionParams {
    std::string sni;  // server name to send; empty: send none (IP literal or sslsni=0)
};

// Configured, reusable across connections (a pool makes one). Thread-safe for create_session.
class Context {
public:
    virtual ~Context() = default;
    virtual std::unique_ptr<Session> create_session(int fd, const SessionParams& params) = 0;
};

enum Capability : std::uint32_t {
    cap_tls12 = 1u << 0,
    cap_tls13 = 1u << 1,
    cap_alpn = 1u << 2,
    cap_sni = 1u << 3,
    cap_crl_file = 1u << 4,
    cap_crl_dir = 1u << 5,
    cap_system_ca = 1u << 6,
    cap_encrypted_keys = 1u << 7,
    cap_keylog = 1u << 8,
    cap_pem_in_memory = 1u << 9,
};

class Backend {
public:
    virtual ~Backend() = default;
    virtual std::string_view name() const noexcept = 0;           // "openssl"
    virtual std::string library_version() const = 0;             // "OpenSSL 3.0.19 ..."
    virtual std::uint32_t capabilities() const noexcept = 0;      // Capability bits
    // Throws pgtls::Error(ErrorKind::tls or config) with a message naming the file/setting.
    virtual std::shared_ptr<Context> create_context(const ContextConfig& config) const = 0;
    virtual const crypto::Provider& crypto() const noexcept = 0;
};

// Registry of the backends compiled in (backends/registry.cpp).
const std::vector<const Backend*>& available_backends();
// Empty name: the build's default. Throws Error(config) listing the compiled backends.
const Backend& find_backend(std::string_view name);
// Crypto for builds without any TLS backend: throws when used (no SCRAM/MD5 possible).
const crypto::Provider& default_crypto();

}  // namespace pgtls::tls
