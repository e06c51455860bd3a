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
  //services/json:json_fuzzer:services/json/testdata/fuzz
  //services/trust:sealed_secret_fuzzer:services/trust/testdata/fuzz/sealed_secret
  //services/trust:pem_chain_fuzzer:services/trust/testdata/fuzz/pem_chain
  //services/trust:path_builder_fuzzer:services/trust/testdata/fuzz/path_builder
  //services/alwayson:codec_fuzzer:services/alwayson/testdata/fuzz
  //proto/edge/v1:edge_proto_fuzzer:proto/edge/v1/testdata/fuzz/edge_proto
  //edged:offline_store_fuzzer:edged/testdata/fuzz/offline_store
  //edged:file_service_fuzzer:edged/testdata/fuzz/file_service
  //restd:request_fuzzer:restd/testdata/fuzz/request
  //services/acme:acme_client_fuzzer:services/acme/testdata/fuzz
)
# Every cc_fuzz_target in the tree runs here: one that is not listed above is an error, so
# a new parser's fuzzer cannot be forgotten.
listed=" ${targets[*]} "
missing=0
while IFS=: read -r build name; do
  pkg=$(dirname "${build#./}")
  if [[ "$listed" != *" //$pkg:$name:"* ]]; then
    echo "fuzz: //$pkg:$name is a cc_fuzz_target that tests/fuzz.sh does not run" >&2
    missing=1
  fi
done < <(grep -rA1 --include=BUILD.bazel "^cc_fuzz_target(" . | grep -o '^[^-]*BUILD.bazel-    name = "[^"]*"' |
           sed -E 's/-    name = "([^"]*)"/:\1/')
[ "$missing" = 0 ] || exit 1

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
