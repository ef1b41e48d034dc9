#!/bin/sh
# Test PKI for the GnuTLS backend tests: make-test-pki.sh DIR. Same file names and password
# ("keypass") as the project PKI (scripts/make-pki.sh), plus a few files only these tests need
# (server-clientauth: extendedKeyUsage without serverAuth; other-ca.crl).
set -eu
D=$1
mkdir -p "$D"
cd "$D"
umask 077
exec 2>openssl.log

ca() {  # name subject key-options... (self-signed root)
    name=$1; subj=$2; shift 2
    openssl req -x509 -new -nodes "$@" -keyout "$name.key" -out "$name.crt" -days 3650 -subj "$subj" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}
ca ca "/O=pgtls/CN=pgtls test root CA" -newkey rsa:2048 -sha256
ca other-ca "/O=pgtls/CN=pgtls other CA" -newkey rsa:2048 -sha256
ca client-ca "/O=pgtls/CN=pgtls client CA" -newkey rsa:2048 -sha256
ca ca-ecdsa "/O=pgtls/CN=pgtls ECDSA CA" -newkey ec -pkeyopt ec_paramgen_curve:P-384 -sha384
ca ca-ed25519 "/O=pgtls/CN=pgtls Ed25519 CA" -newkey ed25519

leaf() {  # name subject ca-name key-algorithm extensions [digest option]
    name=$1; subj=$2; issuer=$3; alg=$4; ext=$5; md=${6:-}
    case $alg in
        rsa) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$name.key" ;;
        p256) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$name.key" ;;
        p384) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$name.key" ;;
        ed25519) openssl genpkey -algorithm ED25519 -out "$name.key" ;;
    esac
    openssl req -new -key "$name.key" -subj "$subj" -out "$name.csr"
    printf '%b\n' "$ext" > "$name.ext"
    # shellcheck disable=SC2086
    openssl x509 -req -in "$name.csr" -CA "$issuer.crt" -CAkey "$issuer.key" -CAcreateserial -days 3650 \
        $md -extfile "$name.ext" -out "$name.crt"
    rm -f "$name.csr" "$name.ext"
}
SAN='subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1'
leaf server "/O=pgtls/CN=localhost" ca rsa "$SAN\nextendedKeyUsage=serverAuth" -sha256
leaf server-revoked "/O=pgtls/CN=localhost" ca rsa "$SAN" -sha256
leaf server-clientauth "/O=pgtls/CN=localhost" ca rsa "$SAN\nextendedKeyUsage=clientAuth" -sha256
leaf server-ecdsa384 "/O=pgtls/CN=localhost" ca-ecdsa p384 "$SAN" -sha384
leaf server-rsa-sha512 "/O=pgtls/CN=localhost" ca rsa "$SAN" -sha512
leaf server-rsa-sha1 "/O=pgtls/CN=localhost" ca rsa "$SAN" -sha1
leaf server-ed25519 "/O=pgtls/CN=localhost" ca-ed25519 ed25519 "$SAN"
leaf server-cn-only "/O=pgtls/CN=localhost/CN=second.example" ca rsa "basicConstraints=CA:FALSE" -sha256
leaf client-pkcs8 "/O=pgtls/CN=certuser" client-ca rsa "extendedKeyUsage=clientAuth" -sha256
mv client-pkcs8.crt client.crt
leaf client-ecdsa-pkcs8 "/O=pgtls/CN=certuser" client-ca p256 "extendedKeyUsage=clientAuth" -sha256
mv client-ecdsa-pkcs8.crt client-ecdsa.crt
leaf client-other "/O=pgtls/CN=otheruser" other-ca rsa "extendedKeyUsage=clientAuth" -sha256

openssl rsa -in client-pkcs8.key -traditional -out client.key
openssl pkcs8 -topk8 -in client-pkcs8.key -v2 aes-256-cbc -passout pass:keypass -out client-encrypted.key
openssl rsa -in client-pkcs8.key -traditional -aes256 -passout pass:keypass -out client-pkcs1-encrypted.key
openssl ec -in client-ecdsa-pkcs8.key -out client-ecdsa.key
openssl pkcs8 -topk8 -in client-ecdsa-pkcs8.key -v2 aes-256-cbc -passout pass:keypass -out client-ecdsa-encrypted.key

crl() {  # ca-name [certificate to revoke]
    issuer=$1
    rm -rf "ca-db-$issuer"; mkdir "ca-db-$issuer"
    : > "ca-db-$issuer/index.txt"
    echo 01 > "ca-db-$issuer/crlnumber"
    cat > "ca-db-$issuer/ca.cnf" <<CNF
[ ca ]
default_ca = ca_default
[ ca_default ]
database = ca-db-$issuer/index.txt
crlnumber = ca-db-$issuer/crlnumber
default_md = sha256
default_crl_days = 3650
CNF
    if [ $# -gt 1 ]; then
        openssl ca -batch -config "ca-db-$issuer/ca.cnf" -keyfile "$issuer.key" -cert "$issuer.crt" -revoke "$2"
    fi
    openssl ca -batch -config "ca-db-$issuer/ca.cnf" -keyfile "$issuer.key" -cert "$issuer.crt" -gencrl -out "$issuer.crl"
}
crl ca server-revoked.crt
crl other-ca
mkdir -p crl-dir
cp ca.crl crl-dir/ca.crl
openssl rehash crl-dir
openssl pkcs8 -topk8 -nocrypt -in client-pkcs8.key -outform DER -out client.key.der
openssl pkcs8 -topk8 -in client-pkcs8.key -v2 aes-256-cbc -passout pass:keypass -outform DER -out client-encrypted.key.der
for f in *.crt; do openssl x509 -in "$f" -outform DER -out "${f%.crt}.der"; done
echo ok > done
