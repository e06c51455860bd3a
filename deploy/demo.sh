#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, and shows the trust stack
# at work on a development PKI.
#   deploy/demo.sh [WORKDIR]     (default: /tmp/edge-demo; recreated on every run)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
work=${1:-/tmp/edge-demo}

deploy/setup.sh
echo "demo: building (the first build takes a few minutes)"
bazel build --noshow_progress //trustd:trustctl //trustd:trustd 2>&1 | grep -E "^(ERROR|FAILED)" || true
trustctl="$repo/bazel-bin/trustd/trustctl"
trustd="$repo/bazel-bin/trustd/trustd"
[ -x "$trustctl" ] && [ -x "$trustd" ] ||
  { echo "demo: build failed; run: bazel build //trustd:all" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$work"
deploy/dev-pki.sh "$work/pki" | sed 's/^/demo: /'
cd "$work"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Seal the demo secrets under a new master key (only trustd will read it)"
"$trustctl" encrypt --master-key master.key "demo-app-key" > appkey.sealed
"$trustctl" encrypt --master-key master.key "dev-passphrase" > passphrase.sealed
"$trustctl" encrypt --master-key master.key "admin-password" > password.sealed
echo "appKey = $(cut -c1-24 appkey.sealed)...  (master.key: $(stat -c %a master.key))"

step "Pin the edge endpoint's certificate"
edge_fp=$("$trustctl" fingerprint pki/edge.pem | cut -d= -f2)
echo "$("$trustctl" fingerprint pki/edge.pem)"

sed -e "s|@APPKEY@|$(cat appkey.sealed)|" -e "s|@PASSPHRASE@|$(cat passphrase.sealed)|" \
    -e "s|@PASSWORD@|$(cat password.sealed)|" -e "s|@EDGE_FP@|$edge_fp|" \
    -e "s|@WORK@|$work|" "$repo/deploy/examples/demo.yaml.in" > config.yaml

step "Check the configuration: trustctl check-config config.yaml"
"$trustctl" check-config config.yaml

step "The platform's certificate, as edged would present it to trustd"
"$trustctl" verify --config config.yaml --purpose platform --name platform.local \
  pki/platform-chain.pem | cut -c1-160
echo "..."

step "The same certificate for the wrong host name: refused, with the reason and a hint"
"$trustctl" verify --config config.yaml --purpose platform --name evil.example \
  pki/platform-chain.pem | sed -E 's/.*"reason":("[A-Z_]+").*"hint":("[^"]*").*/reason \1\nhint   \2/' || true

step "An edge endpoint that is not on the fingerprint allowlist: refused"
"$trustctl" verify --config config.yaml --purpose edge --name localhost \
  pki/restd-chain.pem | sed -E 's/.*"reason":("[A-Z_]+").*"detail":("[^"]*").*/reason \1\ndetail \2/' || true

step "A legacy EMS secret: a clear start-up error, never the value"
sed "s|^appKey:.*|appKey: \"AES:8Vw3Yw1NdkSvtZ7m6hCY5Q==\"|" config.yaml > legacy.yaml
"$trustctl" check-config legacy.yaml || true

step "Start trustd: the only process that reads keys and the master key"
"$trustd" --config config.yaml > trustd.log 2>&1 &
trustd_pid=$!
trap 'kill "$trustd_pid" 2>/dev/null; wait "$trustd_pid" 2>/dev/null; echo; echo "demo: stopped"' EXIT
for _ in $(seq 100); do [ -S "$work/trustd.sock" ] && break; sleep 0.1; done
echo "trustctl --socket $work/trustd.sock health: $("$trustctl" --socket "$work/trustd.sock" health)"
"$trustctl" --socket "$work/trustd.sock" verify --purpose platform --name evil.example \
  pki/platform-chain.pem > /dev/null || true
echo "sealed by trustd: $("$trustctl" --socket "$work/trustd.sock" encrypt "hello" | cut -c1-24)..."

step "Rotate the restd certificate on disk: trustd reloads without a restart"
"$repo/deploy/dev-pki.sh" "$work/pki" > /dev/null
sleep 2

printf '\ndemo: files in %s; trustd is running (socket %s/trustd.sock). Its log follows; Ctrl-C stops it.\n\n' "$work" "$work"
tail -n +1 -f trustd.log &
tail_pid=$!
trap 'kill "$tail_pid" "$trustd_pid" 2>/dev/null; wait "$trustd_pid" 2>/dev/null; echo; echo "demo: stopped"' EXIT
wait "$trustd_pid"
