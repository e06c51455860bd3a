#include "edged/reconnect_policy.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace edge::edged {

ReconnectPolicy::ReconnectPolicy(ReconnectOptions options, std::function<double()> jitter)
    : options_(options), jitter_(std::move(jitter)) {}

std::chrono::milliseconds ReconnectPolicy::Failed(Clock::time_point now,
                                                  const std::string& reason) {
  ++failures_;
  ++since_summary_;
  warning_.reset();
  size_t first_space = reason.find(' ');
  std::string kind = reason.substr(
      0, first_space == std::string::npos ? std::string::npos : reason.find(' ', first_space + 1));
  bool new_kind = kinds_.size() < 32 && kinds_.insert(kind).second;
  if (failures_ == 1 || new_kind) {
    warning_ = reason;
    last_warning_ = now;
    since_summary_ = 0;
  } else if (now - last_warning_ >= kSummaryInterval) {
    warning_ = absl::StrCat("still offline: ", failures_, " attempts (", since_summary_,
                            " since the last report), last error: ", reason);
    last_warning_ = now;
    since_summary_ = 0;
  }
  using std::chrono::milliseconds;
  const milliseconds cap = std::max(options_.max_delay, options_.retry_interval);
  milliseconds base = options_.retry_interval;
  // At least a second to double from: an interval of 0 must not stay a tight loop.
  for (int64_t i = kJitteredAttempts; i < failures_ && base < cap; ++i) {
    base = std::max(base * 2, milliseconds(1000));
  }
  base = std::min(base, cap);
  double fraction = std::clamp(jitter_ ? jitter_() : 0.0, 0.0, 1.0);
  milliseconds random(static_cast<int64_t>(fraction * options_.max_connect_delay.count()));
  return std::min(base + random, cap + options_.max_connect_delay);
}

void ReconnectPolicy::Reset() {
  kinds_.clear();
  failures_ = 0;
  since_summary_ = 0;
  warning_.reset();
}

}  // namespace edge::edged
