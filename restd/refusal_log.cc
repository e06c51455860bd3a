#include "restd/refusal_log.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "services/common/log.h"

namespace edge::restd {

std::string EscapeForLog(absl::string_view peer_bytes) {
  bool cut = peer_bytes.size() > kLoggedPeerBytes;
  return absl::StrCat(absl::CHexEscape(peer_bytes.substr(0, kLoggedPeerBytes)), cut ? "..." : "");
}

RefusalLog::RefusalLog(Sink sink, size_t max_pairs)
    : sink_(std::move(sink)), max_pairs_(max_pairs) {
  if (!sink_) {
    sink_ = [](Severity severity, absl::string_view line) {
      severity == Severity::kInfo ? LogInfo(line) : LogWarning(line);
    };
  }
}

void RefusalLog::Note(absl::string_view limit, absl::string_view address,
                      absl::string_view line, Severity severity) {
  {
    absl::MutexLock lock(&mu_);
    std::string key = absl::StrCat(limit, "\n", address);
    if (logged_.count(key) != 0 || logged_.size() >= max_pairs_) {
      ++counted_[std::string(limit)];
      return;
    }
    logged_.insert(std::move(key));
  }
  sink_(severity, absl::StrCat(line, " (repeats from ", address, " are summed up every ",
                               absl::FormatDuration(kRefusalLogWindow), ")"));
}

void RefusalLog::EndWindow() {
  std::string summary;
  {
    absl::MutexLock lock(&mu_);
    uint64_t total = 0;
    std::string parts;
    for (const auto& [limit, n] : counted_) {
      total += n;
      absl::StrAppend(&parts, parts.empty() ? "" : ", ", limit, ": ", n);
    }
    if (total > 0) {
      summary = absl::StrCat(total, " more refused or dropped connections in the last ",
                             absl::FormatDuration(kRefusalLogWindow),
                             " were not logged one by one: ", parts);
    }
    logged_.clear();
    counted_.clear();
  }
  if (!summary.empty()) sink_(Severity::kWarning, summary);
}

}  // namespace edge::restd
