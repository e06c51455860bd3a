#!/usr/bin/env bash
# Creates a development PKI with the openssl CLI: a root, an intermediate, and leaves for
# the platform (serverAuth), restd (serverAuth), an edge endpoint (serverAuth) and a client
# (clientAuth). Keys are encrypted PKCS#8 (AES-256) under the passphrase in $PKI_PASS
# (default "dev-passphrase"); leaf chain files hold leaf + intermediate.
# Usage: deploy/dev-pki.sh DIR                 (existing files in DIR are replaced)
#        deploy/dev-pki.sh DIR --renew LEAF    (a new key and certificate for one leaf:
#                                               platform, restd, edge or client)
# For development and the demo only: the root key sits next to the certificates.
set -euo pipefail

dir=${1:?usage: dev-pki.sh DIR [--renew LEAF]}
renew=""
[ "${2:-}" = "--renew" ] && renew=${3:?usage: dev-pki.sh DIR --renew LEAF}
pass=${PKI_PASS:-dev-passphrase}
mkdir -p "$dir"
cd "$dir"
umask 077

key() {  # key NAME: an encrypted P-256 PKCS#8 key
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -aes-256-cbc -pass "pass:$pass" -out "$1.key" 2>/dev/null
}

ext() {  # ext FILE LINES...: write an extension section
  local file=$1; shift
  printf '%s\n' "[ext]" "$@" > "$file"
}

sign() {  # sign NAME ISSUER SUBJECT DAYS EXTFILE
  openssl req -new -key "$1.key" -passin "pass:$pass" -subj "$3" -out "$1.csr" \
    -config <(printf '%s\n' "[req]" "distinguished_name=dn" "[dn]")
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -passin "pass:$pass" \
    -CAcreateserial -days "$4" -sha256 -extfile "$5" -extensions ext -out "$1.pem" 2>/dev/null
  rm -f "$1.csr"
}

leaf() {  # leaf NAME EKU SAN CN
  key "$1"
  ext "$1.ext" "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature" "extendedKeyUsage=$2" "subjectAltName=$3" \
    "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid:always"
  sign "$1" intermediate "/O=Edge Demo/CN=$4" 397 "$1.ext"
  cat "$1.pem" intermediate.pem > "$1-chain.pem"
}

issue() {  # issue LEAF: one of the leaves below
  case "$1" in
    platform) leaf platform serverAuth "DNS:platform.local,DNS:localhost,IP:127.0.0.1" platform.local ;;
    restd) leaf restd serverAuth "DNS:localhost,IP:127.0.0.1" localhost ;;
    # The common name is one of the SAN values (CA/B Forum BR 7.1.4.3; trustd refuses others).
    edge) leaf edge serverAuth "DNS:localhost,IP:127.0.0.1" localhost ;;
    client) leaf client clientAuth "DNS:demo-client" demo-client ;;
    *) echo "dev-pki: no leaf \"$1\" (platform, restd, edge, client)" >&2; exit 2 ;;
  esac
}

if [ -n "$renew" ]; then
  # Made in a scratch directory, then renamed into place, so a watcher (trustd) only ever
  # sees whole files. It may see the new key a moment before the new certificate: it
  # refuses that pair, keeps the last good state, and takes the pair once both are in.
  scratch=$(mktemp -d "./.renew.XXXXXX")
  cp intermediate.pem intermediate.key "$scratch/"
  (cd "$scratch" && issue "$renew" && chmod 644 ./*.pem)
  mv "$scratch/$renew.key" "$renew.key"
  mv "$scratch/$renew.pem" "$renew.pem"
  mv "$scratch/$renew-chain.pem" "$renew-chain.pem"
  rm -rf "$scratch"
  echo "dev-pki: renewed $renew in $dir"
  exit 0
fi

key root
printf '%s\n' "[req]" "distinguished_name=dn" "[dn]" "[ext]" \
  "basicConstraints=critical,CA:TRUE" "keyUsage=critical,keyCertSign,cRLSign" \
  "subjectKeyIdentifier=hash" > root.ext
openssl req -new -x509 -key root.key -passin "pass:$pass" -subj "/O=Edge Demo/CN=Edge Demo Root CA" \
  -days 3650 -sha256 -config root.ext -extensions ext -out root.pem

key intermediate
ext intermediate.ext "basicConstraints=critical,CA:TRUE,pathlen:0" \
  "keyUsage=critical,keyCertSign,cRLSign" "subjectKeyIdentifier=hash" \
  "authorityKeyIdentifier=keyid:always"
sign intermediate root "/O=Edge Demo/CN=Edge Demo Intermediate CA" 1825 intermediate.ext

for l in platform restd edge client; do issue "$l"; done

rm -f ./*.ext ./*.srl
cat intermediate.pem root.pem > ca-chain.pem
chmod 600 ./*.key
chmod 644 ./*.pem
echo "dev-pki: wrote root, intermediate, platform, restd, edge and client certificates to $dir"
