#!/bin/sh
# Test PKI for the mbedTLS backend tests, generated with the openssl CLI into $1.
# Password of every encrypted key: keypass.
set -eu
dir=$1
mkdir -p "$dir"
cd "$dir"
umask 077
days=30
q() { "$@" >/dev/null 2>&1; }

ca() {  # name subject keyalg...
    name=$1; subj=$2; shift 2
    q openssl req -x509 -new -newkey "$@" -nodes -keyout "$name.key" -out "$name.crt" -days $days -subj "$subj" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}
leaf() {  # name issuer subject san digest keyalg...
    name=$1; issuer=$2; subj=$3; san=$4; md=$5; shift 5
    q openssl req -new -newkey "$@" -nodes -keyout "$name.key" -out "$name.csr" -subj "$subj"
    ext="basicConstraints=CA:FALSE"
    if [ -n "$san" ]; then printf '%s\nsubjectAltName=%s\n' "$ext" "$san" > "$name.ext"; else echo "$ext" > "$name.ext"; fi
    if [ "$md" = none ]; then mdarg=""; else mdarg="-$md"; fi
    q openssl x509 -req -in "$name.csr" -CA "$issuer.crt" -CAkey "$issuer.key" -CAcreateserial $mdarg \
        -out "$name.crt" -days $days -extfile "$name.ext"
    rm -f "$name.csr" "$name.ext"
}

ca ca /CN=pgtls-test-ca rsa:2048
ca other-ca /CN=pgtls-other-ca rsa:2048
ca client-ca /CN=pgtls-client-ca rsa:2048
ca ca-ecdsa /CN=pgtls-test-ca-ecdsa ec -pkeyopt ec_paramgen_curve:P-384
ca ca-ed25519 /CN=pgtls-test-ca-ed25519 ed25519
cat ca.crt ca-ecdsa.crt ca-ed25519.crt > ca-bundle.crt

leaf server ca /CN=localhost "DNS:localhost,IP:127.0.0.1,IP:::1" sha256 rsa:2048
leaf server-wrongname ca /CN=wrong.example "DNS:wrong.example" sha256 rsa:2048
leaf server-ecdsa384 ca-ecdsa /CN=localhost "DNS:localhost,IP:127.0.0.1" sha384 ec -pkeyopt ec_paramgen_curve:P-384
leaf server-ed25519 ca-ed25519 /CN=localhost "DNS:localhost" none ed25519
leaf server-revoked ca /CN=localhost "DNS:localhost" sha256 rsa:2048
leaf server-rsa-sha1 ca /CN=localhost "DNS:localhost" sha1 rsa:2048
leaf server-multi-cn ca "/CN=first.example/CN=second.example" "" sha512 rsa:2048

# CRL of ca revoking server-revoked; and a hashed CRL directory.
printf 'dir = .\n[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\ndefault_md = sha256\ncrlnumber = crlnumber\ndefault_crl_days = 30\n' > ca.cnf
: > index.txt
echo 01 > crlnumber
q openssl ca -config ca.cnf -keyfile ca.key -cert ca.crt -revoke server-revoked.crt
q openssl ca -config ca.cnf -keyfile ca.key -cert ca.crt -gencrl -out ca.crl
mkdir -p crl-dir
cp ca.crl crl-dir/
q openssl rehash crl-dir

# Root file with its CRL appended (libpq honours CRLs inside sslrootcert).
cat ca.crt ca.crl > ca-with-crl.crt
mkdir -p empty-crl-dir

# Client identities.
leaf client client-ca /CN=certuser "" sha256 rsa:2048
q openssl pkey -in client.key -traditional -out client-pkcs1.key
q openssl pkcs8 -topk8 -nocrypt -in client.key -out client-pkcs8.key
q openssl pkcs8 -topk8 -in client.key -passout pass:keypass -out client-encrypted.key
q openssl pkcs8 -topk8 -v2 des3 -in client.key -passout pass:keypass -out client-encrypted-des3.key
q openssl pkcs8 -topk8 -v2 aes-128-cbc -v2prf hmacWithSHA512 -in client.key -passout pass:keypass -out client-encrypted-aes128-sha512.key
q openssl rsa -in client.key -aes256 -traditional -passout pass:keypass -out client-pkcs1-encrypted.key
q openssl pkey -in client.key -outform DER -out client-pkcs8.der
leaf client-ecdsa client-ca /CN=certuser "" sha256 ec -pkeyopt ec_paramgen_curve:P-256
q openssl ec -in client-ecdsa.key -out client-ecdsa-sec1.key
q openssl pkcs8 -topk8 -in client-ecdsa.key -passout pass:keypass -out client-ecdsa-encrypted.key
leaf client-other other-ca /CN=certuser "" sha256 rsa:2048

# DER copies for byte comparisons.
q openssl x509 -in server.crt -outform DER -out server.der
chmod 600 ./*.key
