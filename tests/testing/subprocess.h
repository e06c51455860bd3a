// Subprocess: runs a real daemon for an integration test, with its stderr and stdout
// captured to a log file, and waits for conditions instead of sleeping.
//
//   auto trustd = Subprocess::Start({TrustdPath(), "--config", config}, dir + "/trustd.log");
//   ASSERT_TRUE(trustd->WaitForLog("serving", absl::Seconds(10)));
//   ...
//   trustd->Kill(SIGKILL);
#ifndef TESTS_TESTING_SUBPROCESS_H_
#define TESTS_TESTING_SUBPROCESS_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace edge::testing {

class Subprocess {
 public:
  // Starts argv[0] with `argv`, stdout and stderr appended to `log_path`. Extra
  // environment entries ("NAME=value") are added to the inherited environment.
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(
      const std::vector<std::string>& argv, const std::string& log_path,
      const std::vector<std::string>& extra_env = {});
  ~Subprocess();  // SIGTERM, then SIGKILL after 5 s.

  pid_t pid() const { return pid_; }
  // Sends `signal` and waits for the process to end; returns its wait status.
  int Kill(int signal);
  // Waits for the process to exit on its own; returns the exit code (128+N for signal N),
  // or -1 when it is still running after `timeout`.
  int WaitForExit(absl::Duration timeout);
  bool Running();

  std::string Log() const;
  // Waits until the log holds `needle` in this process's own output (the file may hold an
  // earlier run's too); false (with the log in the test output) on timeout.
  bool WaitForLog(const std::string& needle, absl::Duration timeout) const;
  // Waits until the file at `path` exists (a daemon's --ready-file) and returns its content;
  // kDeadlineExceeded naming the program, with its log, on timeout.
  absl::StatusOr<std::string> WaitForFile(const std::string& path, absl::Duration timeout) const;

 private:
  Subprocess(pid_t pid, std::string program, std::string log_path)
      : pid_(pid), program_(std::move(program)), log_path_(std::move(log_path)) {}
  pid_t pid_;
  std::string program_;
  std::string log_path_;
  size_t log_start_ = 0;  // Where this process's output begins in the log file.
  int status_ = -1;
};

// Polls `condition` every 10 ms until it holds or `timeout` passes.
bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout);

// The path of a runfile (a Bazel data dependency), e.g. "trustd/trustd".
std::string Runfile(const std::string& workspace_relative_path);

// A fresh directory under TEST_TMPDIR, short enough for Unix socket paths.
std::string ShortTempDir();

}  // namespace edge::testing

#endif  // TESTS_TESTING_SUBPROCESS_H_
