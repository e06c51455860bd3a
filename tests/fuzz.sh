#!/usr/bin/env bash
# Builds every fuzz target with clang-14 + libFuzzer (--config=fuzz) and runs each for
# SECONDS (default 60) on its seed corpus. A separate Bazel output base keeps the clang
# toolchain from evicting the normal build's cache.
#   tests/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
targets=(
  //services/config:config_fuzzer:services/config/testdata/fuzz
  //services/trust:sealed_secret_fuzzer:services/trust/testdata/fuzz/sealed_secret
  //services/trust:pem_chain_fuzzer:services/trust/testdata/fuzz/pem_chain
)
# Targets added by later work register here too.
[ -d services/alwayson/testdata/fuzz ] &&
  targets+=(//services/alwayson:codec_fuzzer:services/alwayson/testdata/fuzz)
targets+=(
  //edged:offline_store_fuzzer:edged/testdata/fuzz/offline_store
  //edged:edge_proto_fuzzer:edged/testdata/fuzz/edge_proto
)

# --symlink_prefix=/: no bazel-* links from this output base in the tree, where the normal
# build's `//...` would wander into them.
bazel_fuzz() { bazel --output_base="$HOME/.cache/bazel-fuzz" "$@"; }
labels=()
for t in "${targets[@]}"; do labels+=("${t%:*}"); done
bazel_fuzz build --config=fuzz --symlink_prefix=/ "${labels[@]}"
bin=$(bazel_fuzz info --config=fuzz bazel-bin)
status=0
for t in "${targets[@]}"; do
  label=${t%:*}; corpus=${t##*:}
  name=${label##*:}; pkg=${label%%:*}; pkg=${pkg#//}
  work=$(mktemp -d)
  cp -r "$corpus"/. "$work/"
  echo "fuzz: $label for ${seconds}s"
  if ! "$bin/$pkg/$name" -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 \
      "$work" > "$work.log" 2>&1; then
    status=1
    tail -40 "$work.log"
  fi
  grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb)" "$work.log" | sed "s/^/  /"
  rm -rf "$work" "$work.log"
done
exit $status
