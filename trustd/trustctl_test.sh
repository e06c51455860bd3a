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
trustd:
  master_key_file: master.key
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
check "legacy EMS value explained" contains legacy.err "most likely a legacy EMS value (wsems -encrypt)"
write_config empty.yaml "" "" "  fingerprint_allowlist: []"
"$trustctl" check-config empty.yaml 2> empty.err && failed=$((failed + 1))
check "empty allowlist refused" contains empty.err "error: certificates.fingerprint_allowlist: expected at least one SHA-256 fingerprint, found an empty list"
write_config whitelist.yaml "" "" "  fingerprint_whitelist: [\"$edge_fp\"]"
"$trustctl" check-config whitelist.yaml 2> whitelist.err && failed=$((failed + 1))
check "whitelist renamed" contains whitelist.err "error: certificates.fingerprint_whitelist: this key was renamed"

# verify: exit codes and reasons.
check "platform chain allowed" "$trustctl" verify --config good.yaml --purpose platform --name platform.local platform-chain.pem > allowed.json
check "allowed JSON" contains allowed.json '"allowed":true'
"$trustctl" verify --config good.yaml --purpose platform --name evil.local platform-chain.pem > mismatch.json && failed=$((failed + 1))
check "wrong name refused with 62" contains mismatch.json '"reason":"NAME_MISMATCH","openssl_error":62'
PKI_PASS=x "$devpki" ../other >/dev/null
"$trustctl" verify --config good.yaml --purpose platform --name platform.local ../other/platform.pem > unknown.json && failed=$((failed + 1))
check "unknown CA refused with 20" contains unknown.json '"reason":"UNKNOWN_ISSUER","openssl_error":20'
check "edge endpoint on the allowlist" "$trustctl" verify --config good.yaml --purpose edge --name localhost edge-chain.pem > /dev/null
"$trustctl" verify --config good.yaml --purpose edge --name localhost restd-chain.pem > notlisted.json && failed=$((failed + 1))
check "edge endpoint not on the allowlist" contains notlisted.json '"reason":"NOT_ALLOWLISTED"'

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
"$trustctl" verify --config good.yaml --purpose platform --name evil.local platform-chain.pem > local.json
"$trustctl" --socket "$dir/trustd.sock" verify --purpose platform --name evil.local platform-chain.pem > remote.json
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
