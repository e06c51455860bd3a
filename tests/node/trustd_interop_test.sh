#!/usr/bin/env bash
# Starts a real trustd and runs trustd_interop_test.js against its socket.
#   trustd_interop_test.sh TRUSTD TRUSTCTL DEV_PKI_SH PROTO
set -euo pipefail
trustd=$(realpath "$1"); trustctl=$(realpath "$2"); devpki=$(realpath "$3")
proto_root=$(realpath "$(dirname "$(realpath "$4")")/../../..")  # proto/trust/v1/trust.proto -> repo
here=$(dirname "$(realpath "${BASH_SOURCE[0]}")")
if [ ! -d "$here/node_modules/@grpc/grpc-js" ]; then
  echo "tests/node/node_modules is missing: run deploy/setup.sh (it runs npm ci there)" >&2
  exit 1
fi
dir=$(mktemp -d /tmp/edge-node.XXXXXX)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
"$devpki" "$dir/pki" > /dev/null
cat > "$dir/config.yaml" <<YAML
ws_servers: [{host: platform.local, port: 443}]
appKey: "plain-for-this-test"
http_server: {ssl: false, authenticate: false}
certificates: {cert_chain: pki/root.pem}
trustd: {socket: $dir/trustd.sock, master_key_file: $dir/master.key}
YAML
"$trustd" --config "$dir/config.yaml" > "$dir/trustd.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -S "$dir/trustd.sock" ] && break; sleep 0.1; done
"$trustctl" --socket "$dir/trustd.sock" health > /dev/null
hex() { openssl x509 -in "$1" -outform DER | od -An -v -tx1 | tr -d ' \n'; }
leaf=$(hex "$dir/pki/platform.pem")
ica=$(hex "$dir/pki/intermediate.pem")
node "$here/trustd_interop_test.js" "$dir/trustd.sock" "$proto_root" "$leaf" "$ica"
