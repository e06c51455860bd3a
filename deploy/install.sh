#!/usr/bin/env bash
# Installs the edge trust stack where the README, the systemd units and the Dockerfile
# expect it: trustd, trustctl, edged and restd in /usr/local/bin, the units in
# /etc/systemd/system, the users in /etc/sysusers.d/edge.conf, and an example
# /etc/edge/config.yaml when there is none (an existing one is never touched).
#   sudo deploy/install.sh                 # builds (bazel -c opt), then installs
#   sudo deploy/install.sh --bin-dir DIR   # installs the binaries found in DIR instead
set -euo pipefail
cd "$(dirname "$0")/.."

bin_dir=""
prefix=/usr/local
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bin-dir) bin_dir="$2"; shift 2 ;;
    --prefix) prefix="$2"; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1 (--bin-dir DIR, --prefix DIR)" >&2; exit 2 ;;
  esac
done

if [[ -z "$bin_dir" ]]; then
  deploy/setup.sh
  echo "install: building (bazel build -c opt)..."
  bazel build -c opt //trustd:trustd //trustd:trustctl //edged //restd
  bin_dir=$(mktemp -d)
  trap 'rm -rf "$bin_dir"' EXIT
  cp bazel-bin/trustd/trustd bazel-bin/trustd/trustctl bazel-bin/edged/edged \
     bazel-bin/restd/restd "$bin_dir/"
fi
for b in trustd trustctl edged restd; do
  [[ -x "$bin_dir/$b" ]] || { echo "install.sh: $bin_dir/$b: not an executable" >&2; exit 1; }
done

install -d -m 0755 "$prefix/bin" /etc/systemd/system /etc/sysusers.d
for b in trustd trustctl edged restd; do
  install -m 0755 "$bin_dir/$b" "$prefix/bin/$b"
done
# The units name /usr/local/bin; another prefix is written into the copies installed.
for unit in deploy/systemd/edge-trustd.service deploy/systemd/edge-edged.service \
            deploy/systemd/edge-restd.service deploy/systemd/edge.target; do
  sed "s#/usr/local/bin/#$prefix/bin/#g" "$unit" > "/etc/systemd/system/$(basename "$unit")"
  chmod 0644 "/etc/systemd/system/$(basename "$unit")"
done
install -m 0644 deploy/systemd/edge-users.conf /etc/sysusers.d/edge.conf
if [[ ! -e /etc/edge/config.yaml && ! -e /etc/edge/config.json ]]; then
  install -d -m 0750 /etc/edge
  install -m 0640 deploy/examples/config.yaml /etc/edge/config.yaml
  echo "install: wrote the example /etc/edge/config.yaml: edit it (trustctl check-config)"
else
  echo "install: /etc/edge/config.* exists: left as it is"
fi

cat <<NEXT
installed: $prefix/bin/{trustd,trustctl,edged,restd}, /etc/systemd/system/edge-*.service,
edge.target, /etc/sysusers.d/edge.conf. Next:
  systemd-sysusers                              # the users edge-trustd, edge-edged, edge-restd
  chgrp edge /etc/edge /etc/edge/config.*       # the daemons read the configuration
  chown edge-trustd: /etc/edge/pki/*.key && chmod 0400 /etc/edge/pki/*.key   # only trustd reads keys
  $prefix/bin/trustctl check-config /etc/edge/config.yaml
  systemctl daemon-reload && systemctl enable --now edge.target
NEXT
