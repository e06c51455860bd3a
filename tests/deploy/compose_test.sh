#!/usr/bin/env bash
# deploy/docker-compose.yml is accepted by `docker-compose config`. No Docker engine runs
# here, so this is all of the compose deployment that the suite exercises.
set -euo pipefail
compose=$(command -v docker-compose || true)
if [ -z "$compose" ]; then
  echo "SKIPPED: docker-compose is not installed (deploy/setup.sh installs it)"
  exit 0
fi
dir="$TEST_SRCDIR/$TEST_WORKSPACE/deploy"
out=$("$compose" -f "$dir/docker-compose.yml" config)
for service in trustd edged restd; do
  grep -q "^  $service:" <<< "$out" || { echo "FAIL: service $service missing"; exit 1; }
done
for uid in 10001 10002 10003; do
  grep -q "user: '$uid:10000'\|user: \"$uid:10000\"\|user: $uid:10000" <<< "$out" ||
    { echo "FAIL: no service runs as uid $uid"; echo "$out"; exit 1; }
done
grep -q "condition: service_healthy" <<< "$out" || { echo "FAIL: no health ordering"; exit 1; }
echo "PASS: docker-compose config accepts deploy/docker-compose.yml (3 services, distinct uids)"
