#!/usr/bin/env bash
# gen-certs.sh DIR: throwaway certificates for trying TLS / mutual TLS
# between dualwrite's clients and its broker (see docs/security.md).
#
#   ca.pem, ca.key                  the experiment's CA
#   server.pem, server.key          the broker: CN=localhost, SAN DNS:localhost,
#                                   IP:127.0.0.1, IP:::1, signed by ca
#   client.pem, client.key          a client (coordinator, relay...), signed by ca
#   rogue-ca.pem, rogue-ca.key      a second, unrelated CA
#   rogue-client.pem, rogue-client.key
#                                   a client signed by rogue-ca: the broker must refuse it
#
# Idempotent: files that exist are kept (delete DIR to start over); a
# certificate is (re)made only when it or its key is missing. Keys are
# P-256 ECDSA, unencrypted, readable by the owner only; certificates are
# valid for 825 days. Experiments only: never use these keys for anything else.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
command -v openssl >/dev/null || { echo "gen-certs: openssl not found (apt-get install openssl)" >&2; exit 1; }

mkdir -p "$1"
DIR=$(cd "$1" && pwd)  # absolute: the printed commands work from anywhere
cd "$DIR"
umask 077
DAYS=825
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

say() { printf 'gen-certs: %-17s %s\n' "$1" "$2"; }

newkey() {  # newkey FILE
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

ca() {  # ca NAME CN
  local name=$1 cn=$2
  if [ -s "$name.pem" ] && [ -s "$name.key" ]; then
    say "kept" "$DIR/$name.pem"
    return
  fi
  newkey "$name.key"
  openssl req -new -x509 -key "$name.key" -out "$name.pem" -days "$DAYS" -subj "/CN=$cn" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" 2>/dev/null
  chmod 644 "$name.pem"
  say "wrote" "$DIR/$name.pem (+ .key): CA '$cn'"
}

leaf() {  # leaf NAME CN ISSUER EXTENSIONS
  local name=$1 cn=$2 issuer=$3 ext=$4
  # Remade when its issuer is newer (a CA deleted and regenerated), so the
  # files never disagree.
  if [ -s "$name.pem" ] && [ -s "$name.key" ] && [ ! "$issuer.pem" -nt "$name.pem" ]; then
    say "kept" "$DIR/$name.pem"
    return
  fi
  newkey "$name.key"
  openssl req -new -key "$name.key" -subj "/CN=$cn" -out "$TMP/$name.csr" 2>/dev/null
  printf '%s\n' "$ext" >"$TMP/$name.ext"
  openssl x509 -req -in "$TMP/$name.csr" -CA "$issuer.pem" -CAkey "$issuer.key" \
    -CAcreateserial -CAserial "$TMP/$issuer.srl" -days "$DAYS" -sha256 \
    -extfile "$TMP/$name.ext" -out "$name.pem" 2>/dev/null
  chmod 644 "$name.pem"
  say "wrote" "$DIR/$name.pem (+ .key): '$cn' signed by $issuer"
}

SERVER_EXT="basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"
CLIENT_EXT="basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"

ca ca "dualwrite experiment CA"
leaf server localhost ca "$SERVER_EXT"
leaf client dualwrite-client ca "$CLIENT_EXT"
ca rogue-ca "dualwrite rogue CA"
leaf rogue-client rogue-client rogue-ca "$CLIENT_EXT"

echo "gen-certs: broker:  dualwrite broker serve --tls-cert $DIR/server.pem --tls-key $DIR/server.key --tls-client-ca $DIR/ca.pem ..."
echo "gen-certs: clients: dualwrite --broker https://127.0.0.1:PORT --broker-ca $DIR/ca.pem --broker-cert $DIR/client.pem --broker-key $DIR/client.key ..."
