// Reading files with errors that name the file and the field it came from.
#ifndef SERVICES_COMMON_FILE_UTIL_H_
#define SERVICES_COMMON_FILE_UTIL_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace edge {

// The whole content of `path`. Errors: kNotFound when it does not exist,
// kPermissionDenied when it cannot be read, kInvalidArgument when it is a directory or
// larger than `max_bytes`. Messages name the path ("/etc/edge/ca.pem: no such file").
absl::StatusOr<std::string> ReadFile(const std::string& path,
                                     size_t max_bytes = 16 * 1024 * 1024);

// The directory part of `path`: "." for a bare name, "/" for a file at the root.
std::string DirName(const std::string& path);

// Writes `data` to `path` atomically (temporary file, fsync, rename) with `mode`.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view data, int mode);

// Creates the directory `path` and any missing parents (parents 0755, `path` itself with
// `mode`); OK when it is a directory already. Errors name the directory that could not be
// made and why.
absl::Status MakeDirectories(const std::string& path, int mode);

// Whether this process could create the directory `path` (with its missing parents): the
// nearest ancestor that exists is a directory it may write. OK when it could (or `path` is
// a directory already); otherwise kFailedPrecondition naming that ancestor.
absl::Status CanMakeDirectories(const std::string& path);

}  // namespace edge

#endif  // SERVICES_COMMON_FILE_UTIL_H_
