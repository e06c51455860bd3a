// The version of the edge trust stack and the git commit a binary was built from, for
// `--version`. The commit comes from Bazel's workspace status (tools/workspace_status.sh,
// set in .bazelrc): a generated version_stamp.cc that only this library compiles, so a new
// commit rebuilds one small file and relinks, never the rest.
//
//   std::cout << "trustd " << BuildVersion() << " (commit " << BuildCommit() << ")\n";
#ifndef SERVICES_COMMON_VERSION_H_
#define SERVICES_COMMON_VERSION_H_

#include "absl/strings/string_view.h"

namespace edge {

// "0.1.0": the release this source tree is (BUILD.bazel of services/common: STACK_VERSION).
absl::string_view BuildVersion();

// The abbreviated commit ("3f2a9c1d0e4b", with "-dirty" when the work tree had changes),
// or "unknown" when the build ran outside a git work tree (a source tarball, a container
// build without .git). The status is Bazel's volatile one: an incremental build after a
// new commit keeps the older value until version_stamp.cc is regenerated (`bazel clean`,
// or any change to services/common/BUILD.bazel); a build from a clean tree is exact.
absl::string_view BuildCommit();

}  // namespace edge

#endif  // SERVICES_COMMON_VERSION_H_
