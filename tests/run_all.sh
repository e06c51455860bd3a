#!/usr/bin/env bash
# Runs every test of the project: installs what is missing, then `bazel test //...`, then
# the trust engine's tests and the limbo harness against BoringSSL; prints both limbo scores.
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
bazel test "${config[@]}" --jobs="$jobs" --local_test_jobs="$jobs" "$@" //...

# The trust engine and the x509-limbo harness again, against BoringSSL: only targets
# without gRPC (Debian's gRPC is built on OpenSSL 3), in an output directory of their own.
boringssl_targets=(
  //services/trust:decision_test //services/trust:policy_test
  //services/trust:public_suffix_test //services/trust:path_builder_test
  //services/trust:strict_checks_test //services/trust:chain_validator_test
  //services/trust:signature_cache_test //services/trust:certificate_cache_test
  //services/trust:decision_cache_test //services/trust:path_builder_fuzzer_corpus_test
  //trustd:limbo_test
)
bazel test "${config[@]}" --config=boringssl --jobs="$jobs" --local_test_jobs="$jobs" "$@" \
  "${boringssl_targets[@]}"
bazel build "${config[@]}" --jobs="$jobs" //trustd:limbo_harness
bazel build "${config[@]}" --config=boringssl --jobs="$jobs" //trustd:limbo_harness

# Both figures of the whole limbo suite.
for tls in openssl boringssl; do
  flags=("${config[@]}")
  [[ "$tls" == boringssl ]] && flags+=(--config=boringssl)
  bin=$(bazel info "${flags[@]}" bazel-bin)
  printf 'limbo with %-9s: ' "$tls"
  # As the tests run (.bazelrc): full stacks, so that the suppressions of
  # third_party/lsan_suppressions.cc (leaks inside libcrypto) match.
  ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0 \
    "$bin/trustd/limbo_harness" < tests/limbo/limbo.json 2>&1 >/dev/null
done
