#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, and shows the trust stack
# at work on a development PKI.
#   deploy/demo.sh [WORKDIR]     (default: /tmp/edge-demo; recreated on every run)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
work=${1:-/tmp/edge-demo}

deploy/setup.sh
echo "demo: building (the first build takes a few minutes; progress every 10 s)"
bazel build --curses=no --show_progress_rate_limit=10 //trustd:trustctl //trustd:trustd \
  //edged //restd //tests/platformsim //tests/edgeendpoint:edge_endpoint 2>&1 |
  grep --line-buffered -E '^\[[0-9,]+ / [0-9,]+\]|^(ERROR|FAILED)' |
  sed -u -E 's/^(\[[0-9,]+ \/ [0-9,]+\]).*/demo: build \1 actions/' || true
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
# The file group's virtual directories (not world-writable) and the simulator's repository.
mkdir -m 0750 -p files/in files/out
mkdir -p repository/SystemRepository
# Bold headings on a terminal only: a log file or a pipe gets no escape codes.
if [ -t 1 ]; then
  step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
  step() { printf '\n== %s\n' "$*"; }
fi

step "Seal the demo secrets under a new master key (only trustd will read it)"
printf "demo-app-key" | "$trustctl" encrypt --master-key master.key - > appkey.sealed
printf "dev-passphrase" | "$trustctl" encrypt --master-key master.key - > passphrase.sealed
printf "admin-password" | "$trustctl" encrypt --master-key master.key - > password.sealed
echo "appKey = $(cut -c1-24 appkey.sealed)...  (master.key: $(stat -c %a master.key))"

step "Pin the edge endpoint's certificate"
edge_fp=$("$trustctl" fingerprint pki/edge.pem | cut -d= -f2)
echo "$("$trustctl" fingerprint pki/edge.pem)"

# An EMS-style config.json (EMS's keys, plus the sockets of this demo), and the same in
# YAML beside it: the daemons take either.
for form in json yaml; do
  sed -e "s|@APPKEY@|$(cat appkey.sealed)|" -e "s|@PASSPHRASE@|$(cat passphrase.sealed)|" \
      -e "s|@PASSWORD@|$(cat password.sealed)|" -e "s|@EDGE_FP@|$edge_fp|" \
      -e "s|@WORK@|$work|g" "$repo/deploy/examples/demo.$form.in" > "config.$form"
done

step "Check the configuration: trustctl check-config config.json (and config.yaml beside it)"
"$trustctl" check-config config.json
"$trustctl" check-config config.yaml

step "The platform's certificate, as edged would present it to trustd"
"$trustctl" verify --config config.json --purpose platform --name platform.local \
  pki/platform-chain.pem | cut -c1-160
echo "..."

step "The same certificate for the wrong host name: refused, with the reason and a hint"
"$trustctl" verify --config config.json --purpose platform --name evil.example \
  pki/platform-chain.pem | sed -E 's/.*"reason":("[A-Z_]+").*"hint":("[^"]*").*/reason \1\nhint   \2/' || true

step "An edge endpoint that is not on the fingerprint allowlist: refused"
"$trustctl" verify --config config.json --purpose edge --name localhost \
  pki/restd-chain.pem | sed -E 's/.*"reason":("[A-Z_]+").*"detail":("[^"]*").*/reason \1\ndetail \2/' || true

step "A legacy EMS secret: a clear start-up error, never the value"
sed "s|\"appKey\": \"[^\"]*\"|\"appKey\": \"AES:8Vw3Yw1NdkSvtZ7m6hCY5Q==\"|" config.json > legacy.json
"$trustctl" check-config legacy.json || true

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
start_platform() {
  "$bin/tests/platformsim/platformsim" --listen 127.0.0.1:8443 --control 127.0.0.1:8444 \
    --cert pki/platform-chain.pem --key platform-plain.key --app-key demo-app-key \
    --repository "$work/repository" \
    >> platformsim.log 2>&1 &
  platform_pid=$!
  pids+=("$platform_pid")
}
start_platform
"$bin/tests/edgeendpoint/edge_endpoint" --listen 127.0.0.1:8001 --cert pki/edge-chain.pem \
  --key edge-plain.key > endpoint.log 2>&1 & pids+=($!)
wait_for platformsim.log "listening for AlwaysOn"
wait_for endpoint.log "edge endpoint on"
echo "platform simulator on wss://localhost:8443 (control http://127.0.0.1:8444); edge endpoint on https://localhost:8001"

step "Start trustd (the only process that reads keys and the master key), then edged and restd"
"$bin/trustd/trustd" --config config.json > trustd.log 2>&1 & pids+=($!)
wait_for trustd.log "serving trust.v1.TrustService"
"$bin/edged/edged" --config config.json > edged.log 2>&1 & pids+=($!)
"$bin/restd/restd" --config config.json > restd.log 2>&1 & pids+=($!)
wait_for edged.log "bound "
wait_for restd.log "serving the EMS REST API"
wait_for restd.log "auto_bind DemoPump: https://localhost:8001 answers"
wait_for edged.log "serves DemoPump"  # restd's Serve stream reached edged
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

