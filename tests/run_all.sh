#!/usr/bin/env bash
# Runs every test of the project: installs what is missing, then `bazel test //...`.
# Usage: tests/run_all.sh [--asan] [extra bazel flags]
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/setup.sh

config=()
if [[ "${1:-}" == "--asan" ]]; then
  config=(--config=asan)
  shift
fi

jobs=$(nproc)
exec bazel test "${config[@]}" --jobs="$jobs" --local_test_jobs="$jobs" "$@" //...
