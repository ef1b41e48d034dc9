#!/bin/sh
# Certificates for the OpenSSL backend's own tests: make-test-certs.sh DIR.
# (The cross-backend suite uses scripts/make-pki.sh; this stays small and self-contained.)
set -eu
dir=$1
mkdir -p "$dir"
cd "$dir"
umask 077

cat > openssl.cnf <<'CNF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
default_ca = testca
[testca]
database = index.txt
crlnumber = crlnumber
default_md = sha256
default_crl_days = 3650
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = CA:FALSE
subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1
[client]
basicConstraints = CA:FALSE
CNF

q() { "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; "$@"; exit 1; }; }

root() {  # name keyalg subject
    q openssl req -config openssl.cnf -x509 -extensions v3_ca -newkey "$2" -nodes \
        -keyout "$1.key" -out "$1.crt" -days 3650 -subj "$3"
}
leaf() {  # name keyalg subject ca extensions [digest]
    q openssl req -config openssl.cnf -new -newkey "$2" -nodes -keyout "$1.key" -out "$1.csr" -subj "$3"
    q openssl x509 -req -in "$1.csr" -CA "$4.crt" -CAkey "$4.key" -CAcreateserial -out "$1.crt" \
        -days 3650 -extfile openssl.cnf -extensions "$5" ${6:+"-$6"}
    rm -f "$1.csr"
}

root ca rsa:2048 "/CN=pgtls test CA"
q openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other-ca.key
q openssl req -config openssl.cnf -x509 -extensions v3_ca -key other-ca.key -out other-ca.crt -days 3650 \
    -subj "/CN=other CA"
q openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out ca-ecdsa.key
q openssl req -config openssl.cnf -x509 -extensions v3_ca -key ca-ecdsa.key -out ca-ecdsa.crt -days 3650 \
    -subj "/CN=pgtls ECDSA CA" -sha384
root ca-ed25519 ed25519 "/CN=pgtls Ed25519 CA"
root client-ca rsa:2048 "/CN=pgtls client CA"

leaf server rsa:2048 "/O=pgtls/CN=localhost" ca server sha256
leaf server-revoked rsa:2048 "/CN=localhost" ca server sha256
q openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out server-ecdsa384.key
q openssl req -config openssl.cnf -new -key server-ecdsa384.key -out server-ecdsa384.csr -subj "/CN=localhost"
q openssl x509 -req -in server-ecdsa384.csr -CA ca-ecdsa.crt -CAkey ca-ecdsa.key -CAcreateserial \
    -out server-ecdsa384.crt -days 3650 -extfile openssl.cnf -extensions server -sha384
leaf server-ed25519 ed25519 "/CN=localhost" ca-ed25519 server

# Client identities: EC (SEC1 / encrypted PKCS#8) and RSA (legacy DEK-Info encryption).
q openssl ecparam -name prime256v1 -genkey -noout -out client.key
q openssl req -config openssl.cnf -new -key client.key -out client.csr -subj "/CN=certuser"
q openssl x509 -req -in client.csr -CA client-ca.crt -CAkey client-ca.key -CAcreateserial -out client.crt \
    -days 3650 -extfile openssl.cnf -extensions client -sha256
q openssl pkcs8 -topk8 -in client.key -out client-encrypted.key -v2 aes-256-cbc -passout pass:keypass
leaf client-rsa rsa:2048 "/CN=certuser" client-ca client sha256
q openssl rsa -in client-rsa.key -traditional -aes256 -passout pass:keypass -out client-rsa-legacy-encrypted.key
q openssl pkey -in client-rsa.key -outform DER -out client-rsa.der

# CA's CRL revoking server-revoked, and the same CRL as a hashed directory.
: > index.txt
echo 1000 > crlnumber
q openssl ca -config openssl.cnf -keyfile ca.key -cert ca.crt -revoke server-revoked.crt
q openssl ca -config openssl.cnf -keyfile ca.key -cert ca.crt -gencrl -out ca.crl
mkdir -p crl-dir
cp ca.crl crl-dir/
q openssl rehash crl-dir
