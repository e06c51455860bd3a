#!/usr/bin/env bash
# deploy/install.sh as a user runs it, in a private mount namespace whose /etc and
# /usr/local are overlays (so nothing outside the test changes): the binaries land in
# /usr/local/bin, the units pass `systemd-analyze verify`, an existing configuration is
# never overwritten.
set -euo pipefail
if [[ "${1:-}" != "--inside" ]]; then
  if [[ $(id -u) -ne 0 ]] || ! unshare -m --propagation private true 2>/dev/null; then
    echo "SKIPPED: needs root and mount namespaces (unshare -m)"
    exit 0
  fi
  exec unshare -m --propagation private "$0" --inside
fi

root="$TEST_SRCDIR/$TEST_WORKSPACE"
work=$(mktemp -d)
for d in etc usr-local; do mkdir -p "$work/$d/upper" "$work/$d/work"; done
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$work/etc/upper,workdir=$work/etc/work" /etc
mount -t overlay overlay \
  -o "lowerdir=/usr/local,upperdir=$work/usr-local/upper,workdir=$work/usr-local/work" /usr/local
rm -rf /etc/edge

bins="$work/bins"
mkdir -p "$bins"
cp "$root/trustd/trustd" "$root/trustd/trustctl" "$root/edged/edged" "$root/restd/restd" "$bins/"
out=$("$root/deploy/install.sh" --bin-dir "$bins")
echo "$out"
for b in trustd trustctl edged restd; do
  [[ -x /usr/local/bin/$b ]] || { echo "FAIL: /usr/local/bin/$b not installed"; exit 1; }
done
/usr/local/bin/trustctl --version | grep -q . || { echo "FAIL: trustctl --version"; exit 1; }
[[ -f /etc/edge/config.yaml ]] || { echo "FAIL: no example /etc/edge/config.yaml"; exit 1; }
grep -q "systemctl enable --now edge.target" <<< "$out" || { echo "FAIL: next steps"; exit 1; }

# The units as installed pass systemd-analyze verify (ExecStart exists, the syntax holds).
if command -v systemd-analyze >/dev/null; then
  if ! verify=$(systemd-analyze verify /etc/systemd/system/edge-trustd.service \
      /etc/systemd/system/edge-edged.service /etc/systemd/system/edge-restd.service \
      /etc/systemd/system/edge.target 2>&1); then
    echo "FAIL: systemd-analyze verify:"; echo "$verify"; exit 1
  fi
  if grep -q . <<< "$verify"; then echo "FAIL: systemd-analyze verify warned:"; echo "$verify"; exit 1; fi
fi
# Restarting trustd must not stop edged or restd: Wants=, never Requires= on each other.
if grep -l "^Requires=" /etc/systemd/system/edge-*.service; then
  echo "FAIL: a unit Requires= another (a restart of trustd would stop it)"; exit 1
fi
# The example's paths are inside the units' directories: master key and offline store in
# a StateDirectory, sockets in the RuntimeDirectory.
grep -q "master_key_file: /var/lib/edge/trustd/" /etc/edge/config.yaml &&
  grep -q "^StateDirectory=edge/trustd" /etc/systemd/system/edge-trustd.service ||
  { echo "FAIL: the master key is not in trustd's StateDirectory"; exit 1; }
grep -q "directory: /var/lib/edge/offline" /etc/edge/config.yaml &&
  grep -q "^StateDirectory=edge/offline" /etc/systemd/system/edge-edged.service ||
  { echo "FAIL: the offline store is not in edged's StateDirectory"; exit 1; }
# The callers of the example are the users of the units.
for u in edge-edged edge-restd; do
  grep -q "user: $u" /etc/edge/config.yaml || { echo "FAIL: trustd.callers does not name $u"; exit 1; }
  grep -q "^User=$u" /etc/systemd/system/$u.service || { echo "FAIL: $u.service runs as another user"; exit 1; }
  grep -q "^u $u " /etc/sysusers.d/edge.conf || { echo "FAIL: sysusers lacks $u"; exit 1; }
done

# A second install keeps the operator's configuration.
echo "# the operator's own" >> /etc/edge/config.yaml
"$root/deploy/install.sh" --bin-dir "$bins" > /dev/null
grep -q "the operator's own" /etc/edge/config.yaml || { echo "FAIL: config overwritten"; exit 1; }
echo "PASS: deploy/install.sh installs the binaries and units; systemd-analyze verify is clean"
