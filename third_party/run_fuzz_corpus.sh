#!/usr/bin/env bash
# Replays a fuzz target's seed corpus: run_fuzz_corpus.sh BINARY INPUT...
set -euo pipefail
exec "$@"
