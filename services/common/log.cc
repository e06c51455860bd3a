#include "services/common/log.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/common/rotating_log_file.h"

namespace edge {
namespace {

std::string& Name() {
  static auto* name = new std::string("edge");
  return *name;
}

constexpr int kUnset = -1;
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<int> g_command_line_level{kUnset};
// The file's threshold; kUnset while there is no file. Read without the lock to decide
// whether a line is built at all.
std::atomic<int> g_file_level{kUnset};

struct FileSink {
  absl::Mutex mu;
  std::unique_ptr<RotatingLogFile> file ABSL_GUARDED_BY(mu);
  bool failing ABSL_GUARDED_BY(mu) = false;
};

FileSink& Sink() {
  static auto* sink = new FileSink;
  return *sink;
}

void WriteStderr(const std::string& line) { (void)!::write(2, line.data(), line.size()); }

std::string Line(absl::string_view level, absl::string_view message) {
  return absl::StrCat(
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()), " ", Name(),
      " ", level, " ", LogSafe(message, kMaxLogMessageBytes), "\n");
}

// A file that cannot be written is said on standard error once, and once when it works
// again; the lines in between are on standard error only if its threshold lets them.
void WriteFile(const std::string& line) {
  FileSink& sink = Sink();
  absl::MutexLock lock(&sink.mu);
  if (!sink.file) return;
  absl::Status s = sink.file->Append(line);
  if (s.ok() == !sink.failing) return;
  sink.failing = !s.ok();
  WriteStderr(Line("ERROR", s.ok() ? absl::StrCat("logger: writing ", sink.file->path(),
                                                  " again")
                                   : absl::StrCat("logger: ", s.message(),
                                                  "; lines are not written to it until it "
                                                  "works again")));
}

void Write(LogLevel at, absl::string_view level, absl::string_view message) {
  int l = static_cast<int>(at);
  bool to_stderr = l <= g_level.load();
  bool to_file = l <= g_file_level.load();
  if (!to_stderr && !to_file) return;
  std::string line = Line(level, message);
  if (to_stderr) WriteStderr(line);
  if (to_file) WriteFile(line);
}

struct LevelName {
  LogLevel level;
  const char* name;
};
constexpr LevelName kLevelNames[] = {
    {LogLevel::kForce, "FORCE"}, {LogLevel::kError, "ERROR"}, {LogLevel::kWarning, "WARN"},
    {LogLevel::kInfo, "INFO"},   {LogLevel::kDebug, "DEBUG"}, {LogLevel::kTrace, "TRACE"},
    {LogLevel::kAudit, "AUDIT"},
};

}  // namespace

absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name) {
  for (const LevelName& l : kLevelNames) {
    if (absl::EqualsIgnoreCase(name, l.name)) return l.level;
  }
  return absl::InvalidArgumentError(absl::StrCat("expected one of ", kLogLevelNames, ", found \"",
                                                 LogSafe(name, 40), "\""));
}

absl::string_view LogLevelName(LogLevel level) {
  for (const LevelName& l : kLevelNames) {
    if (l.level == level) return l.name;
  }
  return "UNKNOWN";
}

absl::Status ApplyLogSettings(const LogSettings& settings) {
  int command_line = g_command_line_level.load();
  LogLevel level = command_line == kUnset ? settings.level : static_cast<LogLevel>(command_line);
  g_level = static_cast<int>(level);
  std::unique_ptr<RotatingLogFile> file;
  absl::Status status;
  if (!settings.publish_directory.empty()) {
    absl::StatusOr<std::unique_ptr<RotatingLogFile>> opened = RotatingLogFile::Open(
        {settings.publish_directory, Name(), settings.max_file_storage, settings.auto_flush});
    if (opened.ok()) {
      file = *std::move(opened);
    } else {
      status = opened.status();
    }
  }
  FileSink& sink = Sink();
  absl::MutexLock lock(&sink.mu);
  sink.file = std::move(file);
  sink.failing = false;
  g_file_level = sink.file ? static_cast<int>(settings.publish_level.value_or(level)) : kUnset;
  return status;
}

std::string LogSafe(absl::string_view text, size_t max_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(std::min(text.size(), max_bytes) + 16);
  size_t i = 0;
  for (; i < text.size() && out.size() < max_bytes; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    switch (c) {
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      default: break;
    }
    if (c < 0x20 || c == 0x7F) {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (i < text.size()) absl::StrAppend(&out, "... (", text.size() - i, " more bytes)");
  return out;
}

void SetLogName(absl::string_view name) { Name() = std::string(name); }
void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }
void SetCommandLineLogLevel(std::optional<LogLevel> level) {
  g_command_line_level = level ? static_cast<int>(*level) : kUnset;
  if (level) g_level = static_cast<int>(*level);
}
bool LogEnabled(LogLevel level) {
  int l = static_cast<int>(level);
  return l <= g_level.load() || l <= g_file_level.load();
}
void LogTrace(absl::string_view message) { Write(LogLevel::kTrace, "TRACE", message); }
void LogDebug(absl::string_view message) { Write(LogLevel::kDebug, "DEBUG", message); }
void LogInfo(absl::string_view message) { Write(LogLevel::kInfo, "INFO", message); }
void LogWarning(absl::string_view message) { Write(LogLevel::kWarning, "WARNING", message); }
void LogError(absl::string_view message) { Write(LogLevel::kError, "ERROR", message); }
void LogForce(absl::string_view message) { Write(LogLevel::kForce, "FORCE", message); }
void LogAudit(absl::string_view message) { Write(LogLevel::kAudit, "AUDIT", message); }

}  // namespace edge
