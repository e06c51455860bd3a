// Logging for the daemons: one line per event on stderr, in the user's words.
//
//   edge::SetLogName("trustd");
//   edge::LogInfo(absl::StrCat("serving on ", path));
//   -> 2026-11-24T05:00:00.123Z trustd INFO serving on /run/edge/trustd.sock
//
// Never pass a secret. Each message is one line: control characters (a forged "\n" from a
// peer-supplied value, escape sequences) are written escaped, and a message is cut at
// kMaxLogMessageBytes. Thread-safe: each line is written with one write(2).
#ifndef SERVICES_COMMON_LOG_H_
#define SERVICES_COMMON_LOG_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace edge {

// What one log message may hold; the rest is replaced by "... (N more bytes)".
inline constexpr size_t kMaxLogMessageBytes = 8192;

// `text` as it may stand in a log line: \n, \r, \t and other control characters (C0 and
// DEL) escaped, cut after about `max_bytes` with "... (N more bytes)". For a value from a
// peer inside a message, bound it tighter than the whole line (a name: 256).
std::string LogSafe(absl::string_view text, size_t max_bytes = 256);

// Messages above the level are not written; kInfo unless set.
enum class LogLevel { kError, kWarning, kInfo, kDebug, kTrace };
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);

void SetLogName(absl::string_view name);
void LogTrace(absl::string_view message);
void LogDebug(absl::string_view message);
void LogInfo(absl::string_view message);
void LogWarning(absl::string_view message);
void LogError(absl::string_view message);

}  // namespace edge

#endif  // SERVICES_COMMON_LOG_H_
