#!/bin/sh
# Regenerates the test-only certificates of tests/certs/ (except the demo-app pair, which the
# emulator's seed pins). Needs the `openssl` CLI (3.x). The thumbprints change on every run: update
# README.md and the thumbprint constants of host/src/certs/tests.rs afterwards
# (`openssl x509 -in FILE -noout -fingerprint -sha1`).
set -eu
cd "$(dirname "$0")"

# The password of every encrypted fixture (PFX and encrypted PKCS#8). Test only.
PASS='Fixture-Cert-Pass-7741'
DAYS=36500
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Self-signed RSA certificate + key: $1 = file stem, $2 = common name.
selfsigned() {
    openssl req -x509 -newkey rsa:2048 -nodes -days "$DAYS" -subj "/CN=$2 (test only)" \
        -keyout "$tmp/$1.key" -out "$tmp/$1.crt" 2>/dev/null
}

# 1. One PEM file: certificate + unencrypted PKCS#8 key (`PRIVATE KEY`).
selfsigned pkcs8 "rooms-sync pkcs8"
cat "$tmp/pkcs8.crt" "$tmp/pkcs8.key" > pkcs8-combined.pem

# 2. One PEM file: key first (PKCS#1 `RSA PRIVATE KEY`), certificate after it.
selfsigned pkcs1 "rooms-sync pkcs1"
openssl rsa -in "$tmp/pkcs1.key" -traditional -out "$tmp/pkcs1.rsa" 2>/dev/null
cat "$tmp/pkcs1.rsa" "$tmp/pkcs1.crt" > pkcs1-combined.pem

# 3. DER certificate (.cer, as Windows exports it) with a PKCS#1 PEM key of the same stem.
selfsigned der "rooms-sync der"
openssl x509 -in "$tmp/der.crt" -outform DER -out der-cert.cer
openssl rsa -in "$tmp/der.key" -traditional -out der-cert.key 2>/dev/null

# 4. Encrypted PKCS#8 keys (`ENCRYPTED PRIVATE KEY`): PBES2 with AES-256-CBC and with 3DES.
selfsigned encaes "rooms-sync encrypted aes"
openssl pkcs8 -topk8 -v2 aes-256-cbc -in "$tmp/encaes.key" -passout "pass:$PASS" -out "$tmp/encaes.p8"
cat "$tmp/encaes.crt" "$tmp/encaes.p8" > encrypted-aes.pem
selfsigned enc3des "rooms-sync encrypted 3des"
openssl pkcs8 -topk8 -v2 des3 -in "$tmp/enc3des.key" -passout "pass:$PASS" -out "$tmp/enc3des.p8"
cat "$tmp/enc3des.crt" "$tmp/enc3des.p8" > encrypted-3des.pem

# 5. PFX files: OpenSSL 3 default (PBES2/AES-256-CBC, SHA-256 MAC) and -legacy (RC2-40 + 3DES,
#    SHA-1 MAC), as exported by older Windows and OpenSSL 1.x.
selfsigned pfxaes "rooms-sync pfx aes"
openssl pkcs12 -export -inkey "$tmp/pfxaes.key" -in "$tmp/pfxaes.crt" -passout "pass:$PASS" \
    -out aes.pfx
selfsigned pfxlegacy "rooms-sync pfx legacy"
openssl pkcs12 -export -legacy -inkey "$tmp/pfxlegacy.key" -in "$tmp/pfxlegacy.crt" \
    -passout "pass:$PASS" -out legacy.p12

# 6. Expired (2020-2021) and not yet valid (2090-2100) certificates, each with its key, signed by
#    `openssl ca` because `openssl req` 3.0 cannot set explicit dates.
mkdir -p "$tmp/ca"
: > "$tmp/ca/index.txt"
cat > "$tmp/ca.cnf" <<EOF
[ca]
default_ca = test
[test]
dir = $tmp/ca
database = \$dir/index.txt
new_certs_dir = \$dir
serial = \$dir/serial
default_md = sha256
policy = anything
copy_extensions = none
unique_subject = no
[anything]
commonName = supplied
EOF
dated() { # $1 = stem, $2 = CN, $3 = start, $4 = end
    openssl req -new -newkey rsa:2048 -nodes -subj "/CN=$2 (test only)" \
        -keyout "$tmp/$1.key" -out "$tmp/$1.csr" 2>/dev/null
    openssl rand -hex 8 > "$tmp/ca/serial"
    openssl ca -batch -config "$tmp/ca.cnf" -selfsign -keyfile "$tmp/$1.key" -in "$tmp/$1.csr" \
        -startdate "$3" -enddate "$4" -notext -out "$tmp/$1.crt" 2>/dev/null
    cat "$tmp/$1.crt" "$tmp/$1.key" > "$1.pem"
}
dated expired "rooms-sync expired" 20200101000000Z 20210101000000Z
dated not-yet-valid "rooms-sync not yet valid" 20900101000000Z 21000101000000Z

# 7. A certificate without its private key.
selfsigned nokey "rooms-sync no key"
cp "$tmp/nokey.crt" cert-only.crt

# 8. A certificate whose .key of the same stem belongs to another certificate.
selfsigned mismatch "rooms-sync mismatch"
selfsigned other "rooms-sync other"
cp "$tmp/mismatch.crt" mismatched.crt
cp "$tmp/other.key" mismatched.key

# 9. An EC (P-256) certificate and key: Entra accepts RSA only for RS256 client assertions.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days "$DAYS" \
    -subj "/CN=rooms-sync ec (test only)" -keyout "$tmp/ec.key" -out "$tmp/ec.crt" 2>/dev/null
cat "$tmp/ec.crt" "$tmp/ec.key" > ec.pem

for f in *.pem *.crt *.cer *.pfx *.p12; do
    printf '%s\t' "$f"
    openssl x509 -in "$f" -noout -fingerprint -sha1 2>/dev/null \
        || openssl x509 -inform DER -in "$f" -noout -fingerprint -sha1 2>/dev/null \
        || openssl pkcs12 -in "$f" -passin "pass:$PASS" -nokeys -legacy 2>/dev/null \
            | openssl x509 -noout -fingerprint -sha1
done
