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
  check "$name --help lists --log-level" contains "$name-help.out" "  --log-level LEVEL  "
  check "$name with a wrong --log-level exits 2" \
    exits 2 "$bin" --config x.yaml --log-level VERBOSE 2> "$name-level.err"
  check "$name names the levels it takes" contains "$name-level.err" \
    "$name: --log-level: expected one of FORCE, ERROR, WARN, INFO, DEBUG, TRACE, AUDIT, found \"VERBOSE\""
  check "$name prints its usage for a wrong --log-level" contains "$name-level.err" "usage: $name --config FILE"
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

printf 'logger:\n  level: VERBOSE\n' | cat base.yaml - > level.yaml
for name in trustd edged restd; do
  same_line "$name" level.yaml '^error: logger.level: expected one of FORCE, ERROR, WARN, INFO, DEBUG, TRACE, AUDIT, found "VERBOSE"$'
done

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

# logger: trustd's own file in publish_directory (created 0750) at publish_level, and
# standard error at --log-level, which wins over logger.level. Each line says its level once.
printf 'logger:\n  level: TRACE\n  publish_directory: logs\n  publish_level: WARN\n  max_file_storage: 65536\n' |
  cat base.yaml - > logger.yaml
"$trustctl" check-config logger.yaml > logger.out 2> logger.err
check "check-config calls the logger file valid" contains logger.out "logger.yaml: valid"
"${daemon[trustd]}" --config logger.yaml --log-level ERROR > trustd-logger.err 2>&1 &
trustd_pid=$!
for _ in $(seq 100); do [ -S run/trustd.sock ] && break; sleep 0.1; done
check "trustd starts with a log directory" test "$("$trustctl" --socket run/trustd.sock health)" = SERVING
kill "$trustd_pid"; wait "$trustd_pid" 2>/dev/null
check "trustd created its log directory 0750" test "$(stat -c %a logs)" = 750
check "trustd writes its log file" test -s logs/trustd.log
check "the file has the warnings (publish_level WARN)" \
  contains logs/trustd.log " trustd WARNING appKey: secret given in plaintext"
check "the file has the FORCE line of the start" contains logs/trustd.log " trustd FORCE serving trust.v1.TrustService"
check "the file has the FORCE line of the stop" contains logs/trustd.log " trustd FORCE stopping on signal 15"
check "--log-level ERROR keeps warnings off standard error" \
  test -z "$(grep -F ' WARNING ' trustd-logger.err)"
check "standard error still has the FORCE lines" contains trustd-logger.err " trustd FORCE serving trust.v1.TrustService"
levels='(TRACE|DEBUG|INFO|WARNING|ERROR|FORCE|AUDIT)'
check "no line says its level twice" \
  test -z "$(grep -hiE "^[^ ]+ [a-z]+ $levels ($levels|warn|warning|error)[: ]" logs/trustd.log trustd-logger.err base.err)"
check "every line of the file has a time, the daemon and a level" \
  test -z "$(grep -vE "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z trustd $levels " logs/trustd.log)"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
