#!/usr/bin/env bash
# trustd, edged and restd as commands, and the start-up checks they share with
# `trustctl check-config`: what check-config refuses, each daemon refuses with the same line.
# Usage (by Bazel): command_line_test.sh TRUSTCTL TRUSTD EDGED RESTD
set -uo pipefail
trustctl=$(realpath "$1")
declare -A daemon=([trustd]=$(realpath "$2") [edged]=$(realpath "$3") [restd]=$(realpath "$4"))
dir=$(mktemp -d /tmp/cli.XXXXXX)  # Short: it holds Unix sockets.
trap 'rm -rf "$dir"' EXIT
cd "$dir"

passed=0 failed=0
check() {  # check NAME COMMAND...: the command must succeed
  if "${@:2}"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $1"; fi
}
contains() { grep -qF -- "$2" "$1" || { echo "--- $1 lacks: $2"; cat "$1"; return 1; }; }
exits() {  # exits CODE COMMAND...: the command exits with CODE
  "${@:2}"; local code=$?
  [ "$code" = "$1" ] || { echo "--- exit $code, expected $1: ${*:2}"; return 1; }
}

version=$("$trustctl" --version)
check "trustctl --version has a version and a commit" \
  grep -qE '^trustctl [0-9]+\.[0-9]+\.[0-9]+ [(]commit ([0-9a-f]{12}(-dirty)?|unknown)[)]$' <<< "$version"

for name in trustd edged restd; do
  bin=${daemon[$name]}
  check "$name --help exits 0" exits 0 "$bin" --help > "$name-help.out" 2>&1
  check "$name --help: its usage" contains "$name-help.out" "usage: $name --config FILE"
  check "$name --help lists --config" contains "$name-help.out" "  --config FILE  "
  check "$name --help lists --version" contains "$name-help.out" "  --version "
  "$bin" --version > "$name-version.out"
  check "$name --version: the same version and commit as trustctl" \
    test "$(cat "$name-version.out")" = "$name ${version#trustctl }"
  check "$name with a wrong flag exits 2" exits 2 "$bin" --confg x.yaml 2> "$name-wrong.err"
  check "$name names the wrong flag" contains "$name-wrong.err" "$name: unknown option --confg"
  check "$name prints its usage for a wrong flag" contains "$name-wrong.err" "usage: $name --config FILE"
  check "$name without --config exits 2" exits 2 "$bin" 2> "$name-none.err"
  check "$name says --config is required" contains "$name-none.err" "$name: --config FILE is required"
done

# A file each daemon refuses at start: check-config reports it first, with the same line.
mkdir run
cat > base.yaml <<YAML
ws_servers:
  - host: platform.local
    port: 8443
appKey: "plain-app-key"
ws_connection:
  encryption: none
http_server:
  ssl: false
  authenticate: false
offline_msg_store:
  directory: $dir/offline
trustd:
  socket: $dir/run/trustd.sock
  master_key_file: $dir/master.key
edged:
  socket: $dir/run/edged.sock
YAML
same_line() {  # same_line DAEMON FILE PATTERN: check-config and DAEMON print one same line
  local name=$1 file=$2 pattern=$3
  "$trustctl" check-config "$file" > "$file.out" 2> "$file.err"
  check "check-config refuses $file" test "$?" = 1
  local line
  line=$(grep -m1 -- "$pattern" "$file.err")
  check "check-config names $pattern in $file" test -n "$line"
  "${daemon[$name]}" --config "$file" > "$file.$name.log" 2>&1
  check "$name does not start on $file" test "$?" = 1
  check "$name prints check-config's line for $file" grep -qxF -- "$line" "$file.$name.log"
  check "$name says it did not start" contains "$file.$name.log" "$name: not started: fix $file"
}
sed "s|$dir/offline|$dir/base.yaml/offline|" base.yaml > offline.yaml
same_line edged offline.yaml "^error: offline_msg_store.directory: "
sed "s|$dir/run/edged.sock|$dir/base.yaml/run/edged.sock|" base.yaml > edged-socket.yaml
same_line edged edged-socket.yaml "^error: edged.socket: "
sed "s|$dir/run/trustd.sock|$dir/base.yaml/run/trustd.sock|" base.yaml > trustd-socket.yaml
same_line trustd trustd-socket.yaml "^error: trustd.socket: "
sed 's|^appKey:.*|appKey: "AES:8Vw3Yw1NdkSvtZ7m6hCY5Q=="|' base.yaml > legacy.yaml
for name in trustd edged restd; do
  same_line "$name" legacy.yaml "^error: appKey: the sealed value is not one of ours: it is a legacy EMS value"
done
printf 'trustd:\n  socket: %s\n  master_key_file: %s\n  callers:\n    - user: no-such-user-here\n      methods: [Sign]\n' \
  "$dir/run/trustd.sock" "$dir/master.key" > callers-trustd.txt
sed '/^trustd:/,/^  master_key_file/d' base.yaml | cat - callers-trustd.txt > callers.yaml
same_line trustd callers.yaml "^error: trustd.callers\[0\].user: "

# The file all of them accept: check-config calls it valid, and each one starts on it.
"$trustctl" check-config base.yaml > base.out 2> base.err
check "check-config calls the base file valid" contains base.out "base.yaml: valid"
"${daemon[trustd]}" --config base.yaml > trustd.log 2>&1 &
trustd_pid=$!
for _ in $(seq 100); do [ -S run/trustd.sock ] && break; sleep 0.1; done
check "trustd starts on it" test "$("$trustctl" --socket run/trustd.sock health)" = SERVING
"${daemon[edged]}" --config base.yaml > edged.log 2>&1 &
edged_pid=$!
for _ in $(seq 100); do [ -S run/edged.sock ] && break; sleep 0.1; done
check "edged starts on it" test "$("$trustctl" --socket run/edged.sock health)" = SERVING
kill "$edged_pid" "$trustd_pid"; wait "$edged_pid" "$trustd_pid" 2>/dev/null

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
