// The seam between the library and a TLS stack. A backend implements Backend, Context and
// Session; the layers above never see OpenSSL, GnuTLS, mbedTLS or wolfSSL types and never #ifdef on them.
//
// Division of labour:
//  - the backend verifies the certificate chain (CA bundle or system store, CRL file/dir)
//    when ContextConfig::verify_chain is set, and reports the peer certificate's names;
//  - the tls layer checks the host name (src/tls/hostname.hpp) with libpq's rules, identically for
//    every backend, and computes channel binding in auth/ from the peer certificate.
//
// Errors, for every function below: a problem the user can fix (a file, a setting, a key) is
// thrown as pgtls::Error(ErrorKind::config) whose message names the file or setting; a failure
// of the library itself (out of memory, an impossible state) is Error(ErrorKind::tls) whose
// message starts with what was being done ("could not create a GnuTLS session: ...",
// "mbedtls: could not ..."); a caller's mistake is Error(ErrorKind::usage). Nothing else is
// thrown (std::bad_alloc aside). Failures of the connection itself are never thrown: Session
// returns them as IoResult{IoStatus::error, 0, message}. The exact texts are each backend's
// (its README lists them); the shapes below are the contract the conformance suite
// (tests/backends) checks on every backend. The backend kit in src/tls (key log, DER reader,
// CRL coverage, material loader, names, host names) gives the parts that must read the same.
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
#include "pgtls/error.hpp"

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
    // The kinds of the entries above in certificate order, 'd' (dNSName) or 'i' (iPAddress):
    // libpq scans them in that order and stops at the first match or error. Empty, or not
    // one letter per entry: every dNSName, then every iPAddress.
    std::string san_order;
    std::vector<std::string> common_names;           // subject CN attribute(s)
    std::string subject;                             // one-line RFC 2253-ish, for display
    std::string issuer;
    // Hash of the certificate's signature algorithm; nullopt when it has none usable
    // (e.g. Ed25519) — auth/ then applies libpq's rule.
    std::optional<crypto::Hash> signature_hash;
};

struct SessionInfo {
    std::string protocol;   // "TLSv1.3"
    std::string cipher;     // OpenSSL's name of the suite (src/tls/tls_names.hpp)
    std::string alpn;       // selected protocol, empty if none
};

// One TLS connection over a connected socket that the caller owns (the session never closes
// it). Works on blocking and non-blocking sockets: on a non-blocking socket every call may
// return want_read / want_write, and the caller polls the fd and calls again with the same
// arguments. No member throws; every failure is an IoResult with status error and a one-line
// `error` for the user (core prefixes "SSL error: " unless it starts with "SSL "). After an
// error result the caller makes no further handshake, read or write call.
class Session {
public:
    virtual ~Session() = default;

    // Runs the client handshake to completion (SNI and ALPN as configured; chain verification
    // when ContextConfig::verify_chain). Returns:
    //   ok                      handshake done; info() and peer_certificate() are valid
    //   want_read / want_write  call again when the fd is readable / writable
    //   error                   with `error`, e.g.
    //     "... certificate verify failed: <reason>"     chain not trusted, expired, revoked or
    //                                                   without the CRLs the CRL-coverage rule
    //                                                   asks for (src/tls/crl_coverage.hpp)
    //     "... the server sent a fatal TLS alert: <alert>" / the library's alert text
    //     "... <protocol versions> ..."                 no version in common (names from
    //                                                   src/tls/tls_names.hpp)
    //     "SSL SYSCALL error: <strerror>"               socket error (OpenSSL's spelling; the
    //                                                   others say "could not ... : <strerror>")
    //   closed                  the server closed the connection mid-handshake (core reports
    //                           "SSL connection has been closed unexpectedly during the
    //                           handshake"); OpenSSL returns an error naming it instead
    virtual IoResult handshake() = 0;

    // Up to `len` decrypted bytes into `buf`. ok with bytes > 0; closed on the server's
    // close_notify or a clean EOF at a record boundary; want_read / want_write (TLS may need
    // to write while reading); error with `error` for a socket error, a truncated record or
    // a fatal alert.
    virtual IoResult read(void* buf, std::size_t len) = 0;

    // Encrypts and sends up to `len` bytes; ok with bytes in 1..len (may be less than len: the
    // caller writes the rest). A want_* result must be retried with the same buffer and
    // length. error with a message naming the socket error (<strerror>) or the library's reason.
    virtual IoResult write(const void* buf, std::size_t len) = 0;

    // Best-effort close_notify; never waits for the server's. ok, want_*, or error (ignored
    // by core, which closes the socket anyway).
    virtual IoResult shutdown() = 0;

