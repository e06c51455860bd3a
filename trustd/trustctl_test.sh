#!/usr/bin/env bash
# trustctl against a real development PKI made by deploy/dev-pki.sh (openssl CLI).
# Usage (by Bazel): trustctl_test.sh TRUSTCTL DEV_PKI_SH TRUSTD
set -uo pipefail
trustctl=$(realpath "$1")
devpki=$(realpath "$2")
trustd=$(realpath "$3")
dir=$(mktemp -d /tmp/trustctl.XXXXXX)  # Short: it holds a Unix socket.
trap 'rm -rf "$dir"' EXIT
cd "$dir"
"$devpki" pki >/dev/null || { echo "dev-pki.sh failed"; exit 1; }
cd pki

passed=0 failed=0
check() {  # check NAME COMMAND...: the command must succeed
  if "${@:2}"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $1"; fi
}
contains() { grep -qF -- "$2" "$1" || { echo "--- $1 lacks: $2"; cat "$1"; return 1; }; }

# fingerprint: the same lines as openssl prints.
"$trustctl" fingerprint platform-chain.pem > fp.txt
openssl crl2pkcs7 -nocrl -certfile platform-chain.pem | openssl pkcs7 -print_certs |
  awk '/BEGIN CERT/{n++} {print > ("c" n ".pem")}'
{ openssl x509 -in c1.pem -noout -fingerprint -sha256; openssl x509 -in c2.pem -noout -fingerprint -sha256; } > fp-openssl.txt
check "fingerprint matches openssl" cmp -s fp.txt fp-openssl.txt

# encrypt: creates the master key 0600, prints one AES: line.
printf 'demo-app-key\n' | "$trustctl" encrypt --master-key ./master.key - > appkey.txt 2> encrypt.err
check "encrypt prints AES:" grep -qE '^AES:[A-Za-z0-9+/=]+$' appkey.txt
check "master key is 0600" test "$(stat -c %a master.key)" = 600
check "encrypt is one line" test "$(wc -l < appkey.txt)" = 1
check "encrypt from stdin warns about nothing" test ! -s encrypt.err
"$trustctl" encrypt --master-key ./master.key "on-the-command-line" > argv.txt 2> argv.err
check "encrypt TEXT still seals" grep -qE '^AES:' argv.txt
check "encrypt TEXT warns that others can read it" contains argv.err "can be read by every local user"
check "encrypt with an empty stdin is refused" bash -c "! '$trustctl' encrypt --master-key ./master.key - < /dev/null 2> empty.err"
check "encrypt with an empty stdin says what it expected" contains empty.err "expected a secret on standard input"
pass=$(printf "dev-passphrase" | "$trustctl" encrypt --master-key ./master.key -)
restpw=$(printf "rest-password" | "$trustctl" encrypt --master-key ./master.key -)
wrongpass=$("$trustctl" encrypt --master-key ./master.key "not-the-passphrase")
edge_fp=$("$trustctl" fingerprint edge.pem | cut -d= -f2)

write_config() {  # write_config FILE [PASSPHRASE] [KEY] [EXTRA_CERTIFICATES_LINES]
  cat > "$1" <<YAML
ws_servers:
  - host: platform.local
    port: 8443
appKey: "$(cat appkey.txt)"
http_server:
  certificate: restd-chain.pem
  private_key: ${3:-restd.key}
  passphrase: "${2:-$pass}"
  user: admin
  password: "$restpw"
certificates:
  cert_chain: root.pem
${4:-  fingerprint_allowlist: ["$edge_fp"]}
offline_msg_store:
  directory: $dir/offline
edged:
  socket: $dir/edged.sock
trustd:
  master_key_file: master.key
  socket: $dir/trustd.sock
YAML
}