step "File transfer: the platform puts a recipe into DemoPump's /in and fetches a log from /out"
echo '{"speed": 42, "batch": "B-17"}' > repository/SystemRepository/recipe.json
date > files/out/shift.log
echo '$ curl -X POST http://127.0.0.1:8444/transfer -d {"direction": "put", "thing": "DemoPump", "path": "/in/recipe.json", ...}'
curl -s -X POST http://127.0.0.1:8444/transfer -d '{"direction": "put", "thing": "DemoPump",
  "path": "/in/recipe.json", "repository_path": "/recipe.json"}'; echo
echo "  on the edge: files/in/recipe.json, md5 $(md5sum < files/in/recipe.json | cut -c1-32)"
curl -s -X POST http://127.0.0.1:8444/transfer -d '{"direction": "get", "thing": "DemoPump",
  "path": "/out/shift.log", "repository_path": "/logs/shift.log"}'; echo
echo '$ curl -X POST http://127.0.0.1:8444/transfer -d {"path": "/in/../../etc/passwd", ...}'
curl -s -X POST http://127.0.0.1:8444/transfer -d '{"direction": "get", "thing": "DemoPump",
  "path": "/in/../../etc/passwd", "repository_path": "/stolen"}'; echo

step "A peer refused by trustd: the platform's certificate for the wrong name"
"$trustctl" --socket "$work/trustd.sock" verify --purpose platform --name evil.example \
  pki/platform-chain.pem | sed -E 's/.*"reason":("[A-Z_]+").*"hint":("[^"]*").*/reason \1\nhint   \2/' || true

step "The platform goes away: writes are queued (HTTP 202) and replayed, in order, when it is back"
kill "$platform_pid"; wait "$platform_pid" 2>/dev/null || true
for _ in $(seq 100); do
  curl "${auth[@]}" https://localhost:8000/Thingworx/Things/LocalEms/Properties/isConnected |
    grep -q '"isConnected":false' && break
  sleep 0.1
done
for t in 22 23 24; do
  token=$(curl "${auth[@]}" -D - -o /dev/null \
    https://localhost:8000/Thingworx/Things/SystemRepository/Properties/name |
    tr -d '\r' | sed -n 's/^x-csrf-token: //Ip')
  printf 'PUT Temperature=%s while offline: ' "$t"
  curl "${auth[@]}" -X PUT -H "Content-Type: application/json" -H "x-csrf-token: $token" \
    -d "{\"Temperature\": $t}" -w ' (HTTP %{http_code})' \
    https://localhost:8000/Thingworx/Things/DemoPump/Properties/Temperature; echo
done
echo "LocalEms: $(curl "${auth[@]}" https://localhost:8000/Thingworx/Things/LocalEms/Properties |
  sed -E 's/.*"rows":\[(.*)\]\}$/\1/' | cut -c1-160)"
start_platform
wait_for edged.log "queued while offline, replayed"
grep -h "queued while offline, replayed" edged.log | tail -1 | sed 's/^/  edged: /'
curl -s http://127.0.0.1:8444/records.txt | grep '^write' | tail -3 | sed 's/^/  platform: /'

step "Rotate the restd certificate on disk: trustd reloads, restd's new connections use it"
"$repo/deploy/dev-pki.sh" "$work/pki" --renew restd | sed 's/^/  /'
wait_for trustd.log "generation 2"
grep -h "generation 2" trustd.log | tail -1 | sed 's/^/  trustd: /'

cat <<TRY

demo: running. Try it yourself (another terminal):
  curl -u admin:admin-password --cacert $work/pki/root.pem \\
    https://localhost:8000/Thingworx/Things/DemoPump/Properties/Temperature
  TOKEN=\$(curl -s -u admin:admin-password --cacert $work/pki/root.pem -D - -o /dev/null \\
    https://localhost:8000/Thingworx/Things/SystemRepository/Properties/name |
    tr -d '\r' | sed -n 's/^x-csrf-token: //Ip')
  curl -u admin:admin-password --cacert $work/pki/root.pem -X PUT \\
    -H "Content-Type: application/json" -H "x-csrf-token: \$TOKEN" -d '{"Temperature": 30}' \\
    https://localhost:8000/Thingworx/Things/DemoPump/Properties/Temperature
  curl -u admin:admin-password --cacert $work/pki/root.pem \\
    https://localhost:8000/Thingworx/Things/LocalEms/Properties/isConnected
TRY
printf '\ndemo: files, sockets and logs are in %s (config.json, trustd.sock, edged.sock; *.log).\n' "$work"
printf 'demo: every daemon'"'"'s log follows; Ctrl-C stops them all.\n\n'
tail -n 0 -f trustd.log edged.log restd.log platformsim.log endpoint.log &
tail_pid=$!
pids+=("$tail_pid")
wait "$tail_pid"