    // Decrypted bytes buffered inside the library that read() returns without touching the
    // socket (so a poll on the fd would wait for nothing).
    virtual std::size_t pending() const = 0;

    // Protocol and cipher in OpenSSL's spelling (src/tls/tls_names.hpp) and the selected
    // ALPN protocol, after a successful handshake; all empty before.
    virtual SessionInfo info() const = 0;

    // The server's leaf certificate after the handshake (verified or not); nullopt before the
    // handshake or when the server sent none.
    virtual std::optional<PeerCertificate> peer_certificate() const = 0;
    // True when the server sent a CertificateRequest (for sslcertmode=require).
    virtual bool client_certificate_requested() const = 0;
    // True when a client certificate was actually sent.
    virtual bool client_certificate_sent() const = 0;
    // What the server's first bytes were, as the session's own socket reads returned them
    // during the handshake (src/tls/peer_answer_probe.hpp): nothing before any byte came (also
    // after an EOF without a byte), tls when they started a TLS record, not_tls otherwise.
    // Exact whatever one handshake() call read: bytes and EOF consumed by the library inside one
    // call are counted. Valid at any time, in particular after a failed handshake (core's
    // sslnegotiation=direct hint, Error::tls_peer_answer()). Default: unknown (a session that
    // does not look, e.g. GSSAPI).
    virtual TlsPeerAnswer peer_answer() const noexcept { return TlsPeerAnswer::unknown; }
    // Non-fatal problems met so far, for the caller to surface (e.g. the key log file could
    // not be opened: libpq warns and goes on; texts in src/tls/key_log_file.hpp). Never
    // contains secrets. Default: none.
    virtual std::vector<std::string> warnings() const { return {}; }
};

// Per-session parameters.
struct SessionParams {
    std::string sni;  // server name to send; empty: send none (IP literal or sslsni=0)
};

// Configured, reusable across connections (a pool makes one). Thread-safe for create_session.
// A session may outlive the Context object it came from.
class Context {
public:
    virtual ~Context() = default;
    // A session over the connected socket `fd` (blocking or not; not taken over) that has not
    // started its handshake. Throws Error(usage) for a negative fd ("TLS session needs a
    // connected socket (got fd -1)" or "TLS session requested on an invalid socket"),
    // Error(tls) when the library cannot make a session ("could not create a GnuTLS session:
    // <reason>", "mbedtls: could not create a TLS session: <reason>", ...), or Error(tls) for
    // an SNI name the library refuses.
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

// One TLS stack. Stateless and alive for the whole program (the registry holds a static one).
class Backend {
public:
    virtual ~Backend() = default;
    // The sslbackend value that selects it: "openssl", "gnutls", "mbedtls", "wolfssl".
    virtual std::string_view name() const noexcept = 0;
    // The library's own version line, for diagnostics: "OpenSSL 3.0.19 ...", "mbed TLS 2.28.x".
    virtual std::string library_version() const = 0;
    // Capability bits; a feature whose bit is absent is refused by create_context (never
    // silently ignored) and skipped by the conformance suite.
    virtual std::uint32_t capabilities() const noexcept = 0;
    // Loads everything in `config` up front, so a bad file or setting fails here and not in a
    // handshake. Throws Error(config) with a message naming the file or setting, e.g.
    //   could not read root certificate file "PATH": <strerror>   (each backend's wording of
    //                                                           src/tls/material.hpp)
    //   certificate verification requested but no root certificate (sslrootcert) given
    //   invalid SSL protocol version range: ...              (version names: tls_names.hpp)
    //   invalid ALPN protocol name "NAME" (1 to 255 bytes)
    //   certificate present, but not private key: ...        / a wrong sslpassword naming the key
    //   sslkeylogfile is not supported by the wolfssl backend: ... (without cap_keylog)
    // and Error(tls) when the library fails ("could not allocate GnuTLS credentials: ...").
    virtual std::shared_ptr<Context> create_context(const ContextConfig& config) const = 0;
    // The crypto::Provider on the same library (SCRAM, MD5 and channel-binding hashes).
    virtual const crypto::Provider& crypto() const noexcept = 0;
};

// Registry of the backends compiled in (src/backends/registry.cpp), in build order.
const std::vector<const Backend*>& available_backends();
// Empty name: the build's default. Throws Error(config):
//   sslbackend "NAME" is not compiled into this pgtls; available: openssl, gnutls, ...
//   TLS requested but this pgtls was built without any TLS backend (plaintext only); ...
const Backend& find_backend(std::string_view name);
// Crypto for builds without any TLS backend: throws when used (no SCRAM/MD5 possible).
const crypto::Provider& default_crypto();

}  // namespace pgtls::tls
