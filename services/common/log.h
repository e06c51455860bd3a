// Logging for the daemons: one line per event on stderr, in the user's words, and in a
// rotated file per daemon when `logger.publish_directory` is set.
//
//   edge::SetLogName("trustd");
//   edge::LogInfo(absl::StrCat("serving on ", path));
//   -> 2026-11-24T05:00:00.123Z trustd INFO serving on /run/edge/trustd.sock
//
// Never pass a secret. Each message is one line: control characters (a forged "\n" from a
// peer-supplied value, escape sequences) are written escaped, and a message is cut at
// kMaxLogMessageBytes. Thread-safe: each line is written with one write(2) to each place it
// goes.
#ifndef SERVICES_COMMON_LOG_H_
#define SERVICES_COMMON_LOG_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace edge {

// What one log message may hold; the rest is replaced by "... (N more bytes)".
inline constexpr size_t kMaxLogMessageBytes = 8192;

// `text` as it may stand in a log line: \n, \r, \t and other control characters (C0 and
// DEL) escaped, cut after about `max_bytes` with "... (N more bytes)". For a value from a
// peer inside a message, bound it tighter than the whole line (a name: 256).
std::string LogSafe(absl::string_view text, size_t max_bytes = 256);

// Levels, as EMS names them (logger.level, logger.publish_level, --log-level). A message
// is written when its level is at or above the threshold in this order (as EMS and its C
// SDK rank them): TRACE < DEBUG < INFO < WARN < ERROR < FORCE < AUDIT. So every threshold
// writes FORCE and AUDIT lines, except AUDIT, which writes AUDIT lines only.
//   threshold  writes
//   TRACE      TRACE, DEBUG, INFO, WARNING, ERROR, FORCE, AUDIT
//   DEBUG      DEBUG, INFO, WARNING, ERROR, FORCE, AUDIT
//   INFO       INFO, WARNING, ERROR, FORCE, AUDIT          (the default; EMS's is WARN)
//   WARN       WARNING, ERROR, FORCE, AUDIT
//   ERROR      ERROR, FORCE, AUDIT
//   FORCE      FORCE, AUDIT
//   AUDIT      AUDIT
// What each level is for in this stack: AUDIT a security decision about a caller (a
// denied RPC); FORCE what must be in every log (a daemon starts serving, stops); ERROR
// something failed; WARNING an insecure or degraded setting, a peer refused; INFO what the
// daemon does; DEBUG detail for a problem; TRACE every message (ws_connection.verbose).
// Lines say "WARNING" (not EMS's "WARN") for the threshold named WARN.
enum class LogLevel { kAudit, kForce, kError, kWarning, kInfo, kDebug, kTrace };

// "FORCE, ERROR, WARN, INFO, DEBUG, TRACE, AUDIT": the names ParseLogLevel takes.
inline constexpr char kLogLevelNames[] = "FORCE, ERROR, WARN, INFO, DEBUG, TRACE, AUDIT";

// An EMS level name, in any case ("warn", "WARN"). kInvalidArgument: "expected one of
// FORCE, ERROR, WARN, INFO, DEBUG, TRACE, AUDIT, found \"VERBOSE\"".
absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name);
// The EMS name of a threshold: "WARN" for kWarning.
absl::string_view LogLevelName(LogLevel level);

// The threshold for standard error; kInfo unless set.
void SetLogLevel(LogLevel level);
// The level given on a daemon's command line (--log-level): in force at once, and it wins
// over LogSettings::level applied later. nullopt: none given (LogSettings::level applies).
void SetCommandLineLogLevel(std::optional<LogLevel> level);
// Whether a message at `level` would be written anywhere (standard error or the file):
// check before building an expensive message.
bool LogEnabled(LogLevel level);

// EMS's `logger` group, applied (config::Logger, checked).
struct LogSettings {
  LogLevel level = LogLevel::kInfo;         // Standard error (unless --log-level).
  std::string publish_directory;             // Empty: no file.
  std::optional<LogLevel> publish_level;     // The file's threshold; unset: as standard error.
  uint64_t max_file_storage = 2000000;       // Bytes for all the files of this daemon.
  bool auto_flush = false;                   // fdatasync after each line written to the file.
};

// Applies `settings` for the daemon named by SetLogName: the levels, and the file
// publish_directory/NAME.log (rotating_log_file.h), besides standard error. Replaces the
// file of an earlier call; an empty publish_directory closes it. Errors (the directory or the
// file) are RotatingLogFile::Open's; the levels are applied even then. A write to the file
// that fails later is said once on standard error, and again when it works again.
absl::Status ApplyLogSettings(const LogSettings& settings);

void SetLogName(absl::string_view name);
void LogTrace(absl::string_view message);
void LogDebug(absl::string_view message);
void LogInfo(absl::string_view message);
void LogWarning(absl::string_view message);
void LogError(absl::string_view message);
void LogForce(absl::string_view message);
void LogAudit(absl::string_view message);

}  // namespace edge

#endif  // SERVICES_COMMON_LOG_H_
