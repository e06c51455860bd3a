#include "services/common/log.h"

#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace edge {
namespace {

std::string& Name() {
  static auto* name = new std::string("edge");
  return *name;
}

void Write(absl::string_view level, absl::string_view message) {
  std::string line = absl::StrCat(
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()), " ", Name(),
      " ", level, " ", message, "\n");
  (void)!::write(2, line.data(), line.size());
}

}  // namespace

void SetLogName(absl::string_view name) { Name() = std::string(name); }
void LogInfo(absl::string_view message) { Write("INFO", message); }
void LogWarning(absl::string_view message) { Write("WARNING", message); }
void LogError(absl::string_view message) { Write("ERROR", message); }

}  // namespace edge
