#!/usr/bin/env bash
# Generates the pgtls test PKI into DIR: the one PKI of the test rig, the conformance suite and
# every backend's own tests (tests/backends/<b>/).
# Idempotent: every run replaces the artifacts in DIR with fresh ones. Keys are 0600,
# certificates valid 3650 days, the CRL as long. Every artifact is checked with openssl.
# Password of every encrypted key: keypass.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
command -v openssl >/dev/null || { echo "make-pki.sh: openssl CLI not found" >&2; exit 1; }

DIR=$1
DAYS=3650
PASS=keypass
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
umask 077

# Work in a scratch dir inside DIR, then move the results in: a failed run never leaves a
# half-written PKI behind under the final names.
WORK=$(mktemp -d "$DIR/.make-pki.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
trap 'echo "make-pki.sh: command failed at line $LINENO" >&2' ERR
cd "$WORK"

# Our own config: never depend on the system openssl.cnf.
cat > pki.cnf <<'CNF'
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ v3_ca ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ v3_intermediate ]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ v3_server ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ v3_server_ec ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ v3_client ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ v3_client_ec ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ ca ]
default_ca = ca_default
[ ca_default ]
database = ca-db/index.txt
crlnumber = ca-db/crlnumber
default_md = sha256
default_crl_days = 3650
crl_extensions = crl_ext
[ crl_ext ]
authorityKeyIdentifier = keyid:always
CNF

SERIAL=4096
next_serial() { SERIAL=$((SERIAL + 1)); }

