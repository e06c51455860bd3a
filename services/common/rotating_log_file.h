// RotatingLogFile: the log file of one daemon in EMS's `logger.publish_directory`, rotated
// by size so that all of its files together never exceed `logger.max_file_storage`.
//
//   auto file = RotatingLogFile::Open({"/var/log/edge", "edged", 2000000, false});
//   if (!file.ok()) { ... }  // The message names the directory or the file.
//   (*file)->Append("2026-11-24T05:00:00.123Z edged INFO ...\n");
//
// The files are NAME.log (being written) and NAME.log.1 .. NAME.log.3 (older first at the
// highest number); each holds at most max_total_bytes / kFiles bytes, so the four never
// hold more than max_total_bytes. A line longer than one file may hold is cut to fit. A
// line is appended with one write(2) to a file opened with O_APPEND: it is in the kernel
// when Append returns (a crash of the daemon loses nothing); with `sync_each_line`
// (logger.auto_flush) it is also on the disk (fdatasync), which survives a power cut.
//
// Thread-safe.
#ifndef SERVICES_COMMON_ROTATING_LOG_FILE_H_
#define SERVICES_COMMON_ROTATING_LOG_FILE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace edge {

class RotatingLogFile {
 public:
  // The current file and three rotated ones.
  static constexpr int kFiles = 4;
  // The smallest max_total_bytes: each file then still holds a whole line of the longest
  // message (log.h's kMaxLogMessageBytes and its prefix).
  static constexpr uint64_t kMinTotalBytes = 65536;

  struct Options {
    std::string directory;   // Created (0750) when missing; its parent must exist.
    std::string name;        // "trustd": the files are trustd.log, trustd.log.1...
    uint64_t max_total_bytes = 2000000;
    bool sync_each_line = false;
  };

  // kInvalidArgument when max_total_bytes is below kMinTotalBytes or the name is not a
  // plain file name; kFailedPrecondition naming the path when the directory cannot be
  // created or the file cannot be opened for writing. Files left by an earlier run that are
  // larger than one file may now hold (a smaller max_total_bytes) are removed, so that the
  // bound holds from the first line on.
  static absl::StatusOr<std::unique_ptr<RotatingLogFile>> Open(const Options& options);

  ~RotatingLogFile();
  RotatingLogFile(const RotatingLogFile&) = delete;
  RotatingLogFile& operator=(const RotatingLogFile&) = delete;

  // Appends `line` (ending with '\n'), rotating first when it would not fit. An error names
  // the file and what failed; the next Append tries again.
  absl::Status Append(absl::string_view line);

  const std::string& path() const { return path_; }
  uint64_t max_file_bytes() const { return max_file_bytes_; }
  // path(), path().1, .. path().3: every file this log may have.
  std::vector<std::string> AllPaths() const;

 private:
  RotatingLogFile(Options options, std::string path, uint64_t max_file_bytes);
  absl::Status OpenCurrent() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Rotate() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  const std::string path_;
  const uint64_t max_file_bytes_;
  absl::Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_) = -1;
  uint64_t size_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace edge

#endif  // SERVICES_COMMON_ROTATING_LOG_FILE_H_