write_config good.yaml
check "check-config accepts the good config" "$trustctl" check-config good.yaml 2> good.err
write_config wrongpass.yaml "$wrongpass"
"$trustctl" check-config wrongpass.yaml 2> wrongpass.err && failed=$((failed + 1))
check "wrong passphrase named" contains wrongpass.err "wrong passphrase (http_server.passphrase)"
write_config mismatch.yaml "$pass" edge.key
"$trustctl" check-config mismatch.yaml 2> mismatch.err && failed=$((failed + 1))
check "key that does not match its certificate" contains mismatch.err "the private key does not match the certificate \"CN=localhost,O=Edge Demo\""
write_config legacy.yaml "AES:8Vw3Yw1NdkSvtZ7m6hCY5Q=="
"$trustctl" check-config legacy.yaml 2> legacy.err && failed=$((failed + 1))
check "legacy EMS value explained" contains legacy.err "it is a legacy EMS value, sealed by \`wsems -encrypt\` with EMS's built-in key, which is not public"
check "legacy EMS value: one error" test "$(grep -c '^error:' legacy.err)" = 1
# The same file with every other secret in plaintext, and no master key at all.
sed -e 's|^appKey:.*|appKey: "plain-app-key"|' -e 's|^  password:.*|  password: "plain-password"|' legacy.yaml > legacy-only.yaml
mv master.key master.key.away
"$trustctl" check-config legacy-only.yaml > /dev/null 2> legacy-nokey.err && failed=$((failed + 1))
mv master.key.away master.key
check "legacy EMS value explained without a master key too" contains legacy-nokey.err "error: http_server.passphrase: the sealed value is not one of ours: it is a legacy EMS value, sealed by \`wsems -encrypt\`"
check "legacy EMS value without a master key: that one error only" test "$(grep -c '^error:' legacy-nokey.err)" = 1
write_config empty.yaml "" "" "  fingerprint_allowlist: []"
"$trustctl" check-config empty.yaml 2> empty.err && failed=$((failed + 1))
check "empty allowlist refused" contains empty.err "error: certificates.fingerprint_allowlist: expected at least one SHA-256 fingerprint, found an empty list; remove the key, or add fingerprints"
write_config badfp.yaml "" "" "  fingerprint_allowlist: [\"AB:CD\"]"
"$trustctl" check-config badfp.yaml 2> badfp.err > badfp.out && failed=$((failed + 1))
check "one bad fingerprint is one error" test "$(grep -c '^error:' badfp.err)" = 1
check "the bad fingerprint named" contains badfp.err "error: certificates.fingerprint_allowlist[0]: expected 64 hex digits"
check "not valid says how many" contains badfp.out "badfp.yaml: not valid (1 error,"
write_config whitelist.yaml "" "" "  fingerprint_whitelist: [\"$edge_fp\"]"
"$trustctl" check-config whitelist.yaml 2> whitelist.err && failed=$((failed + 1))
check "whitelist renamed" contains whitelist.err "error: certificates.fingerprint_whitelist: this key was renamed"

# verify: exit codes and reasons.
check "platform chain allowed" "$trustctl" verify --json --config good.yaml --purpose platform --name platform.local platform-chain.pem > allowed.json
check "allowed JSON" contains allowed.json '"allowed":true'
"$trustctl" verify --json --config good.yaml --purpose platform --name evil.local platform-chain.pem > mismatch.json && failed=$((failed + 1))
check "wrong name refused with 62" contains mismatch.json '"reason":"NAME_MISMATCH","openssl_error":62'
PKI_PASS=x "$devpki" ../other >/dev/null
"$trustctl" verify --json --config good.yaml --purpose platform --name platform.local ../other/platform.pem > unknown.json && failed=$((failed + 1))
check "unknown CA refused with 20" contains unknown.json '"reason":"UNKNOWN_ISSUER","openssl_error":20'
check "edge endpoint on the allowlist" "$trustctl" verify --config good.yaml --purpose edge --name localhost edge-chain.pem > /dev/null
"$trustctl" verify --json --config good.yaml --purpose edge --name localhost restd-chain.pem > notlisted.json && failed=$((failed + 1))
check "edge endpoint not on the allowlist" contains notlisted.json '"reason":"NOT_ALLOWLISTED"'

