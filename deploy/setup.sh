#!/usr/bin/env bash
# Installs every Debian package the edge trust stack needs to build, test and run.
# Idempotent: packages already installed are left alone and nothing is fetched.
# Usage: sudo deploy/setup.sh [--build-only]
#   --build-only: only what building the daemons needs (deploy/Dockerfile's build stage),
#   not the tools the tests and the demo use.
set -euo pipefail
build_only=false
[[ "${1:-}" == "--build-only" ]] && build_only=true

PACKAGES=(
  # Build: Bazel 4.2.3 offline, with Debian's platforms and rules_java.
  bazel-bootstrap bazel-platforms bazel-rules-java
  g++
  # Libraries.
  libgrpc++-dev protobuf-compiler protobuf-compiler-grpc libprotobuf-dev
  libabsl-dev libyaml-cpp-dev libssl-dev libboost1.81-dev
  # Each daemon's Prometheus endpoint.
  prometheus-cpp-dev
  # Bazel fetches nothing: the test and benchmark libraries are in the workspace's BUILD
  # files, so a build needs their headers too.
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  # The Public Suffix List: trustd refuses wildcards over a public suffix (*.co.uk).
  publicsuffix
)
$build_only || PACKAGES+=(
  # The fuzz configuration (clang + libFuzzer).
  clang-14 libclang-rt-14-dev
  # The trust engine's second TLS library (--config=boringssl; tests/run_all.sh).
  android-libboringssl-dev
  # Real peers used by tests, benchmarks and the demo (node: the @grpc/grpc-js client).
  openssl curl ca-certificates strace nodejs
  # restd's TLS audit (tests) and its benchmark against nginx.
  testssl.sh wrk nginx-light
  # A real HTTP proxy (edged's `proxy` group: Basic and Digest) and its password tools.
  squid apache2-utils
  # A real Prometheus server scrapes the daemons in the e2e test; promtool checks the format.
  prometheus
  # An RFC 8555 ACME CA (and its DNS) for trustd.acme's tests (//tests/acme).
  pebble
  # Validates deploy/docker-compose.yml (no Docker engine is needed for that).
  docker-compose
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

# Debian's npm is a package of its own; a nodejs from elsewhere may bring npm along.
$build_only || command -v npm >/dev/null 2>&1 || missing+=(npm)

install_node_modules() {
  $build_only && return 0
  local dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/tests/node"
  if [[ ! -d "$dir/node_modules/@grpc/grpc-js" ]]; then
    echo "setup: npm ci in tests/node"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all ${#PACKAGES[@]} packages are installed"
  install_node_modules
  exit 0
fi

echo "setup: installing ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=sudo
  else
    echo "setup: error: installing packages needs root; run: sudo $0" >&2
    exit 1
  fi
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
install_node_modules
echo "setup: done"
