// Logging for the daemons: one line per event on stderr, in the user's words.
//
//   edge::SetLogName("trustd");
//   edge::LogInfo(absl::StrCat("serving on ", path));
//   -> 2026-11-24T05:00:00.123Z trustd INFO serving on /run/edge/trustd.sock
//
// Never pass a secret. Thread-safe: each line is written with one write(2).
#ifndef SERVICES_COMMON_LOG_H_
#define SERVICES_COMMON_LOG_H_

#include "absl/strings/string_view.h"

namespace edge {

void SetLogName(absl::string_view name);
void LogInfo(absl::string_view message);
void LogWarning(absl::string_view message);
void LogError(absl::string_view message);

}  // namespace edge

#endif  // SERVICES_COMMON_LOG_H_
