#!/usr/bin/env bash
# Bazel's workspace status (.bazelrc: --workspace_status_command): the git commit the build
# comes from, for `--version` (services/common:version). Volatile keys only (no STABLE_
# prefix): a new commit does not invalidate any action, so nothing is rebuilt for it.
# Outside a git work tree (a source tarball, a container build without .git) the commit is
# "unknown"; this script never fails the build.
commit=$(git rev-parse --short=12 HEAD 2>/dev/null) || commit=""
if [ -z "$commit" ]; then
  commit=unknown
elif ! git diff --quiet HEAD -- 2>/dev/null; then
  commit="$commit-dirty"
fi
echo "GIT_COMMIT $commit"
exit 0