# verify's text form (the default on a terminal), and the warning without --name.
"$trustctl" verify --text --config good.yaml --purpose platform --name evil.local platform-chain.pem > mismatch.txt && failed=$((failed + 1))
check "text: the verdict and the reason first" contains mismatch.txt 'refused: platform peer "evil.local": NAME_MISMATCH (openssl error 62: hostname mismatch)'
check "text: the chain" contains mismatch.txt "  chain        0  "
check "text: no JSON" bash -c "! grep -q '{' mismatch.txt"
check "verify without --name" "$trustctl" verify --text --config good.yaml --purpose platform platform-chain.pem > noname.txt 2> noname.err
check "verify without --name warns" contains noname.err "warning: host name not checked"
check "verify without --name says so in the text" contains noname.txt "allowed: platform peer (host name not checked)"
"$trustctl" verify --json --config good.yaml --purpose platform platform-chain.pem > noname.json 2> noname-json.err
check "verify --json without --name: JSON on stdout" contains noname.json '"allowed":true'
check "verify --json without --name: the warning on stderr" contains noname-json.err "host name not checked"
"$trustctl" verify --config good.yaml --purpose platform --name platform.local platform-chain.pem > piped.out
check "verify not on a terminal: JSON, as scripts expect" contains piped.out '"allowed":true'

# help and usage: per command, and for a wrong flag.
check "trustctl --help lists the commands" bash -c "'$trustctl' --help | grep -q '^  check-config  '"
"$trustctl" verify --help > verify-help.out
"$trustctl" help verify > help-verify.out
check "verify --help is help verify" cmp -s verify-help.out help-verify.out
check "verify --help lists its flags" contains verify-help.out "  --purpose P"
check "verify --help lists --json" contains verify-help.out "  --json"
"$trustctl" verify --nme x platform-chain.pem > /dev/null 2> wrongflag.err; code=$?
check "a wrong flag exits 2" test "$code" = 2
check "a wrong flag is named" contains wrongflag.err "trustctl verify: unknown option --nme"
check "a wrong flag prints that command's usage" contains wrongflag.err "usage: trustctl verify "
"$trustctl" check-config > /dev/null 2> noarg.err; code=$?
check "check-config without FILE exits 2 with its usage" bash -c "[ $code = 2 ] && grep -q 'usage: trustctl check-config FILE' noarg.err"
"$trustctl" frobnicate 2> unknowncmd.err; code=$?
check "an unknown command exits 2 with the command list" bash -c "[ $code = 2 ] && grep -q 'unknown command \"frobnicate\"' unknowncmd.err && grep -q '^  verify' unknowncmd.err"
check "trustctl --version" bash -c "'$trustctl' --version | grep -qE '^trustctl [0-9.]+ [(]commit ([0-9a-f]{12}(-dirty)?|unknown)[)]\$'"
check "trustctl COMMAND --version" bash -c "'$trustctl' verify --version | grep -q '^trustctl '"

# Settings this stack does not implement: listed apart, never "valid".
{ cat good.yaml; printf 'tunnel:\n  enabled: true\nfile:\n  virtual_dirs: []\n  bufer_size: 8192\n'; } > tunnel.yaml
"$trustctl" check-config tunnel.yaml > tunnel.out 2> tunnel.err; code=$?
check "unsupported settings exit 3" test "$code" = 3
check "unsupported group named with its path" contains tunnel.err "warning: tunnel: not supported by this stack"
check "a misspelt file key named with its path" contains tunnel.err "warning: file.bufer_size: not supported by this stack"
check "the file group itself is supported" bash -c "! grep -q 'warning: file: ' tunnel.err"
check "unsupported settings listed apart" contains tunnel.err "not supported by this stack (the daemons start and ignore these"
check "not called valid" bash -c "! grep -q ': valid' tunnel.out"
check "the verdict says why" contains tunnel.out "tunnel.yaml: not valid for this stack: 2 settings are not supported"

