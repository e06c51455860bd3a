#include "services/common/rotating_log_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace edge {
namespace {

std::string Errno() { return std::strerror(errno); }

std::string Parent(const std::string& path) {
  size_t slash = path.find_last_not_of('/');
  slash = slash == std::string::npos ? std::string::npos : path.rfind('/', slash);
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// The directory exists afterwards, or the error says why not and what to do.
absl::Status EnsureDirectory(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat("expected a directory, found a file: ", dir));
    }
    return absl::OkStatus();
  }
  if (::mkdir(dir.c_str(), 0750) == 0 || errno == EEXIST) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("cannot create ", dir, " in ", Parent(dir), " (", Errno(),
                   "); create it: install -d -m 0750 -o DAEMON_USER ", dir));
}

uint64_t SizeOf(const std::string& path, bool* exists) {
  struct stat st;
  *exists = ::stat(path.c_str(), &st) == 0;
  return *exists ? static_cast<uint64_t>(st.st_size) : 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RotatingLogFile>> RotatingLogFile::Open(const Options& options) {
  if (options.max_total_bytes < kMinTotalBytes) {
    return absl::InvalidArgumentError(absl::StrCat("expected at least ", kMinTotalBytes,
                                                   " bytes for the log files, found ",
                                                   options.max_total_bytes));
  }
  if (options.name.empty() || options.name.find('/') != std::string::npos ||
      options.name[0] == '.') {
    return absl::InvalidArgumentError(
        absl::StrCat("expected a plain name for the log file, found \"", options.name, "\""));
  }
  if (absl::Status s = EnsureDirectory(options.directory); !s.ok()) return s;
  std::string path = absl::StrCat(options.directory, "/", options.name, ".log");
  std::unique_ptr<RotatingLogFile> file(
      new RotatingLogFile(options, path, options.max_total_bytes / kFiles));
  for (const std::string& p : file->AllPaths()) {
    bool exists = false;
    if (SizeOf(p, &exists) > file->max_file_bytes_ && ::unlink(p.c_str()) != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot remove ", p, " (larger than one log file may now be: ",
                       file->max_file_bytes_, " bytes): ", Errno()));
    }
  }
  absl::MutexLock lock(&file->mu_);
  if (absl::Status s = file->OpenCurrent(); !s.ok()) return s;
  return file;
}

RotatingLogFile::RotatingLogFile(Options options, std::string path, uint64_t max_file_bytes)
    : options_(std::move(options)), path_(std::move(path)), max_file_bytes_(max_file_bytes) {}

RotatingLogFile::~RotatingLogFile() {
  absl::MutexLock lock(&mu_);
  if (fd_ >= 0) ::close(fd_);
}

std::vector<std::string> RotatingLogFile::AllPaths() const {
  std::vector<std::string> out = {path_};
  for (int i = 1; i < kFiles; ++i) out.push_back(absl::StrCat(path_, ".", i));
  return out;
}

absl::Status RotatingLogFile::OpenCurrent() {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (fd_ < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open ", path_, " for writing (", Errno(),
                     "); chown the directory to the user the daemon runs as"));
  }
  struct stat st;
  size_ = ::fstat(fd_, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  return absl::OkStatus();
}

// NAME.log.2 -> .3, .1 -> .2, NAME.log -> .1 (the oldest is replaced), then a new NAME.log.
absl::Status RotatingLogFile::Rotate() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  std::vector<std::string> paths = AllPaths();
  for (int i = kFiles - 1; i > 0; --i) {
    if (::rename(paths[i - 1].c_str(), paths[i].c_str()) != 0 && errno != ENOENT) {
      return absl::InternalError(
          absl::StrCat("cannot rotate ", paths[i - 1], " to ", paths[i], ": ", Errno()));
    }
  }
  return OpenCurrent();
}

absl::Status RotatingLogFile::Append(absl::string_view line) {
  absl::MutexLock lock(&mu_);
  if (line.size() > max_file_bytes_) {
    line = line.substr(0, max_file_bytes_ - 1);  // Cut; the '\n' is written below.
  }
  bool cut = line.empty() || line.back() != '\n';
  uint64_t need = line.size() + (cut ? 1 : 0);
  if (fd_ < 0 || size_ + need > max_file_bytes_) {
    if (absl::Status s = Rotate(); !s.ok()) return s;
  }
  std::string whole(line);
  if (cut) whole.push_back('\n');
  const char* p = whole.data();
  size_t left = whole.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // What was written counts; the next line rotates if it must.
      size_ += whole.size() - left;
      return absl::UnavailableError(absl::StrCat("cannot write ", path_, ": ", Errno()));
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  size_ += whole.size();
  if (options_.sync_each_line && ::fdatasync(fd_) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot sync ", path_, ": ", Errno()));
  }
  return absl::OkStatus();
}

}  // namespace edge