gen_rsa()   { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null; }
rsa_key()   { [[ -s $1 ]] || gen_rsa "$1"; }  # most were made in parallel below
ec_key()    { openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:$2" -out "$1"; }
ed_key()    { openssl genpkey -algorithm ED25519 -out "$1"; }

# self_signed_ca NAME CN DIGEST|-  (key NAME.key must exist)
self_signed_ca() {
    local name=$1 cn=$2 md=$3 mdarg=()
    [[ $md != - ]] && mdarg=("-$md")
    next_serial
    openssl req -config pki.cnf -new -x509 -key "$name.key" "${mdarg[@]}" -days "$DAYS" \
        -subj "/O=pgtls test/CN=$cn" -extensions v3_ca -set_serial "$SERIAL" -out "$name.crt"
}

# leaf NAME SUBJECT CA DIGEST|- EXTSECTION [SAN]   (key NAME.key must exist)
leaf() {
    local name=$1 subj=$2 ca=$3 md=$4 section=$5 san=${6:-} mdarg=()
    [[ $md != - ]] && mdarg=("-$md")
    next_serial
    { sed -n "/^\[ $section \]/,/^\[/p" pki.cnf | sed '$d' | sed '1d'
      if [[ -n $san ]]; then echo "subjectAltName = $san"; fi; } > "$name.ext"
    openssl req -config pki.cnf -new -key "$name.key" -subj "$subj" -out "$name.csr"
    openssl x509 -req -in "$name.csr" -CA "$ca.crt" -CAkey "$ca.key" "${mdarg[@]}" \
        -set_serial "$SERIAL" -days "$DAYS" -extfile "$name.ext" -out "$name.crt" 2>/dev/null
    rm -f "$name.csr" "$name.ext"
}

# RSA key generation dominates the run time: make them all at once.
pids=()
for k in ca other-ca client-ca server server-wildcard server-wrongname server-cn-only server-ip-cn \
         server-cn-hidden server-ip-cn-dns-san server-rsa-sha1 server-rsa-sha512 server-revoked \
         client-pkcs8 client-other intermediate-ca server-chain client-intermediate-ca client-chain \
         server-clientauth server-multi-cn; do
    gen_rsa "$k.key" & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done

# --- roots -----------------------------------------------------------------------------
rsa_key ca.key;              self_signed_ca ca "pgtls test root CA" sha256
ec_key ca-ecdsa.key P-384;   self_signed_ca ca-ecdsa "pgtls test ECDSA root CA" sha384
ed_key ca-ed25519.key;       self_signed_ca ca-ed25519 "pgtls test Ed25519 root CA" -
rsa_key other-ca.key;        self_signed_ca other-ca "pgtls unrelated root CA" sha256
rsa_key client-ca.key;       self_signed_ca client-ca "pgtls test client CA" sha256
cat ca.crt ca-ecdsa.crt ca-ed25519.crt > ca-bundle.crt

# --- servers ---------------------------------------------------------------------------
LOCAL_SAN="DNS:localhost, IP:127.0.0.1"
rsa_key server.key
leaf server "/O=pgtls test/CN=localhost" ca sha256 v3_server "DNS:localhost, IP:127.0.0.1, IP:::1"
rsa_key server-wildcard.key
leaf server-wildcard "/O=pgtls test/CN=wildcard.pgtls.test" ca sha256 v3_server "DNS:*.pgtls.test"
rsa_key server-wrongname.key
leaf server-wrongname "/O=pgtls test/CN=wrong.example" ca sha256 v3_server "DNS:wrong.example"
rsa_key server-cn-only.key
leaf server-cn-only "/O=pgtls test/CN=localhost" ca sha256 v3_server
rsa_key server-ip-cn.key
leaf server-ip-cn "/O=pgtls test/CN=127.0.0.1" ca sha256 v3_server
# Beyond the brief's list, for the host-name rules: a CN that a dNSName SAN must hide, and
# an IP CN that an IP host still matches when the SANs hold only dNSNames (libpq's rule).
rsa_key server-cn-hidden.key
leaf server-cn-hidden "/O=pgtls test/CN=cn.pgtls.test" ca sha256 v3_server "DNS:san.pgtls.test"
rsa_key server-ip-cn-dns-san.key
leaf server-ip-cn-dns-san "/O=pgtls test/CN=127.0.0.1" ca sha256 v3_server "DNS:localhost"
ec_key server-ecdsa384.key P-384
leaf server-ecdsa384 "/O=pgtls test/CN=localhost" ca-ecdsa sha384 v3_server_ec "$LOCAL_SAN"
rsa_key server-rsa-sha1.key
leaf server-rsa-sha1 "/O=pgtls test/CN=localhost" ca sha1 v3_server "$LOCAL_SAN"
rsa_key server-rsa-sha512.key
leaf server-rsa-sha512 "/O=pgtls test/CN=localhost" ca sha512 v3_server "$LOCAL_SAN"
ed_key server-ed25519.key
leaf server-ed25519 "/O=pgtls test/CN=localhost" ca-ed25519 - v3_server_ec "$LOCAL_SAN"
rsa_key server-revoked.key
leaf server-revoked "/O=pgtls test/CN=localhost" ca sha256 v3_server "$LOCAL_SAN"
# For the backends' own tests: a leaf whose extendedKeyUsage is clientAuth only (a chain check
# must refuse it as a server), and two CNs with no SAN, signed with SHA-512.
rsa_key server-clientauth.key
leaf server-clientauth "/O=pgtls test/CN=localhost" ca sha256 v3_client "$LOCAL_SAN"
rsa_key server-multi-cn.key
leaf server-multi-cn "/O=pgtls test/CN=localhost/CN=second.example" ca sha512 v3_server

# Chains through an intermediate: the *-chain.crt files hold leaf + intermediate, so a peer
# that trusts only the root verifies them only if the whole chain is sent.
rsa_key intermediate-ca.key
leaf intermediate-ca "/O=pgtls test/CN=pgtls test intermediate CA" ca sha256 v3_intermediate
rsa_key server-chain.key
leaf server-chain "/O=pgtls test/CN=localhost" intermediate-ca sha256 v3_server "$LOCAL_SAN"
cat intermediate-ca.crt >> server-chain.crt

# --- CRL of ca revoking server-revoked ----------------------------------------------------
mkdir ca-db
: > ca-db/index.txt
echo 1000 > ca-db/crlnumber
openssl ca -config pki.cnf -batch -keyfile ca.key -cert ca.crt -revoke server-revoked.crt \
    -crl_reason keyCompromise 2>/dev/null
openssl ca -config pki.cnf -batch -keyfile ca.key -cert ca.crt -gencrl -crldays "$DAYS" \
    -out ca.crl 2>/dev/null
rm -rf ca-db
# An empty CRL of other-ca: on its own it leaves every certificate of ca uncovered.
mkdir ca-db
: > ca-db/index.txt
echo 1000 > ca-db/crlnumber
openssl ca -config pki.cnf -batch -keyfile other-ca.key -cert other-ca.crt -gencrl -crldays "$DAYS" \
    -out other-ca.crl 2>/dev/null
rm -rf ca-db
mkdir crl-dir
cp ca.crl crl-dir/ca.crl
openssl rehash crl-dir
mkdir empty-crl-dir
cat ca.crt ca.crl > ca-with-crl.crt   # libpq takes the CRLs inside sslrootcert too

# --- clients ---------------------------------------------------------------------------
rsa_key client-pkcs8.key
openssl pkey -in client-pkcs8.key -traditional -out client.key          # PKCS#1 "RSA PRIVATE KEY"
leaf client "/O=pgtls test/CN=certuser" client-ca sha256 v3_client
openssl pkcs8 -topk8 -in client-pkcs8.key -v2 aes-256-cbc -passout "pass:$PASS" -out client-encrypted.key
openssl pkey -in client-pkcs8.key -traditional -aes-256-cbc -passout "pass:$PASS" -out client-pkcs1-encrypted.key
ec_key client-ecdsa-pkcs8.key P-256
openssl ec -in client-ecdsa-pkcs8.key -out client-ecdsa.key 2>/dev/null  # SEC1 "EC PRIVATE KEY"
leaf client-ecdsa "/O=pgtls test/CN=certuser" client-ca sha256 v3_client_ec
openssl pkcs8 -topk8 -in client-ecdsa-pkcs8.key -v2 aes-256-cbc -passout "pass:$PASS" -out client-ecdsa-encrypted.key
rsa_key client-other.key
leaf client-other "/O=pgtls test/CN=certuser" other-ca sha256 v3_client
rsa_key client-intermediate-ca.key
leaf client-intermediate-ca "/O=pgtls test/CN=pgtls test client intermediate CA" client-ca sha256 v3_intermediate
rsa_key client-chain.key
leaf client-chain "/O=pgtls test/CN=certuser" client-intermediate-ca sha256 v3_client
cat client-intermediate-ca.crt >> client-chain.crt
# More encodings of the client key for the backends' loaders: PKCS#8 with 3DES and with
# AES-128 + HMAC-SHA512, and DER (PKCS#8 plain and encrypted); DER copies of certificates.
openssl pkcs8 -topk8 -in client-pkcs8.key -v2 des3 -passout "pass:$PASS" -out client-encrypted-des3.key
openssl pkcs8 -topk8 -in client-pkcs8.key -v2 aes-128-cbc -v2prf hmacWithSHA512 -passout "pass:$PASS" \
    -out client-encrypted-aes128-sha512.key
openssl pkcs8 -topk8 -nocrypt -in client-pkcs8.key -outform DER -out client.key.der
openssl pkcs8 -topk8 -in client-pkcs8.key -v2 aes-256-cbc -passout "pass:$PASS" -outform DER -out client-encrypted.key.der
for c in ca server client; do openssl x509 -in "$c.crt" -outform DER -out "$c.der"; done

# --- checks ------------------------------------------------------------------------------
fail() { echo "make-pki.sh: check failed: $*" >&2; exit 1; }
head1() { head -n1 "$1"; }
for c in ca ca-ecdsa ca-ed25519 other-ca client-ca; do
    openssl verify -CAfile "$c.crt" "$c.crt" >/dev/null || fail "$c.crt"
done
for s in server server-wildcard server-wrongname server-cn-only server-ip-cn server-rsa-sha1 \
         server-rsa-sha512 server-revoked server-cn-hidden server-ip-cn-dns-san; do
    openssl verify -CAfile ca.crt "$s.crt" >/dev/null || fail "$s.crt"
done
openssl verify -CAfile ca.crt server-multi-cn.crt >/dev/null || fail server-multi-cn.crt
if openssl verify -CAfile ca.crt -purpose sslserver server-clientauth.crt >/dev/null 2>&1; then
    fail "server-clientauth.crt must not verify as a server"; fi
openssl crl -in other-ca.crl -CAfile other-ca.crt -noout 2>/dev/null || fail "other-ca.crl signature"
openssl verify -CAfile ca-ecdsa.crt server-ecdsa384.crt >/dev/null || fail server-ecdsa384.crt
openssl verify -CAfile ca-ed25519.crt server-ed25519.crt >/dev/null || fail server-ed25519.crt
for s in server server-ecdsa384 server-ed25519 server-revoked; do
    openssl verify -CAfile ca-bundle.crt "$s.crt" >/dev/null || fail "$s.crt with ca-bundle.crt"
done
openssl verify -CAfile client-ca.crt client.crt client-ecdsa.crt >/dev/null || fail client certs
openssl verify -CAfile other-ca.crt client-other.crt >/dev/null || fail client-other.crt
openssl verify -CAfile ca.crt -untrusted server-chain.crt server-chain.crt >/dev/null || fail server-chain.crt
openssl verify -CAfile client-ca.crt -untrusted client-chain.crt client-chain.crt >/dev/null || fail client-chain.crt
if openssl verify -CAfile ca.crt server-chain.crt >/dev/null 2>&1; then fail "server-chain.crt verifies without its intermediate"; fi
[[ $(grep -c 'BEGIN CERTIFICATE' server-chain.crt) == 2 && $(grep -c 'BEGIN CERTIFICATE' client-chain.crt) == 2 ]] || fail "chain files"

if openssl verify -CAfile client-ca.crt client-other.crt >/dev/null 2>&1; then fail "client-other.crt must not verify"; fi
openssl crl -in ca.crl -CAfile ca.crt -noout 2>/dev/null || fail "ca.crl signature"
openssl verify -crl_check -CAfile ca.crt -CRLfile ca.crl server.crt >/dev/null || fail "server.crt with CRL"
if openssl verify -crl_check -CAfile ca.crt -CRLfile ca.crl server-revoked.crt >/dev/null 2>&1; then
    fail "server-revoked.crt must be rejected by ca.crl"; fi
if openssl verify -crl_check -CAfile ca.crt -CApath crl-dir server-revoked.crt >/dev/null 2>&1; then
    fail "server-revoked.crt must be rejected by crl-dir"; fi
openssl verify -crl_check -CAfile ca.crt -CApath crl-dir server.crt >/dev/null || fail "server.crt with crl-dir"
ls crl-dir/*.r0 >/dev/null 2>&1 || fail "crl-dir has no hashed link"
sigalg() { openssl x509 -in "$1" -noout -text | sed -n 's/^ *Signature Algorithm: *//p' | head -n1; }
[[ $(sigalg server.crt) == sha256WithRSAEncryption ]] || fail "server.crt sigalg"
[[ $(sigalg server-rsa-sha1.crt) == sha1WithRSAEncryption ]] || fail "server-rsa-sha1.crt sigalg"
[[ $(sigalg server-rsa-sha512.crt) == sha512WithRSAEncryption ]] || fail "server-rsa-sha512.crt sigalg"
[[ $(sigalg server-ecdsa384.crt) == ecdsa-with-SHA384 ]] || fail "server-ecdsa384.crt sigalg"
[[ $(sigalg server-ed25519.crt) == ED25519 ]] || fail "server-ed25519.crt sigalg"
[[ $(head1 client.key) == "-----BEGIN RSA PRIVATE KEY-----" ]] || fail "client.key is not PKCS#1"
[[ $(head1 client-pkcs8.key) == "-----BEGIN PRIVATE KEY-----" ]] || fail "client-pkcs8.key is not PKCS#8"
[[ $(head1 client-encrypted.key) == "-----BEGIN ENCRYPTED PRIVATE KEY-----" ]] || fail "client-encrypted.key"
grep -q '^DEK-Info: ' client-pkcs1-encrypted.key || fail "client-pkcs1-encrypted.key has no DEK-Info"
[[ $(head1 client-ecdsa.key) == "-----BEGIN EC PRIVATE KEY-----" ]] || fail "client-ecdsa.key is not SEC1"
[[ $(head1 client-ecdsa-pkcs8.key) == "-----BEGIN PRIVATE KEY-----" ]] || fail "client-ecdsa-pkcs8.key"
[[ $(head1 client-ecdsa-encrypted.key) == "-----BEGIN ENCRYPTED PRIVATE KEY-----" ]] || fail "client-ecdsa-encrypted.key"
for k in client-encrypted client-pkcs1-encrypted client-ecdsa-encrypted client-encrypted-des3 \
         client-encrypted-aes128-sha512; do
    openssl pkey -in "$k.key" -passin "pass:$PASS" -noout 2>/dev/null || fail "$k.key with the password"
    if openssl pkey -in "$k.key" -passin pass:wrong -noout >/dev/null 2>&1; then fail "$k.key opens with a wrong password"; fi
done
for pair in client:client client:client-pkcs8 client-ecdsa:client-ecdsa client-ecdsa:client-ecdsa-pkcs8 \
            server:server server-ecdsa384:server-ecdsa384 server-ed25519:server-ed25519; do
    c=${pair%%:*} k=${pair##*:}
    [[ $(openssl x509 -in "$c.crt" -noout -pubkey) == $(openssl pkey -in "$k.key" -pubout) ]] || fail "$k.key does not match $c.crt"
done
[[ $(openssl pkey -in client.key.der -inform DER -pubout) == $(openssl x509 -in client.crt -noout -pubkey) ]] || fail client.key.der
openssl pkey -in client-encrypted.key.der -inform DER -passin "pass:$PASS" -noout 2>/dev/null || fail client-encrypted.key.der

# --- install -------------------------------------------------------------------------------
rm -f pki.cnf ./*.srl
chmod 0600 ./*.key
chmod 0600 ./*.key.der
chmod 0644 ./*.crt ./*.crl ca.der server.der client.der
chmod 0755 crl-dir empty-crl-dir
chmod 0644 crl-dir/ca.crl
rm -rf "$DIR/crl-dir" "$DIR/empty-crl-dir"
for f in ./*.crt ./*.key ./*.crl ./*.der; do mv -f "$f" "$DIR/"; done
mv crl-dir "$DIR/crl-dir"
mv empty-crl-dir "$DIR/empty-crl-dir"
echo "make-pki.sh: test PKI written to $DIR"
