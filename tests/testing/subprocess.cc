#include "tests/testing/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include "absl/strings/str_cat.h"

extern char** environ;

namespace edge::testing {

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Start(
    const std::vector<std::string>& argv, const std::string& log_path,
    const std::vector<std::string>& extra_env) {
  int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) return absl::InternalError(absl::StrCat(log_path, ": ", std::strerror(errno)));
  off_t log_start = ::lseek(log, 0, SEEK_END);
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  for (const std::string& e : extra_env) env.push_back(e);

  pid_t pid = ::fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  if (pid == 0) {
    ::dup2(log, 1);
    ::dup2(log, 2);
    ::setpgid(0, 0);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::vector<char*> envp;
    for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    ::execve(args[0], args.data(), envp.data());
    std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  ::close(log);
  std::string program = argv[0].substr(argv[0].rfind('/') + 1);
  auto process = std::unique_ptr<Subprocess>(new Subprocess(pid, std::move(program), log_path));
  process->log_start_ = log_start > 0 ? static_cast<size_t>(log_start) : 0;
  return process;
}

Subprocess::~Subprocess() {
  if (status_ != -1) return;
  ::kill(pid_, SIGTERM);
  if (WaitForExit(absl::Seconds(5)) == -1) Kill(SIGKILL);
}

int Subprocess::Kill(int signal) {
  if (status_ != -1) return status_;
  ::kill(pid_, signal);
  ::waitpid(pid_, &status_, 0);
  return status_;
}

bool Subprocess::Running() {
  if (status_ != -1) return false;
  int status;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    status_ = status;
    return false;
  }
  return true;
}

int Subprocess::WaitForExit(absl::Duration timeout) {
  if (!WaitFor([this] { return !Running(); }, timeout)) return -1;
  if (WIFEXITED(status_)) return WEXITSTATUS(status_);
  if (WIFSIGNALED(status_)) return 128 + WTERMSIG(status_);
  return -1;
}

std::string Subprocess::Log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool Subprocess::WaitForLog(const std::string& needle, absl::Duration timeout) const {
  // Only this process's own lines: an earlier run's may be in the same file.
  if (WaitFor([&] { return Log().find(needle, log_start_) != std::string::npos; }, timeout)) {
    return true;
  }
  std::fprintf(stderr, "timed out waiting for \"%s\" in %s:\n%s\n", needle.c_str(),
               log_path_.c_str(), Log().c_str());
  return false;
}

absl::StatusOr<std::string> Subprocess::WaitForFile(const std::string& path,
                                                    absl::Duration timeout) const {
  std::string content;
  auto read = [&] {
    std::ifstream in(path);
    if (!in) return false;
    content.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return true;
  };
  if (!WaitFor(read, timeout)) {
    return absl::DeadlineExceededError(
        absl::StrCat(program_, " did not start (no ", path, "):\n", Log()));
  }
  return content;
}

bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

std::string Runfile(const std::string& path) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir == nullptr || workspace == nullptr) return path;
  return absl::StrCat(srcdir, "/", workspace, "/", path);
}

std::string ShortTempDir() {
  // Unix socket paths are limited to 107 bytes; Bazel's TEST_TMPDIR can be longer.
  std::string templ = "/tmp/edge-test.XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) return "/tmp";
  return templ;
}

}  // namespace edge::testing