# An EMS config.json as it is: plaintext secrets, no master key and no directory for one.
mkdir ems
cat > ems/config.json <<JSON
{
	// As EMS documents it: plaintext secrets, cert_chain an array.
	"ws_servers": [{"host": "platform.local", "port": 8443}],
	"appKey": "demo-app-key",
	"http_server": {"certificate": "$PWD/restd-chain.pem", "private_key": "$PWD/restd.key",
		"passphrase": "dev-passphrase", "user": "admin", "password": "rest-password"},
	"certificates": {"cert_chain": ["$PWD/root.pem"]},
	"offline_msg_store": {"directory": "$dir/offline"},
	"trustd": {"socket": "$dir/ems.sock", "master_key_file": "$dir/nokeys/master.key"},
	"edged": {"socket": "$dir/edged.sock"}
}
JSON
check "EMS config.json with plaintext secrets is valid" "$trustctl" check-config ems/config.json > ems.out 2> ems.err
check "its secrets are said to be plaintext, with the command" contains ems.err "warning: appKey: secret given in plaintext; seal it with \`trustctl encrypt -\`"
check "no master key needed" contains ems.err "nothing here is sealed, so none is needed"
"$trustd" --config ems/config.json > ems-trustd.log 2>&1 &
ems_pid=$!
for _ in $(seq 100); do [ -S "$dir/ems.sock" ] && break; sleep 0.1; done
check "trustd starts on it without a master key" test "$("$trustctl" --socket "$dir/ems.sock" health)" = SERVING
# Issue 11: the first seal creates the key's directory (0700) and the key (0600).
sealed=$(printf 'x' | "$trustctl" --socket "$dir/ems.sock" encrypt - 2> ems-seal.err)
check "sealing through it works without a key beforehand" test "${sealed#AES:}" != "$sealed"
kill "$ems_pid"; wait "$ems_pid" 2>/dev/null
check "trustd created the key's directory 0700" test "$(stat -c %a "$dir/nokeys")" = 700
check "trustd created the master key 0600" test "$(stat -c %a "$dir/nokeys/master.key")" = 600
rm -rf "$dir/nokeys"

# What check-config refuses, trustd refuses with the same line.
sed "s|$dir/ems.sock|$PWD/ems/config.json/run/trustd.sock|" ems/config.json > ems/nosocketdir.json
"$trustctl" check-config ems/nosocketdir.json 2> nosocketdir.err > /dev/null && failed=$((failed + 1))
line=$(grep '^error: trustd.socket' nosocketdir.err)
check "check-config names the socket directory" test -n "$line"
"$trustd" --config ems/nosocketdir.json > nosocketdir-trustd.log 2>&1 && failed=$((failed + 1))
check "trustd refuses it with the same line" grep -qxF -- "$line" nosocketdir-trustd.log

# With --socket, the same answers come from a running trustd.
cat > socket.yaml <<YAML
$(cat good.yaml | sed '/^trustd:/,$d')
trustd:
  master_key_file: master.key
  socket: $dir/trustd.sock
YAML
"$trustd" --config socket.yaml > trustd.log 2>&1 &
trustd_pid=$!
for _ in $(seq 100); do [ -S "$dir/trustd.sock" ] && break; sleep 0.1; done
check "health over the socket" test "$("$trustctl" --socket "$dir/trustd.sock" health)" = SERVING
"$trustctl" verify --json --config good.yaml --purpose platform --name evil.local platform-chain.pem > local.json
"$trustctl" --socket "$dir/trustd.sock" verify --json --purpose platform --name evil.local platform-chain.pem > remote.json
check "verify through trustd gives the same decision" cmp -s local.json remote.json
sealed=$(printf "sealed-by-trustd" | "$trustctl" --socket "$dir/trustd.sock" encrypt -)
check "encrypt through trustd" grep -qE '^AES:' <<< "$sealed"
kill "$trustd_pid"; wait "$trustd_pid" 2>/dev/null
check "trustd logs no secret" bash -c "! grep -qE 'demo-app-key|dev-passphrase|rest-password|sealed-by-trustd' trustd.log"

# limbo --relax: trustd.policy names only.
empty_limbo='{"version": 1, "testcases": []}'
"$trustctl" limbo --relax allow_everything <<< "$empty_limbo" > /dev/null 2> relax.err && failed=$((failed + 1))
check "limbo --relax refuses an unknown name" contains relax.err 'unknown relaxation "allow_everything"; expected one of the trustd.policy names'
check "limbo --relax takes trustd.policy names" bash -c "'$trustctl' limbo --relax allow_missing_eku,allow_missing_san <<< '$empty_limbo' > relax.json 2> relax-ok.err"
check "limbo prints the score" contains relax-ok.err "limbo: 0/0 right"

# No secret in anything trustctl printed.
for secret in demo-app-key dev-passphrase rest-password not-the-passphrase; do
  if grep -rlF -- "$secret" ./*.err ./*.json fp.txt > /dev/null 2>&1; then
    failed=$((failed + 1)); echo "FAILED: secret $secret appears in output"
  else
    passed=$((passed + 1))
  fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
