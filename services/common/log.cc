#include "services/common/log.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
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

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

void Write(LogLevel at, absl::string_view level, absl::string_view message) {
  if (!LogEnabled(at)) return;
  std::string line = absl::StrCat(
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()), " ", Name(),
      " ", level, " ", LogSafe(message, kMaxLogMessageBytes), "\n");
  (void)!::write(2, line.data(), line.size());
}

}  // namespace

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
bool LogEnabled(LogLevel level) { return static_cast<int>(level) <= g_level.load(); }
void LogTrace(absl::string_view message) { Write(LogLevel::kTrace, "TRACE", message); }
void LogDebug(absl::string_view message) { Write(LogLevel::kDebug, "DEBUG", message); }
void LogInfo(absl::string_view message) { Write(LogLevel::kInfo, "INFO", message); }
void LogWarning(absl::string_view message) { Write(LogLevel::kWarning, "WARNING", message); }
void LogError(absl::string_view message) { Write(LogLevel::kError, "ERROR", message); }

}  // namespace edge
