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
bazel build --noshow_progress //trustd:trustctl //trustd:trustd //edged //restd \
  //tests/platformsim //tests/edgeendpoint:edge_endpoint 2>&1 | grep -E "^(ERROR|FAILED)" || true
bin="$repo/bazel-bin"
trustctl="$bin/trustd/trustctl"
for b in trustd/trustctl trustd/trustd edged/edged restd/restd tests/platformsim/platformsim \
         tests/edgeendpoint/edge_endpoint; do
  [ -x "$bin/$b" ] || { echo "demo: build failed ($b); run: bazel build //..." >&2; exit 1; }
done

rm -rf "$work"
mkdir -p "$work"
deploy/dev-pki.sh "$work/pki" | sed 's/^/demo: /'
cd "$work"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Seal the demo secrets under a new master key (only trustd will read it)"
printf "demo-app-key" | "$trustctl" encrypt --master-key master.key - > appkey.sealed
printf "dev-passphrase" | "$trustctl" encrypt --master-key master.key - > passphrase.sealed
printf "admin-password" | "$trustctl" encrypt --master-key master.key - > password.sealed
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

pids=()
stop_all() {
  trap - EXIT INT TERM
  [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null
  wait 2>/dev/null
  echo; echo "demo: stopped every daemon; files are in $work"
}
trap stop_all EXIT
trap 'exit 0' INT TERM
wait_for() {  # wait_for FILE TEXT: until FILE contains TEXT (or 30 s)
  for _ in $(seq 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "demo: gave up waiting for \"$2\" in $1:" >&2; tail -20 "$1" >&2; exit 1
}

step "Start the platform simulator and an HTTPS edge endpoint (an LSR stand-in)"
# They stand for systems outside the gateway, so they get plain copies of their keys.
openssl pkey -in pki/platform.key -passin pass:dev-passphrase -out platform-plain.key
openssl pkey -in pki/edge.key -passin pass:dev-passphrase -out edge-plain.key
chmod 600 ./*-plain.key
"$bin/tests/platformsim/platformsim" --listen 127.0.0.1:8443 --control 127.0.0.1:8444 \
  --cert pki/platform-chain.pem --key platform-plain.key --app-key demo-app-key \
  > platformsim.log 2>&1 & pids+=($!)
"$bin/tests/edgeendpoint/edge_endpoint" --listen 127.0.0.1:8001 --cert pki/edge-chain.pem \
  --key edge-plain.key > endpoint.log 2>&1 & pids+=($!)
wait_for platformsim.log "listening for AlwaysOn"
wait_for endpoint.log "edge endpoint on"
echo "platform simulator on wss://localhost:8443 (control http://127.0.0.1:8444); edge endpoint on https://localhost:8001"

step "Start trustd (the only process that reads keys and the master key), then edged and restd"
"$bin/trustd/trustd" --config config.yaml > trustd.log 2>&1 & pids+=($!)
wait_for trustd.log "serving trust.v1.TrustService"
"$bin/edged/edged" --config config.yaml > edged.log 2>&1 & pids+=($!)
"$bin/restd/restd" --config config.yaml > restd.log 2>&1 & pids+=($!)
wait_for edged.log "bound "
wait_for restd.log "serving the EMS REST API"
wait_for restd.log "auto_bind DemoPump: https://localhost:8001 answers"
echo "trustctl --socket $work/trustd.sock health: $("$trustctl" --socket "$work/trustd.sock" health)"
grep -h -E "connected to|authenticated|bound " edged.log | sed 's/^/  edged: /'
grep -h "serving the EMS REST API" restd.log | sed 's/^/  restd: /'

step "Write a property with curl over HTTPS (Basic auth checked by trustd, a CSRF token, keyless TLS)"
auth=(-u "admin:admin-password" --cacert pki/root.pem -s)
token=$(curl "${auth[@]}" -D - -o /dev/null \
  https://localhost:8000/Thingworx/Things/SystemRepository/Properties/name |
  tr -d '\r' | sed -n 's/^x-csrf-token: //Ip')
echo '$ curl -X PUT https://localhost:8000/Thingworx/Things/DemoPump/Properties/Temperature -d {"Temperature": 21.5}'
curl "${auth[@]}" -X PUT -H "Content-Type: application/json" -H "x-csrf-token: $token" \
  -d '{"Temperature": 21.5}' -w 'HTTP %{http_code}\n' -o /dev/null \
  https://localhost:8000/Thingworx/Things/DemoPump/Properties/Temperature
echo "what the platform received:"
curl -s http://127.0.0.1:8444/records.txt | grep '^write' | tail -1 | sed 's/^/  platform: /'
echo '$ curl https://localhost:8000/Thingworx/Things/DemoPump/Properties/Temperature'
curl "${auth[@]}" https://localhost:8000/Thingworx/Things/DemoPump/Properties/Temperature; echo

step "The platform calls a service on the auto_bind Thing DemoPump (edged -> restd -> edge endpoint over HTTPS)"
curl -s -X POST http://127.0.0.1:8444/call -d '{"thing": "DemoPump", "method": "POST",
  "characteristic": "Services", "name": "Flush", "params": {"dataShape": {"fieldDefinitions":
  {"seconds": {"name": "seconds", "baseType": "NUMBER"}}}, "rows": [{"seconds": 5}]}}'; echo
grep -h "POST /Thingworx" endpoint.log | tail -1 | sed 's/^/  edge endpoint: /'

step "A peer refused by trustd: the platform's certificate for the wrong name"
"$trustctl" --socket "$work/trustd.sock" verify --purpose platform --name evil.example \
  pki/platform-chain.pem | sed -E 's/.*"reason":("[A-Z_]+").*"hint":("[^"]*").*/reason \1\nhint   \2/' || true

step "Rotate the restd certificate on disk: trustd reloads, restd's new connections use it"
"$repo/deploy/dev-pki.sh" "$work/pki" --renew restd | sed 's/^/  /'
wait_for trustd.log "generation 2"
grep -h "generation 2" trustd.log | tail -1 | sed 's/^/  trustd: /'

printf '\ndemo: running. Files, sockets and logs are in %s (trustd.sock, edged.sock; *.log).\n' "$work"
printf 'demo: every daemon'"'"'s log follows; Ctrl-C stops them all.\n\n'
tail -n 0 -f trustd.log edged.log restd.log platformsim.log endpoint.log &
pids+=($!)
wait "${pids[0]}"
